"""Stage 3 of benchmarks/trust/trust.py: every model on its test phantoms, per case.

Per case: Dice; the error voxels (shipped label XOR truth) found by each map at equal reviewed
volume; the product's review list (errors found after the top k regions); the case flag's measures.
Voxel scores: the product's uint8 entropy map (ties inside a level are split pro rata, the expected
count of a random tie-break), Δ∪Θ / Δ / Θ (binary), and flip TTA (the variance of the foreground
probability over identity + three single-axis flips, and the entropy of their mean).
One JSON per model under ``<out>/analysis/`` (existing ones are skipped).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sgrs.evaluation.review_budget import found_at_count  # noqa: F401  (used below, and by callers)
from trust_settings import AL_ARMS, BUDGETS, DEMO, TOP_K  # noqa: F401


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def tta_maps(image, geometry, bundle):
    """Flip TTA on the network grid (the cohorts here need no resampling): variance of P_fg and
    entropy of the mean, each (x, y, z) float32."""
    import torch

    from sgrs.data.normalize import Normalization
    from sgrs.inference.prepare import plan_scan, prepare_image
    from sgrs.inference.sliding import model_predictor, sliding_window

    plan = plan_scan(geometry, bundle.meta)
    if plan.network is not None or plan.reorient is not None:
        raise SystemExit("TTA baseline expects cohorts on the model's grid")
    norm = prepare_image(image, plan, Normalization.from_json(bundle.meta["normalization"]))
    predict = model_predictor(bundle.model)
    probs = []
    for axes in ((), (0,), (1,), (2,)):
        x = np.ascontiguousarray(np.flip(norm, axes)) if axes else norm
        p = sliding_window(predict, x, bundle.patch_size, bundle.n_classes, 0.5, 2, "cpu")[1].numpy()
        probs.append(np.flip(p, axes) if axes else p)
    probs = np.stack(probs)
    mean = probs.mean(0).clip(1e-7, 1 - 1e-7)
    ent = -(mean * np.log2(mean) + (1 - mean) * np.log2(1 - mean))
    del torch
    return probs.var(0).astype(np.float32), ent.astype(np.float32)


def dice_case(bundle, image, geometry, truth: np.ndarray) -> dict:
    from sgrs.evaluation.metrics import dice
    from sgrs.inference.segment import SegmentOptions, segment_array

    seg = segment_array(image, geometry, bundle, SegmentOptions(device="cpu", regions=False))
    return {"dice": round(dice(seg.label > 0, truth > 0), 5)}


def analyse_case(bundle, image, geometry, truth: np.ndarray) -> dict:
    from sgrs.evaluation.metrics import dice
    from sgrs.inference.maps import DELTA, THETA
    from sgrs.inference.review import region_members
    from sgrs.inference.segment import SegmentOptions, segment_array

    seg = segment_array(image, geometry, bundle, SegmentOptions(device="cpu"))
    pred, truth = seg.label > 0, truth > 0
    errors = pred ^ truth
    n_err, n = int(errors.sum()), errors.size
    var, tta_ent = tta_maps(image, geometry, bundle)
    theta_first = seg.entropy.astype(np.int16) + 256 * (seg.regions == THETA)  # Θ voxels, then by entropy
    scores = {"entropy": seg.entropy, "entropy+theta": theta_first, "tta-variance": var, "tta-entropy": tta_ent}
    row = {"dice": round(dice(pred, truth), 5), "errors": n_err, "fp": int((pred & ~truth).sum()),
           "fn": int((~pred & truth).sum()), "voxels": n, "pred": int(pred.sum()), "truth": int(truth.sum()),
           "summary": {**{k: seg.summary.get(k) for k in ("foreground_ml", "fragment_share", "case_flag",
                                                           "case_flag_reasons", "review")},
                       "listed_error_ml": sum(r["expected_error_ml"] for r in seg.summary["review_regions"]),
                       "listed": len(seg.summary["review_regions"])},
           "budget": {}, "binary": {}, "regions": {},
           # per entropy level: voxels and error voxels, whole volume and inside the prediction, so any
           # threshold's volume, recall, calibration and flag measure can be recomputed by the report
           "levels": {"all": np.bincount(seg.entropy.ravel(), minlength=256).tolist(),
                      "errors": np.bincount(seg.entropy[errors], minlength=256).tolist()}}
    for name, s in scores.items():
        row["budget"][name] = [found_at_count(s, errors, b * n) for b in BUDGETS]
    masks = {"delta-theta": np.isin(seg.regions, (DELTA, THETA)), "delta": seg.regions == DELTA,
             "theta": seg.regions == THETA}
    for name, m in masks.items():
        v = int(m.sum())
        row["binary"][name] = {"volume": v, "found": int((m & errors).sum()),
                               **{f"{k}_equal": found_at_count(s, errors, v) for k, s in scores.items()}}
    for map_name in ("entropy", "delta-theta", "entropy+theta"):
        members = region_members(seg.entropy, seg.regions, geometry, map_name)
        found, volume = [], []
        for idx in members:
            hit = errors[idx[:, 0], idx[:, 1], idx[:, 2]]
            found.append(int(hit.sum()))
            volume.append(len(idx))
        row["regions"][map_name] = {"found": found, "volume": volume}
    return row


def shifted(bundle, shift: float):
    """A collapsed model, reproduced: the foreground logit's bias moved by ``shift`` (over- or
    under-segmentation of the kind the powered benchmark's collapses showed)."""
    import torch

    with torch.no_grad():
        bundle.model.decoder1.out_conv.bias[1:] += shift
    return bundle


