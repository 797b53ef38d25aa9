"""The contract between our .ui files, our parameterNodeWrapper classes and Slicer's GUI connectors
(issue 14, items 1 and 4; issue 25), checked against the strict stand-in of ``slicer_wrapper.py``
because slicer-core has no parameterNodeWrapper.

``connectGui`` / ``connectParametersToGui`` builds one connector per ``SlicerParameterName`` widget
before connecting any (``Base/Python/slicer/parameterNodeWrapper/wrapper.py``: v5.8.1 / v5.10.0
l. 194-213, v5.12.3 and main l. 195-215); one that raises stops the panel's ``setup()``. Which widget
class takes which type at each tag is ``slicer_wrapper.connector_kind`` (``guiConnectors.py``, class
lines in ``CONNECTOR_LINES``): ``canRepresent`` compares ``type(widget)`` exactly, and ``create`` adds
its requirements (a ``Choice`` on a combo box, bounds on a slider).
"""
import ast
import typing
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import slicer
from conftest import ROOT
from slicer_wrapper import (
    CONNECTOR_LINES,
    TAGS,
    Choice,
    Decimals,
    Maximum,
    Minimum,
    SingleStep,
    WithinRange,
    connector_kind,
)

MODULES = ["SGRSSegment", "SGRSTrain"]


def connector_error(widget: str, base, notes) -> str | None:
    """None when Slicer builds a connector for this pair at every tag, else why not (the strict
    stand-in's ``connector_kind``, which follows guiConnectors.py's registration order and ``create``)."""
    datatype = typing.Annotated[(base, *notes)] if notes else base
    for tag in TAGS:
        try:
            connector_kind(widget, datatype, tag)
        except RuntimeError as exc:
            return f"{tag}: {exc}"
    return None


def parameter_fields(module: str) -> dict:
    """{field: (base type, annotations, default)} of the module's @parameterNodeWrapper class, its
    annotations evaluated with the module's own imports of sgrs names, the strict stand-ins for Slicer's
    validators and slicer-core's node classes."""
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    namespace = {"Annotated": typing.Annotated, "Path": Path, "Choice": Choice, "WithinRange": WithinRange,
                 "Minimum": Minimum, "Maximum": Maximum, "Decimals": Decimals, "SingleStep": SingleStep}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sgrs"):
            imported = __import__(node.module, fromlist=[a.name for a in node.names])
            namespace.update({a.asname or a.name: getattr(imported, a.name) for a in node.names})
    wrapper = next(n for n in tree.body if isinstance(n, ast.ClassDef) and
                   any(getattr(d, "id", None) == "parameterNodeWrapper" for d in n.decorator_list))
    fields = {}
    for stmt in wrapper.body:
        if not isinstance(stmt, ast.AnnAssign):
            continue
        names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and n.id.startswith("vtkMRML")}
        scope = {**namespace, **{n: getattr(slicer, n) for n in names}}  # slicer-core's own node classes
        annotation = eval(compile(ast.Expression(stmt.annotation), module, "eval"), scope)  # noqa: S307
        default = eval(compile(ast.Expression(stmt.value), module, "eval"), scope) if stmt.value else None  # noqa: S307
        base, notes = (annotation.__origin__, annotation.__metadata__) \
            if typing.get_origin(annotation) is typing.Annotated else (annotation, ())
        fields[stmt.target.id] = (base, notes, default)
    return fields


def ui_tree(module: str):
    return ET.parse(ROOT / module / "Resources" / "UI" / f"{module}.ui").getroot()


def bound_widgets(module: str) -> dict:
    """{parameter name: (widget class, widget name)} for every widget with SlicerParameterName."""
    out = {}
    for widget in ui_tree(module).iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                out[prop.findtext("string")] = (widget.get("class"), widget.get("name"))
    return out


def test_the_connectors_cite_both_source_revisions():
    """guiConnectors.py has two revisions across the four tags: v5.8.1, and v5.10.0 = v5.12.3 = main."""
    assert all(len(lines) == 2 and lines[0] < lines[1] for lines in CONNECTOR_LINES.values())


@pytest.mark.parametrize("module", MODULES)
def test_every_bound_widget_has_a_field_and_a_connector_slicer_accepts(module):
    fields, widgets = parameter_fields(module), bound_widgets(module)
    assert widgets, f"{module}.ui binds no widget"
    problems = []
    for name, (widget_class, widget_name) in sorted(widgets.items()):
        if name not in fields:
            problems.append(f"{widget_name}: no field {name!r} in the parameterNodeWrapper class")
            continue
        base, notes, default = fields[name]
        error = connector_error(widget_class, base, notes)
        if error:
            problems.append(f"{widget_name} ({widget_class}) -> {name}: {error}")
        for note in notes:  # a default outside the validator fails when the node is first read
            if isinstance(note, Choice) and default not in note.choices:
                problems.append(f"{name}: default {default!r} is not one of {note.choices}")
            if isinstance(note, WithinRange) and default is not None and not note.minimum <= default <= note.maximum:
                problems.append(f"{name}: default {default!r} outside [{note.minimum}, {note.maximum}]")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", MODULES)
