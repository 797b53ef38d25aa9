"""SGRSTrainLib against a real MRML scene: cohort export, jobs, re-attach, resume, ranking."""
import json

import numpy as np
import pytest
import slicer
from conftest import add_scene_cases, wait_until
from SGRSTrainLib import (
    TrainJob,
    TrainParameters,
    collect_cases,
    export_cohort,
    rank_unlabelled,
)
from SGRSTrainLib.plot import TrainingPlot

from sgrs.data.image_io import read_image, read_label
from sgrs.models.registry import list_models, register


def scene_cohort(scene, cohort_dir, labelled=("case000", "case001", "case004"), unlabelled=("case002", "case003")):
    logic = slicer.vtkSlicerSegmentationsModuleLogic()
    logic.SetMRMLScene(scene)
    add_scene_cases(scene, logic, cohort_dir, labelled, unlabelled)
    return logic


def test_collect_and_export_round_trip(scene, tiny_cohort, tmp_path):
    logic = scene_cohort(scene, tiny_cohort)
    cases = collect_cases(scene)
    assert sorted((c.volume.GetName(), c.labelled) for c in cases) == [
        ("case000", True), ("case001", True), ("case002", False), ("case003", False), ("case004", True)]
    manifest = export_cohort(scene, logic, cases, tmp_path / "export", ("background", "left atrium"), val=1)
    data = json.loads(manifest.read_text())
    by_id = {c["id"]: c for c in data["cases"]}
    assert by_id["case004"]["split"] == "val" and "label" not in by_id["case002"]
    for cid in ("case000", "case001", "case004"):
        image, geom = read_image(tmp_path / "export" / by_id[cid]["image"])
        original, original_geom = read_image(tiny_cohort / "images" / f"{cid}.nrrd")
        assert geom.mismatch(original_geom) is None and np.array_equal(image, original)
        exported = read_label(tmp_path / "export" / by_id[cid]["label"], 2, geom)
        assert np.array_equal(exported, read_label(tiny_cohort / "labels" / f"{cid}.nrrd", 2, geom)), cid



def tiny_params(manifest, out, iterations):
    return TrainParameters(cohort=str(manifest), out=str(out), iterations=iterations, patch=(32, 32, 16),
                           filters=2, labelled=2, device="cpu", extra_args=("--log-every", "1", "--val-every", "2"))


def test_job_progress_plot_cancel_reattach_resume_register(scene, tiny_cohort, tmp_path):
    logic = scene_cohort(scene, tiny_cohort)
    manifest = export_cohort(scene, logic, collect_cases(scene), tmp_path / "cohort", ("background", "left atrium"), 1)
    job = TrainJob.start(tiny_params(manifest, tmp_path / "job", 400))
    assert wait_until(lambda: job.status().iteration >= 3)
    status = job.status()
    assert status.state == "running" and status.iterations == 400 and status.loss is not None
    plot = TrainingPlot(scene)
    plot.update(status)
    assert plot.tables["loss"].GetTable().GetNumberOfRows() == len(status.losses) >= 3
    assert plot.chart.GetNumberOfPlotSeriesNodes() == 2

    # a GUI restarted while the job runs re-attaches through the folder and can still cancel it
    again = TrainJob.attach(tmp_path / "job")
    assert again.status().state == "running"
    again.cancel()
    assert wait_until(lambda: job.status().state == "cancelled", 120)
    job.process.wait(30)

    config = json.loads((tmp_path / "job" / "config.json").read_text())
    config["iterations"] = job.status().iteration + 2
    (tmp_path / "job" / "config.json").write_text(json.dumps(config))
    resumed = TrainJob.attach(tmp_path / "job").resume()
    resumed.process.wait(240)
    final = resumed.status()
    assert final.state == "finished", final.reason
    entry = register(final.model, "scene model", tmp_path / "registry")
    assert any(e.path == entry.path for e in list_models(tmp_path / "registry"))


def test_failed_and_stopped_jobs_are_reported(scene, tiny_cohort, tmp_path):
    job = TrainJob.start(TrainParameters(cohort=str(tmp_path / "nowhere"), out=str(tmp_path / "j"), device="cpu",
                                         patch=(32, 32, 16), filters=2))
    job.process.wait(120)
    status = job.status()
    assert status.state == "failed" and "cohort not found" in status.reason
    # a job killed without a word (kill -9, power loss) reads as stopped, ready to resume
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "config.json").write_text("{}")
    (stopped / "progress.jsonl").write_text(
        json.dumps({"event": "started", "pid": 999999, "iterations": 10, "iteration": 0}) + "\n"
        + json.dumps({"event": "step", "iteration": 4, "loss": 0.5}) + "\n")
    status = TrainJob.attach(stopped).status()
    assert status.state == "stopped" and status.iteration == 4 and status.fraction == 0.4
    with pytest.raises(Exception, match="Every patch side"):
        TrainJob.start(TrainParameters(cohort="c", out="o", patch=(30, 32, 16)))


def test_ranking_puts_the_most_uncertain_first(scene, tiny_cohort):
    scene_cohort(scene, tiny_cohort, labelled=("case000",), unlabelled=("case002", "case003", "case004"))
    from conftest import ROOT
    demo = ROOT / "Resources" / "Demo" / "model"
    ranked = rank_unlabelled(collect_cases(scene), str(demo), device="cpu")
    assert [r.case.volume.GetName() for r in ranked] != [] and len(ranked) == 3
    from test_sessions import assert_suggestions_first
    assert_suggestions_first(ranked)
    assert all(0.0 < r.score < 1.0 for r in ranked)
    assert all(0.0 <= r.share <= 1.0 for r in ranked)
