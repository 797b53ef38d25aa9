"""Slicer's ``parameterNodeWrapper`` for tests, strict where Slicer is strict (slicer-core does not ship it).

Written from reading ``Base/Python/slicer/parameterNodeWrapper/`` at v5.8.1, v5.10.0, v5.12.3 and main
(v5.12.0 = v5.12.3 = main for every file used here; ``validators.py`` and ``default.py`` are the same at
all four; ``guiConnectors.py`` and ``serializers.py`` the same from v5.10.0 on). Not copied: each rule
is re-expressed, with the lines it comes from. What the old stand-ins skipped and this one does:

- values are typed: a number is stored as ``str(value)`` and read back as ``type(text)``, a bool as
  ``"True"``/``"False"``, a node as a node reference (``serializers.py`` NumberSerializer v5.8.1
  l. 233-268 / v5.10.0+ l. 236-271, StringSerializer l. 272 / 275, PathSerializer l. 309 / 312,
  BoolSerializer l. 348 / 351, NodeSerializer l. 382 / 385);
- validators run on every write and never on a read: the serializer's own ``NotNone``, ``IsInstance``
  first, then the annotation's (``ValidatedSerializer.__init__`` / ``write``, v5.8.1 l. 139-161,
  v5.10.0+ l. 142-164; ``createSerializer`` l. 216-221 / 219-224); ``validators.py`` l. 58-137;
- every value is cached and the cache follows the node's ModifiedEvent through a real VTK observer,
  added in field order when the wrapper is made (``wrapper.py`` ``_CachedParameterWrapper`` l. 84-120,
  ``_initMethod`` v5.8.1/v5.10.0 l. 130-144, v5.12.3 l. 130-145), so VTK's own observer order applies;
- ``connectParametersToGui`` builds every connector before writing any (one that raises leaves nothing
  connected), writes each widget *before* it listens to it, then adds the GUI-update observer on the
  node; the first tag is 0 (v5.8.1/v5.10.0 l. 194-213, v5.12.3 l. 195-215); the GUI update writes every
  connector and stops at the first that raises (l. 181-191 / 182-192), and a widget's change is written
  back only outside a GUI update (l. 172-178 / 173-179);
- ``connectGui`` returns no tag at v5.8.1 (l. 253), the tag from v5.10.0 (l. 253 / 255); ``disconnectGui``
  removes the GUI-update observer only from v5.12.0 (v5.12.3 l. 258-265; v5.8.1/v5.10.0 l. 256-261);
- the connectors (``guiConnectors.py``, v5.8.1 / v5.10.0+ class lines in ``CONNECTOR_LINES``) check
  ``type(widget)`` exactly, need a ``Choice`` on a combo box and bounds on a slider, set the widget's
  range from the validators, and the combo box's ``write`` raises on a value that is not a choice.

Widgets are PySide6's; CTK and qMRML classes are small PySide6 stand-ins with the signals and setters
the connectors use (``ctkSliderWidget`` is a QDoubleSpinBox: it clamps to its range and rounds to its
decimals as ctkSliderWidget does). PySide6 is imported only when a widget is made.
"""
from __future__ import annotations

import dataclasses
import pathlib
import typing
import weakref
from types import SimpleNamespace

TAGS = ("v5.8.1", "v5.10.0", "v5.12.3", "main")
PATHS = (pathlib.Path, pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePath, pathlib.PurePosixPath,
         pathlib.PureWindowsPath)


# validators.py (identical at every tag): validate() raises; the connectors read the bounds
class Validator:
    def validate(self, value) -> None:
        raise NotImplementedError


class NotNone(Validator):  # l. 58-66
    def validate(self, value) -> None:
        if value is None:
            raise ValueError("Value must not be None")


class IsInstance(Validator):  # l. 69-80: None passes
    def __init__(self, classtype):
        self.classtype = classtype

    def validate(self, value) -> None:
        if value is not None and not isinstance(value, self.classtype):
            raise TypeError(f"Value must be of type '{self.classtype}', is type '{type(value)}' value '{value}'")


