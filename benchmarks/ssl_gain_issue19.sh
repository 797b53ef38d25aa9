#!/bin/sh
# The issue-19 benchmark as run on the 2-core CPU machine, resumable (finished runs are skipped):
# first seeds 0-3 with the collapse arms, then all 12 seeds of the main arms.
#   nohup nice -n 19 sh benchmarks/ssl_gain_issue19.sh OUT > OUT.log 2>&1 &
set -e
OUT=${1:?usage: ssl_gain_issue19.sh OUT [PYTHON]}
PY=${2:-python}
HERE=$(dirname "$0")
MAIN="supervised mean-teacher self-training mix default paper released default-eval-teacher"
$PY "$HERE/ssl_gain.py" --out "$OUT" --seeds 12 --arms $MAIN released-drop05 released-drop05-batch-dice --only-seeds 0 1 2 3
$PY "$HERE/ssl_gain.py" --out "$OUT" --seeds 12 --arms $MAIN
