"""Powered semi-supervised benchmark: does each method gain over mean teacher, with paired seeds?

Cohort: the ``hard`` phantom family (sgrs/data/phantom_hard.py), one generated pool of
``labelled × seeds`` candidate labelled cases, ``--unlabelled`` unlabelled and ``--test`` test cases.
Seed s trains on its own labelled cases (pool[s·L : (s+1)·L]) plus the same unlabelled cases in
every arm; the test cases are never used in training (there is no validation split: the final
student and teacher are evaluated, nothing is selected). Within a seed every arm starts from the
same initial weights and sees the same labelled batches (both are functions of the seed), so the
arms' differences are paired.

Every arm runs in the proxy regime (REGIME: poly learning rate, the reference teacher; the engine's
dropout rule gives the 4-filter network Dropout3d(0.1)) unless the arm sets a key itself.

Reported per arm: test Dice of the final student and of the final EMA teacher (mean ± sd over seeds
of the mean over test cases), the paired difference to ``mean-teacher`` with a 95 % t-interval and a
two-sided Wilcoxon signed-rank p over the seed differences, per-seed tables, paired contrasts
(CONTRASTS) for student and teacher, and the Δ / Θ shares of the patch voxels per quarter of the run (from the step
events in progress.jsonl). Results: ``<out>/results/<arm>-seed<s>.json`` (one per run; existing
ones are skipped, so an interrupted benchmark continues where it stopped), ``<out>/results.md``
and ``<out>/results.json``.

    nice -n 10 python benchmarks/method/ssl_gain.py --out /work/bench-out            # CPU: 12 seeds × MAIN_ARMS
    nice -n 10 python benchmarks/method/ssl_gain.py --out /work/bench-out --only-seeds 6 7   # a part
    python benchmarks/method/ssl_gain.py --full --out /data/ssl-gain --workers 1      # GPU settings
    python benchmarks/method/ssl_gain.py --out /work/bench-out --report               # tables only

Arms: a name from ARMS, or ``name:key=value,key=value`` with TrainConfig fields (values parsed as
JSON, else kept as strings), e.g. ``sgrs-inter:method=sgrs,delta_rule=intersection`` or
``mt-drop05:method=mean-teacher,dropout=0.5`` (REGIME's keys apply unless given).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CPU = {"size": (48, 48, 40), "spacing": (1.667, 1.667, 1.5), "patch": (32, 32, 32), "filters": 4,
       "iterations": 600, "batch": 4, "workers": 2, "threads": 1, "device": "cpu"}
# GPU: the paper's recipe (full V-Net, LA patch, 15k iterations) on a larger rendering of the same family
FULL = {"size": (160, 160, 120), "spacing": (0.5, 0.5, 0.5), "patch": (112, 112, 80), "filters": 16,
        "iterations": 15000, "batch": 4, "workers": 1, "threads": 0, "device": "auto"}

# The proxy regime of issue 19, under every arm unless the arm sets the key itself: poly learning
# rate and the reference teacher (train mode, noisy input). Dropout follows the engine's rule
# (0.1 below 16 filters, so the 4-filter proxy never drops every channel of a layer; 0.5 at 16).
REGIME = {"lr_policy": "poly", "teacher_noise": True}
ARMS = {
    "supervised": {"method": "supervised"},
    "mean-teacher": {"method": "mean-teacher"},          # UA-MT / SSL4MIS: softmax MSE, 0.1, ramp over the run
    "self-training": {"method": "self-training"},        # hard labels (SGRS-Net's "base")
    "mix": {"method": "mix"},
    "default": {"method": "sgrs", "recipe": "default"},
    "paper": {"method": "sgrs", "recipe": "paper"},
    "released": {"method": "sgrs", "recipe": "released"},
    # does the reference teacher help the full method? the same arm with the eval-mode teacher
    "default-eval-teacher": {"method": "sgrs", "recipe": "default", "teacher_noise": False},
    # why the released recipe collapsed in the 5-seed benchmark: its Dropout3d(0.5) at 4 filters, and
    # that with the per-sample Dice of the released SoftDiceLoss switched off
    "released-drop05": {"method": "sgrs", "recipe": "released", "dropout": 0.5},
    "released-drop05-batch-dice": {"method": "sgrs", "recipe": "released", "dropout": 0.5,
                                   "dice_per_sample": False},
    # the released recipe's collapse at Dropout3d(0.1) (seed 4): one released choice undone at a time,
    # and the released supervised Dice put into the default recipe and into supervised training
    "released-rerun": {"method": "sgrs", "recipe": "released"},   # the same run again: deterministic?
    "released-sup-same": {"method": "sgrs", "recipe": "released", "sup_dice": "same"},
    "released-no-decay": {"method": "sgrs", "recipe": "released", "student_decay": 0.0},
    "released-batch-dice": {"method": "sgrs", "recipe": "released", "dice_per_sample": False},
    "default-sup-released": {"method": "sgrs", "recipe": "default", "sup_dice": "released"},
    "supervised-sup-released": {"method": "supervised", "sup_dice": "released"},
    # the runaway-guard ablation: the default recipe with each guard (guard off = "default")
    "guard-delta-ce": {"method": "sgrs", "recipe": "default", "guard": "delta-ce"},
    "guard-tau-quantile": {"method": "sgrs", "recipe": "default", "guard": "tau-quantile"},
}
MAIN_ARMS = ["supervised", "mean-teacher", "self-training", "mix", "default", "paper", "released",
             "default-eval-teacher"]
COLLAPSE_ARMS = ["released-drop05", "released-drop05-batch-dice"]
BASELINE = "mean-teacher"
# further paired contrasts (a − b), reported when both arms have ≥ 2 common seeds: what each part adds
CONTRASTS = [("mean-teacher", "supervised"), ("self-training", "supervised"), ("mix", "supervised"),
             ("default", "supervised"), ("paper", "supervised"), ("released", "supervised"),
             ("mix", "self-training"), ("default", "self-training"), ("default", "mix"),
             ("paper", "default"), ("released", "default"), ("default", "default-eval-teacher"),
             ("released-drop05", "released"), ("released-drop05-batch-dice", "released-drop05"),
             ("guard-delta-ce", "default"), ("guard-tau-quantile", "default")]


def parse_overrides(text: str) -> dict:
    """'key=value,key=value' of an arm: each value as JSON where it parses, else as text."""
    over = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        try:
            over[key] = json.loads(value)
        except json.JSONDecodeError:
            over[key] = value
    return over


def parse_arm(spec: str) -> tuple[str, dict]:
    if ":" not in spec:
        if spec not in ARMS:
            raise SystemExit(f"unknown arm {spec!r}; known: {sorted(ARMS)} or name:key=value,...")
        return spec, {**REGIME, **ARMS[spec]}
    name, rest = spec.split(":", 1)
    over = parse_overrides(rest)
    return name, {**REGIME, **over}


def pool_cases(root: Path, n_seeds: int, labelled: int, unlabelled: int, test: int, size, spacing,
               cohort_seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    """(labelled pool, unlabelled, test) case entries of one hard cohort, written once under ``root``."""
    from sgrs.data.phantom import write_cohort

    pool = labelled * n_seeds
    total = pool + unlabelled + test
    if not (root / "manifest.json").exists():
        write_cohort(root, total, cohort_seed, val=0, test=test, size=size, spacing=spacing, family="hard")
    cases = json.loads((root / "manifest.json").read_text())["cases"]
    if len(cases) != total:
        raise SystemExit(f"{root}: holds {len(cases)} cases, these settings need {total}; use another --out")
    return cases[:pool], cases[pool:pool + unlabelled], cases[pool + unlabelled:]


def make_cohort(root: Path, n_seeds: int, labelled: int, unlabelled: int, test: int, size, spacing,
                cohort_seed: int) -> list[Path]:
    """Write the pool once and one manifest per seed over the same files; returns the manifests."""
    labelled_pool, unlabelled_cases, test_cases = pool_cases(root, n_seeds, labelled, unlabelled, test, size,
                                                             spacing, cohort_seed)
    manifests = []
    for s in range(n_seeds):
        own = labelled_pool[s * labelled:(s + 1) * labelled]
        entries = [dict(c, split="train") for c in own] + \
                  [dict(c, split="train") for c in unlabelled_cases] + \
                  [dict(c, split="test") for c in test_cases]
        path = root / f"manifest-seed{s}.json"
        path.write_text(json.dumps({"name": f"ssl-gain seed {s}", "classes": ["background", "left atrium"],
                                    "cases": entries}, indent=1))
        manifests.append(path)
    return manifests


def shares_over_time(progress: Path, parts: int = 4, warmup: int = 0) -> dict:
    """Mean Δ / Θ shares per part of the run, and the largest Δ + Θ after the warm-up (where an
    untrained network is uncertain nearly everywhere by nature), from the step events."""
    steps = [e for e in map(json.loads, progress.read_text().splitlines())
             if e.get("event") == "step" and "share_delta" in e]
    if not steps:
        return {}
    out = {}
    for key in ("share_delta", "share_theta"):
        values = np.array([e[key] for e in steps])
        out[key] = [round(float(c.mean()), 5) for c in np.array_split(values, parts)]
    late = [e for e in steps if e["iteration"] > warmup] or steps
    out["max_delta_plus_theta"] = round(max(e["share_delta"] + e["share_theta"] for e in late), 5)
    out["series"] = [[e["iteration"], e["share_delta"], e["share_theta"]] for e in steps[:: max(1, len(steps) // 40)]]
    return out


def training_seconds(progress: Path) -> float:
    """Wall time of the training segments (started → cancelled / finished): a resumed run counts
    every segment, the pause in between not."""
    total, start = 0.0, None
    for e in map(json.loads, progress.read_text().splitlines()):
        if e["event"] == "started":
            start = e["time"]
        elif e["event"] in ("cancelled", "finished", "failed") and start is not None:
            total, start = total + e["time"] - start, None
    return total


def evaluate(model_dir: Path, manifest: Path, overlap: float, device: str) -> dict:
    """Dice of student and teacher on every test case of the manifest."""
    import torch

    from sgrs.data.image_io import read_image, read_label
    from sgrs.data.normalize import Normalization
    from sgrs.evaluation.metrics import dice
    from sgrs.inference.sliding import model_predictor, sliding_window
    from sgrs.models.bundle import load_bundle, read_meta

    roles = ["student"] + (["teacher"] if "teacher" in read_meta(model_dir)["files"] else [])
    dev = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
    data = json.loads(manifest.read_text())
    out = {}
    for role in roles:
        bundle = load_bundle(model_dir, weights=role, device=dev)
        norm = Normalization.from_json(bundle.meta["normalization"])
        predict = model_predictor(bundle.model)
        per_case = {}
        for case in data["cases"]:
            if case["split"] != "test":
                continue
            image, geom = read_image(manifest.parent / case["image"])
            label = read_label(manifest.parent / case["label"], 2, geom)
            probs = sliding_window(predict, norm(image), bundle.patch_size, 2, overlap=overlap, device=dev)
            per_case[case["id"]] = round(dice(probs.argmax(0).cpu().numpy() > 0, label > 0), 5)
        out[role] = per_case
    return out


def run_one(task: dict) -> str:
    """Train (or resume) one arm × seed and write its result JSON; returns a one-line summary."""
    import torch

    if task["threads"]:
        torch.set_num_threads(task["threads"])
    from sgrs.training.config import TrainConfig
    from sgrs.training.job import read_events
    from sgrs.training.loop import train

    result_path, job = Path(task["result"]), Path(task["job"])
    overrides = dict(task["overrides"])
    if "bench_dropout" in overrides:  # the earlier benchmark-only knob, now TrainConfig.dropout
        overrides["dropout"] = float(overrides.pop("bench_dropout"))
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        return f"{task['arm']} seed {task['seed']}: skipped, TrainConfig has no {unknown} (not implemented yet)"
    config = TrainConfig(cohort=task["manifest"], out=str(job), labelled=task["labelled"], val=0,
                         iterations=task["iterations"], patch=tuple(task["patch"]), filters=task["filters"],
                         batch=task["batch"], device=task["device"], seed=task["seed_value"],
                         val_every=task["iterations"], **overrides)
    t0 = time.time()
    finished = any(e["event"] == "finished" for e in read_events(job / "progress.jsonl")) \
        if (job / "progress.jsonl").exists() else False
    if not finished:
        resume = (job / "config.json").exists()
        if not resume and job.exists():
            shutil.rmtree(job)  # created but never configured: nothing to keep
        train(config, resume=resume, show_bar=False)
    train_s = time.time() - t0
    t1 = time.time()
    dice = evaluate(job / "model", Path(task["manifest"]), task["overlap"], task["device"])
    result = {"arm": task["arm"], "seed": task["seed"], "overrides": task["overrides"], "source": source_version(),
              "config": config.to_json(), "dice": dice,
              "mean": {role: float(np.mean(list(v.values()))) for role, v in dice.items()},
              "shares": shares_over_time(job / "progress.jsonl", warmup=config.warmup_steps),
              "train_s": round(train_s, 1), "eval_s": round(time.time() - t1, 1)}
    result_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, result_path)
    m = result["mean"]
    return (f"{task['arm']} seed {task['seed']}: student {m['student']:.4f}"
            + (f", teacher {m['teacher']:.4f}" if "teacher" in m else "") + f" ({train_s:.0f} s train)")


def source_version() -> str:
    """The engine's commit: a COMMIT file next to an exported snapshot, else git."""
    root = Path(__file__).resolve().parents[2]
    if (root / "COMMIT").exists():
        return (root / "COMMIT").read_text().strip()
    try:
        import subprocess

        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of the paired differences (exact for few seeds)."""
    from scipy.stats import wilcoxon

    if len(diffs) < 2 or not np.any(diffs):
        return float("nan")
    return float(wilcoxon(diffs).pvalue)


def paired_text(diffs: np.ndarray) -> tuple[dict, str]:
    """Mean, 95 % t-interval and Wilcoxon p of paired differences, as a record and as table text."""
    mean, lo, hi = t_interval(diffs)
    p = wilcoxon_p(diffs)
    record = {"mean": mean, "ci95": [lo, hi], "wilcoxon_p": p, "per_seed": diffs.tolist()}
    return record, f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}], p {p:.3f}"


def t_interval(diffs: np.ndarray) -> tuple[float, float, float]:
    from scipy.stats import t

    mean = float(diffs.mean())
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    half = float(t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def report(out: Path, arm_order: list[str], header: str) -> str:
    results = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    by_arm: dict[str, dict[int, dict]] = {}
    for r in results:
        progress = out / "runs" / r["arm"] / f"seed{r['seed']}" / "progress.jsonl"
        if progress.exists():  # recomputed, so older result files get the same statistics
            warmup = round(r["config"]["warmup_fraction"] * r["config"]["iterations"])
            r["shares"] = shares_over_time(progress, warmup=warmup)
            r["train_s"] = training_seconds(progress)
        by_arm.setdefault(r["arm"], {})[r["seed"]] = r
    order = list(dict.fromkeys(arm_order))
    arms = [a for a in order if a in by_arm] + sorted(a for a in by_arm if a not in order)
    base = by_arm.get(BASELINE, {})
    columns = ("| arm | seeds | student Dice (mean ± sd) | teacher Dice (mean ± sd) | student − mean teacher "
               "(paired, 95 % CI, Wilcoxon p) | teacher − mean teacher's teacher (paired, 95 % CI, Wilcoxon p) | "
               "Δ share by quarter | "
               "Θ share by quarter | max Δ+Θ after warm-up | train s / run |")
    lines = [header, "", columns,
             "|---|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for arm in arms:
        runs = by_arm[arm]
        seeds = sorted(runs)
        stu = np.array([runs[s]["mean"]["student"] for s in seeds])
        tea = np.array([runs[s]["mean"].get("teacher", np.nan) for s in seeds])
        row = {"seeds": seeds, "student": stu.tolist(), "teacher": tea.tolist()}
        paired = [s for s in seeds if s in base]
        diff_txt, tdiff_txt = "—", "—"
        if arm != BASELINE and len(paired) >= 2:
            d = np.array([runs[s]["mean"]["student"] - base[s]["mean"]["student"] for s in paired])
            record, diff_txt = paired_text(d)
            row["diff_student"] = {"seeds": paired, **record}
            if "teacher" in runs[paired[0]]["mean"]:
                d = np.array([runs[s]["mean"]["teacher"] - base[s]["mean"]["teacher"] for s in paired])
                record, tdiff_txt = paired_text(d)
                row["diff_teacher"] = {"seeds": paired, **record}
        sh = [runs[s]["shares"] for s in seeds if runs[s].get("shares")]
        delta = theta = mx = "—"
        if sh:
            dq = np.mean([x["share_delta"] for x in sh], axis=0)
            tq = np.mean([x["share_theta"] for x in sh], axis=0)
            delta = " / ".join(f"{v:.3f}" for v in dq)
            theta = " / ".join(f"{v:.3f}" for v in tq)
            mx = f"{max(x['max_delta_plus_theta'] for x in sh):.3f}"
            row["share_delta_quarters"], row["share_theta_quarters"] = dq.tolist(), tq.tolist()
        secs = np.mean([runs[s]["train_s"] for s in seeds])
        tea_txt = "—" if np.isnan(tea).all() else f"{np.nanmean(tea):.4f} ± {np.nanstd(tea, ddof=1) if len(seeds) > 1 else 0:.4f}"
        lines.append(f"| {arm} | {len(seeds)} | {stu.mean():.4f} ± {stu.std(ddof=1) if len(seeds) > 1 else 0:.4f} | "
                     f"{tea_txt} | {diff_txt} | {tdiff_txt} | {delta} | {theta} | {mx} | {secs:.0f} |")
        summary[arm] = row
    n = max((max(r) for r in by_arm.values()), default=-1) + 1
    for role in ("student", "teacher"):
        lines += ["", f"Per seed ({role} test Dice, mean over test cases):", "",
                  "| arm | " + " | ".join(f"seed {s}" for s in range(n)) + " |", "|---|" + "---|" * n]
        for arm in arms:
            lines.append(f"| {arm} | " + " | ".join(
                f"{by_arm[arm][s]['mean'][role]:.4f}" if s in by_arm[arm] and role in by_arm[arm][s]["mean"]
                else "—" for s in range(n)) + " |")
    contrasts = []
    for a, b in CONTRASTS:
        common = sorted(set(by_arm.get(a, {})) & set(by_arm.get(b, {})))
        if len(common) < 2:
            continue
        for role in ("student", "teacher"):
            if not all(role in by_arm[x][s]["mean"] for x in (a, b) for s in common):
                continue
            d = np.array([by_arm[a][s]["mean"][role] - by_arm[b][s]["mean"][role] for s in common])
            record, text = paired_text(d)
            contrasts.append(f"| {a} − {b} | {role} | {len(common)} | {text} | "
                             + " / ".join(f"{v:+.3f}" for v in d) + " |")
            summary.setdefault("contrasts", {})[f"{a} - {b} ({role})"] = {"seeds": common, **record}
    if contrasts:
        lines += ["", "Paired contrasts (test Dice, a − b over common seeds: mean [95 % t-interval], "
                  "two-sided Wilcoxon signed-rank p):", "",
                  "| contrast | model | seeds | mean [95 % CI], p | per seed |", "|---|---|---|---|---|", *contrasts]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/work/bench-out")
    ap.add_argument("--full", action="store_true", help="GPU settings: full V-Net, patch 112×112×80, 15k iterations")
    ap.add_argument("--arms", nargs="+", default=MAIN_ARMS)
    ap.add_argument("--seeds", type=int, default=12, help="seeds the labelled pool is cut for (2 cases each)")
    ap.add_argument("--only-seeds", type=int, nargs="+",
                    help="run just these seeds of the --seeds (a part of the benchmark; same cohort)")
    ap.add_argument("--labelled", type=int, default=2)
    ap.add_argument("--unlabelled", type=int, default=30)
    ap.add_argument("--test", type=int, default=20)
    ap.add_argument("--cohort-seed", type=int, default=2026)
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--filters", type=int)
    ap.add_argument("--patch", type=int, nargs=3)
    ap.add_argument("--size", type=int, nargs=3)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--workers", type=int, help="parallel runs (each with --threads threads)")
    ap.add_argument("--threads", type=int, help="torch threads per run (0: torch's default)")
    ap.add_argument("--overlap", type=float, default=0.5, help="sliding-window overlap at test time")
    ap.add_argument("--report", action="store_true", help="only write the tables from existing results")
    args = ap.parse_args()
    s = dict(FULL if args.full else CPU)
    for key in ("iterations", "filters", "patch", "size", "batch", "workers", "threads"):
        if getattr(args, key) is not None:
            s[key] = tuple(getattr(args, key)) if key in ("patch", "size") else getattr(args, key)
    out = Path(args.out)
    arms = [parse_arm(a) for a in args.arms]
    header = (f"Settings: {'--full (GPU)' if args.full else 'CPU'}; hard phantom {s['size']} at {s['spacing']} mm, "
              f"cohort seed {args.cohort_seed}; {args.labelled} labelled per seed (own cases), {args.unlabelled} "
              f"unlabelled, {args.test} test cases; V-Net {s['filters']} filters, patch {s['patch']}, batch "
              f"{s['batch']}, {s['iterations']} iterations; test overlap {args.overlap}; machine "
              f"{platform.machine()}, {os.cpu_count()} cores, {s['workers']} parallel runs × {s['threads'] or 'default'} threads.")
    if args.report:
        print(report(out, [a for a, _ in arms] + list(ARMS), header))
        return
    manifests = make_cohort(out / "cohort", args.seeds, args.labelled, args.unlabelled, args.test,
                            s["size"], s["spacing"], args.cohort_seed)
    tasks = []
    for seed in args.only_seeds or range(args.seeds):  # seed-major: a partial benchmark holds complete pairs
        if not 0 <= seed < args.seeds:
            raise SystemExit(f"--only-seeds {seed}: not one of the {args.seeds} seeds")
        for name, over in arms:
            result = out / "results" / f"{name}-seed{seed}.json"
            if result.exists():
                continue
            tasks.append({"arm": name, "seed": seed, "seed_value": 1000 + seed, "overrides": over,
                          "manifest": str(manifests[seed]), "job": str(out / "runs" / name / f"seed{seed}"),
                          "result": str(result), "labelled": args.labelled, "iterations": s["iterations"],
                          "patch": s["patch"], "filters": s["filters"], "batch": s["batch"],
                          "device": s["device"], "threads": s["threads"], "overlap": args.overlap})
    print(header, flush=True)
    print(f"{len(tasks)} runs to do", flush=True)
    t0 = time.time()
    if s["workers"] > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(s["workers"], maxtasksperchild=1) as pool:
            for line in pool.imap_unordered(run_one, tasks):
                print(f"[{time.time() - t0:6.0f} s] {line}", flush=True)
    else:
        for task in tasks:
            line = run_one(task)
            print(f"[{time.time() - t0:6.0f} s] {line}", flush=True)
    print(f"wall time {time.time() - t0:.0f} s", flush=True)
    print(report(out, [a for a, _ in arms] + list(ARMS), header))


if __name__ == "__main__":
    main()
