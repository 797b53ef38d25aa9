"""Issue 28 item 2's Keep / Roll back and item 1's picker as a user meets them in SGRS Train, driven by Slicer's
own ScriptedLoadableModuleWidget / parameterNodeWrapper / VTKObservationMixin at one tag (scenarios.py builds
the harness). A finished fine-tuning job is a real job folder (the demo bundle as base and as new model, the
engine's check.json as compare.write_check writes it): no engine run is needed to reach the decision.
``run(h)`` takes scenarios.py's helpers; each check prints one line."""
import json
import shutil
import traceback

from retrain_scenarios import add_cases, fresh, stop_jobs

SCENARIOS = []


def scenario(function):
    SCENARIOS.append(function)
    return function


def demo():
    from sgrs.models.registry import list_models
    return str(next(e.path for e in list_models() if e.bundled))


def pending_job(h, name, dice=(0.88, 0.76), kind="held out"):
    """A finished fine-tuning job whose new model is neither kept nor rolled back, named in last-job.txt."""
    from sgrs.training.compare import write_check
    folder = h.jobs / name
    folder.mkdir(parents=True)
    shutil.copytree(demo(), folder / "model")
    (folder / "config.json").write_text(json.dumps({"base_model": demo(), "cohort": str(folder / "cohort")}))
    events = [{"event": "started", "iteration": 0, "iterations": 300},
              {"event": "finished", "model": str(folder / "model")}]
    (folder / "progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    new, base = dice
    write_check(folder, {"cases": ["case003"], "kind": kind, "base": {"name": "demo", "dice": base, "per_case": {}},
                         "new": {"dice": new, "per_case": {}}, "difference": round(new - base, 4)})
    (h.jobs / "last-job.txt").write_text(str(folder))
    return folder


def shown(button):
    return not button.isHidden()


def registered(folder):
    """The registry's entries of this job's model (registered.json names it once kept)."""
    from sgrs.models.registry import list_models
    marker = folder / "registered.json"
    path = json.loads(marker.read_text())["path"] if marker.exists() else None
    return [e for e in list_models() if not e.bundled and str(e.path) == path]


def registry_size():
    from sgrs.models.registry import list_models
    return len([e for e in list_models() if not e.bundled])


@scenario
def the_decision_after_reattaching(h):
    folder = pending_job(h, "pending")
    w = fresh(h)
    status = w.ui.statusLabel.text
    h.check("a finished undecided job is re-attached at setup with its check and Keep / Roll back",
            w.session.deciding and status.startswith("New model: Dice 0.88 on case003 (base model 0.76)")
            and shown(w.ui.keepButton) and shown(w.ui.rollBackButton), (w.session.state, status))
    h.check("while deciding Resume is off", not w.ui.resumeButton.enabled)
    h.check("while deciding nothing is registered yet", not (folder / "registered.json").exists())
    add_cases(h, ("lab0", "lab1"), ("unl0",))
    w.ui.collectButton.click()
    h.check("Collect while deciding keeps the check in the status line and the buttons",
            "Dice 0.88" in w.ui.statusLabel.text and shown(w.ui.keepButton), w.ui.statusLabel.text)
    button, enabled = w.ui.trainButton.text, w.ui.trainButton.enabled
    h.check("while deciding Train waits for Keep or Roll back (a new run would drop the waiting model)",
            not enabled and "Keep" in w.ui.statusLabel.text, (button, enabled, w.ui.statusLabel.text))
    w.cleanup()
    w = fresh(h)   # a Slicer restart: a new widget on the same jobs folder
    h.check("after a restart the same model still waits", w.session.deciding and shown(w.ui.keepButton),
            w.ui.statusLabel.text)
    size = registry_size()
    w.ui.keepButton.click()
    entries = registered(folder)
    h.check("Keep registers the new model once and says so", len(entries) == 1 and registry_size() == size + 1 and
            w.ui.statusLabel.text.startswith("Finished: model") and not shown(w.ui.keepButton) and
            not shown(w.ui.rollBackButton), (len(entries), w.ui.statusLabel.text))
    h.check("the kept model is offered as a base model", any(
        w.ui.baseModelComboBox.itemData(i) == str(entries[0].path) for i in range(w.ui.baseModelComboBox.count))
        if entries else False)
    h.messages.clear()
    w.ui.keepButton.clicked.emit()   # a second click (queued before the button hid)
    h.check("Keep clicked twice registers nothing more and says one line", registry_size() == size + 1 and
            len(h.messages) <= 1 and all("\n" not in m for m in h.messages), h.messages)
    h.check("after Keep, Train is no longer held back by the decision", "waiting" not in w.session.blocker(
        __import__("SGRSTrainLib.session").session.as_parameters(w.params)), w.ui.statusLabel.text)
    w.cleanup()
    w = fresh(h)
    h.check("a kept job is not re-attached at the next setup", w.session.job is None, w.ui.statusLabel.text)
    w.cleanup()


@scenario
def roll_back_and_never_again(h):
    folder = pending_job(h, "worse", dice=(0.61, 0.76))
    w = fresh(h)
    h.check("a worse new model is said to be worse", "worse than the base model" in w.ui.statusLabel.text,
            w.ui.statusLabel.text)
    w.ui.rollBackButton.click()
    h.check("Roll back registers nothing and says the base model stays", not (folder / "registered.json").exists()
            and w.ui.statusLabel.text.startswith("Rolled back") and not shown(w.ui.keepButton)
            and not shown(w.ui.rollBackButton), w.ui.statusLabel.text)
    h.check("the new bundle stays in the job folder", (folder / "model" / "model.json").exists())
    h.messages.clear()
    w.ui.rollBackButton.clicked.emit()
    w.ui.keepButton.clicked.emit()
    h.check("Roll back then Keep clicked again register nothing", not (folder / "registered.json").exists() and
            all("\n" not in m for m in h.messages), h.messages)
    w.cleanup()
    w = fresh(h)
    h.check("a rolled-back job is never re-attached", w.session.job is None, w.ui.statusLabel.text)
    w.attach(str(folder))   # Open job… on it
    h.check("a rolled-back job opened by hand says so, with no Keep", w.ui.statusLabel.text.startswith(
        "Rolled back") and not shown(w.ui.keepButton), w.ui.statusLabel.text)
    w.cleanup()


@scenario
def a_scene_closed_or_loaded_while_deciding(h):
    pending_job(h, "waiting")
    w = fresh(h)
    add_cases(h, ("lab0", "lab1"), ("unl0",))
    w.ui.collectButton.click()
    held = h.slicer.mrmlScene.GetFirstNodeByName("lab1")
    index = next(i for i in range(w.ui.holdOutComboBox.count) if w.ui.holdOutComboBox.itemData(i) == held.GetID())
    w.ui.holdOutComboBox.setCurrentIndex(index)
    h.check("picking a labelled case to hold out stores it", w.params.holdOut == held.GetID(), w.params.holdOut)
    try:
        h.slicer.mrmlScene.Clear(0)   # Close Scene while the panel is shown
        h.app.processEvents()
        w.poll()
        h.check("Close Scene while deciding keeps Keep / Roll back and clears the held-out case",
                shown(w.ui.keepButton) and w.ui.holdOutComboBox.currentIndex == 0 and
                w.ui.holdOutComboBox.count == 1, (w.ui.holdOutComboBox.count, w.params and w.params.holdOut))
    except Exception as exc:  # noqa: BLE001
        h.check("Close Scene while deciding keeps Keep / Roll back and clears the held-out case", False, repr(exc))
    add_cases(h, ("other0", "other1"), ("other2",))   # the next scene: new volumes, maybe the same node ids
    w.ui.collectButton.click()
    h.check("after Close Scene and new cases, no case is held out unless picked", w.params.holdOut == "" and
            w.ui.holdOutComboBox.currentIndex == 0, (w.params.holdOut, w.ui.holdOutComboBox.currentText))
    w.ui.keepButton.click()
    h.check("Keep after a scene change still registers", w.ui.statusLabel.text.startswith("Finished: model"),
            w.ui.statusLabel.text)
    w.cleanup()


@scenario
def a_stored_hold_out_that_is_gone(h):
    w = fresh(h)
    add_cases(h, ("lab0", "lab1", "lab2"), ("unl0",))
    h.load({"SGRSTrain": {"holdOut": "vtkMRMLScalarVolumeNode99", "baseModel": demo()}})
    try:
        w.poll()
        w.ui.collectButton.click()
        h.check("a stored hold-out naming no node is dropped at Collect, Train not held back by it",
                w.params.holdOut == "" and "held out" not in w.ui.statusLabel.text,
                (w.params.holdOut, w.ui.statusLabel.text))
    except Exception as exc:  # noqa: BLE001
        h.check("a stored hold-out naming no node is dropped at Collect, Train not held back by it", False,
                repr(exc))
    unl = h.slicer.mrmlScene.GetFirstNodeByName("unl0")
    w.params.holdOut = unl.GetID()   # a scene saved when unl0 was labelled
    w.ui.collectButton.click()
    h.check("a stored hold-out naming an unlabelled case is dropped at Collect", w.params.holdOut == "" and
            "held out" not in w.ui.statusLabel.text, (w.params.holdOut, w.ui.statusLabel.text))
    lab = h.slicer.mrmlScene.GetFirstNodeByName("lab2")
    w.params.holdOut = lab.GetID()
    h.slicer.mrmlScene.RemoveNode(h.slicer.mrmlScene.GetFirstNodeByName("lab2 segmentation"))
    try:
        w.ui.collectButton.click()
        h.check("a held-out case whose segmentation was deleted is dropped at Collect", w.params.holdOut == "",
                (w.params.holdOut, w.ui.statusLabel.text))
    except Exception as exc:  # noqa: BLE001
        h.check("a held-out case whose segmentation was deleted is dropped at Collect", False, repr(exc))
    w.cleanup()


@scenario
def a_saved_hold_out_imported_into_a_scene_with_volumes(h):
    """Add Data of a saved scene into one that has volumes: MRML gives clashing node ids new ones (Import), but
    holdOut is a plain string, not a node reference, so it is not remapped (found by this review): it is cleared
    at the import (SGRSTrainLib.decision.hold_out_after_import) rather than left naming another scan."""
    slicer = h.slicer
    w = fresh(h)
    slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "already here")
    saved = slicer.vtkMRMLScene()
    theirs = saved.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "held out when saved")
    node = saved.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    node.SetSingletonTag("SGRSTrain")
    node.SetAttribute("ModuleName", "SGRSTrain")
    node.SetParameter("holdOut", theirs.GetID())
    saved.SetSaveToXMLString(1)
    saved.Commit()
    slicer.mrmlScene.SetLoadFromXMLString(1)
    slicer.mrmlScene.SetSceneXMLString(saved.GetSceneXMLString())
    slicer.mrmlScene.Import()
    held = slicer.mrmlScene.GetNodeByID(w.params.holdOut) if w.params and w.params.holdOut else None
    h.check("after Add Data into a scene with volumes a saved hold-out names its case or is cleared, never "
            "another scan", held is None or held.GetName() == "held out when saved",
            (w.params.holdOut, held.GetName() if held else None))
    w.cleanup()


