"""Issue 28 item 5's review of SGRS Train's retrain loop (Slicer's own parameterNodeWrapper,
ScriptedLoadableModule and VTKObservationMixin at v5.8.1, v5.10.0, v5.12.3 and main driving SGRSTrain.ui:
Testing/slicer_review/retrain_scenarios.py). What it found, through SGRSTrainLib on a real MRML scene:

- the status line kept what Collect said when the method or cohort changed after it (a disabled Train's
  reason stale or hidden, the left-out volumes hidden whenever Train was disabled) and, once a job had been
  shown, said its end for ever: Collect after a run never showed the cases or why Train is disabled;
- a single-slice scan (a DICOM localizer) was counted as a case, and its export failed every run;
- a jobs folder that cannot be made (a file in the way, a read-only place) raised an OSError traceback;
- the status line named the job folder by its absolute path;
- re-picking the preset shown after editing its iterations did nothing.
"""
import json
from types import SimpleNamespace

import pytest
import slicer
import vtk
from conftest import LAUNCHER, add_scene_cases
from SGRSTrainLib.cohort import collect_cases, export_cohort
from SGRSTrainLib.job import TrainParameters
from SGRSTrainLib.session import TrainSession

from sgrs.training.presets import DEFAULT, DEFAULT_PRESET, PRESETS
from sgrs.util.errors import SGRSError


@pytest.fixture(scope="module")
def segmentations_logic():
    return slicer.vtkSlicerSegmentationsModuleLogic()


def add_volume(scene, cls, name, dims, components=1):
    image = vtk.vtkImageData()
    image.SetDimensions(*dims)
    image.AllocateScalars(vtk.VTK_SHORT, components)
    node = scene.AddNewNodeByClass(cls, name)
    node.SetAndObserveImageData(image)
    return node


def settings(method="sgrs", cohort=""):
    """What the module's parameter node gives the Lib (the names train_parameters_from_settings reads)."""
    return SimpleNamespace(cohortFolder=cohort, baseModel="", iterations=DEFAULT.iterations, batch=DEFAULT.batch,
                           device=DEFAULT.device, preset=DEFAULT_PRESET, method=method, recipe="default",
                           teacher="recipe", absentClasses="")


def test_the_status_line_says_the_cases_and_why_train_is_disabled_for_the_settings_now(
        scene, segmentations_logic, tiny_cohort, tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000",), ())
    add_volume(scene, "vtkMRMLVectorVolumeNode", "photo", (8, 8, 4), 3)
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs")
    session.collect(settings())
    line = session.status_line(settings())
    assert line.startswith("1 labelled, 0 unlabelled cases.") and "'photo'" in line, "what is left out stays said"
    assert "choose the 'supervised' method" in line and not session.action(settings()).enabled
    line = session.status_line(settings("supervised"))   # the method changed after Collect
    assert "'supervised' method" not in line and "'photo'" in line and session.action(settings("supervised")).enabled
    assert session.status_line(settings(cohort=str(tiny_cohort))) == line, "a cohort folder trains: no reason"

    folder = tmp_path / "jobs" / "job-1"    # a job's end, as the engine writes it
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "progress.jsonl").write_text(json.dumps({"event": "failed", "reason": "no train cases"}) + "\n")
    session.attach(folder)
    line = session.status_line(settings())
    assert line.startswith("Failed: ") and line.endswith("choose the 'supervised' method."), "the end, then why"
    assert session.status_line(settings("supervised")) == session.message, "Train can run: the end alone"
    session.collect(settings())
    assert session.status_line(settings()).startswith("1 labelled, 0 unlabelled cases."), "Collect says more since"
    session.cases = []   # Close Scene (SGRSTrainWidget.onSceneStartClose)
    assert session.status_line(settings()) == "Collect the scene's cases, or choose a cohort folder."


def test_a_single_slice_scan_is_left_out_with_a_note_and_the_export_goes_on(scene, segmentations_logic,
                                                                           tiny_cohort, tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000",), ("case002",))
    add_volume(scene, "vtkMRMLScalarVolumeNode", "localizer", (64, 64, 1))
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs")
    cases = session.collect()
    assert sorted(c.volume.GetName() for c in cases) == ["case000", "case002"]
    assert "Left out: 'localizer' (a single slice; training needs a 3D scan)." in session.message, session.message
    manifest = export_cohort(scene, segmentations_logic, collect_cases(scene), tmp_path / "cohort")
    assert len(json.loads(manifest.read_text())["cases"]) == 2


def test_a_jobs_folder_that_cannot_be_made_is_one_line_without_its_path(scene, segmentations_logic, tiny_cohort,
                                                                        tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000",), ("case002",))
    (tmp_path / "a-file").write_text("")
    session = TrainSession(scene, segmentations_logic, tmp_path / "a-file" / "jobs")
    session.collect()
    with pytest.raises(SGRSError) as raised:
        session.start(TrainParameters(device="cpu"))
    message = str(raised.value)
    assert message.startswith("No job folder can be made in the jobs folder 'jobs'")
    assert message.endswith("choose another jobs folder.")
    assert str(tmp_path) not in message and "\n" not in message


def test_a_started_job_is_named_by_its_folder_not_its_path(scene, tiny_cohort, tmp_path):
    session = TrainSession(scene, None, tmp_path / "jobs", registry=tmp_path / "registry", python=LAUNCHER)
    folder = session.start(TrainParameters(cohort=str(tiny_cohort / "manifest.json"), iterations=400, labelled=2,
                                           patch=(32, 32, 16), filters=2, device="cpu"))
    try:
        assert session.message == f"Training in job folder '{folder.name}'…" and str(tmp_path) not in session.message
    finally:
        session.job.kill()


def test_re_picking_the_preset_shown_sets_its_settings_again():
    """Qt's activated(int) fires for every pick, also of the item shown (currentIndexChanged does not):
    SGRS Train passes again=True from it; a scene load or a bind passes nothing and changes nothing."""
    node = settings()
    node.iterations, node.device = 1000, "cuda"   # edited by hand after the preset was shown
    session = TrainSession(None, None, "jobs")
    session.estimate(node, DEFAULT_PRESET)
    assert (node.iterations, node.device) == (1000, "cuda"), "not a pick: the user's values stay"
    text = session.estimate(node, list(PRESETS).index(DEFAULT_PRESET), again=True)
    assert (node.iterations, node.device) == (DEFAULT.iterations, DEFAULT.device)
    assert f"{DEFAULT.iterations} iterations" in text
