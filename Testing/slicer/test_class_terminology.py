"""Issue 28 item 1, the picker: SGRS Train shows each class with its terminology, and a new model's class
takes a terminology picked from Slicer's lists, put on the labelled cases' segments and carried into the
trained model's model.json. Against a real MRML scene (slicer-core) with Slicer's real terminology logic
and entry classes; only Slicer's navigator widget (C++, not in slicer-core) is a stand-in, inside the
real dialog .ui, loaded offscreen by PySide6."""
import json
import os
import time
from types import SimpleNamespace

import pytest
import slicer
import vtk
from conftest import LAUNCHER, ROOT, add_scene_cases
from SGRSSegmentLib.compat import set_terminology
from SGRSSegmentLib.result_nodes import terminology_string
from SGRSTrainLib.class_panel import TERMINOLOGY_UI, ClassPanel
from SGRSTrainLib.classes import parse_terminology, segment_terminology
from SGRSTrainLib.cohort import collect_cases, export_cohort
from SGRSTrainLib.job import TrainParameters
from SGRSTrainLib.session import TrainSession
from SGRSTrainLib.terminology import apply_terminology, class_view, pick_terminology, scratch_class

from sgrs.models.classes import LEFT_ATRIUM, find_class, terminology_key
from sgrs.models.meta import read_meta

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from PySide6.QtUiTools import QUiLoader  # noqa: E402

DEMO = ROOT / "Resources" / "Demo" / "model"
MASTER = "Segmentation category and type - DICOM master list"
ATRIUM_TAG = terminology_string(LEFT_ATRIUM)
KIDNEY_LEFT = (f"{MASTER}~SCT^123037004^Anatomical Structure~SCT^64033007^Kidney~SCT^7771000^Left"
               "~Anatomic codes - DICOM master list~^^~^^")


class Navigator(QtWidgets.QWidget):
    """Stand-in for Slicer's qSlicerTerminologyNavigatorWidget: its signals, the property the dialog sets,
    and its Q_INVOKABLE calls as the C++ does them (the user's pick is ``picked``, a terminology string)."""
    typeDoubleClicked = QtCore.Signal()
    selectionValidityChanged = QtCore.Signal(bool)
    picked, shown, logic = "", None, slicer.vtkSlicerTerminologiesModuleLogic()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._override = True

    def getOverride(self):
        return self._override

    def setOverride(self, visible):
        self._override = visible

    overrideSectionVisible = QtCore.Property(bool, getOverride, setOverride)

    def setTerminologyEntry(self, entry):
        Navigator.shown = self.logic.SerializeTerminologyEntry(entry)
        return True

    def terminologyEntry(self, entry):   # false when nothing valid is selected, as the C++
        return bool(self.picked) and self.logic.DeserializeTerminologyEntry(self.picked, entry)

    def nameFromTerminology(self, entry):
        modifier = entry.GetTypeModifierObject().GetCodeMeaning()
        return entry.GetTypeObject().GetCodeMeaning() + (f", {modifier}" if modifier else "")

    def recommendedColorFromTerminology(self, entry):
        return QtGui.QColor(128, 174, 128)


class qSlicerTerminologyNavigatorWidget(Navigator):  # noqa: N801  the class name the .ui gives
    pass


def load_dialog(path):
    """The dialog .ui as Slicer's loadUI loads it, with the navigator stand-in for the designer plugin."""
    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loader = QUiLoader()
    loader.registerCustomWidget(qSlicerTerminologyNavigatorWidget)
    file = QtCore.QFile(str(path))
    file.open(QtCore.QFile.ReadOnly)
    dialog = loader.load(file)
    file.close()
    assert dialog is not None, loader.errorString()
    return dialog


def press(dialog, button_name):
    """Press a button of the dialog once its event loop runs (exec_ returns then)."""
    QtCore.QTimer.singleShot(0, lambda: dialog.findChild(QtWidgets.QPushButton, button_name).click())


class Panel(ClassPanel):
    """SGRS Train's widget as far as the Classes row needs it (the real one needs PythonQt and CTK)."""
    def __init__(self, session, base_model=""):
        self.session, self.params = session, SimpleNamespace(baseModel=base_model)
        self.ui = SimpleNamespace(classesLabel=SimpleNamespace(text=""), terminologyButton=SimpleNamespace(enabled=0))

    def resourcePath(self, name):
        return str(ROOT / "SGRSTrain" / "Resources" / name)

    def poll(self):   # the widget's poll shows the classes
        self.showClasses()


