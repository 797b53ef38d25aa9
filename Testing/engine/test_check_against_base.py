"""Issue 28, item 2 (before you keep a new model): at the end of a fine-tuning run the engine measures the new
model's Dice and its base model's on the case the user held out (never trained on), else on the run's
validation cases, as Segment uses each bundle, and writes JOB/check.json for the GUIs."""
import json
import os
import subprocess
import sys

from conftest import ROOT

from sgrs.data.image_io import read_image, read_label
from sgrs.evaluation.metrics import dice
from sgrs.inference.segment import SegmentOptions, segment_file
from sgrs.models.meta import read_meta

TINY = ("--patch", 32, 32, 16, "--batch", 4, "--method", "supervised", "--device", "cpu", "--seed", 3)


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def segment_dice(cohort, case_id, bundle, out) -> float:
    """The bundle's Dice on a case through ``sgrs segment``'s own code path (the label it writes)."""
    entry = next(c for c in json.loads((cohort / "manifest.json").read_text())["cases"] if c["id"] == case_id)
    segment_file(cohort / entry["image"], bundle, out, SegmentOptions(regions=False, device="cpu"))
    _, geometry = read_image(cohort / entry["image"])
    pred = read_label(out / "label.nrrd", 2, geometry)
    return dice(pred > 0, read_label(cohort / entry["label"], 2, geometry) > 0)


def test_a_held_out_case_is_never_trained_on_and_both_models_are_measured_on_it(tiny_cohort, tiny_bundle,
                                                                                 tmp_path):
    job = tmp_path / "job"
    done = run_cli("train", "--cohort", tiny_cohort, "--out", job, "--base-model", tiny_bundle,
                   "--hold-out", "case001", "--iterations", 3, *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    data = read_meta(job / "model")["provenance"]["data"]
    assert data["held_out"] == ["case001"]
    assert "case001" not in data["labelled"] + data["unlabelled"] + data["val"]
    check = json.loads((job / "check.json").read_text())
    assert check["cases"] == ["case001"] and check["kind"] == "held out"
    base = segment_dice(tiny_cohort, "case001", tiny_bundle, tmp_path / "seg-base")
    new = segment_dice(tiny_cohort, "case001", job / "model", tmp_path / "seg-new")
    assert abs(check["base"]["dice"] - base) < 1e-3 and abs(check["new"]["dice"] - new) < 1e-3
    assert abs(check["difference"] - (new - base)) < 2e-3
    assert check["base"]["name"] == read_meta(tiny_bundle)["name"]
    assert "check: check on held out case case001: new model Dice" in done.stdout
    events = [json.loads(line) for line in (job / "progress.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events][-2:] == ["check", "finished"]   # the check is there once it finished


def test_without_a_held_out_case_the_validation_cases_are_the_check(tiny_cohort, tiny_bundle, tmp_path):
    done = run_cli("train", "--cohort", tiny_cohort, "--out", tmp_path / "job", "--base-model", tiny_bundle,
                   "--iterations", 1, *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    check = json.loads((tmp_path / "job" / "check.json").read_text())
    assert check["cases"] == ["case004"] and check["kind"] == "validation"   # the manifest's val split
    assert 0.0 <= check["new"]["dice"] <= 1.0 and set(check["base"]["per_case"]) == {"case004"}


def test_no_check_case_is_said_and_a_job_from_scratch_has_no_check(tiny_cohort, tiny_bundle, tmp_path):
    manifest = json.loads((tiny_cohort / "manifest.json").read_text())
    cases = [{**c, "image": str(tiny_cohort / c["image"]), "label": str(tiny_cohort / c["label"])}
             for c in manifest["cases"] if c["split"] == "train"]
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.json").write_text(json.dumps({"cases": cases}))
    done = run_cli("train", "--cohort", tmp_path / "cohort", "--out", tmp_path / "job", "--base-model",
                   tiny_bundle, "--iterations", 1, *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    check = json.loads((tmp_path / "job" / "check.json").read_text())
    assert check == {"cases": [], "kind": "none"}
    assert "no check case was available" in done.stdout
    scratch = run_cli("train", "--cohort", tiny_cohort, "--out", tmp_path / "scratch", "--iterations", 1,
                      "--filters", 2, *TINY)
    assert scratch.returncode == 0, scratch.stderr[-2000:]
    assert not (tmp_path / "scratch" / "check.json").exists() and "check:" not in scratch.stdout


def test_a_wrong_held_out_case_is_refused_in_one_line(tiny_cohort, tiny_bundle, tmp_path):
    unknown = run_cli("train", "--cohort", tiny_cohort, "--out", tmp_path / "a", "--base-model", tiny_bundle,
                      "--hold-out", "case999", "--iterations", 1, *TINY)
    assert unknown.returncode != 0 and "held-out case 'case999' is not in the cohort" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    scratch = run_cli("train", "--cohort", tiny_cohort, "--out", tmp_path / "b", "--hold-out", "case001",
                      "--iterations", 1, *TINY)
    assert scratch.returncode != 0 and "name the base model too" in scratch.stderr
    assert "Traceback" not in scratch.stderr


def test_a_failed_check_never_fails_the_run(tiny_cohort, tiny_bundle, tmp_path):
    """Injected fault: the held-out case's image is unreadable by the time the run ends."""
    from sgrs.data.cohort import load_cohort
    from sgrs.training.compare import check_line, read_check, run_check
    cohort = load_cohort(tiny_cohort, hold_out=("case001",), need_unlabelled=False)
    cohort.read_check = lambda: (_ for _ in ()).throw(OSError("case001.nrrd: gone"))
    result = run_check(tmp_path, tiny_bundle, tiny_bundle, cohort, "cpu")
    assert read_check(tmp_path) == result and result["error"] == "case001.nrrd: gone"
    assert check_line(result).startswith("the check against the base model could not run")
