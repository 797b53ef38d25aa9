"""SGRSSegment: segment a scan with SGRS-Net, show where to trust it. The widget only binds; SGRSSegmentLib decides."""
import shutil
from typing import Annotated

import qt
import slicer
from SGRSSegmentLib.sample_data import register_demo_sample
from slicer import vtkMRMLMarkupsROINode, vtkMRMLScalarVolumeNode
from slicer.i18n import tr as _, translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule as Module
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic as ModuleLogic
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest as ModuleTest
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget as ModuleWidget
from slicer.util import VTKObservationMixin
from SGRSSegmentLib.panel import ParameterPanel, repaired_node

from sgrs.inference.defaults import DEFAULT_OVERLAP
from sgrs.method.names import DELTA_RULES, DEVICES
from sgrs.util.errors import SGRSError

POLL_MS = 300


class SGRSSegment(Module):
    def __init__(self, parent):
        Module.__init__(self, parent)
        parent.title = _("SGRS Segment")
        parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        parent.contributors = ["SGRS developers"]
        parent.helpText = _("Segment a scan with an SGRS-Net model; also shows where the model is uncertain (Δ) "
                            "or fragile under perturbation (Θ), and an uncertainty heat map.")
        parent.acknowledgementText = _("SGRS-Net: Wang et al., MICCAI 2025.")
        slicer.app.connect("startupCompleted()", register_demo_sample)


@parameterNodeWrapper
class SGRSSegmentParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    roi: vtkMRMLMarkupsROINode
    model: str = ""
    device: Annotated[str, Choice(DEVICES)] = "auto"
    overlap: Annotated[float, WithinRange(0.0, 0.9)] = DEFAULT_OVERLAP
    regions: bool = True
    tau: Annotated[float, WithinRange(0.0, 1.0)] = 0.296
    deltaRule: Annotated[str, Choice(DELTA_RULES)] = "union"
    regionOpacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    showDelta: bool = True
    showTheta: bool = True
    showOmega: bool = False


class SGRSSegmentLogic(ModuleLogic):
    def getParameterNode(self):
        return repaired_node(SGRSSegmentParameterNode, super().getParameterNode())

    def process(self, params, progress=None):
        """Segment in this process (the Python console, scripts); see SGRSSegmentLib.logic.process."""
        from SGRSSegmentLib.logic import SGRSSegmentLogic as SceneLogic
        return SceneLogic(slicer.mrmlScene).process(params, progress)


