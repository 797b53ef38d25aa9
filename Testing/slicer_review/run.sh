#!/bin/sh
# Usage: Testing/slicer_review/run.sh SLICER_MIRROR [TREE]  (a bare git mirror of github.com/Slicer/Slicer)
set -e
here=$(cd "$(dirname "$0")" && pwd); out=${OUT:-/tmp/slicer-review/build}; py=${PYTHON:-python}
for tag in v5.8.1 v5.10.0 v5.12.3 main; do
  "$py" "$here/build_tag.py" "$1" "$tag" "$out" >/dev/null
  (cd /tmp && "$py" "$here/scenarios.py" "$out" "$tag" $2 2>&1 | grep -E "^$tag (ok|FAIL)")
done
