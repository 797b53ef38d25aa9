"""SGRSTrain: fine-tune an SGRS-Net model on the cases in the scene (labelled + unlabelled).

Thin by design: the widget binds the .ui and calls SGRSTrainLib; training runs in a background
``sgrs train`` process watched through its job folder, so it survives a module reload or restart.
"""
from pathlib import Path

import qt
import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)

POLL_MS = 1000
LAST_JOB_KEY = "SGRS/lastTrainingJob"


class SGRSTrain(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = _("SGRS Train")
        parent.categories = [_("Segmentation")]
        parent.contributors = ["SGRS developers"]
        parent.helpText = _("Semi-supervised fine-tuning of an SGRS-Net model on the scene's cases: volumes with "
                            "a segmentation are labelled, the others unlabelled. Suggests which unlabelled cases "
                            "are worth annotating next.")
        parent.acknowledgementText = _("SGRS-Net: Wang et al., MICCAI 2025.")


class SGRSTrainWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        from SGRSTrainLib.plot import TrainingPlot
        ui_widget = slicer.util.loadUI(self.resourcePath("UI/SGRSTrain.ui"))
        self.layout.addWidget(ui_widget)
        self.ui = slicer.util.childWidgetVariables(ui_widget)
        ui_widget.setMRMLScene(slicer.mrmlScene)
        self.segmentations_logic = slicer.modules.segmentations.logic()
        self.cases, self.job, self.plot = [], None, None
        self.ui.casesTable.setHorizontalHeaderLabels([_("Case"), _("Labelled"), _("Δ∪Θ share")])
        for name in ("auto", "cuda", "cpu", "mps"):
            self.ui.deviceComboBox.addItem(name)
        self.ui.jobFolderSelector.filters = self.ui.jobFolderSelector.Dirs
        self.refreshModels()
        self.ui.collectButton.clicked.connect(self.onCollect)
        self.ui.rankButton.clicked.connect(self.onRank)
        self.ui.trainButton.clicked.connect(self.onTrain)
        self.ui.attachButton.clicked.connect(self.onAttach)
        self.ui.resumeButton.clicked.connect(self.onResume)
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        last = qt.QSettings().value(LAST_JOB_KEY)
        if last and Path(last, "config.json").exists():
            self.attach(last)  # a job started before a reload or restart is picked up again
        self.plot = self.plot or TrainingPlot(slicer.mrmlScene)
        self.ui.plotWidget.setMRMLPlotViewNode(self.plotView())

    def cleanup(self):
        self.timer.stop()  # the job keeps running; it is re-attached next time

    def plotView(self):
        view = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotViewNode")
        view.SetPlotChartNodeID(self.plot.chart.GetID())
        return view

    def refreshModels(self):
        from sgrs.models.registry import list_models
        self.ui.baseModelComboBox.clear()
        self.ui.baseModelComboBox.addItem(_("(new model)"), "")
        for entry in list_models():
            self.ui.baseModelComboBox.addItem(entry.label(), str(entry.path))

    def onCollect(self):
        from SGRSTrainLib import collect_cases
        self.cases = collect_cases(slicer.mrmlScene)
        self.showCases({})
        n_lab = sum(c.labelled for c in self.cases)
        self.ui.statusLabel.text = _("{l} labelled, {u} unlabelled cases.").format(l=n_lab, u=len(self.cases) - n_lab)

    def showCases(self, shares):
        table = self.ui.casesTable
        table.setRowCount(len(self.cases))
        for row, case in enumerate(self.cases):
            share = shares.get(case.volume.GetID())
            for col, text in enumerate([case.volume.GetName(), _("yes") if case.labelled else _("no"),
                                        "" if share is None else f"{100 * share:.1f} %"]):
                table.setItem(row, col, qt.QTableWidgetItem(text))

    def onRank(self):
        from SGRSTrainLib import rank_unlabelled

        from sgrs.util.errors import SGRSError
        model = self.ui.baseModelComboBox.currentData
        if not model or not self.cases:
            self.ui.statusLabel.text = _("Collect cases and pick a base model to rank with.")
            return
        try:
            with slicer.util.tryWithErrorDisplay(_("Ranking failed."), waitCursor=True):
                ranked = rank_unlabelled(self.cases, model, self.ui.deviceComboBox.currentText)
        except SGRSError:
            return
        order = {r.case.volume.GetID(): i for i, r in enumerate(ranked)}
        self.cases.sort(key=lambda c: order.get(c.volume.GetID(), -1))
        self.showCases({r.case.volume.GetID(): r.share for r in ranked})

    def onTrain(self):
        from SGRSTrainLib import TrainJob, TrainParameters, export_cohort

        from sgrs.util.errors import SGRSError
        if self.job is not None and self.job.status().state == "running":
            self.job.cancel()  # the engine saves a checkpoint and ends as cancelled
            self.ui.statusLabel.text = _("Cancelling: saving a checkpoint…")
            return
        out = self.ui.jobFolderSelector.currentPath
        try:
            cohort = self.ui.cohortFolderSelector.currentPath
            if self.cases:
                cohort = str(export_cohort(slicer.mrmlScene, self.segmentations_logic, self.cases,
                                           Path(out) / "cohort", val=1 if sum(c.labelled for c in self.cases) > 2 else 0))
            params = TrainParameters(cohort=cohort, out=str(Path(out) / "job") if self.cases else out,
                                     base_model=self.ui.baseModelComboBox.currentData or None,
                                     iterations=self.ui.iterationsSpinBox.value, batch=self.ui.batchSpinBox.value,
                                     device=self.ui.deviceComboBox.currentText)
            self.job = TrainJob.start(params, python=self.pythonExecutable())
        except (SGRSError, OSError) as exc:
            slicer.util.errorDisplay(str(exc))
            return
        qt.QSettings().setValue(LAST_JOB_KEY, str(self.job.folder))
        self.timer.start()

    def onAttach(self):
        folder = qt.QFileDialog.getExistingDirectory(None, _("Open training job folder"))
        if folder:
            self.attach(folder)

    def attach(self, folder):
        from SGRSTrainLib import TrainJob

        from sgrs.util.errors import SGRSError
        try:
            self.job = TrainJob.attach(folder)
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))
            return
        qt.QSettings().setValue(LAST_JOB_KEY, str(folder))
        self.timer.start()
        self.poll()

    def onResume(self):
        if self.job is not None:
            self.job.resume(python=self.pythonExecutable())
            self.timer.start()

    def poll(self):
        from sgrs.models.registry import register
        from sgrs.util.progress import format_seconds
        status = self.job.status()
        running = status.state == "running"
        self.ui.trainButton.text = _("Cancel") if running else _("Train")
        self.ui.resumeButton.enabled = status.state in ("cancelled", "stopped", "failed")
        self.ui.progressBar.maximum, self.ui.progressBar.value = max(status.iterations, 1), status.iteration
        if status.eta_s is not None and running:
            self.ui.etaLabel.text = _("Iteration {i}/{n}, loss {l:.3f}, ETA {e}").format(
                i=status.iteration, n=status.iterations, l=status.loss or 0.0, e=format_seconds(status.eta_s))
        if self.plot:
            self.plot.update(status)
        if status.losses:
            self.ui.logTextEdit.setPlainText("\n".join(f"{i}\t{l:.4f}" for i, l in status.losses[-200:]))
        if running:
            return
        self.timer.stop()
        if status.state == "finished" and status.model:
            entry = register(status.model, Path(self.job.folder).name)
            self.refreshModels()
            self.ui.statusLabel.text = _("Finished: model '{m}' is ready in SGRS Segment.").format(m=entry.name)
            qt.QSettings().remove(LAST_JOB_KEY)
        else:
            self.ui.statusLabel.text = {"cancelled": _("Cancelled: Resume continues from the checkpoint."),
                                        "stopped": _("Stopped unexpectedly: Resume continues from the last checkpoint."),
                                        "failed": _("Failed: {r}").format(r=status.reason)}.get(status.state, "")

    def pythonExecutable(self):
        import shutil
        return shutil.which("PythonSlicer")


class SGRSTrainTest(ScriptedLoadableModuleTest):
    """Runs in the real Slicer: a tiny training job on phantoms, watched to the end."""

    def runTest(self):
        slicer.mrmlScene.Clear()
        import shutil
        import tempfile
        import time

        from SGRSTrainLib import TrainJob, TrainParameters

        from sgrs.data.phantom import write_cohort
        work = Path(tempfile.mkdtemp())
        write_cohort(work / "cohort", cases=5, seed=1, val=1, test=0, size=(40, 40, 24))
        job = TrainJob.start(TrainParameters(cohort=str(work / "cohort"), out=str(work / "job"), iterations=4,
                                             patch=(32, 32, 16), filters=2, labelled=2, device="cpu"),
                             python=shutil.which("PythonSlicer"))
        while job.status().state in ("running", "empty"):
            time.sleep(0.5)
            slicer.app.processEvents()
        self.assertEqual(job.status().state, "finished")
        self.delayDisplay("SGRSTrain test passed")
