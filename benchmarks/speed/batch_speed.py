"""Batch against single calls: N phantom scans segmented by one ``sgrs segment FOLDER`` process
(model loaded once) and by N separate ``sgrs segment SCAN`` processes, side by side, in alternating
rounds (batch, singles, singles, batch, ...) so a change of machine load hits both alike.
Prints a Markdown table: wall time per round, per case, and the ratio.

    nice -n 10 python benchmarks/speed/batch_speed.py [--cases 20] [--rounds 2] [--out out/batch-speed]
"""
import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "Resources" / "Demo" / "model"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def sgrs(*args):
    done = subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True, env=ENV)
    if done.returncode:
        raise SystemExit(f"sgrs {' '.join(map(str, args))} failed: {done.stderr[-500:]}")
    return done


def batch_round(scans: Path, out: Path) -> tuple[float, list[float]]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    sgrs("segment", scans, "--model", DEMO, "--out", out, "--device", "cpu")
    wall = time.perf_counter() - t0
    with open(out / "results.csv", newline="") as f:
        per_case = [float(r["seconds"]) for r in csv.DictReader(f)]
    return wall, per_case


def single_round(scans: Path, out: Path) -> tuple[float, list[float]]:
    shutil.rmtree(out, ignore_errors=True)
    walls = []
    for scan in sorted(scans.glob("*.nrrd")):
        t0 = time.perf_counter()
        sgrs("segment", scan, "--model", DEMO, "--out", out / scan.stem, "--device", "cpu")
        walls.append(time.perf_counter() - t0)
    return sum(walls), walls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2, help="pairs of (batch, singles), order alternating")
    ap.add_argument("--out", default="out/batch-speed")
    args = ap.parse_args()
    out = Path(args.out)
    cohort = out / "cohort"
    if not (cohort / "images").is_dir():
        sgrs("phantom", cohort, "--cases", args.cases, "--seed", 16)
    scans = cohort / "images"
    n = len(list(scans.glob("*.nrrd")))
    batch, single = [], []
    for r in range(args.rounds):
        order = ("batch", "single") if r % 2 == 0 else ("single", "batch")
        for kind in order:
            if kind == "batch":
                batch.append(batch_round(scans, out / "batch"))
            else:
                single.append(single_round(scans, out / "single"))
            print(f"round {r + 1} {kind}: {(batch if kind == 'batch' else single)[-1][0]:.1f} s", file=sys.stderr)
    b_walls, s_walls = [w for w, _ in batch], [w for w, _ in single]
    in_batch = [s for _, cases in batch for s in cases]
    per_call = [s for _, calls in single for s in calls]
    print(f"{n} phantom scans (64×64×48, 1.25 mm), bundled demo model, CPU, {platform.processor() or platform.machine()}, "
          f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}, load {os.getloadavg()[0]:.2f}\n")
    print("| run | wall time per round (s), each round | per case (s), median [min–max] |")
    print("|---|---|---|")
    print(f"| one batch process | {', '.join(f'{w:.1f}' for w in b_walls)} | "
          f"{statistics.median(in_batch):.2f} [{min(in_batch):.2f}–{max(in_batch):.2f}] (inside the batch) |")
    print(f"| {n} single calls | {', '.join(f'{w:.1f}' for w in s_walls)} | "
          f"{statistics.median(per_call):.2f} [{min(per_call):.2f}–{max(per_call):.2f}] (whole call) |")
    ratios = [s / b for s, b in zip(s_walls, b_walls)]
    print(f"\nsingle calls / batch, per round pair: {', '.join(f'{r:.2f}×' for r in ratios)}")


if __name__ == "__main__":
    main()