class WithinRange(Validator):  # l. 83-95, inclusive
    def __init__(self, minimum, maximum):
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"Value must be within range [{self.minimum}, {self.maximum}], is {value}")


class Minimum(Validator):  # l. 98-109
    def __init__(self, minimum):
        self.minimum = minimum

    def validate(self, value) -> None:
        if value < self.minimum:
            raise ValueError(f"Value must be at least {self.minimum}, is {value}")


class Maximum(Validator):  # l. 112-123
    def __init__(self, maximum):
        self.maximum = maximum

    def validate(self, value) -> None:
        if value > self.maximum:
            raise ValueError(f"Value must be at most {self.maximum}, is {value}")


class Choice(Validator):  # l. 126-137: the choices are kept as given
    def __init__(self, choices):
        self.choices = choices

    def validate(self, value) -> None:
        if value not in self.choices:
            raise ValueError(f"Value is {value}, but must be in one of the following: {self.choices}")


@dataclasses.dataclass
class Decimals:  # guiConnectors.py v5.8.1 l. 38, v5.10.0+ l. 40: not validators, the connector reads them
    value: int


@dataclasses.dataclass
class SingleStep:  # v5.8.1 l. 45, v5.10.0+ l. 47
    value: float


def mrml_class(base) -> bool:
    import slicer
    return isinstance(base, type) and issubclass(base, slicer.vtkMRMLNode)


class Serializer:
    """A serializer of serializers.py with its validators (the serializer's own first)."""

    def __init__(self, base, notes):
        self.base = base
        if base in (int, float):
            own = [NotNone(), IsInstance((int, float) if base is float else int)]  # NumberSerializer.create
        elif mrml_class(base):
            own = [IsInstance(base)]  # NodeSerializer.create: None is a valid node
        elif base is str or base is bool or base in PATHS:
            own = [NotNone(), IsInstance(base)]
        else:
            raise TypeError(f"no serializer here for {base!r}")
        self.validators = own + [n for n in notes if isinstance(n, Validator)]

    def default(self):
        return {int: 0, float: 0, str: "", bool: False}.get(self.base, self.base() if self.base in PATHS else None)

    def write(self, node, name, value) -> None:
        for validator in self.validators:
            validator.validate(value)
        if mrml_class(self.base):
            node.SetParameter(name, "")  # the parameter marks it present; the value is a reference
            node.SetNodeReferenceID(name, value.GetID() if value is not None else None)
        elif self.base is bool:
            node.SetParameter(name, "True" if value else "False")
        else:
            node.SetParameter(name, str(value))

    def read(self, node, name):  # never validated
        if mrml_class(self.base):
            return node.GetNodeReference(name)
        if self.base is bool:
            return node.GetParameter(name) == "True"
        return self.base(node.GetParameter(name))


class CachedValue:
    """``_CachedParameterWrapper``: every serializer used here caches (supportsCaching is True). A value
    gone from the node (a scene saved before the parameter existed) is written back as the default when
    read (``_Parameter.read``, wrapper.py l. 43-46 at every tag)."""

    def __init__(self, name, serializer, node, default=None):
        import vtk
        self.name, self.serializer, self.node, self.default = name, serializer, node, default
        self.value, self.writing = self.read(), False
        me = weakref.ref(self)  # as Slicer: the observer must not keep the cache alive
        self.tag = node.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: me().modified())

    def __del__(self):
        self.node.RemoveObserver(self.tag)

    def read(self):
        if not self.node.HasParameter(self.name):
            self.serializer.write(self.node, self.name, self.default)
        return self.serializer.read(self.node, self.name)

    def modified(self):
        if not self.writing:
            self.value = self.read()

    def write(self, value):
        import slicer.util
        self.writing = True
        try:
            with slicer.util.NodeModify(self.node):  # the value is read back before any observer runs
                self.serializer.write(self.node, self.name, value)
                self.value = self.serializer.read(self.node, self.name)
        finally:
            self.writing = False


