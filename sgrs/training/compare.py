"""Before a user keeps a fine-tuned model: its Dice and its base model's on the check cases.

At the end of a fine-tuning run the engine segments each check case (the cases the user held out, else the
run's validation cases) with both bundles exactly as ``sgrs segment`` does (each bundle's inference weights,
spacing, orientation and post-processing) and writes ``JOB/check.json``, which every GUI reads:

    {"cases": [ids], "kind": "held out" | "validation" | "none",
     "base": {"name", "dice", "per_case"}, "new": {"dice", "per_case"}, "difference": new - base,
     "error": one line when the check could not run}

Dice is the mean over the foreground classes (one class: the foreground Dice), then over the cases.
A failed check never fails the run: the model is saved; the GUIs say the check could not run.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..evaluation.metrics import foreground_dice
from ..util.atomic import write_text

CHECK_FILE = "check.json"
SAME = 0.005          # closer than this, the two models count as equal on the check cases


def case_dice(bundle, cases, device: str) -> dict[str, float]:
    from ..inference.segment import SegmentOptions, segment_array
    options = SegmentOptions(regions=False, device=device)
    # the label is all the check needs: without its feature statistics Segment skips the scan's feature
    # distance (a trust figure, one more network pass), which does not change the label
    bundle.meta = {k: v for k, v in bundle.meta.items() if k != "feature_stats"}
    out = {}
    for case in cases:
        seg = segment_array(case.image, case.geometry, bundle, options)
        out[case.id] = round(foreground_dice(seg.label, case.label, bundle.n_classes), 4)
    return out


def compare(base_path, new_path, cases, kind: str, device: str = "cpu") -> dict:
    """Both bundles' Dice on ``cases`` (sgrs.data.cohort.Case, raw intensities on their own grid)."""
    from ..models.bundle import load_bundle
    if not cases:
        return {"cases": [], "kind": "none"}
    base = load_bundle(base_path)
    base_dice = case_dice(base, cases, device)
    del base
    new_dice = case_dice(load_bundle(new_path), cases, device)
    b, n = float(np.mean(list(base_dice.values()))), float(np.mean(list(new_dice.values())))
    from ..models.meta import read_meta
    return {"cases": [c.id for c in cases], "kind": kind,
            "base": {"name": read_meta(base_path).get("name") or Path(base_path).name, "dice": round(b, 4),
                     "per_case": base_dice},
            "new": {"dice": round(n, 4), "per_case": new_dice}, "difference": round(n - b, 4)}


def run_check(job_folder, base_path, new_path, cohort, device: str) -> dict:
    """Measure and write ``check.json``; any failure is written as the check's one-line error."""
    kind = "held out" if cohort.held_out else "validation"
    try:
        cases = cohort.read_check() if cohort.read_check and cohort.check_ids else []
        result = compare(base_path, new_path, cases, kind, device)
    except Exception as exc:  # noqa: BLE001  the model is saved whatever the check does
        result = {"cases": list(cohort.check_ids), "kind": kind,
                  "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    write_check(job_folder, result)
    return result


def write_check(job_folder, result: dict) -> Path:
    path = Path(job_folder) / CHECK_FILE
    write_text(path, json.dumps(result, indent=1))
    return path


def read_check(job_folder) -> dict | None:
    """The job's check, or None (a job from scratch, one not finished, or one written before checks)."""
    try:
        data = json.loads((Path(job_folder) / CHECK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verdict(check: dict | None) -> str:
    """better | worse | same | unknown (no check case, or the check failed)."""
    if not check or check.get("error") or "difference" not in check:
        return "unknown"
    d = float(check["difference"])
    return "same" if abs(d) < SAME else "better" if d > 0 else "worse"


def check_line(check: dict | None) -> str:
    """The CLI's and the log's line; the GUIs word it themselves (SGRSTrainLib.decision)."""
    if check is None:
        return "no check: the model was not fine-tuned from a base model"
    if check.get("error"):
        return f"the check against the base model could not run: {check['error']}"
    if not check.get("cases"):
        return "no check case was available (no held-out case and no validation case): Dice against the base " \
               "model unknown"
    cases = ", ".join(check["cases"])
    return (f"check on {check['kind']} case{'s' if len(check['cases']) > 1 else ''} {cases}: new model Dice "
            f"{check['new']['dice']:.3f}, base model '{check['base']['name']}' {check['base']['dice']:.3f} "
            f"({verdict(check)}, {check['difference']:+.3f})")
