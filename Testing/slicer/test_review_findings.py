"""The independent review of the Slicer extension (issue 14, review findings 1-8), each on a real MRML
scene (slicer-core) and the Libs the widgets call: what failed before each fix."""
from types import SimpleNamespace

import numpy as np
import slicer
from SGRSSegmentLib import result_nodes
from SGRSSegmentLib.parameters import SegmentResult
from SGRSSegmentLib.segmentations import module_segmentations_logic
from SGRSSegmentLib.session import SegmentSession

CLASSES = [{"value": 0, "name": "background", "color": [0, 0, 0]},
           {"value": 1, "name": "left atrium", "color": [216, 101, 79]}]
SUMMARY = {"regions": {k: {"name": k, "label_value": v, "foreground_ml": 0.1, "share_of_foreground": 0.2,
                           "volume_ml": 0.3} for k, v in (("omega", 1), ("theta", 2), ("delta", 3))}}


def scan(scene):
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    slicer.util.updateVolumeFromArray(volume, np.random.default_rng(0).random((6, 10, 12)).astype(np.float32))
    return volume


def result_in(scene, volume):
    """The nodes a finished run leaves (as SGRSSegmentLogic.add_result_nodes makes them), without torch."""
    label = np.zeros((12, 10, 6), np.uint8)
    label[3:8, 3:7, 1:5] = 1
    regions = np.ones_like(label)
    regions[3:5] = 3
    seg = result_nodes.add_segmentation(scene, module_segmentations_logic(scene), volume, label, CLASSES, "seg")
    return SegmentResult(seg, result_nodes.add_region_map(scene, volume, regions, "regions")[0],
                         result_nodes.add_entropy_map(scene, volume, label * 200, "uncertainty")[0],
                         result_nodes.add_statistics_table(scene, SUMMARY, "statistics"), SUMMARY)


def settings(**kw):
    values = dict(regionOpacity=0.25, showDelta=False, showTheta=True, showOmega=False)
    values.update(kw)
    return SimpleNamespace(**values)


def test_finding_1_a_closed_scenes_result_is_absent_not_a_traceback(scene):
    from SGRSSegmentLib.display import apply_region_settings, show_result
    view = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    session = SegmentSession(scene)
    from SGRSSegmentLib.review_navigation import ReviewNavigator
    session.result, session.state = result_in(scene, scan(scene)), "done"
    session.review = ReviewNavigator(scene, {"review_regions": [{"reason": "Δ", "volume_ml": 1.0}]})
    show_result(scene, session.result)
    assert session.has_result and apply_region_settings(scene, session.result, settings())
    scene.RemoveNode(session.result.regions)  # the user deletes the region map by hand
    scene.RemoveNode(session.result.segmentation)
    assert not session.has_result  # "Use the result as a label" is disabled
    assert apply_region_settings(scene, session.result, settings()) is False  # was: ValueError
    scene.Clear(0)  # Close Scene
    assert apply_region_settings(scene, session.result, settings()) is False
    session.forget()  # the widget's StartCloseEvent observer
    assert session.result is None and session.state == "idle" and session.message == "Ready."
    assert session.review.count == 0  # no stepping through the closed result's regions
    assert view.GetScene() is None


def test_finding_4_a_result_that_cannot_be_imported_fails_once_in_one_line(scene, tiny_bundle, tmp_path):
    """The engine finishes, importing its files fails half-way (here: a malformed terminology entry in the
    bundle's model.json, which the engine does not read): before, the error escaped poll() with the state
    left RUNNING, the next poll failed again on the deleted work folder, half-built nodes stayed."""
    import json
    import shutil

    from conftest import LAUNCHER
    from SGRSSegmentLib.parameters import SegmentParameters
    from SGRSSegmentLib.scene_nodes import node_ids
    from test_sessions import poll_until_settled, scan_node
    bundle = tmp_path / "bad-terminology"
    shutil.copytree(tiny_bundle, bundle)
    meta = json.loads((bundle / "model.json").read_text())
    meta["classes"][1]["terminology"] = {"category": ["SCT"], "type": ["SCT"]}
    (bundle / "model.json").write_text(json.dumps(meta))
    volume = scan_node(scene, tmp_path)
    before = node_ids(scene)
    session = SegmentSession(scene, python=LAUNCHER)
    session.start(SegmentParameters(volume=volume, model=str(bundle), device="cpu"))
    work = session.job.work
    assert poll_until_settled(session) == "failed"
    assert session.message.startswith("Failed to import the result: IndexError: ") and "\n" not in session.message
    assert session.job is None and session.poll() == "failed" and not work.exists()
    added = {scene.GetNodeByID(i).GetClassName() for i in node_ids(scene) - before}
    assert added <= {"vtkMRMLSubjectHierarchyNode"}, "no half-built labelmap, colour table or segmentation"