def model_list(out: Path, seeds: int) -> list[tuple[str, str, dict]]:
    """(name, cohort, how to load) of every model analysed."""
    runs = out / "runs"
    models = [("demo", "demo-default", {"path": DEMO}), ("demo", "demo-hard", {"path": DEMO})]
    for s in range(seeds):
        models.append((f"m0-s{s}", "al", {"path": runs / "m0" / f"seed{s}" / "model"}))
        for arm in AL_ARMS:
            models.append((f"al-{arm}-s{s}", "al", {"path": runs / f"al-{arm}" / f"seed{s}" / "model",
                                                     "dice_only": True}))
    models.append(("sgrs-s0", "al", {"path": runs / "sgrs" / "seed0" / "model"}))
    for s in range(min(2, seeds)):
        models.append((f"early-s{s}", "al", {"path": runs / "early" / f"seed{s}" / "model"}))  # undertrained
    models.append(("sgrs-s0-over", "al", {"path": runs / "sgrs" / "seed0" / "model", "shift": 6.0, "collapsed": True}))
    models.append(("sgrs-s0-none", "al", {"path": runs / "sgrs" / "seed0" / "model", "shift": -6.0, "collapsed": True}))
    return models


def analyse_all(out: Path, manifests: dict, args, only: str | None = None) -> None:
    """``only``: a model-name prefix (e.g. ``demo``) to analyse just those."""
    from sgrs.data.image_io import read_image, read_label
    from sgrs.models.bundle import load_bundle

    dest = out / "analysis"
    dest.mkdir(parents=True, exist_ok=True)
    for name, cohort, how in model_list(out, args.seeds):
        path = dest / f"{name}@{cohort}.json"
        if path.exists() or not (Path(how["path"]) / "model.json").exists() or (only and not name.startswith(only)):
            continue
        t0 = time.time()
        bundle = load_bundle(how["path"])
        if "shift" in how:
            shifted(bundle, how["shift"])
        manifest = manifests[cohort]
        rows = {}
        tests = [c for c in json.loads(manifest.read_text())["cases"] if c["split"] == "test"]
        for case in tests[:args.demo_test] if cohort.startswith("demo") else tests:
            image, geometry = read_image(manifest.parent / case["image"])
            truth = read_label(manifest.parent / case["label"], 2, geometry)
            rows[case["id"]] = (dice_case if how.get("dice_only") else analyse_case)(bundle, image, geometry, truth)
        result = {"model": name, "cohort": cohort, "collapsed": bool(how.get("collapsed")),
                  "dice_only": bool(how.get("dice_only")),
                  "training_volume_ml": (bundle.meta.get("provenance") or {}).get("label_volume_ml"),
                  "budgets": BUDGETS, "cases": rows}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(path)
        log(f"analysed {name} on {cohort}: mean Dice {np.mean([r['dice'] for r in rows.values()]):.3f} "
            f"({time.time() - t0:.0f} s)")
