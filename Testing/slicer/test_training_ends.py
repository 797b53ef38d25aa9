"""Issue 28 item 2 through SGRSTrainLib on a real MRML scene with real engine processes: how a training run
ends as the GUIs say it (the failure in the GUI's words), which job is offered Resume, which job a GUI
re-attaches at set-up, and a colour volume in the scene left out of the export with a note."""
import json
import time

import pytest
import slicer
import vtk
from conftest import LAUNCHER, add_scene_cases, sgrs_processes, wait_until
from SGRSTrainLib.cohort import collect_cases, export_cohort
from SGRSTrainLib.job import TrainParameters
from SGRSTrainLib.session import TrainSession

from sgrs.training.failure_words import gui_reason


@pytest.fixture(scope="module")
def segmentations_logic():
    return slicer.vtkSlicerSegmentationsModuleLogic()


def tiny(iterations, **kw):
    return TrainParameters(iterations=iterations, patch=(32, 32, 16), filters=2, device="cpu",
                           extra_args=("--log-every", "1", "--val-every", "1000"), **kw)


def settle(session, timeout=240):
    end = time.time() + timeout
    while session.poll() in ("running", "cancelling"):
        assert time.time() < end, session.message
        time.sleep(0.05)
    return session.state


def test_a_cohort_failure_reads_in_the_guis_words_is_not_resumable_and_not_reattached(scene, segmentations_logic,
                                                                                       tiny_cohort, tmp_path):
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry",
                           python=LAUNCHER)
    # every train case labelled with the default (semi-supervised) method: the engine refuses the cohort
    folder = session.start(tiny(3, cohort=str(tiny_cohort / "manifest.json"), labelled=4))
    assert settle(session) == "failed"
    assert "'supervised' method" in session.message, session.message
    assert "--" not in session.message and str(tiny_cohort) not in session.message and "/" not in session.message
    assert not session.can_resume, "resuming would meet the same cohort error"
    again = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry")
    assert again.last_job() is None, f"a failed job ({folder.name}) is not shown again at set-up"


def test_a_running_job_is_reattached_a_cancelled_one_is_resumable_but_not_reattached(scene, segmentations_logic,
                                                                                     tiny_cohort, tmp_path):
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry",
                           python=LAUNCHER)
    folder = session.start(tiny(400, cohort=str(tiny_cohort / "manifest.json"), labelled=2))
    assert wait_until(lambda: session.poll() == "running" and (session.status.iteration or 0) >= 1, 240), \
        session.message
    restarted = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry")
    assert restarted.last_job() == folder.resolve()
    session.cancel()
    assert settle(session) == "cancelled" and session.can_resume
    assert restarted.last_job() is None
    assert not sgrs_processes(folder)


def test_a_finished_job_not_yet_registered_is_reattached(tmp_path):
    folder = tmp_path / "jobs" / "job-1"
    (folder / "model").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "progress.jsonl").write_text(json.dumps({"event": "finished", "model": str(folder / "model")}) + "\n")
    (tmp_path / "jobs" / "last-job.txt").write_text(str(folder))
    session = TrainSession(slicer.vtkMRMLScene(), None, tmp_path / "jobs")
    assert session.last_job() == folder
    (folder / "registered.json").write_text(json.dumps({"path": "elsewhere"}))
    assert session.last_job() is None


def test_failure_reasons_lose_flags_and_folders():
    assert gui_reason("/data/u/job-1/cohort/manifest.json: no unlabelled case left for semi-supervised training "
                      "(use fewer --labelled or --method supervised)").endswith("choose the 'supervised' method.")
    assert gui_reason("/home/u/models/m/model.json: unreadable (try --base-model other)") == "model.json: unreadable"
    assert gui_reason(r"C:\Users\u\scan.nrrd: too small") == "scan.nrrd: too small"
    assert gui_reason("loss 1/2 is NaN") == "loss 1/2 is NaN"


def test_a_colour_volume_is_left_out_with_a_note(scene, segmentations_logic, tiny_cohort, tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000",), ("case002",))
    image = vtk.vtkImageData()
    image.SetDimensions(8, 8, 4)
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 3)
    photo = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "photo")
    photo.SetAndObserveImageData(image)
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs")
    cases = session.collect()
    assert sorted(c.volume.GetName() for c in cases) == ["case000", "case002"]
    assert "'photo'" in session.message and "colour" in session.message, session.message
    manifest = export_cohort(scene, segmentations_logic, collect_cases(scene), tmp_path / "cohort")
    assert len(json.loads(manifest.read_text())["cases"]) == 2


def test_the_case_table_says_each_cases_one_state(scene, segmentations_logic, tiny_cohort):
    """SGRS Train's case table in the words the Studio's panels use (SGRSTrainLib.case_state)."""
    from SGRSSegmentLib.labels import mark_generated
    from SGRSTrainLib.rank_session import case_rows

    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000", "case001"), ("case002",))
    untouched = scene.GetFirstNodeByName("case001 segmentation")
    mark_generated(untouched)   # the model's result, as SGRS Segment leaves it
    rows = {row[1]: row[2] for row in case_rows(collect_cases(scene), {})}
    assert rows == {"case000": "reviewed (a label)", "case001": "model result (a guess)", "case002": "no result"}