IMPORT_WITHOUT_TORCH = '''
import json, sys
import numpy as np
import slicer
from pathlib import Path
from sgrs.data.image_io import Geometry, write_image
from SGRSSegmentLib.job import PROGRESS, SegmentJob
from SGRSSegmentLib.logic import SGRSSegmentLogic
from SGRSSegmentLib.parameters import SegmentParameters

scene = slicer.vtkMRMLScene()
slicer.vtkSlicerSubjectHierarchyModuleLogic().SetMRMLScene(scene)
volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
slicer.util.updateVolumeFromArray(volume, np.zeros((6, 10, 12), np.float32))
work = Path(WORK)
(work / "out").mkdir(parents=True)
geometry = Geometry((12, 10, 6), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
label = np.zeros((12, 10, 6), np.uint8)
label[2:6, 2:6, 1:4] = 1
for name in ("label", "regions", "entropy"):
    write_image(label + (name == "regions"), geometry, work / "out" / f"{name}.nrrd")
summary = {"regions": {k: {"name": k, "label_value": v, "foreground_ml": 0.1, "share_of_foreground": 0.2,
                           "volume_ml": 0.3} for k, v in (("omega", 1), ("theta", 2), ("delta", 3))}}
(work / PROGRESS).write_text(json.dumps({"event": "finished", "summary": summary}) + "\\n")


class Exited:  # the engine's process, already finished (the engine itself needs torch)
    running, returncode = False, 0

    def wait(self):
        return 0


job = SegmentJob(SGRSSegmentLogic(scene), SegmentParameters(volume=volume, model=DEMO), work=work)
job.process = Exited()
result = job.result()
print(json.dumps({"segments": result.segmentation.GetSegmentation().GetNumberOfSegments(),
                  "rows": result.table.GetNumberOfRows(), "work left": work.exists(),
                  "loaded": [m for m in ("torch", "safetensors") if m in sys.modules]}))
'''


def test_finding_4_importing_a_background_result_needs_no_torch(tmp_path):
    from conftest import ROOT
    from test_first_run import run_without_torch
    code = f"WORK = {str(tmp_path / 'work')!r}\nDEMO = {str(ROOT / 'Resources' / 'Demo' / 'model')!r}\n"
    out = run_without_torch(tmp_path, code + IMPORT_WITHOUT_TORCH)
    assert out == {"segments": 1, "rows": 3, "work left": False, "loaded": []}


def test_finding_5_a_transformed_scan_is_refused_a_transformed_roi_is_not(scene):
    """The engine takes the scan's node frame (IJKToRAS) and the results go on that grid, so a scan under
    a transform would be cropped and shown in the wrong place. A transformed ROI is fine: its world bounds
    are what the engine gets, and an untransformed scan's node frame is the world."""
    import pytest
    import vtk
    from SGRSSegmentLib.parameters import SegmentParameters

    from sgrs.util.errors import SGRSError
    volume = scan(scene)
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "box")
    roi.SetXYZ(5.0, 4.0, 3.0)
    roi.SetRadiusXYZ(3.0, 3.0, 2.0)
    shift = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 20.0)
    shift.SetMatrixTransformToParent(matrix)
    roi.SetAndObserveTransformNodeID(shift.GetID())
    params = SegmentParameters(volume=volume, model="bundle", roi=roi)
    assert params.is_valid() == (True, "")
    volume.SetAndObserveTransformNodeID(shift.GetID())
    ok, reason = params.is_valid()
    assert not ok and reason.startswith("'scan' is under a transform: harden it first") and "\n" not in reason
    with pytest.raises(SGRSError, match="under a transform"):
        SegmentSession(scene).start(params)


def test_finding_6_no_work_folder_is_left_when_the_run_cannot_start(scene, tmp_path, monkeypatch):
    """An unplaced ROI (the ROI combo's 'Create new' gives one) and an engine that cannot be launched."""
    import tempfile

    import pytest
    from SGRSSegmentLib.parameters import SegmentParameters

    from sgrs.util.errors import SGRSError
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp makes the work folders
    volume = scan(scene)
    unplaced = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "new ROI")
    with pytest.raises(SGRSError, match="ROI 'new ROI' is not placed yet"):
        SegmentSession(scene).start(SegmentParameters(volume=volume, model="bundle", roi=unplaced))
    session = SegmentSession(scene, python=str(tmp_path / "no-such-PythonSlicer"))
    with pytest.raises(SGRSError, match="^Cannot start the engine: No such file or directory"):
        session.start(SegmentParameters(volume=volume, model="bundle"))
    assert session.state == "idle" and session.job is None
    assert list(tmp_path.glob("sgrs-segment-*")) == []


