"""The case flag: ``ok``, ``review`` or ``likely failed``, from the segmentation alone (no ground truth).

Measures (``case_measures``):
- ``expected_error_share``: Σ q over the voxels the review map marks (q ≥ q_min: voxels expected to
  be wrong, from the entropy map; see review.py) per predicted structure voxel — an estimate of how
  much of the result is wrong;
- ``uncertain_share``: the Δ ∪ Θ share of the predicted structure (the region map's statistic);
- ``volume_ratio``: the predicted volume against the range of the model's labelled training cases
  (``provenance.label_volume_ml`` of the bundle): below 1 it is that many times under the smallest,
  above 1 that many times over the largest, 1 inside the range; None when the bundle does not say;
- ``fragment_share``: the share of the predicted structure outside its largest connected component,
  before any post-processing.
- the case scores (case_scores.py, features.py), per structure, read by the risk rule (risk_score.py).
The rules (``RULES``) are the ones ``benchmarks/trust/failure_detection.py`` chose and calibrated (docs/trust.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import flag_words as words
from .risk_score import INPUT_WORDS, flag_inputs, risk_score

OK, REVIEW, FAILED = "ok", "review", "likely failed"
FLAGS = (OK, REVIEW, FAILED)

# benchmarks/trust/failure_detection.py (docs/trust.md): of every score and combination measured, the Δ∪Θ
# share of the structure, with the hard rules beside it, caught the most failed cases (Dice < 0.7) on kinds of
# shift held out of the calibration while leaving ≥ 90 % of the good ones ok (chosen again, with the same
# threshold, after the feature distances got 40 calibration cases and a kNN variant: neither beat it; they
# are not read, so the feature pass stays out of the default path). The softer rules of issue 15
# (Σ q ≥ the structure, volume 2× outside, 20 % detached) are off: each cost more false alarms than it caught.
RULES = {
    "error_review": None, "error_failed": 5.0,       # expected_error_share (None: only "likely failed")
    "volume_review": None, "volume_failed": 3.0,     # × outside the training range
    "fragment_review": None,                         # fragment_share (None: off)
    "risk": {"inputs": ["uncertain_share"], "mean": [0.0], "sd": [1.0], "weights": [0.0, 1.0],
             "review": 0.1159},                      # risk_score.py: review above this Δ∪Θ share
}


FEATURE_SCORES = ("feature_distance", "feature_knn")


def reads_features(rules: dict | None = None) -> bool:
    """Whether the rules' review rule reads a feature distance (then every run makes the feature pass)."""
    risk = ({**RULES, **(rules or {})}).get("risk") or []
    return any(name in FEATURE_SCORES for r in ([risk] if isinstance(risk, dict) else risk) for name in r["inputs"])


@dataclass
class CaseFlag:
    flag: str
    reasons: list = field(default_factory=list)
    measures: dict = field(default_factory=dict)


def volume_ratio(foreground_ml: float, training: dict | None) -> float | None:
    """1 inside the training range, else how many times below (as 1/x < 1) or above (x > 1) it."""
    if not training or not training.get("min") or not training.get("max"):
        return None
    low, high = float(training["min"]), float(training["max"])
    if foreground_ml <= 0:
        return 0.0
    if foreground_ml < low:
        return foreground_ml / low
    if foreground_ml > high:
        return foreground_ml / high
    return 1.0