def test_float_widgets_hold_their_default_unrounded(module):
    """A spin box rounds what it is given to its ``decimals`` (QDoubleSpinBox::setValue), and the
    float connector writes the widget's value back to the node: too few decimals would silently
    change a default of 0.375 into 0.38. The .ui's own value is the default too."""
    fields, problems = parameter_fields(module), []
    for widget in ui_tree(module).iter("widget"):
        props = {p.get("name"): p for p in widget.findall("property")}
        if "SlicerParameterName" not in props or "decimals" not in props:
            continue
        name = props["SlicerParameterName"].findtext("string")
        default, decimals = fields[name][2], int(props["decimals"].findtext("number"))
        if default is not None and round(default, decimals) != default:
            problems.append(f"{name}: default {default} shown with {decimals} decimals")
        if "value" in props and default is not None and float(props["value"].findtext("double")) != default:
            problems.append(f"{name}: the .ui says {props['value'].findtext('double')}, the node {default}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", MODULES)
def test_every_mrml_widget_receives_the_scene(module):
    """qMRMLWidget::mrmlSceneChanged(vtkMRMLScene*) reaches a child only through a .ui connection
    (Libs/MRML/Widgets/qMRMLWidget.h v5.8.1 l. 60-66, v5.12.0/main l. 65-71); the node-combo connector
    sets nodeTypes, never the scene (guiConnectors.py v5.8.1 l. 677-707, v5.12.0 l. 745-776)."""
    root = ui_tree(module)
    top = root.find("widget")
    assert top.get("class") == "qMRMLWidget", "the top widget must be a qMRMLWidget to emit mrmlSceneChanged"
    fed = {c.findtext("receiver") for c in root.iter("connection")
           if c.findtext("sender") == top.get("name") and c.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)"
           and c.findtext("slot") == "setMRMLScene(vtkMRMLScene*)"}
    mrml = {w.get("name") for w in top.iter("widget") if w.get("class", "").startswith("qMRML") and w is not top}
    assert mrml, f"{module}.ui has no MRML widget"
    assert mrml <= fed, f"never given the scene: {sorted(mrml - fed)}"
    source = (ROOT / module / f"{module}.py").read_text()
    assert "self.uiWidget.setMRMLScene(slicer.mrmlScene)" in source  # what emits mrmlSceneChanged


def test_the_rules_catch_what_slicer_refuses():
    """The table itself: the pairs the issue found (a plain str on a QComboBox, an unbounded slider)
    are refused, their fixed forms accepted."""
    assert "Choice" in connector_error("QComboBox", str, ())
    assert connector_error("QComboBox", str, (Choice(["a"]),)) is None
    assert "unbounded" in connector_error("ctkSliderWidget", float, ())
    assert connector_error("ctkSliderWidget", float, (WithinRange(0, 1),)) is None
    assert "Unable to create GUI connector" in connector_error("QSpinBox", float, ())
    assert connector_error("QDoubleSpinBox", int, ()).startswith("v5.8.1: Unable")  # 5.10 takes int there too
    assert "Unable to create GUI connector" in connector_error("QComboBox", Path, ())


def test_the_wrapper_stand_in_is_as_strict_as_slicer(scene, monkeypatch):
    """What the old stand-ins let through: typed reads, validators on every write (an ``IsInstance``
    TypeError first), none on a read, and a bind that builds every connector before writing any."""
    from slicer_wrapper import make_widget, module_parameter_node, wrapper_class
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    node = module_parameter_node(scene, "SGRSSegment")
    params = wrapper_class(parameter_fields("SGRSSegment"))(node)
    assert (params.overlap, params.regions, params.inputVolume) == (0.5, True, None)
    assert node.GetParameter("regions") == "True"
    with pytest.raises(TypeError):
        params.tau = "0.3"
    with pytest.raises(ValueError):
        params.overlap = 0.95
    node.SetParameter("overlap", "0.95")
    assert params.overlap == 0.95  # read back unvalidated
    combo, spin = make_widget("QComboBox"), make_widget("QSpinBox")
    with pytest.raises(RuntimeError, match="Unable to create GUI connector"):
        params.connectParametersToGui({"device": combo, "overlap": spin})  # float on a QSpinBox
    combo.setCurrentIndex(2)
    assert params._guis == {} and params.device == "auto", "nothing was connected"
