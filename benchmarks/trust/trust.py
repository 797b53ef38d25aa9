"""Trust, measured: do the maps find the model's errors, does the case flag catch failed cases, and
does ranking by Δ∪Θ pick cases that teach the model more than entropy or a random pick?

Stages (each resumable: finished work is found on disk and skipped):
1. cohorts: fresh phantoms of the demo model's own family and of the hard family (both on the demo
   model's grid), and a small hard cohort for the short CPU runs (``AL``: a labelled pool, an
   unlabelled pool that is also the active-learning candidate pool, and a test split);
2. models: per seed a short supervised run from 2 labelled cases (``m0``), one short SGRS run,
   early-stopped runs (collapsed output) and, for active learning, the ``m0`` fine-tuned with 2 more
   cases picked by Δ∪Θ share, by mean entropy and at random (same seed, same iterations: the arms are
   paired);
3. analysis: every model on its test phantoms through the product path (``segment_array`` →
   ``sgrs.inference.review``) plus a flip-TTA pass; per case the error voxels found by each map at
   equal reviewed volume, by the top-k review regions, and the case flag against Dice;
4. report: ``docs/trust.md`` tables and ``docs/trust.png``.

    nice -n 10 python benchmarks/trust/trust.py --out /work/bench-out/trust            # everything
    python benchmarks/trust/trust.py --out /work/bench-out/trust --report              # tables only
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

from trust_settings import AL_ARMS, AL_GRID, COHORT_SEEDS, DEMO_GRID, POOL_SEEDS, SHORT  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def write_manifest(path: Path, cases: list[dict], name: str) -> Path:
    path.write_text(json.dumps({"name": name, "classes": ["background", "left atrium"], "cases": cases}, indent=1))
    return path




def make_cohorts(out: Path, seeds: int, unlabelled: int, test: int, demo_test: int) -> dict:
    from sgrs.data.phantom import write_cohort

    made = {}
    for key, family in (("demo-default", "default"), ("demo-hard", "hard")):
        root = out / "cohorts" / key
        if not (root / "manifest.json").exists():
            write_cohort(root, demo_test + 1, COHORT_SEEDS[key], val=0, test=demo_test, family=family, **DEMO_GRID)
        made[key] = root / "manifest.json"
    root = out / "cohorts" / "al"
    pool = 2 * POOL_SEEDS
    if not (root / "manifest.json").exists():
        write_cohort(root, pool + unlabelled + test, COHORT_SEEDS["al"], val=0, test=test, family="hard", **AL_GRID)
    made["al"] = root / "manifest.json"
    return made


def al_cases(manifest: Path, unlabelled: int) -> tuple[list, list, list]:
    cases = json.loads(manifest.read_text())["cases"]
    pool = 2 * POOL_SEEDS
    return cases[:pool], cases[pool:pool + unlabelled], cases[pool + unlabelled:]


def own_cases(pool: list, s: int) -> list:
    """Seed s's 2 labelled cases: disjoint pairs for the first len(pool)/2 seeds, then other pairs of
    the same pool (0+2, 2+4, ...), so more seeds need no new cohort."""
    half = len(pool) // 2
    if s < half:
        return pool[2 * s:2 * s + 2]
    k = 2 * (s - half) % len(pool)
    return [pool[k], pool[(k + 2) % len(pool)]]


def seed_manifest(root: Path, name: str, labelled: list, unlabelled: list, test: list) -> Path:
    """Labelled cases first (the cohort reader takes the first N train cases as labelled)."""
    entries = [dict(c, split="train") for c in labelled + unlabelled] + [dict(c, split="test") for c in test]
    return write_manifest(root / f"manifest-{name}.json", entries, name)


def train_once(job: Path, manifest: Path, labelled: int, iterations: int, seed: int, base: Path | None = None,
               method: str = SHORT["method"]) -> Path:
    from sgrs.training.config import TrainConfig
    from sgrs.training.job import read_events
    from sgrs.training.loop import train

    if (job / "progress.jsonl").exists() and any(e["event"] == "finished" for e in read_events(job / "progress.jsonl")):
        return job / "model"
    resume = (job / "config.json").exists()
    if not resume and job.exists():
        shutil.rmtree(job)
    config = TrainConfig(cohort=str(manifest), out=str(job), labelled=labelled, val=0, iterations=iterations,
                         patch=SHORT["patch"], filters=SHORT["filters"], batch=SHORT["batch"], device="cpu",
                         seed=seed, val_every=iterations, base_model=str(base) if base else None, method=method)
    t0 = time.time()
    train(config, resume=resume, show_bar=False)
    log(f"trained {job.relative_to(job.parents[2])} in {time.time() - t0:.0f} s")
    return job / "model"


def case_scores(model: Path, manifest: Path, cases: list[dict]) -> dict:
    """Per unlabelled case: Δ∪Θ share of the predicted structure (the ranking's score today) and
    the mean voxel entropy (uncertainty sampling), through the product's segmentation path."""
    from sgrs.data.image_io import read_image
    from sgrs.inference.segment import SegmentOptions, segment_array
    from sgrs.inference.rank import SCORES
    from sgrs.models.bundle import load_bundle

    bundle = load_bundle(model)
    scores = {}
    for case in cases:
        image, geometry = read_image(manifest.parent / case["image"])
        seg = segment_array(image, geometry, bundle, SegmentOptions(device="cpu"))
        scores[case["id"]] = {"delta-theta": SCORES["delta-theta"](seg), "entropy": SCORES["mean-entropy"](seg),
                              "foreground_ml": seg.summary["foreground_ml"]}
    return scores


def pick(scores: dict, arm: str, k: int, seed: int) -> list[str]:
    ids = sorted(scores)
    if arm == "random":
        return list(np.random.default_rng([seed, 99]).choice(ids, k, replace=False))
    # an empty prediction is itself a reason to look (as the ranking does): it goes first
    return sorted(ids, key=lambda c: (scores[c]["foreground_ml"] > 0, -scores[c][arm]))[:k]


def train_stage(out: Path, manifests: dict, seeds: int, unlabelled: int) -> None:
    lab_pool, unl_pool, test = al_cases(manifests["al"], unlabelled)
    root = manifests["al"].parent
    runs = out / "runs"
    for s in range(seeds):
        own = own_cases(lab_pool, s)
        m0 = train_once(runs / "m0" / f"seed{s}", seed_manifest(root, f"m0-seed{s}", own, unl_pool, test), 2,
                        SHORT["iterations"], 1000 + s)
        picks_path = runs / "picks" / f"seed{s}.json"
        if not picks_path.exists():
            scores = case_scores(m0, manifests["al"], unl_pool)
            picks = {arm: pick(scores, arm, 2, s) for arm in AL_ARMS}
            picks_path.parent.mkdir(parents=True, exist_ok=True)
            picks_path.write_text(json.dumps({"scores": scores, "picks": picks}, indent=1))
        picks = json.loads(picks_path.read_text())["picks"]
        for arm in AL_ARMS:
            chosen = [c for c in unl_pool if c["id"] in picks[arm]]
            rest = [c for c in unl_pool if c["id"] not in picks[arm]]
            train_once(runs / f"al-{arm}" / f"seed{s}", seed_manifest(root, f"al-{arm}-seed{s}", own + chosen, rest, test),
                       4, SHORT["finetune"], 2000 + s, base=m0)
    train_once(runs / "sgrs" / "seed0", root / "manifest-m0-seed0.json", 2, SHORT["sgrs_iterations"], 1000, method="sgrs")
    for s in range(min(2, seeds)):  # collapsed output: a run stopped after a few steps
        train_once(runs / "early" / f"seed{s}", root / f"manifest-m0-seed{s}.json", 2, SHORT["early"], 1000 + s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/work/bench-out/trust")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--unlabelled", type=int, default=12)
    ap.add_argument("--test", type=int, default=10)
    ap.add_argument("--demo-test", type=int, default=6, help="test phantoms per family for the demo model")
    ap.add_argument("--stage", choices=["all", "train", "analyse", "report"], default="all")
    ap.add_argument("--report", action="store_true", help="= --stage report")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    stage = "report" if args.report else args.stage
    manifests = make_cohorts(out, args.seeds, args.unlabelled, args.test, args.demo_test)
    from trust_analysis import analyse_all

    if stage in ("all", "analyse"):
        analyse_all(out, manifests, args, only="demo")  # the demo model needs no training: first
    if stage in ("all", "train"):
        train_stage(out, manifests, args.seeds, args.unlabelled)
    if stage in ("all", "analyse"):
        analyse_all(out, manifests, args)
    if stage in ("all", "analyse", "report"):
        from trust_report import write_report

        write_report(out, args, machine=f"{platform.machine()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
