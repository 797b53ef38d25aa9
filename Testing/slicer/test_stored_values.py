"""Stored values the panel cannot show (issue 25, "In Slicer"), on a real MRML scene with the strict
stand-in of Slicer's parameterNodeWrapper (``slicer_wrapper.py``) at each of its source revisions,
bound through the panels' own mixin to Qt widgets made from SGRSSegment.ui:

- a scene imported while the panel is shown carries a device this version does not know: Slicer's
  combo connector raised inside the node's ModifiedEvent, the widgets after it stayed stale, and the
  value reached the engine's command line;
- a stored overlap above the slider's maximum was shown clamped while the node kept it, and the run
  used it.
"""
import os
from dataclasses import replace
from types import SimpleNamespace

import pytest
import slicer
from conftest import ROOT
from SGRSSegmentLib import compat
from SGRSSegmentLib.job import SegmentJob
from SGRSSegmentLib.logic import SGRSSegmentLogic
from SGRSSegmentLib.panel import ParameterPanel
from SGRSSegmentLib.parameters import SegmentParameters, parameters_from_settings
from SGRSSegmentLib.session import SegmentSession
from slicer.util import VTKObservationMixin
from slicer_wrapper import make_widget, module_parameter_node, wrapper_class
from test_binding_contract import parameter_fields, ui_tree

from sgrs.training.presets import DEFAULT, PRESETS
from sgrs.util.errors import SGRSError

REVISIONS = ("v5.8.1", "v5.10.0", "main")  # the wrapper's distinct revisions (v5.12.3 = main)
DEMO_MODEL = str(ROOT / "Resources" / "Demo" / "model")


def ui_value(element):
    kind = element[0]
    return {"double": float, "number": int, "bool": lambda t: t == "true"}.get(kind.tag, str)(kind.text)


def ui_widgets(module: str = "SGRSSegment") -> dict:
    """{parameter: widget} for every bound widget of the module's .ui, in the .ui's order, each with its
    .ui properties (range, decimals, value)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    widgets = {}
    for element in ui_tree(module).iter("widget"):
        props = {p.get("name"): p for p in element.findall("property")}
        if "SlicerParameterName" in props:
            values = {name: ui_value(p) for name, p in props.items() if name != "SlicerParameterName"}
            widgets[props["SlicerParameterName"].findtext("string")] = make_widget(element.get("class"), values)
    return widgets


class Panel(ParameterPanel, VTKObservationMixin):
    """The widgets' mixin with what SGRSSegmentWidget gives it; ``onParameters`` records the settings a
    Segment click would run with (the widget's updateButtons reads them on every change)."""

    uiWidget, parent = "SGRSSegment.ui", SimpleNamespace(isEntered=True)

    def __init__(self, logic):
        VTKObservationMixin.__init__(self)
        self.logic, self.seen = logic, []

    def onParameters(self, caller=None, event=None):
        if self.params is not None:
            self.seen.append(parameters_from_settings(self.params))

    def refreshModels(self):
        pass


@pytest.fixture()
def bound(scene, monkeypatch, request):
    """(panel, widgets, wrapper class) of SGRS Segment at the revision ``request.param``."""
    pytest.importorskip("PySide6.QtWidgets")
    widgets = ui_widgets()
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: widgets)
    cls = wrapper_class(parameter_fields("SGRSSegment"), request.param)
    panel = Panel(SimpleNamespace(getParameterNode=lambda: cls(module_parameter_node(scene, "SGRSSegment"))))
    yield panel, widgets, cls
    panel.unbind()
    panel.removeObservers()


def saved_scene(cls, module="SGRSSegment", **values) -> str:
    """A scene file (as XML) whose module node holds every parameter, ``values`` as given."""
    other = slicer.vtkMRMLScene()
    node = module_parameter_node(other, module)
    cls(node)  # the defaults, as this version writes them
    for name, value in values.items():
        node.SetParameter(name, value)
    other.SetSaveToXMLString(1)
    other.Commit()
    return other.GetSceneXMLString()


def import_scene(scene, xml: str) -> None:
    """File > Add Data of a .mrml: its singleton nodes are copied into the scene's own."""
    scene.SetSceneXMLString(xml)
    scene.SetLoadFromXMLString(1)
    assert scene.Import()