class Wrapper:
    """Base of the classes ``wrapper_class`` makes: a parameterNodeWrapper instance at ``tag``."""

    allParameters: dict = {}
    tag = "main"

    def __init__(self, parameterNode):
        self.parameterNode = parameterNode
        self._guis, self._next, self._observers, self._updating = {}, 0, {}, False
        self._values = {}
        for name, info in self.allParameters.items():
            if not parameterNode.HasParameter(name):
                info.serializer.write(parameterNode, name, info.default.value)  # validated
            self._values[name] = CachedValue(name, info.serializer, parameterNode, info.default.value)

    def _check(self, name):
        if name not in self.allParameters:
            raise ValueError(f"Cannot find a param with the given name: {name}")

    def getValue(self, name):
        self._check(name)
        return self._values[name].value

    def setValue(self, name, value):
        self._check(name)
        self._values[name].write(value)

    def AddObserver(self, event, callback, priority=0.0):  # noqa: N802  Slicer's names from here on
        return self.parameterNode.AddObserver(event, callback, priority)

    def RemoveObserver(self, tag):  # noqa: N802
        self.parameterNode.RemoveObserver(tag)

    def StartModify(self):  # noqa: N802
        return self.parameterNode.StartModify()

    def EndModify(self, wasModified):  # noqa: N802
        return self.parameterNode.EndModify(wasModified)

    def Modified(self):  # noqa: N802
        self.parameterNode.Modified()

    def connectParametersToGui(self, mapping):
        import vtk
        for name in mapping:
            self._check(name)
        connectors = {name: create_connector(widget, self.allParameters[name].unalteredType, self.tag)
                      for name, widget in mapping.items()}  # all built before any is written
        tag, self._next = self._next, self._next + 1
        self._guis[tag] = connectors
        for name, connector in connectors.items():
            connector.write(self.getValue(name))   # the widget first ...
            connector.onChanged(self._gui_to_parameter(name, connector))  # ... then it is listened to
        observer = self.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: self._update_gui())
        if self.tag in ("v5.12.3", "main"):
            self._observers[tag] = observer
        return tag

    def connectGui(self, widgets):
        tag = self.connectParametersToGui(widgets)
        return None if self.tag == "v5.8.1" else tag

    def disconnectGui(self, tag):
        for connector in self._guis.pop(tag, {}).values():
            connector.onChanged(None)
        if tag in self._observers:  # v5.12.0 and later only
            self.RemoveObserver(self._observers.pop(tag))

    def _gui_to_parameter(self, name, connector):
        def changed():
            import slicer.util
            with slicer.util.NodeModify(self):
                if not self._updating:
                    self.setValue(name, connector.read())
        return changed

    def _update_gui(self):
        import slicer.util
        if self._updating:
            return
        try:
            self._updating = True
            with slicer.util.NodeModify(self):
                for connectors in self._guis.values():
                    for name, connector in connectors.items():
                        connector.write(self.getValue(name))  # raises: the rest stay as they were
        finally:
            self._updating = False


def wrapper_class(fields: dict, tag: str = "main") -> type:
    """A parameterNodeWrapper class at ``tag`` from ``{name: (base type, annotations, default)}``
    (``test_binding_contract.parameter_fields``); a field without a default gets its serializer's
    (``_processClass`` v5.8.1 l. 300-330, v5.12.3 l. 305-332)."""
    params, namespace = {}, {"tag": tag}
    for name, (base, notes, default) in fields.items():
        serializer = Serializer(base, notes)
        value = serializer.default() if default is None else default
        params[name] = SimpleNamespace(basename=name, serializer=serializer, default=SimpleNamespace(value=value),
                                       unalteredType=typing.Annotated[(base, *notes)] if notes else base)
        namespace[name] = property(lambda self, n=name: self.getValue(n), lambda self, v, n=name: self.setValue(n, v))
    namespace["allParameters"] = params
    return type("ParameterNode", (Wrapper,), namespace)


# guiConnectors.py: the class line of each connector used here, at v5.8.1 and at v5.10.0 / v5.12.3 / main
CONNECTOR_LINES = {"bool": (156, 162), "int": (225, 276), "float": (289, 340), "choice": (355, 418),
                   "line edit": (452, 515), "path": (605, 673), "node": (677, 745)}