def case_flag(measures: dict, rules: dict | None = None) -> CaseFlag:
    """Apply the rules to the measures; every rule that fires adds a short reason."""
    r = {**RULES, **(rules or {})}
    worst, reasons = OK, []

    def hit(level: str, reason: str) -> None:
        nonlocal worst
        reasons.append(reason)
        if FLAGS.index(level) > FLAGS.index(worst):
            worst = level

    if measures.get("foreground_ml", 0.0) <= 0.0:
        hit(FAILED, words.NOTHING_SEGMENTED)
    else:
        err = measures.get("expected_error_share")
        if err is not None and err > _lowest(r["error_review"], r["error_failed"]):
            hit(FAILED if err > r["error_failed"] else REVIEW,
                words.error_reason(err))
        ratio = measures.get("volume_ratio")
        if ratio is not None and ratio != 1.0:
            times = ratio if ratio > 1 else 1 / max(ratio, 1e-9)
            if times > _lowest(r["volume_review"], r["volume_failed"]):
                hit(FAILED if times > r["volume_failed"] else REVIEW,
                    words.volume_reason(times, above=ratio > 1))
        frag = measures.get("fragment_share")
        if frag is not None and r["fragment_review"] is not None and frag > r["fragment_review"]:
            hit(REVIEW, words.fragment_reason(frag))
        risk_rules = r.get("risk") or []
        for rule in [risk_rules] if isinstance(risk_rules, dict) else risk_rules:
            risky = risky_structure(measures, rule)
            if risky is not None and risky not in reasons:
                hit(REVIEW, risky)
    return CaseFlag(worst, reasons, measures)


def _lowest(review, failed) -> float:
    """The level at which a two-level rule first fires (``review`` None: only at ``failed``)."""
    return failed if review is None else review


def risky_structure(measures: dict, rule: dict) -> str | None:
    """The reason of the worst structure whose risk score (risk_score.py) is above the rule's
    threshold, or None: each structure is scored with its own case scores."""
    structures = measures.get("structure_scores") or {"": {}}
    worst = None
    for name, scores in structures.items():
        risk, top = risk_score(flag_inputs(measures, scores), rule)
        if risk > rule["review"] and (worst is None or risk > worst[0]):
            worst = (risk, name, top)
    if worst is None:
        return None
    words = INPUT_WORDS.get(worst[2], "the case scores together")
    return f"{worst[1]}: {words}" if len(structures) > 1 else words


def case_measures(summary: dict, expected_wrong_voxels: float, training: dict | None) -> dict:
    """The flag's measures from a segmentation summary and Σ q of its entropy map."""
    fg_ml = float(summary.get("foreground_ml", 0.0))
    voxel_ml = 1.0
    for s in summary.get("spacing", []):
        voxel_ml *= float(s)
    voxel_ml /= 1000.0
    fg_voxels = fg_ml / voxel_ml if voxel_ml else 0.0
    regions = summary.get("regions") or {}
    uncertain = None
    if regions:
        uncertain = round(regions["delta"]["share_of_foreground"] + regions["theta"]["share_of_foreground"], 4)
    ratio = volume_ratio(fg_ml, training)
    return {**worst_scores(summary.get("case_scores")), "foreground_ml": fg_ml,
            "expected_error_share": round(expected_wrong_voxels / fg_voxels, 5) if fg_voxels else None,
            "uncertain_share": uncertain,
            "volume_ratio": None if ratio is None else float(f"{ratio:.4g}"),
            "training_volume_ml": training,
            "fragment_share": summary.get("fragment_share")}


SCORE_NAMES = ("mean_entropy", "non_boundary_entropy", "view_disagreement", "tta_disagreement")  # uncertain_share:
# the case's own (case_measures) stays the measure; each structure's is in structure_scores


def worst_scores(case_scores: dict | None) -> dict:
    """Each case score (case_scores.py) of the worst structure, and the scan's feature distances."""
    if not case_scores:
        return {}
    structures = (case_scores.get("structures") or {}).values()
    out = {name: max(s[name] for s in structures if name in s) for name in SCORE_NAMES
           if any(name in s for s in structures)}
    out["feature_distance"] = case_scores.get("feature_distance")
    out["feature_knn"] = case_scores.get("feature_knn")
    out["structure_scores"] = case_scores.get("structures") or {}
    return out


def flag_line(fields: dict) -> str:
    """'case flag: review (expected wrong voxels: 1.4× the structure's size)' from summary fields
    (the words are flag_words.py's)."""
    text = words.flag_text(fields)
    return text[0].lower() + text[1:] if text else ""
