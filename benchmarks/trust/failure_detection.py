"""Failure detection, measured as the literature measures it (issue 26; Zenk et al., MedIA 2025):
does a case score rank the failed segmentations first, and does the case flag catch them on a kind
of shift nobody tuned it for?

Cases: each model on fresh phantoms of its own family and under each kind of shift of
``sgrs.data.shifts`` (severity drawn per case). Models: the demo model, a collapsed copy of it
(foreground bias moved, as docs/trust.md builds them), a short supervised run and a short SGRS run
trained here. Every model's feature statistics come from ``sgrs calibrate`` on ``--calibration-cases``
unlabelled phantoms of its family (the short runs' own, from their 12 training cases, are replaced);
each case also records its feature distances against statistics of only the first 12 of them, so the
report shows what the number of calibration cases is worth.
Every case goes through the product path (``segment_array`` with ``--tta``); one JSON per case under
``<out>/cases/<model>/<kind>/`` (existing ones are skipped: the run resumes).

Report: per score AURC (risk = 1 − Dice), AUROC for Dice < 0.7, Spearman ρ(score, Dice), with
bootstrap intervals; the flags' sensitivity / specificity with thresholds (and a logistic
combination) calibrated on the other kinds and applied to each held-out kind (leave one kind out);
the voxel-level review budget.

    nice -n 10 python benchmarks/trust/failure_detection.py --out /tmp/fd --cases 4     # resumable
    python benchmarks/trust/failure_detection.py --out /tmp/fd --report                  # tables only
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fd_report import write_report  # noqa: E402

DEMO = ROOT / "Resources" / "Demo" / "model"
GRID = {"size": (64, 64, 48), "spacing": (1.25, 1.25, 1.25)}  # the demo model's grid
SEEDS = {"test": 7801, "calibrate": 7802, "train": 7803}
SHORT = {"patch": (32, 32, 32), "filters": 4, "batch": 4, "labelled": 4, "cases": 12}
MODELS = ("demo", "demo-collapsed", "supervised", "sgrs")
COLLAPSE_SHIFT = 6.0
FEW = 12   # the calibration cases the statistics had before (the comparison each case records)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def kinds() -> tuple[str, ...]:
    from sgrs.data.shifts import SHIFTS

    return ("own",) + SHIFTS


def calibration_cases(out: Path, n: int) -> list:
    """[(id, image path)] of ``n`` unlabelled phantoms of the models' family (written once)."""
    from sgrs.data.phantom import write_cohort
    from sgrs.inference.rank import case_list

    cal = out / "cohorts" / f"calibrate-{n}"
    if not (cal / "manifest.json").exists():
        write_cohort(cal, n + 1, SEEDS["calibrate"], val=0, test=1, **GRID)
    cases = case_list([cal / "images"])[:n]
    if len(cases) < n:
        raise SystemExit(f"{cal}: {len(cases)} calibration images, {n} wanted")
    return cases


def calibrate(bundle_dir: Path, cases: list) -> None:
    """``sgrs calibrate``'s function on ``cases``, once per bundle and case count (a marker file)."""
    from sgrs.inference.calibrate import calibrate_bundle

    marker = bundle_dir / f"calibrated-{len(cases)}"
    if not marker.exists():
        calibrate_bundle(bundle_dir, cases)
        marker.write_text(f"sgrs calibrate on {len(cases)} unlabelled phantoms of the model's family\n")
        log(f"{bundle_dir.parent.name}/{bundle_dir.name}: feature statistics of {len(cases)} unlabelled phantoms")


def few_case_stats(bundle, cases: list):
    """Feature statistics of the first ``FEW`` calibration cases only, with the bundle's own inputs."""
    from sgrs.data.image_io import read_scan
    from sgrs.inference.calibrate import scan_features
    from sgrs.inference.features import FeatureStats

    return FeatureStats.fit(np.stack([scan_features(bundle, *read_scan(path)[:2]) for _, path in cases[:FEW]]),
                            "calibrate")


