"""Both modules' setup() and panels against Slicer's own parameter-node code at one tag (built by
build_tag.py), offscreen with PySide6 and slicer-core. Prints one line per check; 'FAIL' marks a failure.
Usage: scenarios.py BUILD_DIR TAG [TREE]   (TREE: the checkout under review, default this one)"""
import os
import sys
import tempfile
import traceback
import types
from pathlib import Path

build, tag = sys.argv[1], sys.argv[2]
tree = sys.argv[3] if len(sys.argv) > 3 else str(Path(__file__).resolve().parents[2])
here = Path(__file__).resolve().parent
sys.path[:0] = [str(here / "shims"), f"{build}/{tag}", tree, f"{tree}/SGRSSegment", f"{tree}/SGRSTrain"]
os.environ["QT_QPA_PLATFORM"] = "offscreen"
work = Path(tempfile.mkdtemp(prefix="sgrs-review-"))   # this run's home: its jobs, registry and speed table
os.environ["HOME"] = str(work / "home")
os.environ.pop("SGRS_MODELS", None)
os.environ["PYTHONPATH"] = os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")])  # the engine runs the tree
from PySide6 import QtWidgets  # noqa: E402

app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
import slicer  # noqa: E402  the built package: Slicer's Python at TAG on slicer-core's MRML
import slicer.util  # noqa: E402

assert build in slicer.__file__, slicer.__file__
slicer.mrmlScene = slicer.vtkMRMLScene()
slicer.app = types.SimpleNamespace(connect=lambda *a: None, moduleManager=lambda: types.SimpleNamespace(
    connect=lambda *a: None, disconnect=lambda *a: None))
slicer.util.settingsValue = lambda *a, **k: False
slicer.util.toBool = bool
slicer.util.modulePath = lambda name: f"{tree}/{name}/{name}.py"
segmentations = slicer.vtkSlicerSegmentationsModuleLogic()
segmentations.SetMRMLScene(slicer.mrmlScene)
slicer.modules = types.SimpleNamespace(segmentations=types.SimpleNamespace(logic=lambda: segmentations))
messages = []
slicer.util.errorDisplay = lambda msg, **k: (messages.append(msg), print(tag, "errorDisplay:", msg))
slicer.util.confirmOkCancelDisplay = lambda *a, **k: False
import SGRSSegment as S  # noqa: E402
import SGRSTrain as T  # noqa: E402

MODULES = {"SGRSSegment": S, "SGRSTrain": T}


def say(*words):
    print(tag, *words, flush=True)


def make(name):
    parent = QtWidgets.QWidget()
    parent.setLayout(QtWidgets.QVBoxLayout())
    parent.isEntered = True
    widget = getattr(MODULES[name], name + "Widget")(parent)
    widget.setup()
    return widget


def scene_xml(values):
    other = slicer.vtkMRMLScene()
    for module, stored in values.items():
        node = other.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
        node.SetSingletonTag(module)
        node.SetAttribute("ModuleName", module)
        for key, text in stored.items():
            node.SetParameter(key, text)
    other.SetSaveToXMLString(1)
    other.Commit()
    return other.GetSceneXMLString()


def load(values):
    slicer.mrmlScene.SetLoadFromXMLString(1)
    slicer.mrmlScene.SetSceneXMLString(scene_xml(values))
    slicer.mrmlScene.Import()


def check(label, ok, detail=""):
    say("ok  " if ok else "FAIL", label, detail)


BAD = {"SGRSTrain": {"iterations": "6000.0", "batch": "abc", "preset": "paper", "device": "tpu"},
       "SGRSSegment": {"tau": "abc", "overlap": "", "regions": "1", "device": "tpu", "regionOpacity": "7"}}


def first_setup_after_a_scene_load():
    load(BAD)
    for name in MODULES:
        try:
            w = make(name)
        except Exception as exc:  # noqa: BLE001
            return check(f"{name} first setup after loading a scene with unreadable values", False, repr(exc))
        p = w.params
        values = {k: getattr(p, k) for k in ("iterations", "batch", "preset", "device", "tau", "overlap", "regions",
                                             "regionOpacity") if hasattr(p, k)}
        expect = ({"iterations": 6000, "batch": 4, "preset": "paper", "device": "cpu"} if name == "SGRSTrain" else
                  {"tau": 0.296, "overlap": 0.5, "regions": True, "device": "auto", "regionOpacity": 1.0})
        check(f"{name} first setup after loading a scene with unreadable values", values == expect, values)


def hidden_panels():
    panels = {name: make(name) for name in MODULES}
    for panel in panels.values():
        panel.exit()
    load(BAD)
    for name, panel in panels.items():
        try:
            panel.enter()
            check(f"{name} enters after a scene with unreadable values was loaded while hidden", True)
        except Exception as exc:  # noqa: BLE001
            check(f"{name} enters after a scene with unreadable values was loaded while hidden", False, repr(exc))


