#!/usr/bin/env bash
# Regenerates the bundled demo model and sample case (deterministic on the CPU; ~15 min on 2 cores).
#   make demo-model        (or: bash Resources/Demo/make_demo_model.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
WORK=build/demo
rm -rf "$WORK"
# Training cohort: 14 phantoms (12 train, 1 val, 1 test), seed 2026; 4 labelled, 8 unlabelled.
"$PY" -m sgrs phantom "$WORK/cohort" --cases 14 --seed 2026 --val 1 --test 1
"$PY" -m sgrs train --cohort "$WORK/cohort" --out "$WORK/job" --labelled 4 --iterations 900 \
    --patch 48 48 32 --filters 8 --seed 2026 --device cpu --postprocess lcc
rm -rf Resources/Demo/model
cp -r "$WORK/job/model" Resources/Demo/model
# The model card says what the demo was trained on (training records the intensity world itself).
"$PY" - <<'PY'
import json, pathlib
p = pathlib.Path("Resources/Demo/model/model.json")
m = json.loads(p.read_text())
m["provenance"]["data_note"] = ("synthetic phantoms (sgrs phantom: MR-like intensities, a left-atrium-like "
                                "shape), not patients")
p.write_text(json.dumps(m, indent=1))
PY
# The sample: a phantom from another seed, so it is in no split of the training cohort.
"$PY" -m sgrs phantom "$WORK/sample" --cases 2 --seed 4242 --val 0 --test 1
mkdir -p Resources/Demo/sample
cp "$WORK/sample/images/case001.nrrd" Resources/Demo/sample/image.nrrd
cp "$WORK/sample/labels/case001.nrrd" Resources/Demo/sample/label.nrrd
echo "demo model and sample regenerated under Resources/Demo"
