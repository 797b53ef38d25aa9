"""Issue 28, item 2, through SGRSTrainLib on a real MRML scene: before a fine-tuned model is kept, the session
shows its Dice against the base model's on a case the user held out (never trained on), and the user keeps it
(registered exactly once) or rolls back (nothing registered, nothing deleted, never offered again)."""
import json
import time
from types import SimpleNamespace

import pytest
import slicer
from conftest import LAUNCHER, ROOT, add_scene_cases, sgrs_processes
from SGRSSegmentLib.scene_nodes import nodes_of_class
from SGRSTrainLib.decision import check_text
from SGRSTrainLib.decision_view import DecisionView
from SGRSTrainLib.job import TrainParameters
from SGRSTrainLib.session import TrainSession

from test_model_choice import panel_settings

from sgrs.models.registry import list_models
from sgrs.util.errors import SGRSError


@pytest.fixture(scope="module")
def segmentations_logic():
    return slicer.vtkSlicerSegmentationsModuleLogic()


def settle(session, timeout=240):
    end = time.time() + timeout
    while session.poll() in ("running", "cancelling"):
        assert time.time() < end, session.message
        time.sleep(0.1)
    return session.state


def fine_tune(tiny_bundle, **kw):
    return TrainParameters(base_model=str(tiny_bundle), iterations=2, batch=4, patch=(32, 32, 16), filters=2,
                           method="supervised", device="cpu", extra_args=("--log-every", "1"), **kw)


def atrium_cases(scene, logic, tiny_cohort, labelled, unlabelled):
    """The cases in the scene, each labelled one's segment named as the tiny base model's class."""
    logic.SetMRMLScene(scene)
    add_scene_cases(scene, logic, tiny_cohort, labelled, unlabelled)
    for seg in nodes_of_class(scene, "vtkMRMLSegmentationNode"):
        seg.GetSegmentation().GetNthSegment(0).SetName("left atrium")


def two_labelled_scene(scene, logic, tiny_cohort, tmp_path):
    atrium_cases(scene, logic, tiny_cohort, ("case000", "case001"), ("case002",))
    session = TrainSession(scene, logic, tmp_path / "jobs", registry=tmp_path / "registry", python=LAUNCHER)
    session.collect()
    return session, {c.volume.GetName(): c.volume.GetID() for c in session.cases}


def registered(tmp_path):
    return [e for e in list_models(tmp_path / "registry") if not e.bundled]


def panel_view(session, settings):
    """SGRS Train's hold-out combo box, hint and Keep / Roll back buttons from its .ui (PySide6), driven by the
    Lib's DecisionView as the widget drives it."""
    from PySide6 import QtWidgets
    from test_ui_files import load_ui
    app, widget = load_ui(ROOT / "SGRSTrain" / "Resources" / "UI" / "SGRSTrain.ui")
    ui = SimpleNamespace(**{name: widget.findChild(QtWidgets.QWidget, name)
                            for name in ("holdOutComboBox", "holdOutHintLabel", "keepButton", "rollBackButton")})
    return (app, widget), ui, DecisionView(ui, session, lambda: settings, lambda: None)


