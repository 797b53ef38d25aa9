"""Where the errors of ssl_gain.py's models are: false positives and negatives near the true surface
or far from it, and false positives inside the phantom's distractors (ventricle, aorta) or its wall.

The hard phantom is a pure function of (cohort seed, case index), so the distractor masks are
regenerated rather than stored. Sums over the test cases, per run; prints a Markdown table.

    python benchmarks/method/ssl_errors.py --out /work/bench-out/main --arms mean-teacher default --seeds 0 1
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_dilation, binary_erosion

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def error_parts(pred: np.ndarray, truth: np.ndarray, parts: dict, near: int = 2) -> dict:
    """Voxel counts of each kind of error of one case."""
    surface = truth & ~binary_erosion(truth)
    band = binary_dilation(surface, iterations=near)
    fp, fn = pred & ~truth, ~pred & truth
    distractor = parts["ventricle"] | parts["aorta"]
    return {"fp_near": int((fp & band).sum()), "fp_far": int((fp & ~band).sum()),
            "fn_near": int((fn & band).sum()), "fn_far": int((fn & ~band).sum()),
            "fp_distractor": int((fp & distractor).sum()), "fp_wall": int((fp & parts["wall"]).sum()),
            "pred": int(pred.sum()), "truth": int(truth.sum())}


def analyse(out: Path, arm: str, seed: int, role: str) -> dict:
    from sgrs.data.image_io import read_image
    from sgrs.data.normalize import Normalization
    from sgrs.data.phantom_hard import hard_case_parts
    from sgrs.inference.sliding import model_predictor, sliding_window
    from sgrs.models.bundle import load_bundle

    generator = json.loads((out / "cohort" / "manifest.json").read_text())["generator"]
    manifest = json.loads((out / "cohort" / f"manifest-seed{seed}.json").read_text())
    bundle = load_bundle(out / "runs" / arm / f"seed{seed}" / "model", weights=role)
    norm = Normalization.from_json(bundle.meta["normalization"])
    predict = model_predictor(bundle.model)
    total: dict[str, int] = {}
    for case in manifest["cases"]:
        if case["split"] != "test":
            continue
        parts = hard_case_parts(int(case["id"][4:]), generator["seed"], generator["size"], generator["spacing"])
        image, _ = read_image(out / "cohort" / case["image"])
        probs = sliding_window(predict, norm(image), bundle.patch_size, 2, overlap=0.5)
        counts = error_parts(probs.argmax(0).numpy() > 0, parts["label"] > 0, parts)
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/work/bench-out/main")
    ap.add_argument("--arms", nargs="+", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--role", default="student", choices=["student", "teacher"])
    args = ap.parse_args()
    keys = ["fp_near", "fp_far", "fn_near", "fn_far", "fp_distractor", "fp_wall", "pred", "truth"]
    print(f"| arm | seed | {' | '.join(keys)} |")
    print("|---|---|" + "---|" * len(keys))
    for arm in args.arms:
        for seed in args.seeds:
            t = analyse(Path(args.out), arm, seed, args.role)
            print(f"| {arm} | {seed} | " + " | ".join(f"{t[k]:,}" for k in keys) + " |", flush=True)


if __name__ == "__main__":
    main()
