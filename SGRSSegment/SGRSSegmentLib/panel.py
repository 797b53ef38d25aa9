"""What both panels do with their module's parameter node, as Slicer's scripted module template does
(``Utilities/Templates/Modules/Scripted/TemplateKey.py``, v5.8.1 l. 180-191, main l. 182-191): bound
while the panel is shown, unbound when it is hidden, when the scene closes and on cleanup (developer-mode
Reload), so no connector of an old wrapper writes into destroyed widgets and a hidden panel follows
nothing (review finding 7).

A stored value the panel cannot show (a choice this version lacks, a number out of its range) is
repaired on the node before every bind and on every change of the bound node, ahead of the wrapper's
own observers (issue 25): a scene imported while the panel is shown copies its values into the module's
singleton node (``vtkMRMLScene.cxx`` ``sn->Copy(n)``: v5.8.1 l. 1282, v5.10.0 l. 1306, v5.12.3 / main
l. 1313), and Slicer's combo connector
would raise on an unknown one inside the node's ModifiedEvent, leave the widgets after it stale, and
the value would reach the engine. After an import the panel binds again (the node may be another one).

A mixin for the widget classes (with ``VTKObservationMixin``); no qt here. The widget provides
``logic.getParameterNode()``, ``uiWidget``, ``parent.isEntered``, ``onParameters()`` (runs on every change
of the node) and ``refreshModels()``.
"""
from __future__ import annotations

from . import compat
from .choices import enable_choices, repair_stored_values, show_choices

# VTK calls a subject's observers by descending priority; the wrapper's cache and GUI-update observers
# have the default 0 (wrapper.py: AddObserver without a priority), so the repair runs before them and the
# panel's own reaction after them: among equal priorities VTK calls the first one added last
# (vtkSubjectHelper::AddObserver), so at 0 the panel would read the first field's cache (inputVolume,
# cohortFolder) before it follows a change made outside the wrapper (an import, a script).
# VTKObservationMixin.addObserver takes the priority at every tag (util.py v5.8.1 l. 2812, main l. 3192).
REPAIR_PRIORITY, CHANGED_PRIORITY = 100.0, -1.0


def repaired_node(wrapper_class, node):
    """``wrapper_class(node)`` after ``repair_stored_values``: the wrapper reads every value when it is made
    (``wrapper.py`` ``_CachedParameterWrapper.__init__``, l. 87 at v5.8.1, v5.10.0, v5.12.3 and main), and
    ``int("abc")`` raised there, so a scene loaded while the panel was hidden (no repair observer) broke the
    module's ``getParameterNode``, hence its ``setup`` or ``enter``."""
    repair_stored_values(node, wrapper_class)
    return wrapper_class(node)


class ParameterPanel:
    params = None
    guiTag = None
    boundWidgets: dict = {}   # {parameter name: widget}, found once per bind, not on every change

    def setParameterNode(self, node) -> None:
        import vtk
        modified = vtk.vtkCommand.ModifiedEvent
        if self.params is not None:
            for method in (self.repairParameters, self.parametersChanged):
                if self.hasObserver(self.params.parameterNode, modified, method):
                    self.removeObserver(self.params.parameterNode, modified, method)
        if node is not None and repair_stored_values(node.parameterNode, type(node)):
            node = type(node)(node.parameterNode)  # a fresh wrapper reads the values repaired
        # No params while the bind refills the combo boxes (the connector's clear() and addItem emit
        # currentIndexChanged): SGRS Train's preset slot would take item 0 for the user's pick and write
        # its iterations and device over an imported scene's (onSceneEndImport rebinds a shown panel).
        old, self.params = self.params, None
        self.guiTag = compat.rebind(old, self.guiTag, node, self.uiWidget)
        self.params = node
        if node is not None:
            self.addObserver(node.parameterNode, modified, self.repairParameters, priority=REPAIR_PRIORITY)
            self.addObserver(node.parameterNode, modified, self.parametersChanged, priority=CHANGED_PRIORITY)
            self.observeImports(node.parameterNode.GetScene())
            self.boundWidgets = compat.parameter_widgets(self.uiWidget)
            show_choices(self.boundWidgets)  # the bind refilled the combo boxes
            self.parametersChanged()

    def repairParameters(self, caller, event=None) -> None:
        """Before the wrapper's observers: its GUI update must never meet a value it cannot show."""
        if self.params is not None:
            repair_stored_values(caller, type(self.params))

    def observeImports(self, scene) -> None:
        if scene is not None and not self.hasObserver(scene, scene.EndImportEvent, self.onSceneEndImport):
            self.addObserver(scene, scene.EndImportEvent, self.onSceneEndImport)

    def onSceneEndImport(self, caller=None, event=None) -> None:
        """A scene was imported (added to this one): bind again, to the module's node as it is now."""
        if self.params is not None:
            self.setParameterNode(self.logic.getParameterNode())
            getattr(self, "afterSceneImport", lambda scene: None)(caller)   # a module's own repairs (SGRS Train)

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
