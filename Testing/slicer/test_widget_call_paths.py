"""The widgets' own call paths, run (issue 14, "Tests that would have caught these"): every Lib function
and session method that SGRSSegment.py and SGRSTrain.py call from setup(), enter(), setParameterNode /
onParameters, the model-list refresh, updateButtons, poll, cleanup() and the scene-close observers is
CALLED here, in a process where torch, safetensors and psutil cannot be imported (a fresh Slicer), on a
real MRML scene (slicer-core), with no result yet and with a result. The list of calls is read from the
module files, so a new call in a widget fails this test until it is exercised here.

Not run here: ``compat.rebind`` (Slicer's parameterNodeWrapper is not in slicer-core; the pairs it
builds are checked by test_binding_contract.py) and the widget classes themselves (PythonQt, CTK)."""
import ast
import json
import os
from pathlib import Path

from conftest import ROOT
from test_binding_contract import parameter_fields
from test_first_run import panel_methods, run_without_torch

from sgrs.inference.flag_words import FLAG_ACCURACY

ENTRY_METHODS = ("setup", "enter", "cleanup", "setParameterNode", "onParameters", "refreshModels",
                 "onModelChanged", "updateButtons", "poll", "showCases", "onSceneStartClose", "onSceneEndClose")
SESSION_ATTRIBUTES = ("session", "rank", "plot")
SLICER_ONLY = {"rebind"}


def widget_calls(module: str) -> set:
    """Lib names imported, and session / rank / plot methods called, by the entry methods and every
    self.method() they call directly (not through a lambda: those are button slots)."""
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    widget = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == f"{module}Widget")
    methods = {**panel_methods(), **lib_mixin_methods(module, widget),
               **{f.name: f for f in widget.body if isinstance(f, ast.FunctionDef)}}
    todo, seen, calls = [m for m in ENTRY_METHODS if m in methods], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        lambdas = {id(n) for lam in ast.walk(methods[name]) if isinstance(lam, ast.Lambda) for n in ast.walk(lam)}
        for node in ast.walk(methods[name]):
            if id(node) in lambdas:
                continue
            # a Lib mixin imports its siblings relatively (from .terminology import ...)
            if isinstance(node, ast.ImportFrom) and (node.level or str(node.module).startswith("SGRS")):
                calls.update(a.name for a in node.names)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and owner.id == "self" and node.func.attr in methods:
                    todo.append(node.func.attr)
                if isinstance(owner, ast.Attribute) and owner.attr in SESSION_ATTRIBUTES and \
                        isinstance(owner.value, ast.Name) and owner.value.id == "self":
                    calls.add(f"{owner.attr}.{node.func.attr}")
    return calls


