"""Batch segmentation: many inputs → OUT/<case>/ + results.csv, one model load, resume, failures listed,
and under torchrun (2 gloo CPU processes) exactly the files one process gives."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ROOT

from sgrs.inference import batch as batch_module
from sgrs.inference.batch import BatchOutputs, run_batch
from sgrs.inference.cases import collect_cases
from sgrs.inference.segment import SegmentOptions
from sgrs.util.errors import InputError

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def run_cli(*args, env=ENV, timeout=600):
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def scans(tiny_cohort, tmp_path_factory):
    """Three real phantom scans and three bad ones: unreadable, 2D, NaN."""
    folder = tmp_path_factory.mktemp("scans")
    for cid in ("case000", "case001", "case002"):
        (folder / f"{cid}.nrrd").write_bytes((tiny_cohort / "images" / f"{cid}.nrrd").read_bytes())
    (folder / "broken.nrrd").write_text("NRRD0004\nnot really\n")
    sitk.WriteImage(sitk.Image(16, 16, sitk.sitkFloat32), str(folder / "flat.nrrd"))
    nan = np.zeros((20, 20, 12), np.float32)
    nan[3, 4, 5] = np.nan
    img = sitk.GetImageFromArray(nan)
    sitk.WriteImage(img, str(folder / "holes.nrrd"))
    return folder


def test_inputs_become_cases_folder_list_manifest_and_several_paths(tiny_cohort, scans, tmp_path):
    cases, batch = collect_cases([str(scans)])
    assert batch and [c.id for c in cases] == ["broken", "case000", "case001", "case002", "flat", "holes"]
    single, batch = collect_cases([str(scans / "case000.nrrd")])
    assert not batch and single[0].id == "case000"
    listing = tmp_path / "todo.txt"
    listing.write_text(f"# tonight\n{scans / 'case001.nrrd'}\n\n../{tmp_path.name}/other/case001.nrrd  # same name\n")
    (tmp_path / "other").mkdir()
    cases, batch = collect_cases([str(listing)])
    assert batch and [c.id for c in cases] == ["case001", "case001-2"]
    assert cases[1].source == str(tmp_path / f"../{tmp_path.name}/other/case001.nrrd")
    cases, batch = collect_cases([str(tiny_cohort)])
    assert batch and len(cases) == 6 and all(c.source.endswith(".nrrd") for c in cases)
    cases, batch = collect_cases([str(scans / "case000.nrrd"), str(scans / "case002.nrrd")])
    assert batch and [c.id for c in cases] == ["case000", "case002"]
    empty = tmp_path / "empty.list"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match="names no scan"):
        collect_cases([str(empty)])


def test_cli_batch_lists_failures_with_reasons_goes_on_and_resumes(tiny_bundle, scans, tmp_path):
    out = tmp_path / "out"
    first = run_cli("segment", scans, "--model", tiny_bundle, "--out", out, "--device", "cpu")
    assert first.returncode == 1, first.stderr[-2000:]
    assert "Traceback" not in first.stderr
    rows = {r["case"]: r for r in read_csv(out / "results.csv")}
    assert set(rows) == {"broken", "case000", "case001", "case002", "flat", "holes"}
    assert {c: r["status"] for c, r in rows.items()} == {
        "broken": "failed", "case000": "done", "case001": "done", "case002": "done", "flat": "failed",
        "holes": "failed"}
    assert "cannot read image" in rows["broken"]["error"]
    assert "2D; a 3D volume is required" in rows["flat"]["error"]
    assert "NaN/Inf" in rows["holes"]["error"]
    for case in ("broken", "flat", "holes"):  # one line each on stderr, with the reason
        assert sum(line.startswith(f"sgrs: {case}: failed: ") for line in first.stderr.splitlines()) == 1
    for case in ("case000", "case001", "case002"):
        summary = json.loads((out / case / "summary.json").read_text())
        row = rows[case]
        assert float(row["left atrium mL"]) == summary["classes"]["left atrium"]["ml"]
        assert float(row["delta_share"]) == summary["regions"]["delta"]["share_of_foreground"]
        assert float(row["theta_share"]) == summary["regions"]["theta"]["share_of_foreground"]
        assert row["case_flag"] == summary.get("case_flag", "")
        assert float(row["seconds"]) > 0 and row["error"] == ""
        label = sitk.ReadImage(str(out / case / "label.nrrd"))
        assert label.GetSize() == sitk.ReadImage(str(scans / f"{case}.nrrd")).GetSize()
    # one progress line over the cases, with an ETA (stderr is a pipe: a plain line per step)
    progress = [line for line in first.stderr.splitlines() if line.startswith("cases ")]
    assert progress[-1].startswith("cases 6/6 [") and "ETA" in progress[-1]

    stamps = {c: (out / c / "label.nrrd").stat().st_mtime_ns for c in ("case000", "case001", "case002")}
    (out / "case001" / "regions.nrrd").unlink()  # a half-finished case is done again
    again = run_cli("segment", scans, "--model", tiny_bundle, "--out", out, "--device", "cpu", "--json-progress")
    assert again.returncode == 1
    events = [json.loads(line) for line in again.stdout.splitlines()]
    status = {e["case"]: e["status"] for e in events if e["event"] == "case"}
    assert status == {"broken": "failed", "case000": "skipped", "case001": "done", "case002": "skipped",
                      "flat": "failed", "holes": "failed"}
    assert (out / "case000" / "label.nrrd").stat().st_mtime_ns == stamps["case000"]
    assert (out / "case001" / "regions.nrrd").is_file()
    assert events[-1] == {"event": "finished", "results": str(out / "results.csv"), "cases": 6, "done": 3,
                          "failed": 3}

    other = run_cli("segment", scans / "case000.nrrd", scans / "case002.nrrd", "--model", tiny_bundle,
                    "--out", out, "--device", "cpu", "--overlap", "0.25", "--json-progress")
    assert other.returncode == 0, other.stderr[-2000:]  # other options: no skipping
    assert [json.loads(line)["status"] for line in other.stdout.splitlines()[:2]] == ["done", "done"]
    assert (out / "case000" / "label.nrrd").stat().st_mtime_ns != stamps["case000"]
    assert [r["case"] for r in read_csv(out / "results.csv")] == ["case000", "case002"]


def test_the_model_is_loaded_once_for_the_whole_batch(tiny_bundle, tiny_cohort, tmp_path, monkeypatch):
    from sgrs.models import bundle as bundle_module

    loads = []
    real = bundle_module.load_bundle

    def counting(*args, **kwargs):
        loads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(bundle_module, "load_bundle", counting)
    cases, _ = collect_cases([str(tiny_cohort)])
    report = run_batch(cases, tiny_bundle, tmp_path / "out", SegmentOptions(device="cpu", regions=False),
                       BatchOutputs())
    assert len(loads) == 1
    assert [r["status"] for r in report.rows] == ["done"] * 6
    assert report.csv == tmp_path / "out" / "results.csv"


def test_dicom_seg_on_a_scan_file_fails_that_case_with_a_reason(tiny_bundle, scans, tmp_path):
    cases, _ = collect_cases([str(scans / "case000.nrrd"), str(scans / "case001.nrrd")])
    report = run_batch(cases, tiny_bundle, tmp_path / "out", SegmentOptions(device="cpu"),
                       BatchOutputs(dicom_seg=True))
    assert [r["status"] for r in report.rows] == ["failed", "failed"]
    assert "--dicom-seg needs a DICOM series" in report.rows[0]["error"]
    assert not (tmp_path / "out" / "case000" / "summary.json").exists()


def _without_timings(value):
    """A summary with the wall-clock and CPU-time figures taken out (they differ run to run)."""
    timings = ("seconds", "seconds_per_window", "network_seconds", "cost")   # cost: the scores' CPU seconds
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in timings}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_torchrun_two_processes_give_exactly_the_files_of_one(tiny_bundle, tiny_cohort, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["--model", str(tiny_bundle), "--device", "cpu"]
    single = run_cli("segment", tiny_cohort, "--out", one, *common)
    assert single.returncode == 0, single.stderr[-2000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sgrs", "segment", str(tiny_cohort), "--out", str(two), *common, "--json-progress"]
    dist = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert dist.returncode == 0, dist.stderr[-3000:]
    files_one = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    files_two = sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert files_one == files_two and len(files_one) == 6 * 4 + 1
    for rel in files_one:
        a, b = (one / rel).read_bytes(), (two / rel).read_bytes()
        if rel.suffix == ".nrrd":
            assert a == b, rel
        elif rel.name == "summary.json":
            sa, sb = json.loads(a), json.loads(b)
            assert _without_timings(sa) == _without_timings(sb), rel
    rows_one, rows_two = read_csv(one / "results.csv"), read_csv(two / "results.csv")
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in rows_one] == \
           [{k: v for k, v in r.items() if k != "seconds"} for r in rows_two]
    # each case ran once, on one rank (both ranks print their case events); only rank 0 reports the end
    events = [json.loads(line) for line in dist.stdout.splitlines() if line.startswith("{")]
    ran = sorted(e["case"] for e in events if e["event"] == "case")
    assert ran == sorted(r["case"] for r in rows_one) and len(set(ran)) == 6
    assert [e["event"] for e in events].count("finished") == 1


def test_the_run_key_changes_with_the_model_and_result_options_only(tiny_bundle):
    base = batch_module.run_key(tiny_bundle, SegmentOptions(), BatchOutputs())
    assert batch_module.run_key(tiny_bundle, SegmentOptions(device="cpu", batch_size=8), BatchOutputs()) == base
    assert batch_module.run_key(tiny_bundle, SegmentOptions(overlap=0.25), BatchOutputs()) != base
    assert batch_module.run_key(tiny_bundle, SegmentOptions(), BatchOutputs(png=True)) != base