def shown_panels():
    seg, train = make("SGRSSegment"), make("SGRSTrain")
    load({"SGRSTrain": {"preset": "standard (GPU)", "iterations": "5000", "device": "cuda"}})
    p = train.params
    check("Train keeps an imported preset / iterations / device", (p.preset, p.iterations, p.device) ==
          ("standard (GPU)", 5000, "cuda") and train.ui.iterationsSpinBox.value == 5000,
          (p.preset, p.iterations, p.device, train.ui.presetComboBox.currentText))
    train.ui.presetComboBox.setCurrentIndex(1 if p.preset != "standard (GPU)" else 2)
    check("a picked preset sets its iterations", train.params.iterations in (6000, 15000), train.params.iterations)
    train.ui.methodComboBox.setCurrentIndex(4)
    check("supervised greys out recipe and teacher", not train.ui.recipeComboBox.isEnabled()
          and not train.ui.teacherComboBox.isEnabled())
    load({"SGRSSegment": BAD["SGRSSegment"]})
    from SGRSSegmentLib.parameters import parameters_from_settings
    s = parameters_from_settings(seg.params)
    check("Segment repairs imported values before the engine sees them", (s.device, s.overlap, s.regions) ==
          ("auto", 0.5, True), (s.device, s.overlap, s.regions))
    slicer.mrmlScene.Clear(0)
    check("both panels bound again after Close Scene", seg.params is not None and train.params is not None)
    seg.cleanup()
    again = make("SGRSSegment")
    again.logic.getParameterNode().device = "mps"
    check("a reloaded widget follows the node", again.ui.deviceComboBox.currentText == "mps")


def terminology_picker():
    """SGRS Train's Classes row and its picker through the real widget and its .ui files: Collect shows a
    new model's class; the button opens the dialog (Slicer's navigator widget: a stand-in that picks Left
    atrium as the user would) and Select puts the pick on the segment, which the row then shows."""
    import vtk
    from PySide6 import QtCore
    from SGRSSegmentLib.result_nodes import register_surface_rules
    terminologies = slicer.vtkSlicerTerminologiesModuleLogic()
    slicer.modules.terminologies = types.SimpleNamespace(logic=lambda: terminologies)

    class Navigator(QtWidgets.QWidget):
        typeDoubleClicked, selectionValidityChanged = QtCore.Signal(), QtCore.Signal(bool)
        setTerminologyEntry = staticmethod(lambda entry: True)
        nameFromTerminology = staticmethod(lambda entry: entry.GetTypeObject().GetCodeMeaning())
        recommendedColorFromTerminology = staticmethod(lambda entry: None)

        def terminologyEntry(self, entry):
            return terminologies.DeserializeTerminologyEntry(
                "Segmentation category and type - DICOM master list~SCT^123037004^Anatomical Structure"
                "~SCT^82471001^Left atrium~^^~Anatomic codes - DICOM master list~^^~^^", entry)
    slicer.qSlicerTerminologyNavigatorWidget = Navigator   # the shim's loadUI takes .ui classes from slicer
    register_surface_rules()
    volume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    image = vtk.vtkImageData()
    image.SetDimensions(8, 8, 4)
    image.AllocateScalars(10, 1)   # VTK_FLOAT
    volume.SetAndObserveImageData(image)
    seg = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "scan segmentation")
    seg.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    segment_id = seg.GetSegmentation().AddEmptySegment("", "Segment_1")
    painted = slicer.vtkOrientedImageData()   # an empty segment is not a label: paint it all
    painted.SetDimensions(8, 8, 4)
    painted.AllocateScalars(3, 1)   # VTK_UNSIGNED_CHAR
    painted.GetPointData().GetScalars().Fill(1)
    slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(painted, seg, segment_id)
    train = make("SGRSTrain")
    train.ui.collectButton.click()
    check("Collect shows a new model's class, pickable", bool(train.ui.terminologyButton.enabled) and
          train.ui.classesLabel.text.startswith("foreground: no terminology"), train.ui.classesLabel.text)

    def select():
        dialog = next(w for w in QtWidgets.QApplication.topLevelWidgets() if w.objectName() == "SGRSTrainTerminology")
        dialog.findChild(QtWidgets.QPushButton, "selectButton").click()
    QtCore.QTimer.singleShot(0, select)
    train.ui.terminologyButton.click()
    segment = seg.GetSegmentation().GetSegment(segment_id)
    check("the picked terminology is on the segment and in the Classes row", segment.GetName() == "Left atrium"
          and train.ui.classesLabel.text.startswith("Left atrium: Left atrium (SCT 82471001)"),
          (segment.GetName(), train.ui.classesLabel.text))


def helpers():
    return types.SimpleNamespace(slicer=slicer, app=app, make=make, check=check, say=say, messages=messages,
                                 work=work, jobs=work / "home" / ".sgrs" / "jobs", load=load)


def retrain_loop():
    import retrain_scenarios
    retrain_scenarios.run(helpers())


def keep_roll_back_and_picker():
    import decision_scenarios
    decision_scenarios.run(helpers())


ALL = (first_setup_after_a_scene_load, hidden_panels, shown_panels, terminology_picker, retrain_loop,
       keep_roll_back_and_picker)
ONLY = os.environ.get("REVIEW_ONLY", "")   # while iterating: scenario names, comma-separated
for scenario in [s for s in ALL if not ONLY or s.__name__ in ONLY.split(",")]:
    try:
        scenario()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        say("FAIL", scenario.__name__, "raised")
    slicer.mrmlScene.Clear(1)
sys.stdout.flush()
os._exit(0)  # Qt's teardown of widgets PySide does not own aborts; nothing is left to check