def lib_mixin_methods(module: str, widget: ast.ClassDef) -> dict:
    """The methods the widget takes from mixins of its own Lib (SGRS Train's ClassPanel), by name."""
    bases = {b.id for b in widget.bases if isinstance(b, ast.Name)}
    out = {}
    for path in sorted((ROOT / module / f"{module}Lib").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name in bases:
                out.update({f.name: f for f in node.body if isinstance(f, ast.FunctionDef)})
    return out


def defaults(module: str) -> dict:
    out = {}
    for name, (_base, _notes, default) in parameter_fields(module).items():
        out[name] = str(default) if isinstance(default, Path) else default
    return out


SCRIPT = '''
import json, shutil, sys
from types import SimpleNamespace
import numpy as np
import slicer
import vtk
from PySide6 import QtWidgets

called = set()


def run(name, function, *args, **kwargs):
    called.add(name)
    return function(*args, **kwargs)


app = QtWidgets.QApplication([])
scene = slicer.vtkMRMLScene()
slicer.vtkSlicerSubjectHierarchyModuleLogic().SetMRMLScene(scene)
views = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(2)]
volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
slicer.util.updateVolumeFromArray(volume, np.random.default_rng(0).random((6, 10, 12)).astype(np.float32))
out = {}

# ---- SGRS Segment ----------------------------------------------------------------------------
from SGRSSegmentLib.display import apply_region_settings, show_result
from SGRSSegmentLib.labels import counts_as_label, mark_reviewed
from SGRSSegmentLib.models import show_model
from SGRSSegmentLib.parameters import SegmentResult, follow_model, parameters_from_settings
from SGRSSegmentLib.result_nodes import add_entropy_map, add_region_map, add_segmentation, add_statistics_table
from SGRSSegmentLib.segmentations import module_segmentations_logic
from SGRSSegmentLib.session import SegmentSession
settings = SimpleNamespace(**SEGMENT)
settings.inputVolume = volume
combo = QtWidgets.QComboBox()
session = run("SegmentSession", SegmentSession, scene, python=None)                      # setup
out["no result: applied"] = run("apply_region_settings", apply_region_settings, scene, session.result, settings)
out["no result: opacity"] = [v.GetLabelOpacity() for v in views]
run("show_model", show_model, combo, settings, registry=REGISTRY, refresh=True)          # enter, refreshModels
run("follow_model", follow_model, settings, combo.currentData())                          # onModelChanged
settings.model = ""                                                                       # Close Scene's reset
out["after reset"] = [show_model(combo, settings, registry=REGISTRY), combo.currentData()]  # onParameters
out["card"] = run("session.model_card", session.model_card, combo.currentData())       # onParameters
out["model"], out["tau, rule"] = settings.model, [settings.tau, settings.deltaRule]
params = run("parameters_from_settings", parameters_from_settings, settings)            # updateButtons
out["no result: action"] = run("session.action", session.action, params).kind
out["engine tau, rule"] = [params.tau, params.delta_rule]
out["poll"] = run("session.poll", session.poll)
from SGRSSegmentLib.session import STATUS_STYLES
out["status style"] = run("STATUS_STYLES", lambda: STATUS_STYLES[session.severity])    # showSeverity
out["preview"] = run("session.preview_question", session.preview_question, params)      # onApply, before start

classes = [{"value": 0, "name": "background", "color": [0, 0, 0]},
           {"value": 1, "name": "left atrium", "color": [216, 101, 79],
            "terminology": {"category": ["SCT", "123037004", "Anatomical Structure"],
                            "type": ["SCT", "82471001", "Left atrium"]}}]
label = np.zeros((12, 10, 6), np.uint8)
label[3:8, 3:7, 1:5] = 1
regions = np.ones_like(label)
regions[3:5] = 3
summary = {"regions": {k: {"name": k, "label_value": v, "foreground_ml": 0.1, "share_of_foreground": 0.2,
                           "volume_ml": 0.3} for k, v in (("omega", 1), ("theta", 2), ("delta", 3))}}
segmentation = add_segmentation(scene, module_segmentations_logic(scene), volume, label, classes, "scan SGRS seg")
result = SegmentResult(segmentation, add_region_map(scene, volume, regions, "scan SGRS regions")[0],
                       add_entropy_map(scene, volume, label * 200, "scan SGRS uncertainty")[0],
                       add_statistics_table(scene, summary, "scan SGRS statistics"), summary)
session.result, session.state = result, "done"
run("show_result", show_result, scene, result, settings.regionOpacity)                   # poll, done
settings.regionOpacity, settings.showDelta = 0.25, False
out["result: applied"] = apply_region_settings(scene, session.result, settings)         # onParameters
out["result: opacity"] = [v.GetLabelOpacity() for v in views]
out["result: action"] = session.action(parameters_from_settings(settings)).kind
segment, entry = segmentation.GetSegmentation().GetNthSegment(0), vtk.reference("")
segment.GetTag(segment.GetTerminologyEntryTagName(), entry)
out["terminology"] = str(entry)
mark_reviewed(segmentation)
out["reviewed is a label"] = counts_as_label(segmentation)
run("session.close", session.close)                                                       # cleanup
out["after close"] = session.state
run("session.forget", session.forget)                                                     # scene close
out["after forget"] = [session.state, session.result]

# ---- SGRS Train ------------------------------------------------------------------------------
from SGRSSegmentLib.dependencies import missing_packages
from SGRSTrainLib.job import JobStatus
from SGRSTrainLib.plot import TrainingPlot
from SGRSTrainLib.ranking import read_ranking
from SGRSTrainLib.rank_session import RankSession, case_rows, row_tips
from SGRSTrainLib.session import TrainSession
from sgrs.util.errors import SGRSError
settings = SimpleNamespace(**TRAIN)
combo = QtWidgets.QComboBox()
session = run("TrainSession", TrainSession, scene, module_segmentations_logic(scene), JOBS, python=None)
out["base model"] = show_model(combo, settings, "baseModel", ("(new model)", ""), REGISTRY, refresh=True)
out["estimate"] = run("session.estimate", session.estimate, settings, settings.preset)   # onModelChanged
out["train action"] = run("session.action", session.action).kind                        # setup
out["last job"] = run("session.last_job", session.last_job)
out["train poll"] = run("session.poll", session.poll)
cases = run("session.collect", session.collect, settings)                                 # Collect
out["status line"] = run("session.status_line", session.status_line, settings)           # showState
out["cases"] = run("case_rows", case_rows, cases, {})
from SGRSTrainLib.terminology import class_view
out["classes"] = run("class_view", class_view, cases, settings.baseModel)                 # poll: the Classes row
out["base classes"] = class_view(cases, REGISTRY_DEMO)
from SGRSTrainLib.decision_view import DecisionView                                       # setup, poll
ui = SimpleNamespace(holdOutComboBox=QtWidgets.QComboBox(), holdOutHintLabel=QtWidgets.QLabel(),
                     keepButton=QtWidgets.QPushButton(), rollBackButton=QtWidgets.QPushButton())
view = run("DecisionView", DecisionView, ui, session, lambda: settings, lambda: None)
run("view.update", view.update)
out["hold-out items"] = [ui.holdOutComboBox.itemText(i) for i in range(ui.holdOutComboBox.count())]
out["decision buttons hidden"] = ui.keepButton.isHidden() and ui.rollBackButton.isHidden()
plot = run("TrainingPlot", TrainingPlot, scene)                                           # poll, a job shown
run("plot.update", plot.update, JobStatus("running", iteration=2, iterations=10, losses=[(1, 0.9), (2, 0.7)]))
out["plot rows"] = plot.tables["loss"].GetTable().GetNumberOfRows()
rank = run("RankSession", RankSession, settings.baseModel or REGISTRY_DEMO, "cpu")
try:
    rank.start(cases)
    out["rank start"] = "started"
except SGRSError as exc:
    out["rank start"] = str(exc)
try:
    run("session.attach", session.attach, JOBS)
except SGRSError as exc:
    out["attach"] = str(exc)
out["rank poll"] = run("rank.poll", rank.poll)
rank.results = read_ranking({"cases": [{"id": volume.GetID(), "share": 0.4, "foreground_ml": 2.0, "score": 0.3,
                                        "flag": "review"}]},
                            cases)
out["with a ranking"] = case_rows(cases, run("rank.order", rank.order, cases))
out["tips"] = [run("row_tips", row_tips, row) for row in out["with a ranking"]]
run("rank.close", rank.close)                                                            # scene close, cleanup
out["called"] = sorted(called)
out["missing"] = missing_packages()
out["loaded"] = [m for m in ("torch", "safetensors", "psutil") if m in sys.modules]
print(json.dumps(out))
'''


def test_the_widgets_call_paths_run_without_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    registry = tmp_path / "registry"
    values = {"SEGMENT": defaults("SGRSSegment"), "TRAIN": defaults("SGRSTrain")}
    code = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items()).replace("null", "None") \
        .replace("true", "True").replace("false", "False")
    code += f"\nREGISTRY = {str(registry)!r}\nJOBS = {str(tmp_path / 'jobs')!r}\n"
    code += f"REGISTRY_DEMO = {str(ROOT / 'Resources' / 'Demo' / 'model')!r}\n" + SCRIPT
    monkeypatch.setenv("SGRS_MODELS", str(registry))
    out = run_without_torch(tmp_path, code)

    required = (widget_calls("SGRSSegment") | widget_calls("SGRSTrain")) - SLICER_ONLY
    assert {"SegmentSession", "apply_region_settings", "show_model", "follow_model", "TrainSession"} <= required
    assert required <= set(out["called"]), f"widget calls never run here: {sorted(required - set(out['called']))}"
    assert out["hold-out items"][0] == "none (check on the validation cases)"
    assert out["decision buttons hidden"], "Keep / Roll back only while a fine-tuned model waits"
    assert out["loaded"] == [] and out["missing"][0] == "torch>=2.1"
    # issue 26, item 7: the Train case table's flag cell says what the flag means and how often it is right
    ranked = [(row, tips) for row, tips in zip(out["with a ranking"], out["tips"]) if row[4] == "review"]
    failed = f"of {FLAG_ACCURACY['failed_cases']} failed"
    assert ranked and all(tips[4].startswith("Case flag review: more than 11.6 %") and failed in tips[4]
                          and set(tips[:4] + tips[5:]) == {""} for row, tips in ranked)

    assert out["model"] == str(ROOT / "Resources" / "Demo" / "model")  # the first listed, with its τ and rule
    assert "synthetic phantoms" in out["card"] and out["estimate"]  # model card and run time, without torch
    assert out["after reset"] == [out["model"], out["model"]]
    assert out["card"] and out["estimate"].startswith("Expected run time: ")
    assert "Left atrium" in out["terminology"]  # through SetTag: no SetTerminology needed (5.8)
    assert out["no result: applied"] is False and out["no result: opacity"] == [1.0, 1.0]
    assert out["no result: action"] == "install" and out["poll"] == "idle" and out["status style"] == ""
    assert out["preview"] is None or "Expected run time: " in out["preview"]  # reads model.json, not torch
    assert out["tau, rule"] == [0.296, "union"] and out["engine tau, rule"] == [None, None]
    assert out["result: applied"] is True and out["result: opacity"] == [0.25, 0.25]
    assert out["result: action"] == "install" and out["reviewed is a label"] is True
    assert out["after close"] == "done" and out["after forget"] == ["idle", None]
    assert out["base model"] == "" and out["train action"] == "install" and out["last job"] is None
    assert out["train poll"] == "idle" and out["plot rows"] == 2
    # the Classes row: a new model's class named and coded as the reviewed result's segment, pickable; the
    # demo model's classes shown, not pickable (fine-tuning keeps them)
    assert out["classes"][0].splitlines()[0] == "Left atrium: Left atrium (SCT 82471001), DICOM master list"
    assert out["classes"][1] is True and "from 1 segment(s)" in out["classes"][0]
    assert out["base classes"][0].startswith("left atrium: Left atrium (SCT 82471001)")
    assert out["base classes"][1] is False
    assert out["status line"].startswith("1 labelled, 0 unlabelled cases.") and "'supervised'" in out["status line"]
    assert out["cases"] == [["", "scan", "reviewed (a label)", "", "", ""]]  # the result marked reviewed above is a label
    assert out["rank start"].startswith("Ranking needs torch>=2.1") and "Install dependencies" in out["rank start"]
    assert out["attach"].startswith("Opening a training job needs torch>=2.1")
    assert out["rank poll"] == "idle" and out["with a ranking"] == [["1", "scan", "reviewed (a label)", "0.3000", "review",
                                                                          "Δ∪Θ 40.0 % of 2.00 mL"]]
