"""What ``sgrs segment --fast`` costs in Dice (issue 17, item 2): the bundled demo model on phantom
cases it never saw, default settings against ``--fast``, region maps on, same process, alternating;
paired differences per case with a 95 % t-interval.

    python benchmarks/fast_dice.py [--cases 10] [--size 128 128 96] [--seed 2026]
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sgrs.util.threads import passive_openmp  # noqa: E402

passive_openmp()  # as the engine's processes do (docs/benchmarks.md): before torch is imported
import torch  # noqa: E402

from sgrs.data.image_io import Geometry  # noqa: E402
from sgrs.data.phantom import make_case  # noqa: E402
from sgrs.evaluation.metrics import dice  # noqa: E402
from sgrs.inference.segment import SegmentOptions, segment_array  # noqa: E402
from sgrs.models.bundle import load_bundle  # noqa: E402

DEMO = ROOT / "Resources" / "Demo" / "model"
T95 = {4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 14: 2.145,
       19: 2.093, 24: 2.064, 29: 2.045}


def interval(diffs):
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    half = T95.get(len(diffs) - 1, 1.96) * sd / len(diffs) ** 0.5
    return mean, sd, mean - half, mean + half


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10)
    ap.add_argument("--size", type=int, nargs=3, default=[128, 128, 96])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bundle = load_bundle(DEMO)
    spacing = tuple(bundle.meta["spacing"])
    arms = {"default": SegmentOptions(device="cpu"), "--fast": SegmentOptions(device="cpu", fast=True)}
    rows = {k: [] for k in arms}
    print(f"machine: {platform.machine()}, {args.threads} threads, torch {torch.__version__}; demo model; "
          f"{args.cases} phantom cases of {tuple(args.size)} at {spacing} mm (seed {args.seed}); "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for i in range(args.cases):
        image, truth, _ = make_case(i, args.seed, size=tuple(args.size), spacing=spacing)
        geom = Geometry(tuple(args.size), spacing, (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
        for name, options in (arms.items() if i % 2 == 0 else reversed(arms.items())):
            t0 = time.perf_counter()
            seg = segment_array(image, geom, bundle, options)
            rows[name].append({"dice": dice(seg.label > 0, truth > 0), "seconds": time.perf_counter() - t0,
                               "windows": seg.summary["windows"],
                               "theta": seg.summary["regions"]["theta"]["share_of_foreground"],
                               "delta": seg.summary["regions"]["delta"]["share_of_foreground"]})
        print(f"# case {i}: " + ", ".join(f"{k} Dice {v[-1]['dice']:.4f} ({v[-1]['seconds']:.1f} s)"
                                          for k, v in rows.items()), flush=True)
    print("\n| settings | window positions | s per case (median) | Dice vs truth (mean ± sd) | Θ share | Δ share |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        d = [x["dice"] for x in r]
        print(f"| {name} | {r[0]['windows']} | {statistics.median(x['seconds'] for x in r):.1f} | "
              f"{statistics.mean(d):.4f} ± {statistics.stdev(d):.4f} | "
              f"{statistics.mean(x['theta'] for x in r):.4f} | {statistics.mean(x['delta'] for x in r):.4f} |")
    diffs = [f["dice"] - d["dice"] for f, d in zip(rows["--fast"], rows["default"])]
    mean, sd, lo, hi = interval(diffs)
    speed = [d["seconds"] / f["seconds"] for f, d in zip(rows["--fast"], rows["default"])]
    print(f"\nDice(--fast) − Dice(default), paired over {len(diffs)} cases: {mean:+.4f} (sd {sd:.4f}, 95 % CI "
          f"[{lo:+.4f}, {hi:+.4f}], worst {min(diffs):+.4f}); speed-up per case median {statistics.median(speed):.2f}× "
          f"({min(speed):.2f}–{max(speed):.2f}); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
