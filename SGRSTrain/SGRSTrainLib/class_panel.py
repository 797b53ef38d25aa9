"""SGRS Train's Classes row: each class of the model to train with its terminology, and the picker that
puts a terminology from Slicer's lists on a new model's class (SGRSTrainLib.terminology holds the logic).

A mixin for SGRSTrainWidget, as SGRSSegmentLib.panel.ParameterPanel is; no qt here. The widget provides
``ui.classesLabel``, ``ui.terminologyButton``, ``session``, ``params``, ``resourcePath()`` and ``poll()``
(which calls ``showClasses``).

Slicer's calls, checked at v5.8.1, v5.10.0, v5.12.3 and main: ``qSlicerTerminologySelectorDialog`` and
its static ``getTerminology`` are not reachable from Python at any of them (PythonQt wraps only the
constructor: no slot, no Q_INVOKABLE, and the result is read through a C++ info bundle), so the dialog is
ours (Resources/UI/SGRSTrainTerminology.ui) around Slicer's ``qSlicerTerminologyNavigatorWidget``, whose
``setTerminologyEntry`` / ``terminologyEntry`` / ``nameFromTerminology`` / ``recommendedColorFromTerminology``
are Q_INVOKABLE at every tag (``qSlicerTerminologyNavigatorWidget.h`` v5.8.1 l. 103-119, v5.10.0 l. 104-120,
v5.12.3 and main l. 124-140); the designer plugin that lets a .ui name it is in
``Widgets/DesignerPlugins/qSlicerTerminologiesModuleWidgetsPlugin.h`` l. 43 at every tag.
"""
from __future__ import annotations

TERMINOLOGY_UI = "UI/SGRSTrainTerminology.ui"


class ClassPanel:
    def showClasses(self) -> None:
        from .terminology import class_view
        text, pickable = class_view(self.session.cases, self.params.baseModel if self.params else "")
        self.ui.classesLabel.text, self.ui.terminologyButton.enabled = text, pickable and not self.session.busy

    def onPickTerminology(self) -> None:
        import slicer

        from .terminology import pick_terminology
        dialog = slicer.util.loadUI(self.resourcePath(TERMINOLOGY_UI))
        navigator = slicer.util.findChild(dialog, "navigator")
        # Slicer's own Python calls exec_() (PythonQt, every tag); Qt6 bindings name it exec (PySide6 deprecates exec_)
        run_dialog = getattr(dialog, "exec", None) or dialog.exec_
        pick_terminology(self.session.cases, navigator, run_dialog, slicer.modules.terminologies.logic(),
                         slicer.vtkSlicerTerminologyEntry())
        self.poll()   # the Classes row and Train's reason follow the segments
