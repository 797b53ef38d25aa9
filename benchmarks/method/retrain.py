"""The user's retrain loop: fine-tune the demo model on 2 corrected scans of a kind it does badly on.

Cohort: the ``hard`` phantom family (sgrs/data/phantom_hard.py) at the demo's size and spacing: a pool
of ``2 × seeds`` labelled candidates (seed s gets its own pair: the user's corrections), ``--unlabelled``
unlabelled scans shared by every seed, and ``--test`` held-out scans never used in training (there is
no validation split). Every run starts from the demo model (Resources/Demo/model) at the quick preset
(sgrs/training/presets.py DEFAULT) with the engine's defaults otherwise, on ``--threads`` CPU threads.
Within a seed every arm sees the same labelled cases and seed, so differences are paired.

Arms: ``sgrs``, ``mix``, ``mean-teacher``, ``supervised`` (2 labelled + the unlabelled), the upper
reference ``upper`` (supervised, every training case of the seed labelled), and item-4 levers as
``name:key=value,...`` with TrainConfig fields (e.g. ``sgrs-150:method=sgrs,iterations=150``).

Reported: held-out Dice of the demo model (before) and of each new model (after; the bundle's own
inference weights and post-processing, as Segment would use them), paired differences to
``supervised`` with a 95 % t-interval and a bootstrap interval, the share of the upper reference's
Dice, and the minutes to the new model (wall time of the training call: cohort loading, training,
saving the bundle; medians over seeds) with its CPU time (all threads: on a shared machine the wall
time is the load's, the CPU time the run's). One result JSON per arm and seed in ``<out>/results``;
existing ones are skipped, so an interrupted run continues where it stopped.

    nice -n 10 python benchmarks/method/retrain.py --out /tmp/retrain-bench            # seeds 0-4
    nice -n 10 python benchmarks/method/retrain.py --out /tmp/retrain-bench --only-seeds 0 1 2
    python benchmarks/method/retrain.py --out /tmp/retrain-bench --report               # tables only
    python benchmarks/method/retrain.py --quick --out /tmp/retrain-smoke                # smoke run, < 1 min
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.method.ssl_gain import parse_overrides, pool_cases, t_interval  # noqa: E402  (no torch at import)
from sgrs.util.threads import passive_openmp  # noqa: E402  before torch, as `sgrs train` does

passive_openmp()

DEMO = ROOT / "Resources" / "Demo" / "model"
METHOD_ARMS = ["supervised", "sgrs", "mix", "mean-teacher"]
UPPER = "upper"
BASELINE = "supervised"
GOAL_SHARE, GOAL_SECONDS = 0.95, 120.0


def parse_arm(spec: str) -> tuple[str, dict]:
    """``sgrs`` → method sgrs; ``upper`` → supervised on every case; ``name:key=value,...`` → overrides."""
    if ":" not in spec:
        if spec == UPPER:
            return spec, {"method": "supervised", "all_labelled": True}
        return spec, {"method": spec}
    name, rest = spec.split(":", 1)
    over = parse_overrides(rest)
    return name, over


def write_manifest(path: Path, train: list[dict], test: list[dict]) -> Path:
    """No classes named: fine-tuning inherits the base model's (issue 28 item 1)."""
    entries = [dict(c, split="train") for c in train] + [dict(c, split="test") for c in test]
    text = json.dumps({"name": path.stem, "cases": entries}, indent=1)
    if not path.exists() or path.read_text() != text:   # two invocations on one --out never see half a file
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def evaluate(model_dir: Path, manifest: Path, overlap: float) -> dict:
    """Dice per test case of the bundle's inference weights, with the bundle's post-processing."""
    import torch

    from sgrs.data.image_io import read_image, read_label
    from sgrs.data.normalize import Normalization
    from sgrs.evaluation.metrics import dice, largest_component
    from sgrs.inference.sliding import model_predictor, sliding_window
    from sgrs.models.bundle import load_bundle

    bundle = load_bundle(model_dir, device=torch.device("cpu"))
    norm = Normalization.from_json(bundle.meta["normalization"])
    lcc = bundle.meta.get("postprocess") == "lcc"
    predict = model_predictor(bundle.model)
    out = {}
    for case in json.loads(manifest.read_text())["cases"]:
        if case["split"] != "test":
            continue
        image, geom = read_image(manifest.parent / case["image"])
        label = read_label(manifest.parent / case["label"], bundle.n_classes, geom)
        with torch.no_grad():
            probs = sliding_window(predict, norm(image), bundle.patch_size, bundle.n_classes, overlap=overlap)
        mask = probs.argmax(0).cpu().numpy() > 0
        out[case["id"]] = round(dice(largest_component(mask) if lcc else mask, label > 0), 5)
    return out