@pytest.fixture
def slicer_gui(monkeypatch):
    """What the panel reaches through ``slicer`` in the application: loadUI, findChild, the Terminologies
    module's logic (the real class), the entry class (slicer-core has it)."""
    monkeypatch.setattr(slicer.util, "loadUI", load_dialog)
    monkeypatch.setattr(slicer.util, "findChild", lambda widget, name: widget.findChild(QtCore.QObject, name))
    logic = slicer.vtkSlicerTerminologiesModuleLogic()
    monkeypatch.setattr(slicer, "modules", SimpleNamespace(terminologies=SimpleNamespace(logic=lambda: logic)),
                        raising=False)
    monkeypatch.setattr(Navigator, "picked", "")
    return Navigator


def two_case_scene(scene, cohort):
    logic = slicer.vtkSlicerSegmentationsModuleLogic()
    logic.SetMRMLScene(scene)
    add_scene_cases(scene, logic, cohort, ("case000", "case001"), ("case002",))
    cases = collect_cases(scene)
    return logic, cases, {c.volume.GetName(): c.segmentation.GetSegmentation().GetNthSegment(0) for c in cases
                          if c.labelled}


def test_a_picked_terminology_tags_the_new_class_keeps_typed_names_and_reaches_the_model(
        scene, tiny_cohort, tmp_path, slicer_gui, monkeypatch):
    logic, cases, segment = two_case_scene(scene, tiny_cohort)
    segment["case000"].SetName("LA")               # typed in Slicer's segment list: not Slicer's to rename
    segment["case000"].SetNameAutoGenerated(False)
    before = {k: (s.GetName(), s.GetColor(), segment_terminology(s)) for k, s in segment.items()}
    session = TrainSession(scene, logic, tmp_path / "jobs", registry=tmp_path / "registry", python=LAUNCHER)
    session.cases = cases
    panel = Panel(session)
    panel.showClasses()
    # imported from a label map, the segments carry Slicer's placeholder (Tissue, every new segment's): none chosen
    tag = vtk.mutable("")
    assert segment["case001"].GetTag(segment["case001"].GetTerminologyEntryTagName(), tag) and "^85756007^" in str(tag)
    assert panel.ui.terminologyButton.enabled
    assert panel.ui.classesLabel.text.splitlines()[0] == "foreground: no terminology"

    press_cancel = load_dialog(ROOT / "SGRSTrain" / "Resources" / TERMINOLOGY_UI)  # the real .ui's wiring
    assert press_cancel.findChild(QtCore.QObject, "navigator").overrideSectionVisible is False
    slicer_gui.picked = ATRIUM_TAG
    monkeypatch.setattr(slicer.util, "loadUI", lambda path: press_cancel)   # Cancel: nothing changes
    press(press_cancel, "cancelButton")
    panel.onPickTerminology()
    assert {k: (s.GetName(), s.GetColor(), segment_terminology(s)) for k, s in segment.items()} == before

    dialog = load_dialog(ROOT / "SGRSTrain" / "Resources" / TERMINOLOGY_UI)
    monkeypatch.setattr(slicer.util, "loadUI", lambda path: dialog)
    press(dialog, "selectButton")
    panel.onPickTerminology()
    assert all(segment_terminology(s)["type"] == ["SCT", "82471001", "Left atrium"] for s in segment.values())
    assert segment["case000"].GetName() == "LA"                     # typed: kept
    assert segment["case001"].GetName() == "Left atrium"            # Slicer's name: follows the pick
    assert [round(c * 255) for c in segment["case001"].GetColor()] == [128, 174, 128]
    assert panel.ui.classesLabel.text.splitlines()[0] == "Left atrium: Left atrium (SCT 82471001), DICOM master list"

    manifest = json.loads(export_cohort(scene, logic, cases, tmp_path / "export").read_text())
    new_class = manifest["classes"][1]
    assert new_class["name"] == "Left atrium" and new_class["color"] == [128, 174, 128]
    assert new_class["terminology"]["type"][1] == "82471001" and new_class["terminology"]["context"] == MASTER

    # trained from scratch through the real engine: model.json names and codes the class as picked
    folder = session.start(TrainParameters(iterations=2, batch=2, patch=(32, 32, 16), filters=2, method="supervised",
                                           device="cpu", extra_args=("--log-every", "1")))
    end = time.time() + 300
    while session.poll() in ("running", "cancelling") and time.time() < end:
        time.sleep(0.2)
    assert session.state == "done", session.message
    trained = read_meta(session.registered.path)["classes"][1]
    assert trained["name"] == "Left atrium" and trained["terminology"]["type"][1] == "82471001", folder