def prepare_demo(out: Path, cases: list) -> dict[str, Path]:
    """A copy of the demo model, calibrated once."""
    demo = out / "models" / "demo"
    if not (demo / "model.json").exists():
        shutil.rmtree(demo, ignore_errors=True)
        shutil.copytree(DEMO, demo)
    calibrate(demo, cases)
    return {"demo": demo, "demo-collapsed": demo}


def prepare_short(out: Path, iterations: int, cases: list, names=("supervised", "sgrs")) -> dict[str, Path]:
    """The short runs named, trained here once, then calibrated (one process per run may share ``out``)."""
    from sgrs.data.phantom import write_cohort

    paths = {}
    train_root = out / "cohorts" / "train"
    if not (train_root / "manifest.json").exists():
        write_cohort(train_root, SHORT["cases"] + 1, SEEDS["train"], val=1, test=0, **GRID)
    for method, name in (("supervised", "supervised"), ("sgrs", "sgrs")):
        if name not in names:
            continue
        paths[name] = train_short(out / "runs" / name, train_root / "manifest.json", method, iterations)
        calibrate(paths[name], cases)
    return paths


def train_short(job: Path, manifest: Path, method: str, iterations: int) -> Path:
    from sgrs.training.config import TrainConfig
    from sgrs.training.job import read_events
    from sgrs.training.loop import train

    if (job / "progress.jsonl").exists() and any(e["event"] == "finished" for e in read_events(job)):
        return job / "model"
    resume = (job / "config.json").exists()
    if not resume and job.exists():
        shutil.rmtree(job)
    t0 = time.time()
    train(TrainConfig(str(manifest), str(job), labelled=SHORT["labelled"], iterations=iterations,
                      patch=SHORT["patch"], filters=SHORT["filters"], batch=SHORT["batch"], device="cpu", seed=11,
                      val_every=iterations, method=method), resume=resume, show_bar=False)
    log(f"trained {job.name} ({method}, {iterations} iterations) in {time.time() - t0:.0f} s")
    return job / "model"


def load_model(name: str, path: Path):
    import torch

    from sgrs.models.bundle import load_bundle

    bundle = load_bundle(path)
    if name.endswith("-collapsed"):
        with torch.no_grad():  # over-segmentation of the kind the powered benchmark's collapses showed
            bundle.model.decoder1.out_conv.bias[1:] += COLLAPSE_SHIFT
    return bundle


def make_test_case(kind: str, index: int):
    from sgrs.data.phantom import make_case
    from sgrs.data.shifts import make_shifted_case

    if kind == "own":
        image, label, geometry = make_case(index, SEEDS["test"], family="default", **GRID)
        return image, label, geometry, 0.0
    return make_shifted_case(kind, index, SEEDS["test"], GRID["size"], GRID["spacing"])


def voxel_budget(seg, truth: np.ndarray) -> dict:
    """Share of the error voxels each voxel map finds in the top 1 % and 2 % of the volume, and what
    the product's review list (q ≥ its threshold) holds in the volume it marks."""
    from sgrs.evaluation.review_budget import found_at_count
    from sgrs.inference.review import DEFAULT_Q_MIN, review_mask

    errors = (seg.label > 0) != (truth > 0)
    n_err, size = int(errors.sum()), errors.size
    out = {"errors": n_err, "volume": size}
    if n_err == 0:
        return out
    maps = {"entropy": seg.entropy.astype(np.float32)}
    same_grid = all(m.shape == seg.label.shape for m in seg.network_maps.values())
    if same_grid and "tta_votes" in seg.network_maps:
        maps["tta+entropy"] = seg.network_maps["tta_votes"] * 256.0 + seg.entropy
    if same_grid and "view_disagreement" in seg.network_maps:
        maps["view+entropy"] = seg.network_maps["view_disagreement"] * 256.0 + seg.entropy
    for name, score in maps.items():
        for budget in (0.01, 0.02):
            out[f"{name}@{budget}"] = found_at_count(score, errors, budget * size) / n_err
    marked = review_mask(seg.entropy, seg.regions, "entropy", DEFAULT_Q_MIN)
    out["review_volume"] = float(marked.mean())
    out["review_found"] = float((marked & errors).sum() / n_err)
    return out