def test_a_held_out_case_checks_the_new_model_and_roll_back_keeps_the_base(scene, segmentations_logic, tiny_cohort,
                                                                           tiny_bundle, tmp_path):
    session, ids = two_labelled_scene(scene, segmentations_logic, tiny_cohort, tmp_path)
    settings = panel_settings("SGRSTrain", baseModel=str(tiny_bundle), preset="", method="supervised")
    keep_alive, ui, view = panel_view(session, settings)
    view.update()
    combo = ui.holdOutComboBox
    assert [combo.itemText(i) for i in range(combo.count())] == \
        ["none (check on the validation cases)", "case000", "case001"] and combo.isEnabled()
    assert ui.keepButton.isHidden() and ui.rollBackButton.isHidden()
    combo.setCurrentIndex(2)   # the user picks case001
    assert settings.holdOut == ids["case001"]
    view.update()
    assert "holding one out leaves 1 to train on" in ui.holdOutHintLabel.text()
    params = fine_tune(tiny_bundle, hold_out=(settings.holdOut,))
    hint = session.hold_out_hint(params)
    assert "'case001' is not trained on" in hint and "holding one out leaves 1 to train on" in hint
    assert session.action(params).enabled, session.action(params).reason
    folder = session.start(params)
    assert settle(session) == "done", session.message
    assert json.loads((folder / "config.json").read_text())["hold_out"] == ["case001"]
    check = json.loads((folder / "check.json").read_text())
    assert check["cases"] == ["case001"] and check["kind"] == "held out"
    assert session.deciding and session.registered is None and registered(tmp_path) == []
    assert session.message == check_text(check)
    assert session.message.startswith(f"New model: Dice {check['new']['dice']:.2f} on case001")
    assert f"{check['base']['dice']:.2f}" in session.message
    restarted = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry")
    assert restarted.last_job() == folder.resolve(), "finished but undecided: re-attached after a restart"
    view.update()
    assert not ui.keepButton.isHidden() and not ui.rollBackButton.isHidden(), "shown while the new model waits"


    ui.rollBackButton.click()   # the view calls session.roll_back
    assert session.message.startswith("Rolled back: the base model")
    view.update()
    assert ui.keepButton.isHidden() and ui.rollBackButton.isHidden()
    assert registered(tmp_path) == [] and (folder / "model" / "model.json").exists(), "nothing deleted"
    assert restarted.last_job() is None, "a rolled-back job is never offered again"
    assert session.poll() == "done" and not session.deciding and session.message.startswith("Rolled back")
    with pytest.raises(SGRSError, match="No new model is waiting"):
        session.keep()
    assert registered(tmp_path) == []
    assert not sgrs_processes(tmp_path / "jobs")


def test_keep_registers_the_new_model_once(scene, segmentations_logic, tiny_cohort, tiny_bundle, tmp_path):
    session, _ = two_labelled_scene(scene, segmentations_logic, tiny_cohort, tmp_path)
    params = fine_tune(tiny_bundle)
    assert session.hold_out_hint(params).startswith("No validation case (that needs more than 2 labelled")
    folder = session.start(params)
    assert settle(session) == "done", session.message
    assert session.deciding and "No check case was available" in session.message
    entry = session.keep()
    assert session.message.startswith(f"Finished: model '{entry.name}' is registered")
    assert session.poll() == "done" and session.registered.path == entry.path   # polled again: not twice
    again = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry")
    assert again.last_job() is None and again.attach(folder) == "done" and again.registered.path == entry.path
    assert [e.path for e in registered(tmp_path)] == [entry.path]
    with pytest.raises(SGRSError, match="No new model is waiting"):
        session.roll_back()


def test_holding_out_the_only_labelled_case_disables_train(scene, segmentations_logic, tiny_cohort, tiny_bundle,
                                                           tmp_path):
    atrium_cases(scene, segmentations_logic, tiny_cohort, ("case000",), ("case002",))
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry")
    session.collect()
    held = fine_tune(tiny_bundle, hold_out=(session.cases[0].volume.GetID(),))
    action = session.action(held)
    assert not action.enabled and action.reason.startswith("Holding out 'case000' leaves no labelled case")
    assert "label another one to train on" in session.hold_out_hint(held)
    with pytest.raises(SGRSError, match="leaves no labelled case"):
        session.start(held)
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").iterdir())


def test_a_worse_new_model_is_said_plainly():
    base = {"name": "demo", "dice": 0.76, "per_case": {}}
    worse = check_text({"cases": ["case003"], "kind": "held out", "base": base,
                        "new": {"dice": 0.7, "per_case": {}}, "difference": -0.06})
    assert worse.startswith("New model: Dice 0.70 on case003: worse than the base model (0.76). Rolling back")
    better = check_text({"cases": ["case004"], "kind": "validation", "base": base,
                         "new": {"dice": 0.88, "per_case": {}}, "difference": 0.12})
    assert better == "New model: Dice 0.88 on the validation case case004 (base model 0.76). Keep it, or roll " \
                     "back to the base model."
    failed = check_text({"cases": ["case003"], "kind": "held out", "error": "/data/x/case003.nrrd: unreadable"})
    assert "could not run (case003.nrrd: unreadable)" in failed and "/data" not in failed