SLIDERS = ("ctkSliderWidget", "qMRMLSliderWidget")
FLOAT_WIDGETS = ("QDoubleSpinBox", "ctkSliderWidget", "qMRMLSliderWidget", "ctkDoubleSlider", "ctkDoubleSpinBox",
                 "qMRMLSpinBox")


def split(datatype):
    if typing.get_origin(datatype) is typing.Annotated:
        return datatype.__origin__, datatype.__metadata__
    return datatype, ()


def first(notes, kind):
    return next((n for n in notes if isinstance(n, kind)), None)


def connector_kind(ui_class: str, datatype, tag: str) -> str:
    """Which connector Slicer builds for a widget of ``ui_class`` bound to ``datatype`` at ``tag``, in its
    registration order; RuntimeError with Slicer's reason when none or when ``create`` refuses."""
    base, notes = split(datatype)
    bounded = first(notes, WithinRange) is not None or (first(notes, Minimum) and first(notes, Maximum))
    numbers = (float,) if tag == "v5.8.1" else (float, int)  # 5.10 renamed it ...ToFloatIntConnector
    if base is bool and ui_class in ("QCheckBox", "ctkCheckBox"):
        return "bool"
    if base is int and ui_class in ("QSlider", "QSpinBox"):
        if ui_class == "QSlider" and not bounded:
            raise RuntimeError("Cannot have a connection to QSlider where the int type is unbounded.")
        return "int"
    if base in numbers and ui_class in FLOAT_WIDGETS:
        if ui_class in SLIDERS and not bounded:
            raise RuntimeError("Cannot have a connection to ctkSliderWidget where the float types is unbounded.")
        return "float"
    if ui_class in ("QComboBox", "ctkComboBox") and base in (int, float, str, bool):
        if first(notes, Choice) is None:
            raise RuntimeError("ComboBoxToStringableConnector requires the Choice annotation to be used.")
        return "choice"
    if ui_class == "QLineEdit" and base is str:
        return "line edit"
    if ui_class == "ctkPathLineEdit" and base in PATHS:
        return "path"
    if ui_class == "qMRMLNodeComboBox" and mrml_class(base):
        return "node"
    raise RuntimeError(f"Unable to create GUI connector from datatype '{datatype}' to widget type '{ui_class}'.")


class Connector:
    def __init__(self, widget, datatype, kind):
        self.widget, self.kind, self.callback = widget, kind, None
        base, notes = split(datatype)
        self.base, self.signal = base, getattr(widget, SIGNALS[kind])
        if kind == "choice":  # clear, then one item per choice (v5.8.1 l. 377-379, v5.10.0+ l. 440-442)
            self.choices = first(notes, Choice).choices
            widget.clear()
            for choice in self.choices:
                widget.addItem(str(choice))
        if kind in ("int", "float"):  # range from the validators, else unbounded (l. 300-321 / 354-393)
            decimals, step = first(notes, Decimals), first(notes, SingleStep)
            if kind == "float" and decimals is not None:
                widget.setDecimals(decimals.value)
            if kind == "float" and base is int:
                widget.setDecimals(0)
            if step is not None:
                widget.setSingleStep(step.value)
            within, low, high = first(notes, WithinRange), first(notes, Minimum), first(notes, Maximum)
            unbounded = (-(2 ** 31), 2 ** 31 - 1) if kind == "int" else (float("-inf"), float("inf"))
            widget.setMinimum(within.minimum if within else low.minimum if low else unbounded[0])
            widget.setMaximum(within.maximum if within else high.maximum if high else unbounded[1])

    def onChanged(self, callback):  # noqa: N802
        if self.callback is not None:
            self.signal.disconnect(self.changed)
        self.callback = callback
        if callback is not None:
            self.signal.connect(self.changed)

    def changed(self, *_args):
        if self.callback:
            self.callback()

    def read(self):
        w = self.widget
        return {"bool": lambda: w.isChecked(), "int": lambda: w.value(), "float": lambda: self.base(w.value()),
                "choice": lambda: self.choices[w.currentIndex()], "line edit": lambda: w.text(),
                "path": lambda: self.base(w.currentPath()), "node": lambda: w.currentNode()}[self.kind]()

    def write(self, value) -> None:
        w = self.widget
        if self.kind == "choice":
            for index, choice in enumerate(self.choices):
                if choice == value:
                    w.setCurrentIndex(index)
                    return
            raise ValueError(f"Unable to find value {value} in choices {self.choices}")
        setter = {"bool": "setChecked", "int": "setValue", "float": "setValue", "line edit": "setText",
                  "path": "setCurrentPath", "node": "setCurrentNode"}[self.kind]
        getattr(w, setter)(str(value) if self.kind == "path" else value)