@pytest.mark.parametrize("bound", REVISIONS, indirect=True)
def test_an_unknown_device_imported_while_the_panel_is_shown_never_reaches_the_engine(scene, bound, capfd,
                                                                                      tmp_path):
    panel, widgets, cls = bound
    panel.setParameterNode(panel.logic.getParameterNode())
    node = panel.params.parameterNode
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    import_scene(scene, saved_scene(cls, device="tpu", deltaRule="intersection", tau="0.4", regions="False",
                                   inputVolume=""))
    assert node.GetParameter("device") == "auto" and widgets["device"].currentText() == "auto"
    # the widgets bound after the device's were written too
    assert widgets["deltaRule"].currentText() == "intersection" and widgets["tau"].value() == pytest.approx(0.4)
    assert not widgets["regions"].isChecked() and panel.params.deltaRule == "intersection"
    assert panel.seen and {s.device for s in panel.seen} == {"auto"}, "the panel never saw 'tpu'"
    assert "Unable to find value" not in capfd.readouterr().err, "no connector raised in an observer"
    settings = replace(parameters_from_settings(panel.params), volume=volume, model=DEMO_MODEL)
    args = SegmentJob(SGRSSegmentLogic(scene), settings, work=tmp_path).arguments()
    assert args[args.index("--device") + 1] == "auto"


@pytest.mark.parametrize("bound", REVISIONS, indirect=True)
def test_a_stored_overlap_out_of_range_is_clamped_on_the_node_not_only_in_the_slider(scene, bound):
    panel, widgets, cls = bound
    node = module_parameter_node(scene, "SGRSSegment")
    cls(node)
    node.SetParameter("overlap", "0.95")   # a scene saved with another range, or set from a script
    node.SetParameter("regionOpacity", "1.5")
    panel.setParameterNode(panel.logic.getParameterNode())
    assert widgets["overlap"].value() == pytest.approx(0.9)
    assert (node.GetParameter("overlap"), panel.params.overlap) == ("0.9", 0.9), "the run uses what is shown"
    assert (panel.params.regionOpacity, widgets["regionOpacity"].value()) == (1.0, 1.0)
    node.SetParameter("overlap", "0.97")   # while bound
    assert (panel.params.overlap, widgets["overlap"].value()) == (0.9, pytest.approx(0.9))
    assert {s.overlap for s in panel.seen} == {0.9}
    node.SetParameter("overlap", "0.3")    # an allowed value stays as it is
    assert (panel.params.overlap, widgets["overlap"].value()) == (0.3, pytest.approx(0.3))


@pytest.mark.parametrize("bound", ["main"], indirect=True)
def test_after_an_import_the_panel_follows_the_modules_node_as_it_is_now(scene, bound):
    """The node the panel was bound to is gone (deleted in the Data module) and the imported scene
    brings the module's node: the panel binds to it at the end of the import."""
    panel, widgets, cls = bound
    panel.setParameterNode(panel.logic.getParameterNode())
    scene.RemoveNode(panel.params.parameterNode)
    import_scene(scene, saved_scene(cls, device="cpu", overlap="0.25"))
    assert panel.params.parameterNode is scene.GetSingletonNode("SGRSSegment", "vtkMRMLScriptedModuleNode")
    assert (widgets["device"].currentText(), widgets["overlap"].value()) == ("cpu", pytest.approx(0.25))


def test_an_unknown_choice_is_refused_where_the_command_line_is_built(scene):
    """Whatever sets the parameters (a script, the Studio, a panel that is hidden): one line, no engine."""
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    params = SegmentParameters(volume=volume, model=DEMO_MODEL, device="tpu")
    action = SegmentSession(scene).action(params)
    assert not action.enabled and action.reason == "Unknown device 'tpu': choose one of auto, cuda, cpu, mps."
    job = SegmentJob(SGRSSegmentLogic(scene), replace(params, device="cpu"))
    job.params.delta_rule = "both"
    with pytest.raises(SGRSError, match="Unknown Δ rule 'both'"):
        job.arguments()

    from SGRSTrainLib.job import TrainParameters
    from SGRSTrainLib.rank_session import RankSession
    train = TrainParameters(cohort="cohort", out="job", device="tpu")
    assert train.is_valid() == (False, "Unknown device 'tpu': choose one of auto, cuda, cpu, mps.")
    with pytest.raises(SGRSError, match="Unknown device 'tpu'"):
        train.args()
    with pytest.raises(SGRSError, match="Unknown device 'tpu'"):
        RankSession(DEMO_MODEL, device="tpu").start([])