class SGRSSegmentWidget(ParameterPanel, ModuleWidget, VTKObservationMixin):
    def setup(self):
        ModuleWidget.setup(self)
        VTKObservationMixin.__init__(self)
        from SGRSSegmentLib.session import SegmentSession
        self.params, self.guiTag, self.timer, self.logic = None, None, qt.QTimer(), SGRSSegmentLogic()
        self.timer.timeout.connect(self.poll)
        self.uiWidget = slicer.util.loadUI(self.resourcePath("UI/SGRSSegment.ui"))
        self.layout.addWidget(self.uiWidget)
        self.ui = slicer.util.childWidgetVariables(self.uiWidget)
        self.uiWidget.setMRMLScene(slicer.mrmlScene)
        self.session = SegmentSession(slicer.mrmlScene, python=shutil.which("PythonSlicer"), on_change=self.updateButtons)
        self.ui.applyButton.clicked.connect(self.onApply)
        self.ui.importModelButton.clicked.connect(self.onImportModel)
        self.ui.reviewedButton.clicked.connect(self.onReviewed)
        self.ui.nextRegionButton.clicked.connect(self.session.next_region)  # the Lib centres the slice views
        self.ui.previousRegionButton.clicked.connect(self.session.previous_region)
        self.ui.modelComboBox.currentIndexChanged.connect(self.onModelChanged)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.setParameterNode(self.logic.getParameterNode())
        self.refreshModels()

    def cleanup(self):
        try:  # must never raise, whatever setup got to; session.close() itself never raises
            self.timer.stop()
            self.session.close()
            self.unbind()
            self.removeObservers()
        except Exception:  # noqa: BLE001
            pass

    def onSceneStartClose(self, caller, event):
        self.session.forget()  # the input and the result are going away: stop, import nothing
        self.timer.stop()
        self.setParameterNode(None)
        self.updateButtons()

    def onParameters(self, caller=None, event=None):
        from SGRSSegmentLib.display import apply_region_settings
        from SGRSSegmentLib.models import show_model
        if self.params:  # none while the panel is hidden (review finding 7)
            show_model(self.ui.modelComboBox, self.params)  # a reset or loaded node's model (review finding 2)
            apply_region_settings(slicer.mrmlScene, self.session.result, self.params)
        if self.ui.modelComboBox.currentData != self.ui.modelCardLabel.property("model"):  # shown model's card
            self.ui.modelCardLabel.setProperty("model", self.ui.modelComboBox.currentData)
            self.ui.modelCardLabel.text = self.session.model_card(self.ui.modelComboBox.currentData or "")
        self.updateButtons()

    def refreshModels(self):
        from SGRSSegmentLib.models import show_model
        if self.params:
            show_model(self.ui.modelComboBox, self.params, refresh=True)

    def onModelChanged(self, index):
        from SGRSSegmentLib.parameters import follow_model
        if self.params and index >= 0:
            follow_model(self.params, self.ui.modelComboBox.currentData or "")  # onParameters shows its card

    def settings(self):
        from SGRSSegmentLib.parameters import parameters_from_settings
        return parameters_from_settings(self.params) if self.params else None

    def updateButtons(self):
        act = self.session.action(self.settings())
        self.ui.applyButton.text, self.ui.applyButton.enabled = act.label, act.enabled  # translated in the Lib
        self.ui.applyButton.toolTip, self.ui.statusLabel.text = act.reason, act.status
        self.showSeverity()
        self.ui.reviewedButton.enabled = self.session.has_result

    def showSeverity(self):
        from SGRSSegmentLib.session import STATUS_STYLES as S  # the engine's flag (never green) and its words
        self.ui.statusLabel.styleSheet, self.ui.statusLabel.toolTip = S[self.session.severity], self.session.flag_tip

    def onApply(self):
        from SGRSSegmentLib.dependencies import ensure
        kind = self.session.action(self.settings()).kind
        try:
            if kind == "cancel":
                self.session.cancel()
            elif kind == "install" and ensure(slicer.util.confirmOkCancelDisplay, slicer.util.errorDisplay):
                self.refreshModels()
            elif kind == "segment":
                question = self.session.preview_question(self.settings())
                if not question or slicer.util.confirmOkCancelDisplay(question):  # far from the model's world?
                    self.session.start(self.settings())
                    self.timer.start(POLL_MS)
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))
        self.updateButtons()

    def poll(self):
        from SGRSSegmentLib.display import show_result
        state = None
        try:
            state = self.session.poll()  # never raises for the job's own failures (review finding 4)
            done, total = self.session.progress
            self.ui.progressBar.maximum, self.ui.progressBar.value = max(total, 1), done
            self.ui.statusLabel.text = self.session.message
            self.showSeverity()
            if state == "done":
                show_result(slicer.mrmlScene, self.session.result, self.logic.getParameterNode().regionOpacity)
                self.onParameters()  # the region switches apply to the new map too
        finally:
            if state != "running":  # whatever went wrong above, no timer keeps calling it
                self.timer.stop()
                self.updateButtons()
        if state == "failed":
            slicer.util.errorDisplay(self.session.message)

    def onReviewed(self):
        from SGRSSegmentLib.labels import mark_reviewed
        mark_reviewed(self.session.result.segmentation)  # SGRS Train now counts it as a label
        self.ui.statusLabel.text = _("Marked as reviewed: SGRS Train uses it as a label.")

    def onImportModel(self):
        from SGRSSegmentLib.models import import_model
        from SGRSSegmentLib.parameters import follow_model
        path = qt.QFileDialog.getOpenFileName(None, _("Import model"), "", _("Model (model.json *.pth *.pt)"))
        try:
            if path:  # a bundle needs no torch; a .pth without it is a one-line error (item 10)
                follow_model(self.params, str(import_model(path)))
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))
        self.refreshModels()


class SGRSSegmentTest(ModuleTest):
    def runTest(self):  # in the real Slicer: the session on the demo phantom with the demo model
        from SGRSSegmentLib.dependencies import self_test_skip_reason
        if self_test_skip_reason():  # extension build machines have no torch: skip, do not fail
            return self.delayDisplay(self_test_skip_reason())
        from SGRSSegmentLib.self_test import segment_demo
        slicer.mrmlScene.Clear()
        session = segment_demo(slicer.mrmlScene, slicer.util.loadVolume, shutil.which("PythonSlicer"),
                               slicer.app.processEvents)
        self.assertEqual((session.state, session.result.table.GetNumberOfRows()), ("done", 3), session.message)