SIGNALS = {"bool": "stateChanged", "int": "valueChanged", "float": "valueChanged", "choice": "currentIndexChanged",
           "line edit": "textChanged", "path": "currentPathChanged", "node": "currentNodeChanged"}


def create_connector(widget, datatype, tag: str = "main") -> Connector:
    return Connector(widget, datatype, connector_kind(widget.property("uiClass"), datatype, tag))


_WIDGETS = {}


def widget_classes() -> dict:
    """{.ui class name: PySide6 class}; CTK and qMRML classes as small stand-ins."""
    if _WIDGETS:
        return _WIDGETS
    from PySide6 import QtCore, QtWidgets

    class PathLineEdit(QtWidgets.QLineEdit):  # ctkPathLineEdit: currentPath, currentPathChanged(QString)
        currentPathChanged = QtCore.Signal(str)

        def currentPath(self):  # noqa: N802
            return self.text()

        def setCurrentPath(self, path):  # noqa: N802
            if path != self.text():
                self.setText(path)
                self.currentPathChanged.emit(path)

    class NodeComboBox(QtWidgets.QWidget):  # qMRMLNodeComboBox: currentNode, currentNodeChanged(vtkMRMLNode*)
        currentNodeChanged = QtCore.Signal(object)

        def __init__(self):
            super().__init__()
            self._node = None

        def currentNode(self):  # noqa: N802
            return self._node

        def setCurrentNode(self, node):  # noqa: N802
            if node is not self._node:
                self._node = node
                self.currentNodeChanged.emit(node)

    _WIDGETS.update({"QComboBox": QtWidgets.QComboBox, "ctkComboBox": QtWidgets.QComboBox,
                     "QCheckBox": QtWidgets.QCheckBox, "ctkCheckBox": QtWidgets.QCheckBox,
                     "QSpinBox": QtWidgets.QSpinBox, "QSlider": QtWidgets.QSpinBox, "QLineEdit": QtWidgets.QLineEdit,
                     "ctkPathLineEdit": PathLineEdit, "qMRMLNodeComboBox": NodeComboBox,
                     **{name: QtWidgets.QDoubleSpinBox for name in FLOAT_WIDGETS}})
    return _WIDGETS


def make_widget(ui_class: str, properties: dict | None = None):
    """A widget standing for ``ui_class`` with the .ui's own properties (range, decimals, value, ...)."""
    from PySide6 import QtWidgets
    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    widget = widget_classes()[ui_class]()
    widget.setProperty("uiClass", ui_class)
    for name in ("decimals", "minimum", "maximum", "singleStep", "value", "checked"):
        if properties and name in properties:
            getattr(widget, "set" + name[0].upper() + name[1:])(properties[name])
    return widget


def module_parameter_node(scene, module: str):
    """``ScriptedLoadableModuleLogic.getParameterNode`` with its default singleton node (ScriptedLoadableModule.py
    ``getParameterNode`` v5.8.1 / main l. 310-330, ``createParameterNode`` l. 345-365)."""
    node = scene.GetSingletonNode(module, "vtkMRMLScriptedModuleNode")
    if node is None:
        node = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)
        node.SetSingletonTag(module)
        node.SetAttribute("ModuleName", module)
        node.SetName(scene.GenerateUniqueName(module))
        node = scene.AddNode(node)
    return node