LEFT_ATRIUM = ("Segmentation category and type - DICOM master list~SCT^123037004^Anatomical Structure"
               "~SCT^82471001^Left atrium~^^~Anatomic codes - DICOM master list~^^~^^")


def navigator_stand_in(h, pick):
    """Slicer's qSlicerTerminologyNavigatorWidget is C++ (not in slicer-core): a stand-in with its Q_INVOKABLEs'
    signatures (qSlicerTerminologyNavigatorWidget.h v5.8.1 l. 103-119, main l. 124-140) whose selection is
    ``pick`` (a serialized entry; "" = nothing selected: terminologyEntry returns false, as Slicer's does)."""
    from PySide6 import QtCore, QtGui, QtWidgets
    terminologies = h.slicer.modules.terminologies.logic()

    class Navigator(QtWidgets.QWidget):
        typeDoubleClicked, selectionValidityChanged = QtCore.Signal(), QtCore.Signal(bool)
        opened_with = []

        def setTerminologyEntry(self, entry):
            Navigator.opened_with.append(terminologies.SerializeTerminologyEntry(entry))
            return True

        def terminologyEntry(self, entry):
            return bool(pick) and terminologies.DeserializeTerminologyEntry(pick, entry)

        @staticmethod
        def nameFromTerminology(entry):
            return entry.GetTypeObject().GetCodeMeaning()

        @staticmethod
        def recommendedColorFromTerminology(entry):
            return QtGui.QColor(221, 130, 101)
    h.slicer.qSlicerTerminologyNavigatorWidget = Navigator
    return Navigator