def test_sgrs_train_imported_with_an_unknown_method_and_batch_shows_and_runs_what_it_can(scene, monkeypatch):
    """The same mixin in SGRS Train, with its path line edits and spin boxes (strict stand-in at v5.8.1)."""
    panel, widgets, cls = bound_train_panel(scene, monkeypatch)
    import_scene(scene, saved_scene(cls, "SGRSTrain", method="fixmatch", batch="100", device="tpu",
                                   teacher="eval", iterations="700"))
    assert (panel.params.method, panel.params.batch, panel.params.device) == ("sgrs", 64, DEFAULT.device)
    assert (widgets["iterations"].value(), widgets["batch"].value(), widgets["teacher"].currentIndex()) == (700, 64, 2)
    assert {(p.method, p.batch, p.device) for p in panel.seen} == {("sgrs", 64, DEFAULT.device),
                                                                  ("sgrs", DEFAULT.batch, DEFAULT.device)}
    panel.unbind()
    panel.removeObservers()


@pytest.mark.parametrize("bound", ["main"], indirect=True)
def test_the_panel_reads_a_volume_chosen_outside_it_at_once(scene, bound):
    """VTK calls the first observer added last among equal priorities, and the wrapper's first field is
    the input volume: a panel reacting at the same priority read that field's cache before it followed.
    (Slicer's own GUI update has that priority too: its node combo box shows the volume only at the
    node's next change; the stand-in does the same, so that is not asserted here.)"""
    panel, _widgets, _cls = bound
    panel.setParameterNode(panel.logic.getParameterNode())
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    panel.params.parameterNode.SetNodeReferenceID("inputVolume", volume.GetID())  # a script, the Data module
    assert panel.seen[-1].volume is volume and panel.seen[-1].is_valid() == (False, "Select a model.")


@pytest.mark.parametrize("bound", REVISIONS, indirect=True)
@pytest.mark.parametrize(("stored", "shown"), [("true", True), ("1", True), ("0", False), ("maybe", True)])
def test_a_bool_stored_in_another_spelling_is_read_as_meant_not_as_false(scene, bound, tmp_path, stored, shown):
    """Slicer's BoolSerializer.read is ``GetParameter(name) == "True"`` (serializers.py v5.8.1 l. 371,
    v5.10.0 / v5.12.3 / main l. 374; re-expressed in slicer_wrapper.Serializer.read): a scene or a script
    that stored "true" or "1" for a switch turned it off, and --no-regions reached the engine."""
    panel, widgets, cls = bound
    panel.setParameterNode(panel.logic.getParameterNode())
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    import_scene(scene, saved_scene(cls, regions=stored, inputVolume=""))
    assert panel.params.regions is shown and widgets["regions"].isChecked() is shown
    assert panel.params.parameterNode.GetParameter("regions") == str(shown)
    settings = replace(parameters_from_settings(panel.params), volume=volume, model=DEMO_MODEL)
    args = SegmentJob(SGRSSegmentLogic(scene), settings, work=tmp_path).arguments()
    assert ("--no-regions" in args) is not shown


