"""How the case flag, its reasons and the trust figures are said: the engine's words and severity,
which every front end shows as they are (CLI, results.csv, SGRS Segment, the Studio, DICOM).

    severity(flag)              # "success" (ok) | "warning" (review) | "error" (likely failed) | "info" (none)
    result_severity(summary)    # the flag's, raised to "warning" by any warning about the run or the scan
    flag_text(summary)          # "Case flag: review (expected wrong voxels: 1.4× the structure's size)"
    trust_text(meta)            # the figures measured for this model, or that none were
    flag_tooltip(flag)          # what a flag value means (which rules) and how often the flag has been right

How the flag is decided is sgrs/inference/case_flag.py's; the reasons' words are these functions'.
No figure is said as a percentage above 100 %: a ratio is said as "n×".
"""
from __future__ import annotations

import math

SEVERITY = {"ok": "success", "review": "warning", "likely failed": "error"}
RANK = ("info", "success", "warning", "error")

NOTHING_SEGMENTED = "nothing segmented"
# a label a person drew or changed: no model result, so no case flag; the DICOM SEG and SR say this word instead
EDITED = "edited"

# How often the case flag has been right, held out of its calibration: the one place every tooltip quotes.
# Source: docs/trust.md, "How well it works (held-out kinds of shift)".
FLAG_ACCURACY = {
    "source": "benchmarks/trust/failure_detection.py", "date": "2026-12-06",
    "cases": 216, "models": 4, "kinds": 9,
    "sensitivity": (0.68, 0.60, 0.76), "failed_cases": 113,     # (value, 95 % CI low, high), Dice < 0.7
    "specificity": (0.91, 0.85, 0.96), "good_cases": 103,       # Dice ≥ 0.7 left ok
}


def severity(flag: str | None) -> str:
    return SEVERITY.get(flag or "", "info")


def result_severity(summary: dict | None) -> str:
    """What colour a finished run's message takes: never a success colour with a warning or a flag
    other than ``ok``."""
    summary = summary or {}
    level = severity(summary.get("case_flag")) if summary.get("case_flag") else "success"
    if summary.get("warnings") and RANK.index(level) < RANK.index("warning"):
        level = "warning"
    return level


def share_of_size(share: float, whole: str) -> str:
    """'23 % of <whole>' below the whole, '1.4× <whole>' from it on."""
    return f"{100 * share:.0f} % of {whole}" if share < 1 else f"{share:.1f}× {whole}"


def error_reason(share: float) -> str:
    """``expected_error_share``: Σ q over the review map's voxels per voxel of the structure."""
    return "expected wrong voxels: " + share_of_size(share, "the structure's size")


def volume_reason(times: float, above: bool) -> str:
    """``times`` (≥ 1): how many times above the largest or below the smallest training case's volume."""
    return f"volume {times:.1f}× {'above' if above else 'below'} the training cases' range"


def fragment_reason(share: float) -> str:
    return f"{100 * min(share, 1.0):.0f} % of the structure in detached pieces"


def flag_text(summary: dict) -> str:
    """'Case flag: review (reason; reason)' from summary fields; '' when the run gave no flag."""
    flag = summary.get("case_flag")
    if not flag:
        return ""
    reasons = summary.get("case_flag_reasons") or []
    return f"Case flag: {flag}" + (f" ({'; '.join(reasons)})" if reasons else "")


def trust_text(meta: dict | None, summary: dict | None = None) -> str:
    """The trust figures measured for the model that made a result (``model.json``'s ``trust``, written
    by the benchmark that measured them), or a plain statement that none were. With the result's
    ``summary``: a flagged or out-of-domain result is told the figures are its model's best case."""
    trust = (meta or {}).get("trust") or {}
    own, shift = trust.get("review_list") or {}, trust.get("review_list_shift") or {}
    if not _measured(own):
        return ("No trust figures were measured for this model: how often its review list and case flag "
                "are right is unknown; judge the result on screen.")
    text = (f"Measured for this model on {own.get('measured_on', 'its own kind of scans')}: the review list "
            f"held {_found(own)}")
    if _measured(shift):
        text += f"; under a shift ({shift.get('measured_on', 'other scans')}): {_found(shift)}"
    text += "."
    flag = trust.get("case_flag") or {}
    if flag.get("sensitivity") is not None and flag.get("specificity") is not None:
        text += (f" The case flag caught {100 * flag['sensitivity']:.0f} % of its poor results and left "
                 f"{100 * flag['specificity']:.0f} % of its good ones ok.")
    summary = summary or {}
    if summary.get("case_flag") not in (None, "ok") or summary.get("warnings"):
        text = ("This result is flagged or its scan is unlike the training data: expect fewer of its errors "
                "in the list than measured. " + text)
    return text