def run_case(bundle, kind: str, index: int, tta: int, few=None) -> dict:
    from sgrs.evaluation.metrics import dice
    from sgrs.inference.segment import SegmentOptions, segment_array

    image, truth, geometry, severity = make_test_case(kind, index)
    seg = segment_array(image, geometry, bundle, SegmentOptions(device="cpu", tta=tta, feature_distance=True))
    s = seg.summary
    cost = s["case_scores"]["cost"]
    seconds = {**s["scan"]["seconds"], "features": cost["feature_seconds"], "cpu": cost["cpu"]}
    record = {}
    if few is not None:  # the same scan against statistics of fewer calibration cases (benchmark only)
        from sgrs.inference.calibrate import scan_features

        f = scan_features(bundle, image, geometry)
        record["feature_few"] = {"cases": few.cases, "feature_distance": round(few.distance(f), 4),
                                 "feature_knn": round(few.knn_distance(f), 4)}
    # risk = 1 − the mean foreground Dice (one structure here; the same with several)
    mean_dice = float(np.mean([dice(seg.label == c, truth == c) for c in range(1, bundle.n_classes)]))
    return {"kind": kind, "index": index, "severity": round(severity, 3), "dice": mean_dice,
            "flag": s["case_flag"], "reasons": s["case_flag_reasons"], "measures": s["review"]["measures"],
            "seconds": {"total": s["seconds"], **seconds}, "voxels": voxel_budget(seg, truth), **record}


def run_cases(out: Path, paths: dict, n_cases: int, tta: int, cal_cases: list, models=MODELS,
              only_kinds=None) -> None:
    for name in models:
        bundle = few = None
        for kind in only_kinds or kinds():
            folder = out / "cases" / name / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_cases):
                path = folder / f"{i:03d}.json"
                if path.exists():
                    continue
                bundle = bundle or load_model(name, paths[name])
                few = few or few_case_stats(bundle, cal_cases)
                t0 = time.time()
                record = {"model": name, **run_case(bundle, kind, i, tta, few)}
                path.write_text(json.dumps(record, indent=1))
                log(f"{name} {kind} {i}: Dice {record['dice']:.3f}, {record['flag']} ({time.time() - t0:.1f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/failure-detect/fd")
    ap.add_argument("--cases", type=int, default=None,
                    help="test phantoms per model and kind (default 4; with --report: the first this many, "
                         "default all on disk)")
    ap.add_argument("--iterations", type=int, default=150, help="training iterations of the short runs")
    ap.add_argument("--tta", type=int, default=4, help="flip-TTA predictions per case (the opt-in score)")
    ap.add_argument("--calibration-cases", type=int, default=40,
                    help="unlabelled phantoms every model's feature statistics come from (sgrs calibrate)")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    ap.add_argument("--kinds", nargs="+", choices=kinds(), default=None,
                    help="only these kinds (processes on disjoint kinds may share --out)")
    ap.add_argument("--report", action="store_true", help="tables only, from the cases on disk")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if not args.report:
        args.cases = 4 if args.cases is None else args.cases
        demo = [m for m in args.models if m.startswith("demo")]
        short = [m for m in args.models if not m.startswith("demo")]
        cal = calibration_cases(out, args.calibration_cases)
        if demo:  # needs no training: first
            run_cases(out, prepare_demo(out, cal), args.cases, args.tta, cal, demo, args.kinds)
        if short:
            run_cases(out, prepare_short(out, args.iterations, cal, short), args.cases, args.tta, cal, short,
                      args.kinds)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    print(write_report(out, machine, " ".join(sys.argv[1:]), args.cases).read_text())


if __name__ == "__main__":
    main()
