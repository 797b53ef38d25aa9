"""What both panels do with their module's parameter node, as Slicer's scripted module template does
(``Utilities/Templates/Modules/Scripted/TemplateKey.py``, v5.8.1 l. 180-191, main l. 182-191): bound
while the panel is shown, unbound when it is hidden, when the scene closes and on cleanup (developer-mode
Reload), so no connector of an old wrapper writes into destroyed widgets and a hidden panel follows
nothing (review finding 7).

A mixin for the widget classes (with ``VTKObservationMixin``); no qt here. The widget provides
``logic.getParameterNode()``, ``uiWidget``, ``parent.isEntered``, ``onParameters()`` (runs on every change
of the node) and ``refreshModels()``.
"""
from __future__ import annotations

from . import compat
from .choices import enable_choices, reset_unknown_choices, show_choices


class ParameterPanel:
    params = None
    guiTag = None
    boundWidgets: dict = {}   # {parameter name: widget}, found once per bind, not on every change

    def setParameterNode(self, node) -> None:
        if node is not None and reset_unknown_choices(node.parameterNode, type(node)):
            node = type(node)(node.parameterNode)  # a fresh wrapper reads the values reset
        self.guiTag = compat.rebind(self.params, self.guiTag, node, self.uiWidget, self, self.parametersChanged)
        self.params = node
        if node is not None:
            self.boundWidgets = compat.parameter_widgets(self.uiWidget)
            show_choices(self.boundWidgets)  # the bind refilled the combo boxes
            self.parametersChanged()

    def parametersChanged(self, caller=None, event=None) -> None:
        """Every change of the node (and a new node): the choices' states, then the widget's own."""
        enable_choices(self.boundWidgets, self.params)
        self.onParameters(caller, event)

    def enter(self) -> None:
        if self.params is None:
            self.setParameterNode(self.logic.getParameterNode())
        self.refreshModels()  # a model trained or imported in the other panel since (review finding 3)

    def exit(self) -> None:
        self.setParameterNode(None)

    def unbind(self) -> None:
        """From ``cleanup``: never raises."""
        try:
            self.setParameterNode(None)
        except Exception:  # noqa: BLE001
            self.params = self.guiTag = None

    def onSceneEndClose(self, caller=None, event=None) -> None:
        if self.parent.isEntered:
            self.enter()