def train_one(task: dict) -> dict:
    """Fine-tune the demo model for one arm × seed; the result record (also written to its JSON)."""
    import shutil

    from sgrs.training.config import TrainConfig
    from sgrs.training.loop import train

    over = dict(task["overrides"])
    all_labelled = over.pop("all_labelled", False)
    settings = {**task["preset"], **{k: over.pop(k) for k in ("iterations", "batch") if k in over}}
    job = Path(task["job"])
    if job.exists():
        shutil.rmtree(job)  # a run cut short is run again: its wall time must be one uninterrupted run
    config = TrainConfig(cohort=task["manifest"], out=str(job), labelled=None if all_labelled else task["labelled"],
                         val=0, iterations=settings["iterations"], patch=tuple(settings["patch"]),
                         filters=settings["filters"], batch=settings["batch"], device="cpu", seed=task["seed_value"],
                         base_model=task["base"], val_every=settings["iterations"], **over)
    t0, c0 = time.perf_counter(), time.process_time()
    train(config, show_bar=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    dice = evaluate(job / "model", Path(task["manifest"]), task["overlap"])
    return {"arm": task["arm"], "seed": task["seed"], "overrides": task["overrides"], "config": config.to_json(),
            "dice": dice, "mean": float(np.mean(list(dice.values()))), "train_s": round(seconds, 1),
            "cpu_s": round(cpu, 1), "threads": task["threads"], "load_at_start": task["load"]}


def bootstrap_interval(diffs: np.ndarray, draws: int = 10000) -> tuple[float, float]:
    """95 % percentile bootstrap of the mean paired difference (fixed seed: the table is reproducible)."""
    if len(diffs) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(0)
    means = diffs[rng.integers(0, len(diffs), (draws, len(diffs)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def report(out: Path, arm_order: list[str], header: str) -> str:
    before = json.loads((out / "before.json").read_text())
    results = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    by_arm: dict[str, dict[int, dict]] = {}
    for r in results:
        by_arm.setdefault(r["arm"], {})[r["seed"]] = r
    arms = [a for a in dict.fromkeys(arm_order) if a in by_arm] + sorted(a for a in by_arm if a not in arm_order)
    base, upper = by_arm.get(BASELINE, {}), by_arm.get(UPPER, {})
    lines = [header, "", f"Before (the demo model on the {len(before['dice'])} held-out scans): "
             f"Dice {before['mean']:.4f}.", "",
             "| arm | seeds | held-out Dice after (mean ± sd) | gain over the demo model | − supervised (paired: "
             "mean [95 % t] [95 % bootstrap]) | share of upper (same seeds) | "
             "minutes to the new model (median [min, max]) | "
             "CPU minutes (median) |",
             "|---|---|---|---|---|---|---|---|"]
    summary = {"before": before["mean"], "arms": {}}
    for arm in arms:
        runs = by_arm[arm]
        seeds = sorted(runs)
        after = np.array([runs[s]["mean"] for s in seeds])
        minutes = np.array([runs[s]["train_s"] for s in seeds]) / 60
        cpu = np.array([runs[s].get("cpu_s", np.nan) for s in seeds]) / 60
        paired = [s for s in seeds if s in base]
        diff_txt = "—"
        row = {"seeds": seeds, "after": after.tolist(), "minutes": minutes.tolist(), "cpu_minutes": cpu.tolist()}
        if arm != BASELINE and len(paired) >= 2:
            d = np.array([runs[s]["mean"] - base[s]["mean"] for s in paired])
            mean, lo, hi = t_interval(d)
            blo, bhi = bootstrap_interval(d)
            diff_txt = f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}] [{blo:+.4f}, {bhi:+.4f}] ({len(paired)} seeds)"
            row["minus_supervised"] = {"seeds": paired, "mean": mean, "t95": [lo, hi], "boot95": [blo, bhi]}
        sd = after.std(ddof=1) if len(seeds) > 1 else 0.0
        common = [s for s in seeds if s in upper]   # the share is paired too: the upper's Dice on the same seeds
        share = float(np.mean([runs[s]["mean"] / upper[s]["mean"] for s in common])) if common else np.nan
        gain = after.mean() - before["mean"]
        lines.append(f"| {arm} | {len(seeds)} | {after.mean():.4f} ± {sd:.4f} | {gain:+.4f} | {diff_txt} | "
                     f"{share:.1%} | {np.median(minutes):.2f} [{minutes.min():.2f}, {minutes.max():.2f}] | "
                     f"{np.median(cpu):.2f} |")
        row["share_of_upper"] = share
        summary["arms"][arm] = row
    n = max((max(r) for r in by_arm.values()), default=-1) + 1
    lines += ["", "Per seed (held-out Dice after / minutes):", "",
              "| arm | " + " | ".join(f"seed {s}" for s in range(n)) + " |", "|---|" + "---|" * n]
    for arm in arms:
        lines.append(f"| {arm} | " + " | ".join(
            f"{by_arm[arm][s]['mean']:.4f} / {by_arm[arm][s]['train_s'] / 60:.2f}" if s in by_arm[arm] else "—"
            for s in range(n)) + " |")
    goal = [a for a in arms if a != UPPER and summary["arms"][a]["share_of_upper"] >= GOAL_SHARE
            and np.median(summary["arms"][a]["minutes"]) * 60 <= GOAL_SECONDS]
    lines += ["", f"Goal (≥ {GOAL_SHARE:.0%} of the upper reference in ≤ {GOAL_SECONDS / 60:.0f} min): "
              + (", ".join(goal) if goal else "no arm reaches it on this machine") + " (wall time, on this machine "
              "under its load; CPU minutes are the run's own work)."]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    return text


def load_text() -> str:
    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/retrain-bench")
    ap.add_argument("--arms", nargs="+", default=[BASELINE, UPPER] + METHOD_ARMS[1:])
    ap.add_argument("--seeds", type=int, default=5, help="seeds the labelled pool is cut for (2 cases each)")
    ap.add_argument("--only-seeds", type=int, nargs="+", help="run just these seeds (same cohort)")
    ap.add_argument("--labelled", type=int, default=2)
    ap.add_argument("--unlabelled", type=int, default=4)
    ap.add_argument("--test", type=int, default=8)
    ap.add_argument("--cohort-seed", type=int, default=2028)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--overlap", type=float, default=0.5, help="sliding-window overlap at test time")
    ap.add_argument("--base", default=str(DEMO), help="the model to fine-tune (default: the demo model)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 2 arms + upper, 3 iterations")
    ap.add_argument("--report", action="store_true", help="only write the tables from existing results")
    args = ap.parse_args(argv)

    import torch

    from sgrs.data.phantom import DEFAULT_SIZE, DEFAULT_SPACING
    from sgrs.training.presets import DEFAULT

    torch.set_num_threads(args.threads)
    preset = {"iterations": DEFAULT.iterations, "filters": DEFAULT.filters, "batch": DEFAULT.batch,
              "patch": list(DEFAULT.patch)}
    if args.quick:
        args.seeds, args.unlabelled, args.test = 1, 1, 2
        args.arms = ["sgrs", "supervised", UPPER]
        preset["iterations"] = 3
    out = Path(args.out)
    arms = [parse_arm(a) for a in args.arms]
    header = (f"Settings: hard phantom {tuple(DEFAULT_SIZE)} at {tuple(DEFAULT_SPACING)} mm, cohort seed "
              f"{args.cohort_seed}; {args.labelled} labelled per seed (own pair), {args.unlabelled} unlabelled, "
              f"{args.test} held-out; fine-tuned from {Path(args.base).name} at the quick preset "
              f"({preset['iterations']} "
              f"iterations, {preset['filters']} filters, patch {tuple(preset['patch'])}, batch {preset['batch']}); "
              f"{args.threads} torch threads; machine {platform.machine()}, {os.cpu_count()} cores.")
    if args.report:
        print(report(out, [a for a, _ in arms], header))
        return
    pool, unlabelled, test = pool_cases(out / "cohort", args.seeds, args.labelled, args.unlabelled, args.test,
                                         DEFAULT_SIZE, DEFAULT_SPACING, args.cohort_seed)
    cohort = out / "cohort"
    if not (out / "before.json").exists():
        manifest = write_manifest(cohort / "manifest-test.json", [], test)
        dice = evaluate(Path(args.base), manifest, args.overlap)
        (out / "before.json").write_text(json.dumps({"dice": dice, "mean": float(np.mean(list(dice.values())))}))
    print(f"before: the demo model's held-out Dice {json.loads((out / 'before.json').read_text())['mean']:.4f}",
          flush=True)
    seeds = args.only_seeds if args.only_seeds is not None else list(range(args.seeds))
    for s in seeds:  # seed-major: an interrupted run leaves whole paired seeds
        own = pool[s * args.labelled:(s + 1) * args.labelled]
        manifest = write_manifest(cohort / f"manifest-seed{s}.json", own + unlabelled, test)
        for arm, over in arms:
            result = out / "results" / f"{arm}-seed{s}.json"
            if result.exists():
                continue
            task = {"arm": arm, "seed": s, "seed_value": 1000 + s, "overrides": over, "manifest": str(manifest),
                    "job": str(out / "runs" / arm / f"seed{s}"), "labelled": args.labelled, "preset": preset,
                    "base": args.base, "overlap": args.overlap, "threads": args.threads, "load": load_text()}
            record = train_one(task)
            result.parent.mkdir(parents=True, exist_ok=True)
            tmp = result.with_suffix(".tmp")
            tmp.write_text(json.dumps(record, indent=1))
            os.replace(tmp, result)
            print(f"{arm} seed {s}: held-out Dice {record['mean']:.4f} in {record['train_s']:.0f} s "
                  f"(load {record['load_at_start']})", flush=True)
    print(report(out, [a for a, _ in arms], header))


if __name__ == "__main__":
    main()
