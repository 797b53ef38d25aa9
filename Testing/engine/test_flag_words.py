"""Issue 26, item 5: the case flag said the same way everywhere (its words and severity are the
engine's), trust figures only from the model that made the result, and the out-of-domain check in
the engine's segmentation path (CLI, summary.json, results.csv)."""
import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from sgrs.data.image_io import read_image, write_image
from sgrs.inference.case_flag import FAILED, OK, REVIEW, case_flag, flag_line
from sgrs.inference.flag_words import (
    error_reason,
    flag_text,
    fragment_reason,
    result_severity,
    severity,
    trust_text,
    volume_reason,
)
from sgrs.models.card import model_facts, world_warnings

DEMO = ROOT / "Resources" / "Demo" / "model"
SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"
BASE = {"foreground_ml": 20.0, "expected_error_share": 0.01, "volume_ratio": 1.0, "fragment_share": 0.0}


def test_each_flag_has_its_severity_and_words():
    assert [severity(f) for f in (OK, REVIEW, FAILED, None)] == ["success", "warning", "error", "info"]
    flag = case_flag({**BASE, "expected_error_share": 1.44}, rules={"error_review": 1.0, "error_failed": 5.0})
    assert flag.flag == REVIEW and flag.reasons == ["expected wrong voxels: 1.4× the structure's size"]
    fields = {"case_flag": flag.flag, "case_flag_reasons": flag.reasons}
    assert flag_text(fields) == "Case flag: review (expected wrong voxels: 1.4× the structure's size)"
    assert flag_line(fields) == "case flag: review (expected wrong voxels: 1.4× the structure's size)"
    failed = case_flag({**BASE, "foreground_ml": 0.0})
    assert (failed.flag, failed.reasons) == (FAILED, ["nothing segmented"])
    assert flag_text({"case_flag": OK, "case_flag_reasons": []}) == "Case flag: ok"


def test_a_finished_run_is_never_success_with_a_bad_flag_or_a_warning():
    assert result_severity({"case_flag": OK, "warnings": []}) == "success"
    assert result_severity({"case_flag": OK, "warnings": ["scan unlike the model's training data: …"]}) == "warning"
    assert result_severity({"case_flag": REVIEW}) == "warning"
    assert result_severity({"case_flag": FAILED, "warnings": ["x"]}) == "error"
    assert result_severity({}) == "success"    # --no-regions on an old summary: nothing against it


@pytest.mark.parametrize("value", [0.005, 0.5, 0.999, 1.01, 1.44, 4.9, 9.0, 148.0])
def test_no_reason_says_a_percentage_above_100(value):
    said = [error_reason(value), fragment_reason(min(value, 1.0)), volume_reason(max(value, 1 / value), value > 1)]
    said += case_flag({**BASE, "expected_error_share": value, "fragment_share": min(value, 1.0),
                       "volume_ratio": value}).reasons
    for reason in said:
        for number in re.findall(r"([\d.]+) %", reason):
            assert float(number) <= 100, reason
    assert error_reason(value).endswith(f"{value:.1f}× the structure's size" if value >= 1 else
                                        f"{100 * value:.0f} % of the structure's size")


def test_trust_figures_come_from_the_model_that_made_the_result(tiny_bundle):
    demo = trust_text(model_facts(DEMO))
    assert "90 % of its errors in 0.8 % of the volume" in demo and "hard family" in demo   # docs/trust.md
    assert trust_text(model_facts(DEMO), {"case_flag": FAILED}).startswith("This result is flagged")
    none = trust_text(model_facts(tiny_bundle))   # a model of its own training: nothing measured for it
    assert none.startswith("No trust figures were measured for this model") and "%" not in none


def ct_like(path):
    """The demo sample moved into Hounsfield units: air at −1000, tissue around 40."""
    image, geometry = read_image(SAMPLE)
    hu = (image - image.mean()) / image.std() * 300 - 200
    hu[:4] = -1000
    write_image(hu.astype(np.int16), geometry, path)
    return path


def test_world_warnings_for_a_real_ct_and_none_for_the_models_own_kind(clinical_files):
    meta = model_facts(DEMO)
    ct, geometry = read_image(clinical_files / "example_ct_sm.nii.gz")
    assert any("scan unlike the model's training data: the scan looks like CT" in w
               for w in world_warnings(meta, ct, geometry))
    assert world_warnings(meta, *read_image(SAMPLE)) == []


