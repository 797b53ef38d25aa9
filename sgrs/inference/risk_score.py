"""The case flag's risk score: a small logistic model on the case scores (case_scores.py, features.py)
and the flag's measures, fitted by benchmarks/trust/failure_detection.py on some kinds of shift and
checked on the others (docs/trust.md). A single score is the same model with one input.

A rule is ``{"inputs": [names], "mean": [...], "sd": [...], "weights": [bias, w1, ...], "review": t}``:
risk = bias + Σ w_i (x_i − mean_i) / sd_i over the inputs ``x`` of ``flag_inputs``; above ``review`` the
case is flagged ``review``. An input the result lacks (no feature statistics in the bundle, no TTA)
counts as its calibration mean: it neither raises nor lowers the risk.
"""
from __future__ import annotations

import math

# plain words for the input that raised the risk most (the case flag's reason)
INPUT_WORDS = {
    "feature_distance": "the scan looks unlike the model's training scans",
    "feature_knn": "the scan looks unlike any of the model's training scans",
    "view_disagreement": "the prediction changes when the scan is perturbed (plain and mixed views disagree)",
    "tta_disagreement": "the prediction changes when the scan is flipped",
    "mean_entropy": "the model is unsure around the structure",
    "non_boundary_entropy": "the model is unsure away from the structure's edge",
    "expected_error_share": "many voxels likely wrong",
    "uncertain_share": "much of the structure uncertain or inconsistent (Δ∪Θ)",
    "volume_out": "volume outside the training cases' range",
    "fragment_share": "part of the structure in detached pieces",
}


def flag_inputs(measures: dict, structure: dict | None = None) -> dict:
    """The risk model's inputs from the flag's measures (and one structure's own case scores, which
    take precedence over the worst-structure values in ``measures``); None where unknown."""
    m = {**measures, **(structure or {})}
    ratio = m.get("volume_ratio")
    out = {"volume_out": abs(math.log(ratio)) if ratio else (0.0 if ratio is None else None)}
    for name in ("feature_distance", "feature_knn"):
        out[name] = math.log1p(m[name]) if m.get(name) is not None else None
    for name in ("expected_error_share", "fragment_share", "uncertain_share", "mean_entropy",
                 "non_boundary_entropy", "view_disagreement", "tta_disagreement"):
        out[name] = None if m.get(name) is None else float(m[name])
    return out


def risk_score(inputs: dict, rule: dict) -> tuple[float, str | None]:
    """(risk, the input that raised it most) of one structure under ``rule``."""
    risk, top, top_value = float(rule["weights"][0]), None, 0.0
    for name, mean, sd, w in zip(rule["inputs"], rule["mean"], rule["sd"], rule["weights"][1:]):
        x = inputs.get(name)
        part = 0.0 if x is None else w * (x - mean) / sd
        risk += part
        if part > top_value:
            top, top_value = name, part
    return risk, top
