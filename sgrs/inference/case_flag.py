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
The thresholds (``RULES``) are the ones ``benchmarks/trust.py`` calibrated (docs/trust.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import flag_words as words

OK, REVIEW, FAILED = "ok", "review", "likely failed"
FLAGS = (OK, REVIEW, FAILED)

# benchmarks/trust.py, 162 cases of 16 models (docs/trust.md): Dice < 0.7 flagged 79 %, Dice ≥ 0.7 left
# ok 91 % (1 % called "likely failed"), every collapsed model's case "likely failed"
RULES = {
    "error_review": 1.0, "error_failed": 5.0,        # expected_error_share
    "volume_review": 2.0, "volume_failed": 3.0,      # × outside the training range
    "fragment_review": 0.2,                          # fragment_share
}


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
        if err is not None and err > r["error_review"]:
            hit(FAILED if err > r["error_failed"] else REVIEW,
                words.error_reason(err))
        ratio = measures.get("volume_ratio")
        if ratio is not None and ratio != 1.0:
            times = ratio if ratio > 1 else 1 / max(ratio, 1e-9)
            if times > r["volume_review"]:
                hit(FAILED if times > r["volume_failed"] else REVIEW,
                    words.volume_reason(times, above=ratio > 1))
        frag = measures.get("fragment_share")
        if frag is not None and frag > r["fragment_review"]:
            hit(REVIEW, words.fragment_reason(frag))
    return CaseFlag(worst, reasons, measures)


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
    return {"foreground_ml": fg_ml,
            "expected_error_share": round(expected_wrong_voxels / fg_voxels, 5) if fg_voxels else None,
            "uncertain_share": uncertain,
            "volume_ratio": None if ratio is None else float(f"{ratio:.4g}"),
            "training_volume_ml": training,
            "fragment_share": summary.get("fragment_share")}


def flag_line(fields: dict) -> str:
    """'case flag: review (expected wrong voxels: 1.4× the structure's size)' from summary fields
    (the words are flag_words.py's)."""
    text = words.flag_text(fields)
    return text[0].lower() + text[1:] if text else ""