def test_finding_7_the_panel_is_unbound_when_hidden_and_on_cleanup(scene, monkeypatch):
    """Slicer's calls in order (setup, enter, exit, enter, Close Scene while hidden, cleanup on Reload) on
    the mixin both widgets use, with the real VTKObservationMixin, a real parameter node and the strict
    stand-in of Slicer's wrapper at v5.8.1 (whose disconnectGui leaves its GUI observer on the node)."""
    from SGRSSegmentLib import compat
    from SGRSSegmentLib.panel import ParameterPanel
    from slicer.util import VTKObservationMixin
    from slicer_wrapper import make_widget, module_parameter_node, wrapper_class
    from test_binding_contract import parameter_fields
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    field = make_widget("QLineEdit")
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: {"model": field})
    node = module_parameter_node(scene, "SGRSSegment")
    wrapper = wrapper_class(parameter_fields("SGRSSegment"), "v5.8.1")(node)

    class Panel(ParameterPanel, VTKObservationMixin):
        def __init__(self):
            VTKObservationMixin.__init__(self)
            self.logic, self.uiWidget = SimpleNamespace(getParameterNode=lambda: wrapper), "the .ui"
            self.parent, self.changes, self.refreshed = SimpleNamespace(isEntered=False), 0, 0

        def onParameters(self, caller=None, event=None):
            self.changes += 1

        def refreshModels(self):
            self.refreshed += 1

    panel = Panel()
    panel.setParameterNode(wrapper)  # setup()
    panel.parent.isEntered = True
    panel.enter()
    node.SetParameter("model", "a")
    assert (len(wrapper._guis), panel.changes, panel.refreshed, field.text()) == (1, 2, 1, "a")
    panel.parent.isEntered = False
    panel.exit()  # another module shown: the panel follows nothing
    node.SetParameter("model", "b")
    assert (wrapper._guis, panel.changes, panel.params, field.text()) == ({}, 2, None, "a")
    panel.onSceneEndClose()  # Close Scene while hidden: stays unbound
    assert wrapper._guis == {} and panel.params is None
    panel.parent.isEntered = True
    panel.enter()
    node.SetParameter("model", "c")
    assert ([list(m) for m in wrapper._guis.values()], panel.changes, panel.refreshed, field.text()) == \
        ([["model"]], 4, 2, "c")
    panel.unbind()  # cleanup() before a developer-mode Reload
    node.SetParameter("model", "d")
    assert (wrapper._guis, panel.changes, panel.params, panel.guiTag, field.text()) == ({}, 4, None, None, "c")
    panel.unbind()  # twice: nothing left, no error


def test_finding_8_button_texts_are_translated_in_the_libs_and_widgets_translate_only_literals(scene, monkeypatch):
    """A stand-in slicer.i18n (slicer-core has none) whose translate marks its text: the labels the
    sessions give are translated where written, under the module's context; and every _() in the widget
    files and every translate() in the Libs takes string literals, the only thing lupdate extracts."""
    import ast
    import sys
    import types

    from conftest import ROOT
    from SGRSTrainLib.rank_session import case_rows
    from SGRSTrainLib.session import TrainSession
    i18n = types.ModuleType("slicer.i18n")
    i18n.translate = lambda context, text: f"[{context}] {text}"
    monkeypatch.setitem(sys.modules, "slicer.i18n", i18n)
    segment = SegmentSession(scene).action(None)
    assert segment.label.startswith("[SGRSSegment] ") and segment.status.startswith("[SGRSSegment] ")
    assert TrainSession(scene, None, ROOT / "unused").action().label.startswith("[SGRSTrain] ")
    case = SimpleNamespace(volume=scan(scene), labelled=True)
    assert case_rows([case], {}) == [("", "scan", "[SGRSTrain] reviewed (a label)", "", "", "")]

    for path in [ROOT / m / f"{m}.py" for m in ("SGRSSegment", "SGRSTrain")] + \
            list((ROOT / "SGRSSegment" / "SGRSSegmentLib").glob("*.py")) + \
            list((ROOT / "SGRSTrain" / "SGRSTrainLib").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "translate"):
                assert node.args and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args), \
                    f"{path.name} l. {node.lineno}: {node.func.id}() of a non-literal never reaches the .ts files"
