"""Held-out Dice of supervised, mean-teacher and sgrs with 2 and 4 labelled phantom cases.

Every run uses the same cohort, seed, schedule, network and patch; only the method and the number
of labelled cases change. Dice is measured on the cohort's test split (never seen in training or
validation) with the student. Prints a Markdown table.

    python benchmarks/method/methods_dice.py --out /tmp/sgrs-bench [--iterations 300] [--filters 8]
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sgrs.data.image_io import read_image, read_label  # noqa: E402
from sgrs.data.normalize import Normalization  # noqa: E402
from sgrs.data.phantom import write_cohort  # noqa: E402
from sgrs.evaluation.metrics import dice  # noqa: E402
from sgrs.inference.sliding import model_predictor, sliding_window  # noqa: E402
from sgrs.models.bundle import load_bundle  # noqa: E402
from sgrs.training.config import TrainConfig  # noqa: E402
from sgrs.training.loop import train  # noqa: E402


def test_dice(bundle_dir, manifest) -> list[float]:
    bundle = load_bundle(bundle_dir)
    norm = Normalization.from_json(bundle.meta["normalization"])
    predict = model_predictor(bundle.model)
    scores = []
    for case in manifest["cases"]:
        if case["split"] != "test":
            continue
        image, geom = read_image(manifest["root"] / Path(case["image"]))
        label = read_label(manifest["root"] / Path(case["label"]), 2, geom)
        probs = sliding_window(predict, norm(image), bundle.patch_size, 2, overlap=0.5)
        scores.append(dice(probs.argmax(0).numpy() > 0, label > 0))
    return scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/sgrs-bench")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--filters", type=int, default=8)
    ap.add_argument("--patch", type=int, nargs=3, default=[48, 48, 32])
    ap.add_argument("--labelled", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--methods", nargs="+", default=["supervised", "mean-teacher", "sgrs"])
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    out = Path(args.out)
    cohort = out / "cohort"
    if not (cohort / "manifest.json").exists():
        write_cohort(cohort, cases=18, seed=args.seed, val=2, test=6)
    manifest = json.loads((cohort / "manifest.json").read_text())
    manifest["root"] = cohort
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"phantom cohort seed {args.seed}: 10 train, 2 val, 6 test; {args.iterations} iterations, "
          f"filters {args.filters}, patch {tuple(args.patch)}, batch 4", flush=True)
    rows = []
    for n_lab in args.labelled:
        for method in args.methods:
            job = out / f"{method}-{n_lab}"
            t0 = time.time()
            if not (job / "model" / "model.json").exists():
                train(TrainConfig(str(cohort), str(job), labelled=n_lab, iterations=args.iterations,
                                  patch=tuple(args.patch), filters=args.filters, method=method, device="cpu",
                                  seed=args.seed, val_every=args.iterations), show_bar=False)
            scores = test_dice(job / "model", manifest)
            rows.append((n_lab, method, float(np.mean(scores)), float(np.std(scores)), time.time() - t0))
            print(f"  {method} with {n_lab} labelled: test Dice {np.mean(scores):.4f}", flush=True)
    print("\n| labelled | method | test Dice (mean ± sd, 6 cases) | wall time (s) |")
    print("|---|---|---|---|")
    for n_lab, method, mean, sd, secs in rows:
        print(f"| {n_lab} | {method} | {mean:.3f} ± {sd:.3f} | {secs:.0f} |")


if __name__ == "__main__":
    main()