def _measured(entry: dict) -> bool:
    return entry.get("error_share") is not None and entry.get("volume_share") is not None


def _found(entry: dict) -> str:
    return f"{100 * entry['error_share']:.0f} % of its errors in {100 * entry['volume_share']:.1f} % of the volume"


# how the review rule on one case score is said: the score above t, in the units risk_score.flag_inputs reads
RISK_WORDS = {
    "uncertain_share": lambda t: f"more than {100 * t:.1f} % of the structure is uncertain (its Δ∪Θ share)",
    "expected_error_share": lambda t: "expected wrong voxels above " + share_of_size(t, "the structure's size"),
    "view_disagreement": lambda t: f"the plain and the mixed view disagree on more than {100 * t:.1f} % of it "
                                   "(1 − their Dice)",
    "tta_disagreement": lambda t: f"flipped copies of the scan disagree on more than {100 * t:.1f} % of it",
    "feature_distance": lambda t: f"the scan lies beyond {math.expm1(t):.2f}× the training scans' own spread "
                                  "(feature distance, Mahalanobis)",
    "feature_knn": lambda t: f"the scan lies beyond {math.expm1(t):.2f}× the training scans' own spread "
                             "(feature distance to its nearest training scans)",
    "mean_entropy": lambda t: f"the model's mean uncertainty around the structure is above {100 * t:.1f} %",
    "non_boundary_entropy": lambda t: f"the model's mean uncertainty away from the structure's edge is above "
                                      f"{100 * t:.1f} %",
    "fragment_share": lambda t: f"more than {100 * t:.0f} % of the structure is in detached pieces",
    "volume_out": lambda t: f"its volume is over {math.exp(t):.2f}× outside the training cases' range",
}


def risk_words(rules) -> str:
    """The review rule(s) of case_flag.RULES["risk"] in words ('' for none): one score above its
    threshold, each rule said as such, or a combined (logistic) risk."""
    rules = [rules] if isinstance(rules, dict) else list(rules or [])
    said = []
    for r in rules:
        if len(r["inputs"]) == 1 and r["inputs"][0] in RISK_WORDS and r["weights"][1] > 0:
            t = r["mean"][0] + r["sd"][0] * (r["review"] - r["weights"][0]) / r["weights"][1]
            said.append(RISK_WORDS[r["inputs"][0]](t))
        else:
            said.append("the case scores together (" + ", ".join(r["inputs"]) + ") give a risk above "
                        f"{r['review']:.2f}")
    return " or ".join(said)


def flag_tooltip(flag: str | None) -> str:
    """A flag's tooltip: what this value means (which of case_flag.RULES give it) and how often the flag
    has been right (``FLAG_ACCURACY``); '' when there is no flag."""
    from .case_flag import RULES

    failed = (f"{NOTHING_SEGMENTED}, expected wrong voxels above {RULES['error_failed']:g}× the structure's size, "
              f"or a volume over {RULES['volume_failed']:g}× outside the training cases' range")
    size = "the structure's size"
    soft = [f"expected wrong voxels above {share_of_size(RULES['error_review'], size)}"
            if RULES.get("error_review") is not None else "",
            f"a volume over {RULES['volume_review']:g}× outside the training cases' range"
            if RULES.get("volume_review") is not None else "",
            f"more than {100 * RULES['fragment_review']:.0f} % of the structure in detached pieces"
            if RULES.get("fragment_review") is not None else "",
            risk_words(RULES["risk"])]
    review = " or ".join(w for w in soft if w)
    ok = (f"something was segmented, expected wrong voxels at most {RULES['error_failed']:g}× the structure's size, "
          f"its volume within {RULES['volume_failed']:g}× the training cases' range"
          + (f", and not: {review}" if review else ""))
    meaning = {"ok": f"ok: no rule fired ({ok}).",
               "review": f"review: {review or 'no review rule is set'}; check it before use.",
               "likely failed": f"likely failed: {failed}."}.get(flag or "")
    if meaning is None:
        return ""
    a = FLAG_ACCURACY
    (sens, s_lo, s_hi), (spec, p_lo, p_hi) = a["sensitivity"], a["specificity"]
    return (f"Case flag {meaning} How often it has been right ({a['source']}, {a['date']}, {a['cases']} cases: "
            f"{a['models']} models × {a['kinds']} kinds of scan, each kind held out of the calibration): it "
            f"flagged (review or likely failed) {100 * sens:.0f} % [{100 * s_lo:.0f}, {100 * s_hi:.0f}] of "
            f"{a['failed_cases']} failed results (Dice < 0.7) and left {100 * spec:.0f} % "
            f"[{100 * p_lo:.0f}, {100 * p_hi:.0f}] of "
            f"{a['good_cases']} good ones ok. These figures are for phantoms and shifts the benchmark made, "
            "not a clinical guarantee.")