def test_cli_and_batch_warn_about_a_scan_unlike_the_training_data(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    ct = ct_like(scans / "ct.nrrd")
    run = lambda *a: subprocess.run([sys.executable, "-m", "sgrs", *map(str, a)], capture_output=True,  # noqa: E731
                                    text=True, cwd=ROOT, timeout=300)
    one = run("segment", ct, "--model", DEMO, "--out", tmp_path / "one", "--device", "cpu", "--no-regions")
    assert one.returncode == 0, one.stderr
    said = "sgrs: warning: scan unlike the model's training data: the scan looks like CT"
    assert said in one.stderr
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert any(w.startswith("scan unlike the model's training data: the scan looks like CT")
               for w in summary["warnings"])

    (scans / "sample.nrrd").write_bytes(SAMPLE.read_bytes())
    many = run("segment", scans, "--model", DEMO, "--out", tmp_path / "many", "--device", "cpu", "--no-regions")
    assert many.returncode == 0, many.stderr
    rows = {r["case"]: r for r in csv.DictReader((tmp_path / "many" / "results.csv").open())}
    assert "the scan looks like CT" in rows["ct"]["warnings"] and rows["sample"]["warnings"] == ""
    assert rows["ct"]["case_flag_reasons"] == "; ".join(
        json.loads((tmp_path / "many" / "ct" / "summary.json").read_text())["case_flag_reasons"])


def test_a_fine_tuned_model_does_not_inherit_its_bases_trust_figures(tiny_cohort, tmp_path):
    """The demo model carries figures measured for it; a model fine-tuned from it has none measured."""
    from sgrs.training.config import TrainConfig
    from sgrs.training.loop import train

    assert model_facts(DEMO).get("trust")
    config = TrainConfig(cohort=str(tiny_cohort), out=str(tmp_path / "job"), labelled=2, iterations=1, batch=2,
                         patch=(48, 48, 32), filters=8, device="cpu", base_model=str(DEMO), val_every=1000)
    tuned = model_facts(train(config, show_bar=False))
    assert tuned["provenance"]["base_model"] and "trust" not in tuned
    assert trust_text(tuned).startswith("No trust figures were measured for this model")


def test_flag_tooltip_says_the_rules_and_quotes_the_one_measured_accuracy(monkeypatch):
    """Issue 26, item 7: every GUI's flag tooltip says what the flag means (which rules of case_flag.RULES)
    and how often it has been right, from the one constant FLAG_ACCURACY (held-out, docs/trust.md)."""
    import sgrs.inference.flag_words as fw

    assert fw.flag_tooltip(None) == "" and fw.flag_tooltip("") == ""
    tips = {flag: fw.flag_tooltip(flag) for flag in (OK, REVIEW, FAILED)}
    assert tips[OK].startswith("Case flag ok: no rule fired")
    assert "11.6 % of the structure is uncertain" in tips[REVIEW]
    assert all(w in tips[FAILED] for w in ("nothing segmented", "above 5×", "over 3× outside"))
    for tip in tips.values():
        assert "68 % [60, 76] of 113 failed results" in tip and "91 % [85, 96] of 103 good ones ok" in tip
        assert "benchmarks/trust/failure_detection.py" in tip and "216 cases" in tip
        assert tip.endswith("not a clinical guarantee.")
    monkeypatch.setitem(fw.FLAG_ACCURACY, "sensitivity", (0.5, 0.4, 0.6))   # the figures come from the constant
    assert "50 % [40, 60] of 113" in fw.flag_tooltip(REVIEW)


def test_risk_words_say_each_review_rule_as_its_score_above_a_threshold():
    """Whatever rule the benchmark chose (case_flag.RULES["risk"]), the tooltip says it in plain words:
    one score's threshold back in that score's units, a list of rules joined by 'or'."""
    import math

    from sgrs.inference.flag_words import risk_words

    share = {"inputs": ["uncertain_share"], "mean": [0.0], "sd": [1.0], "weights": [0.0, 1.0], "review": 0.1159}
    assert risk_words(share) == "more than 11.6 % of the structure is uncertain (its Δ∪Θ share)"
    # a standardised rule: risk = −1 + 2 (x − 0.2) / 0.5 > 0.6  ⇔  x > 0.2 + 0.5 × 1.6 / 2 = 0.6
    view = {"inputs": ["view_disagreement"], "mean": [0.2], "sd": [0.5], "weights": [-1.0, 2.0], "review": 0.6}
    assert "disagree on more than 60.0 %" in risk_words(view)
    knn = {"inputs": ["feature_knn"], "mean": [0.0], "sd": [1.0], "weights": [0.0, 1.0], "review": math.log1p(1.5)}
    both = risk_words([share, knn])
    assert both.startswith("more than 11.6 %") and " or the scan lies beyond 1.50× the training scans' own spread" \
        in both and "nearest training scans" in both
    combined = {"inputs": ["uncertain_share", "feature_distance"], "mean": [0, 0], "sd": [1, 1],
                "weights": [0.1, 1.0, 0.5], "review": 0.25}
    assert risk_words(combined) == "the case scores together (uncertain_share, feature_distance) give a risk above 0.25"
    assert risk_words(None) == "" and risk_words([]) == ""
