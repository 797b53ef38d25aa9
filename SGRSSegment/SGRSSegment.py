"""SGRSSegment: segment a scan with an SGRS-Net model and show where the model can be trusted.

Thin by design: the widget binds the .ui and calls SGRSSegmentLib, which does all the work.
"""
import os

import qt
import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

POLL_MS = 300


class SGRSSegment(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = _("SGRS Segment")
        parent.categories = [_("Segmentation")]
        parent.contributors = ["SGRS developers"]
        parent.helpText = _("Segment a scan with an SGRS-Net model. Besides the segmentation, shows the regions "
                            "where the model is uncertain (Δ) or fragile under perturbation (Θ) and an "
                            "uncertainty heat map.")
        parent.acknowledgementText = _("SGRS-Net: Wang et al., MICCAI 2025.")


class SGRSSegmentWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    # states of the Segment button: idle → running (button reads Cancel) → idle
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        VTKObservationMixin.__init__(self)
        from SGRSSegmentLib import SGRSSegmentLogic

        from sgrs.models.registry import list_models

        ui_widget = slicer.util.loadUI(self.resourcePath("UI/SGRSSegment.ui"))
        self.layout.addWidget(ui_widget)
        self.ui = slicer.util.childWidgetVariables(ui_widget)
        ui_widget.setMRMLScene(slicer.mrmlScene)
        self.logic = SGRSSegmentLogic(slicer.mrmlScene)
        self.job = None
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.models = list_models()
        self.refreshModels()
        for name in ("auto", "cuda", "cpu", "mps"):
            self.ui.deviceComboBox.addItem(name)
        self.ui.deltaRuleComboBox.addItems(["union", "intersection"])
        self.ui.applyButton.clicked.connect(self.onApply)
        self.ui.importModelButton.clicked.connect(self.onImportModel)
        self.ui.regionOpacitySlider.valueChanged.connect(self.onOpacity)
        self.ui.inputVolumeSelector.currentNodeChanged.connect(lambda _node: self.updateButtons())
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.updateButtons()

    def onSceneStartClose(self, caller, event):
        if self.job is not None:  # the input is going away: stop, import nothing
            self.job.cancel()
            self.finish(_("Cancelled: the scene was closed."))

    def cleanup(self):
        if self.job is not None:
            self.job.cancel()  # never leave an orphaned process behind
        self.removeObservers()

    def refreshModels(self, select=None):
        from sgrs.models.registry import list_models
        self.models = list_models()
        self.ui.modelComboBox.clear()
        for entry in self.models:
            self.ui.modelComboBox.addItem(entry.label(), str(entry.path))
        if select:
            self.ui.modelComboBox.setCurrentIndex(max(0, self.ui.modelComboBox.findData(str(select))))

    def parameters(self):
        from SGRSSegmentLib import SegmentParameters
        return SegmentParameters(
            volume=self.ui.inputVolumeSelector.currentNode(), model=self.ui.modelComboBox.currentData or "",
            device=self.ui.deviceComboBox.currentText, overlap=self.ui.overlapSlider.value,
            regions=self.ui.regionsCheckBox.checked, tau=self.ui.tauSpinBox.value,
            delta_rule=self.ui.deltaRuleComboBox.currentText, region_opacity=self.ui.regionOpacitySlider.value)

    def updateButtons(self):
        ok, reason = self.parameters().is_valid()
        running = self.job is not None
        self.ui.applyButton.text = _("Cancel") if running else _("Segment")
        self.ui.applyButton.enabled = running or ok
        self.ui.applyButton.toolTip = reason
        if not running:
            self.ui.statusLabel.text = reason or _("Ready.")

    def onApply(self):
        if self.job is not None:
            self.job.cancel()
            self.finish(_("Cancelled."))
            return
        from SGRSSegmentLib.dependencies import missing_packages
        if not self.ensureDependencies(missing_packages()):
            return
        from SGRSSegmentLib.job import SegmentJob

        from sgrs.util.device import resolve_device
        from sgrs.util.errors import SGRSError
        params = self.parameters()
        try:
            if resolve_device(params.device).type == "cpu":
                self.ui.statusLabel.text = _("Running on the CPU: this can take minutes.")
            self.job = SegmentJob(self.logic, params, python=self.pythonExecutable()).start()
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))
            return
        self.ui.progressBar.value = 0
        self.timer.start()
        self.updateButtons()

    def poll(self):
        from sgrs.util.errors import SGRSError
        if self.job.poll():
            done, total = self.job.progress
            self.ui.progressBar.maximum, self.ui.progressBar.value = max(total, 1), done
            return
        try:
            result = self.job.result()
        except SGRSError as exc:
            self.finish(str(exc), error=True)
            return
        slicer.util.setSliceViewerLayers(foreground=result.entropy, label=result.regions, foregroundOpacity=0.3)
        shares = result.summary.get("regions", {})
        text = ", ".join(f"{r['name']} {100 * r['share_of_foreground']:.1f} %" for r in shares.values())
        self.finish(_("Done in {s:.1f} s. {t}").format(s=result.summary["seconds"], t=text))

    def finish(self, message, error=False):
        self.timer.stop()
        self.job = None
        self.updateButtons()
        self.ui.statusLabel.text = message
        if error:
            slicer.util.errorDisplay(message)

    def onOpacity(self, value):
        for node in slicer.util.getNodesByClass("vtkMRMLLabelMapVolumeNode"):
            if node.GetName().endswith("SGRS regions") and node.GetDisplayNode():
                node.GetDisplayNode().SetOpacity(value)

    def onImportModel(self):
        from sgrs.models.checkpoint import import_checkpoint
        from sgrs.models.registry import register, registry_folder
        from sgrs.util.errors import SGRSError
        path = qt.QFileDialog.getOpenFileName(None, _("Import model"), "", _("Bundle or PyTorch checkpoint (model.json *.pth *.pt)"))
        if not path:
            return
        try:
            if path.endswith((".pth", ".pt")):  # read with weights_only=True, never executed
                bundle = import_checkpoint(path, registry_folder() / os.path.splitext(os.path.basename(path))[0])
                self.refreshModels(select=bundle)
            else:
                entry = register(os.path.dirname(path))
                self.refreshModels(select=entry.path)
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))

    def ensureDependencies(self, missing):
        from SGRSSegmentLib.dependencies import DependencyError, install
        if not missing:
            return True
        if not slicer.util.confirmOkCancelDisplay(
                _("SGRS needs these Python packages, which will be installed now:\n\n{p}").format(p="\n".join(missing))):
            return False
        try:
            install(missing)
        except DependencyError as exc:
            slicer.util.errorDisplay(str(exc))
            return False
        return True

    def pythonExecutable(self):
        import shutil
        return shutil.which("PythonSlicer")


class SGRSSegmentTest(ScriptedLoadableModuleTest):
    """Runs in the real Slicer: the logic on a small phantom volume with the bundled demo model."""

    def runTest(self):
        slicer.mrmlScene.Clear()
        self.test_process_demo()

    def test_process_demo(self):
        import tempfile
        from pathlib import Path

        from SGRSSegmentLib import SegmentParameters, SGRSSegmentLogic

        from sgrs.data.image_io import write_image
        from sgrs.data.phantom import make_case
        from sgrs.models.registry import DEMO_MODEL
        image, _label, geometry = make_case(0, seed=99)
        path = Path(tempfile.mkdtemp()) / "phantom.nrrd"
        write_image(image, geometry, path)
        volume = slicer.util.loadVolume(str(path))
        result = SGRSSegmentLogic(slicer.mrmlScene).process(
            SegmentParameters(volume=volume, model=str(DEMO_MODEL), device="cpu"))
        self.assertEqual(result.segmentation.GetSegmentation().GetNumberOfSegments(), 1)
        self.assertEqual(result.table.GetNumberOfRows(), 3)
        self.delayDisplay("SGRSSegment test passed")