def test_a_whole_number_stored_as_float_text_keeps_its_value(scene, monkeypatch):
    """Slicer's NumberSerializer reads ``int(text)`` (serializers.py v5.8.1 l. 233-268, v5.10.0+ l. 236-271;
    slicer_wrapper.Serializer.read): "6000.0" from a script or an older float field raised, so the repair
    put the default (300) in its place; the iterations the user set must survive."""
    panel, widgets, cls = bound_train_panel(scene, monkeypatch)
    import_scene(scene, saved_scene(cls, "SGRSTrain", iterations="6000.0", batch="2.5"))
    assert (panel.params.iterations, widgets["iterations"].value()) == (6000, 6000)
    assert panel.params.parameterNode.GetParameter("iterations") == "6000"
    assert panel.params.batch == DEFAULT.batch, "a fraction is no whole number: the default, as before"
    assert {p.iterations for p in panel.seen} >= {6000}
    panel.unbind()
    panel.removeObservers()


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_scene_imported_while_sgrs_train_is_shown_keeps_its_preset_iterations_and_device(scene, monkeypatch,
                                                                                          tmp_path, revision):
    """Loading a scene rebinds the shown panel at the end of the import (panel.onSceneEndImport); the bind
    refills the preset combo box (Slicer's combo connector: clear() then addItem, guiConnectors.py v5.8.1
    l. 377-379, v5.10.0+ l. 440-442; slicer_wrapper re-expresses it), which emits currentIndexChanged at
    item 0. SGRS Train's preset slot, connected before the bind as SGRSTrain.setup does, took that for the
    user picking 'quick look' and wrote 300 iterations on CPU over the scene's preset (found running
    Slicer's own parameterNodeWrapper at v5.8.1, v5.10.0, v5.12.3 and main against SGRSTrain.ui)."""
    from SGRSTrainLib.session import TrainSession, train_parameters_from_settings
    pytest.importorskip("PySide6.QtWidgets")
    widgets = ui_widgets("SGRSTrain")
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: widgets)
    cls = wrapper_class(parameter_fields("SGRSTrain"), revision)
    panel = Panel(SimpleNamespace(getParameterNode=lambda: cls(module_parameter_node(scene, "SGRSTrain"))))
    panel.onParameters = lambda caller=None, event=None: panel.seen.append(train_parameters_from_settings(panel.params))
    session = TrainSession(scene, None, tmp_path)

    def on_preset(index):  # SGRSTrain.onModelChanged: the same guard and the same Lib call
        if panel.params and index >= 0:
            session.estimate(panel.params, index)
    widgets["preset"].currentIndexChanged.connect(on_preset)
    panel.setParameterNode(panel.logic.getParameterNode())
    import_scene(scene, saved_scene(cls, "SGRSTrain", preset="standard (GPU)", iterations="5000", device="cuda"))
    panel.onSceneEndImport()
    assert (panel.params.preset, panel.params.iterations, panel.params.device) == ("standard (GPU)", 5000, "cuda")
    assert (widgets["preset"].currentIndex(), widgets["iterations"].value()) == (1, 5000)
    assert train_parameters_from_settings(panel.params).iterations == 5000
    widgets["preset"].setCurrentIndex(2)   # a pick by the user still sets the preset's iterations
    assert (panel.params.preset, panel.params.iterations) == ("paper", PRESETS["paper"].iterations)
    panel.unbind()
    panel.removeObservers()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the half-made wrapper's __del__,
@pytest.mark.parametrize("revision", REVISIONS)                                # as in Slicer (no _observerTag yet)
def test_a_number_the_wrapper_cannot_read_never_breaks_the_modules_parameter_node(scene, revision):
    """A scene loaded while the panel is hidden (nothing bound, so no repair observer) with iterations
    'abc' or an empty overlap: Slicer's wrapper reads every value when it is made (wrapper.py
    ``_CachedParameterWrapper.__init__`` l. 87 at v5.8.1, v5.10.0, v5.12.3 and main; NumberSerializer.read
    is ``int(text)``; slicer_wrapper.CachedValue re-expresses both), so the module's getParameterNode, and
    with it setup() or enter(), raised ValueError. The modules' logic makes its wrapper with
    ``repaired_node`` (checked below in their source)."""
    from SGRSSegmentLib.panel import repaired_node
    for module, bad, expect in (("SGRSTrain", {"iterations": "abc", "batch": ""}, {"batch": DEFAULT.batch}),
                                ("SGRSSegment", {"overlap": "", "tau": "x"}, {"tau": 0.296})):
        cls = wrapper_class(parameter_fields(module), revision)
        node = module_parameter_node(scene, module)
        cls(node)
        for name, text in bad.items():
            node.SetParameter(name, text)
        with pytest.raises(ValueError):
            cls(node)  # what Slicer does with the node as stored
        params = repaired_node(cls, node)
        assert all(getattr(params, name) == value for name, value in expect.items())
        source = (ROOT / module / f"{module}.py").read_text()
        assert f"return repaired_node({module}ParameterNode, super().getParameterNode())" in source


def bound_train_panel(scene, monkeypatch):
    """SGRS Train's panel bound to its module node with the .ui's own widgets (strict stand-in at v5.8.1)."""
    from SGRSTrainLib.session import train_parameters_from_settings
    pytest.importorskip("PySide6.QtWidgets")
    widgets = ui_widgets("SGRSTrain")
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: widgets)
    cls = wrapper_class(parameter_fields("SGRSTrain"), "v5.8.1")
    panel = Panel(SimpleNamespace(getParameterNode=lambda: cls(module_parameter_node(scene, "SGRSTrain"))))
    panel.onParameters = lambda caller=None, event=None: panel.seen.append(train_parameters_from_settings(panel.params))
    panel.setParameterNode(panel.logic.getParameterNode())
    return panel, widgets, cls