def answer(button_name):
    from PySide6 import QtCore, QtWidgets

    def press():
        dialog = next(w for w in QtWidgets.QApplication.topLevelWidgets()
                      if w.objectName() == "SGRSTrainTerminology" and w.isVisible())
        dialog.findChild(QtWidgets.QPushButton, button_name).click()
    QtCore.QTimer.singleShot(0, press)


@scenario
def the_picker_as_a_user_meets_it(h):
    import types
    slicer = h.slicer
    if not hasattr(slicer.modules, "terminologies"):
        logic = slicer.vtkSlicerTerminologiesModuleLogic()
        slicer.modules.terminologies = types.SimpleNamespace(logic=lambda: logic)
    from SGRSTrainLib.classes import segment_terminology
    w = fresh(h)
    add_cases(h, ("lab0", "lab1"), ("unl0",))
    w.ui.collectButton.click()
    segments = [slicer.mrmlScene.GetFirstNodeByName(n + " segmentation").GetSegmentation().GetNthSegment(0)
                for n in ("lab0", "lab1")]
    segments[1].SetName("my atrium")   # renamed by the user in the segment list: Slicer clears the flag
    segments[1].SetNameAutoGenerated(False)
    segments[1].SetColor(0.1, 0.2, 0.3)
    segments[1].SetColorAutoGenerated(False)
    w.ui.baseModelComboBox.setCurrentIndex(next(i for i in range(w.ui.baseModelComboBox.count)
                                                 if w.ui.baseModelComboBox.itemData(i) == demo()))
    h.check("with a base model the Classes row shows its classes and the picker is off",
            not w.ui.terminologyButton.enabled and "left atrium" in w.ui.classesLabel.text.lower(),
            w.ui.classesLabel.text)
    w.ui.baseModelComboBox.setCurrentIndex(0)   # (new model)
    h.check("from scratch the picker is on", bool(w.ui.terminologyButton.enabled), w.ui.classesLabel.text)
    before = [(s.GetName(), segment_terminology(s)) for s in segments]
    first = navigator_stand_in(h, LEFT_ATRIUM)
    answer("cancelButton")
    w.ui.terminologyButton.click()
    h.check("a first pick (no terminology yet) gives Slicer's navigator an entry before it opens (from 5.10.0 "
            "its lists stay empty until setTerminologyEntry)", len(first.opened_with) == 1, first.opened_with)
    h.check("Cancel in the picker changes no segment", [(s.GetName(), segment_terminology(s)) for s in segments]
            == before, [(s.GetName(), segment_terminology(s)) for s in segments])
    navigator_stand_in(h, "")
    answer("selectButton")
    w.ui.terminologyButton.click()
    h.check("Select with nothing picked changes no segment", [(s.GetName(), segment_terminology(s))
                                                              for s in segments] == before)
    nav = navigator_stand_in(h, LEFT_ATRIUM)
    answer("selectButton")
    w.ui.terminologyButton.click()
    names = [s.GetName() for s in segments]
    terms = [(segment_terminology(s) or {}).get("type", [None, None])[1] for s in segments]
    h.check("a pick tags every labelled segment; a name Slicer made follows it, a typed one stays",
            names == ["Left atrium", "my atrium"] and terms == ["82471001", "82471001"], (names, terms))
    h.check("a typed colour stays, a generated one follows the pick",
            [round(c, 2) for c in segments[1].GetColor()] == [0.1, 0.2, 0.3] and
            [round(c * 255) for c in segments[0].GetColor()] == [221, 130, 101],
            (segments[0].GetColor(), segments[1].GetColor()))
    answer("selectButton")
    w.ui.terminologyButton.click()
    h.check("the picker opens again on the class's terminology", bool(nav.opened_with) and
            "82471001" in nav.opened_with[-1], nav.opened_with)
    w.cleanup()


def run(h):
    for function in SCENARIOS:
        try:
            function(h)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            h.say("FAIL", function.__name__, "raised")
        stop_jobs(h)
        h.slicer.mrmlScene.Clear(1)