def test_the_picker_opens_on_the_class_terminology_and_a_second_pick_replaces_it(scene, tiny_cohort, slicer_gui):
    _logic, cases, segment = two_case_scene(scene, tiny_cohort)
    for s in segment.values():
        set_terminology(s, ATRIUM_TAG)
    navigator = Navigator()
    navigator.picked = KIDNEY_LEFT
    logic, entry = slicer.modules.terminologies.logic(), slicer.vtkSlicerTerminologyEntry()
    assert pick_terminology(cases, navigator, lambda: 1, logic, entry) == 2
    assert parse_terminology(Navigator.shown)["type"][1] == "82471001"   # opened on the class's terminology
    kidney = segment_terminology(segment["case001"])
    assert kidney["typeModifier"] == ["SCT", "7771000", "Left"]          # the modifier is kept, not dropped
    assert segment["case001"].GetName() == "Kidney, Left"
    assert scratch_class(cases)["terminology"] == kidney
    navigator.picked = ""                                                # nothing valid selected: no change
    assert pick_terminology(cases, navigator, lambda: 1, logic, entry) == 0
    assert segment_terminology(segment["case000"]) == kidney


def test_the_picker_gives_slicers_navigator_an_entry_before_it_opens_even_with_no_terminology_yet(
        scene, tiny_cohort, slicer_gui, monkeypatch):
    """From 5.10.0 Slicer's navigator selects a terminology (and so lists categories and types) only when
    setTerminologyEntry is called, as Slicer's own selector dialog does every time (found by the Slicer review):
    a first pick, on untagged segments, must call it too, with an empty entry."""
    _logic, cases, _segment = two_case_scene(scene, tiny_cohort)
    monkeypatch.setattr(Navigator, "shown", None)
    assert "terminology" not in scratch_class(cases)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])   # noqa: F841  (widgets need one)
    navigator, opened = Navigator(), []
    logic, entry = slicer.modules.terminologies.logic(), slicer.vtkSlicerTerminologyEntry()
    assert pick_terminology(cases, navigator, lambda: opened.append(Navigator.shown) or 0, logic, entry) == 0
    assert opened and opened[0] is not None and parse_terminology(opened[0]) is None, opened


def test_what_the_classes_row_shows(scene, tiny_cohort):
    _logic, cases, segment = two_case_scene(scene, tiny_cohort)
    text, pickable = class_view(cases, str(DEMO))                       # fine-tuning: the base's, not pickable
    assert text.splitlines()[0] == "left atrium: Left atrium (SCT 82471001), DICOM master list" and not pickable
    assert class_view([], "")[1] is False                               # nothing collected: nothing to tag
    set_terminology(segment["case000"], ATRIUM_TAG)
    set_terminology(segment["case001"], KIDNEY_LEFT)
    text, pickable = class_view(cases, "")                              # two structures in one binary class
    assert pickable and text.startswith("foreground: no terminology") and "differ: pick one" in text
    assert apply_terminology(cases, "not a terminology") == 0           # a bad string tags nothing
    assert segment_terminology(segment["case001"])["type"][2] == "Kidney"


def test_a_type_modifier_round_trips_and_tells_classes_apart():
    term = parse_terminology(KIDNEY_LEFT)
    assert terminology_string(term) == KIDNEY_LEFT
    right = {**term, "typeModifier": ["SCT", "24028007", "Right"]}
    assert terminology_key(term) != terminology_key(right) and terminology_key(LEFT_ATRIUM) == ("SCT", "82471001")
    base = [{"value": 0, "name": "background"}, {"value": 1, "name": "left kidney", "terminology": term}]
    assert find_class(base, "Segment_1", term)["value"] == 1 and find_class(base, "Segment_1", right) is None
