#!/bin/sh
# The issue-19 benchmark as run on the 2-core CPU machine, resumable (finished runs are skipped, an
# interrupted run continues from its checkpoint): all 12 seeds of the main arms, seed by seed, then
# the released recipe's collapse arms on seeds 0-3, and on seed 4 (where it collapsed at Dropout3d 0.1)
# one released choice undone at a time.
#   nohup nice -n 19 sh benchmarks/method/ssl_gain_issue19.sh OUT PYTHON > OUT.log 2>&1 &
set -e
OUT=${1:?usage: ssl_gain_issue19.sh OUT [PYTHON]}
PY=${2:-python}
HERE=$(dirname "$0")
$PY "$HERE/ssl_gain.py" --out "$OUT" --seeds 12
$PY "$HERE/ssl_gain.py" --out "$OUT" --seeds 12 --arms released released-drop05 released-drop05-batch-dice \
    --only-seeds 0 1 2 3
$PY "$HERE/ssl_gain.py" --out "$OUT" --seeds 12 --arms released-rerun released-sup-same released-no-decay released-batch-dice \
    default-sup-released supervised-sup-released --only-seeds 4
