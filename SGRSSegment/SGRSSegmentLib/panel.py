"""What both panels do with their module's parameter node, as Slicer's scripted module template does
(``Utilities/Templates/Modules/Scripted/TemplateKey.py``, v5.8.1 l. 180-191, main l. 182-191): bound
while the panel is shown, unbound when it is hidden, when the scene closes and on cleanup (developer-mode
Reload).

A mixin for the widget classes (with ``VTKObservationMixin``); no qt here. The widget provides
``logic.getParameterNode()``, ``uiWidget``, ``parent.isEntered``, ``onParameters()`` (runs on every change
of the node) and ``refreshModels()``.
"""
from __future__ import annotations

from .compat import rebind


class ParameterPanel:
    params = None
    guiTag = None

    def setParameterNode(self, node) -> None:
        self.guiTag = rebind(self.params, self.guiTag, node, self.uiWidget, self, self.onParameters)
        self.params = node
        if node is not None:
            self.onParameters()

    def enter(self) -> None:
        if self.params is None:
            self.setParameterNode(self.logic.getParameterNode())
        self.refreshModels()  # a model trained or imported in the other panel since (review finding 3)

    def onSceneEndClose(self, caller=None, event=None) -> None:
        if self.parent.isEntered:
            self.enter()
