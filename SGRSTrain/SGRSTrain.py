"""SGRSTrain: fine-tune SGRS-Net on the scene's cases. The widget only binds; every decision is the Lib's."""
import contextlib
import shutil
from pathlib import Path
from typing import Annotated

import qt
import slicer
from slicer.i18n import tr as _, translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule as Module, ScriptedLoadableModuleLogic as ModuleLogic
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest as ModuleTest
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget as ModuleWidget
from slicer.util import VTKObservationMixin
from SGRSSegmentLib.panel import ParameterPanel, repaired_node
from SGRSTrainLib import ClassPanel, DecisionPanel

from sgrs.method.names import DEFAULT_METHOD, DEFAULT_RECIPE, DEFAULT_TEACHER, DEVICES, METHODS, RECIPES, TEACHERS
from sgrs.training.presets import DEFAULT, DEFAULT_PRESET, PRESETS  # plain data, no torch
from sgrs.util.errors import SGRSError

POLL_MS = 1000


class SGRSTrain(Module):
    def __init__(self, parent):
        Module.__init__(self, parent)
        parent.title = _("SGRS Train")
        parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        parent.contributors = ["SGRS developers"]
        parent.helpText = _("Semi-supervised fine-tuning of SGRS-Net on the scene's cases; suggests cases to annotate.")
        parent.acknowledgementText = _("SGRS-Net: Wang et al., MICCAI 2025.")


@parameterNodeWrapper
class SGRSTrainParameterNode:
    cohortFolder: Path
    jobsFolder: Path = Path.home() / ".sgrs" / "jobs"
    baseModel: str = ""
    iterations: Annotated[int, WithinRange(1, 1000000)] = DEFAULT.iterations  # the preset shown first
    batch: Annotated[int, WithinRange(2, 64)] = DEFAULT.batch
    device: Annotated[str, Choice(DEVICES)] = DEFAULT.device
    preset: Annotated[str, Choice(list(PRESETS))] = DEFAULT_PRESET
    method: Annotated[str, Choice(METHODS)] = DEFAULT_METHOD
    recipe: Annotated[str, Choice(RECIPES)] = DEFAULT_RECIPE  # the sgrs method's; the others take the default
    teacher: Annotated[str, Choice(TEACHERS)] = DEFAULT_TEACHER
    absentClasses: str = ""  # base-model classes some labelled cases lack, comma-separated
    holdOut: str = ""  # a labelled volume's node id: never trained on, the new model and the base are checked on it


class SGRSTrainLogic(ModuleLogic):
    def getParameterNode(self):
        return repaired_node(SGRSTrainParameterNode, super().getParameterNode())


class SGRSTrainWidget(ParameterPanel, ClassPanel, DecisionPanel, ModuleWidget, VTKObservationMixin):  # Lib mixins
    def setup(self):
        ModuleWidget.setup(self)
        VTKObservationMixin.__init__(self)
        from SGRSTrainLib.session import TrainSession
        self.params = self.guiTag = self.rank = self.plot = self.session = None
        self.timer = qt.QTimer()
        self.timer.timeout.connect(self.poll)
        self.uiWidget = slicer.util.loadUI(self.resourcePath("UI/SGRSTrain.ui"))
        self.layout.addWidget(self.uiWidget)
        self.ui = slicer.util.childWidgetVariables(self.uiWidget)
        self.uiWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.cohortFolderSelector.filters = self.ui.jobFolderSelector.filters = self.ui.jobFolderSelector.Dirs
        self.logic = SGRSTrainLogic()
        for button, slot in ((self.ui.collectButton, lambda: self.showCases(None)), (self.ui.rankButton, self.onRank),
                             (self.ui.trainButton, self.onTrain), (self.ui.attachButton, self.attach),
                             (self.ui.resumeButton, lambda: self.onTrain("resume")),
                             (self.ui.terminologyButton, self.onPickTerminology)):
            button.clicked.connect(slot)
        self.ui.baseModelComboBox.currentIndexChanged.connect(self.onModelChanged)
        self.ui.presetComboBox.currentIndexChanged.connect(self.onModelChanged)  # before binding: see session.estimate
        self.ui.presetComboBox.activated.connect(lambda *_: self.onModelChanged(0, again=True))  # every pick
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.setParameterNode(self.logic.getParameterNode())
        self.session = TrainSession(slicer.mrmlScene, slicer.modules.segmentations.logic(),
                                    Path(self.params.jobsFolder), python=shutil.which("PythonSlicer"))
        self.refreshModels()  # and at set-up the estimate, the button's text (showState)
        if self.session.action().kind == "train" and self.session.last_job():
            self.attach(self.session.last_job())  # running, or finished and neither kept nor rolled back yet

    def cleanup(self):
        with contextlib.suppress(Exception):  # must never raise, whatever setup got to; the training job keeps running
            for step in (self.timer.stop, self.unbind, self.removeObservers):
                step()
            self.rank and self.rank.close()

    def onSceneStartClose(self, caller, event):
        self.rank and self.rank.close()  # its cases' volumes are going away
        self.session.cases, self.rank = [], None
        self.showCases({})
        self.setParameterNode(None)

    def onParameters(self, caller=None, event=None, refresh=False):  # also a reset or loaded node (finding 2)
        from SGRSSegmentLib.models import show_model
        if self.params:
            show_model(self.ui.baseModelComboBox, self.params, "baseModel", (_("(new model)"), ""), refresh=refresh)
            self.showState()  # every change (iterations, method, cohort, shown again): the estimate, can Train run?

    def refreshModels(self):
        self.onParameters(refresh=True)

    def onModelChanged(self, index, again=False):  # the base model or the preset picked (again: the one shown)
        if self.params and index >= 0:  # the combo shows labels; the parameter keeps the bundle path
            self.params.baseModel = self.ui.baseModelComboBox.currentData or ""
            self.session.estimate(self.params, self.ui.presetComboBox.currentIndex, again)  # a pick sets its settings

    def showState(self):  # the Train button, Resume, the status line and the estimate, as the Lib says them
        if self.params and self.session:   # bound, and setup has made the session
            act = self.session.action(self.params)
            self.ui.trainButton.text, self.ui.trainButton.enabled = act.label, act.enabled
            self.ui.resumeButton.enabled = self.session.can_resume
            self.ui.statusLabel.text = self.session.status_line(self.params)
            self.ui.estimateLabel.text = self.session.estimate(self.params)  # measured before, or by this run
            self.showClasses()  # each class with its terminology; the picker for a new model's class
            self.showDecision()  # the case held out to check a new model; Keep / Roll back while one waits

    def showCases(self, shares):
        from SGRSTrainLib.rank_session import case_rows, row_tips
        if shares is None:  # Collect
            self.session.collect(self.params)
            shares = self.poll() or {}  # poll: the status line and the Train button follow the collected cases
        self.ui.casesTable.setRowCount(len(self.session.cases))
        for row, texts in enumerate(case_rows(self.session.cases, shares)):
            for col, (text, tip) in enumerate(zip(texts, row_tips(texts))):
                (item := qt.QTableWidgetItem(text)).setToolTip(tip)  # the flag's: what it means, how often right
                self.ui.casesTable.setItem(row, col, item)

    def onRank(self):
        from SGRSTrainLib.rank_session import RankSession
        if self.rank:
            return self.rank.cancel()
        try:
            self.rank = RankSession(self.params.baseModel, self.params.device, python=shutil.which("PythonSlicer"))
            self.rank.start(self.session.cases)
            self.ui.rankButton.text = _("Cancel ranking")
            self.timer.start(POLL_MS)
        except SGRSError as exc:
            self.ui.statusLabel.text, self.rank = str(exc), None

    def onTrain(self, kind=None):
        from SGRSSegmentLib.dependencies import ensure
        from SGRSTrainLib.session import train_parameters_from_settings
        kind = kind or self.session.action().kind  # Resume passes "resume"; clicked() may pass False
        try:
            if kind in ("cancel", "resume"):
                getattr(self.session, kind)()
            elif kind == "install" and ensure(slicer.util.confirmOkCancelDisplay, slicer.util.errorDisplay):
                self.refreshModels()
            elif kind == "train":
                self.session.jobs_root = Path(self.params.jobsFolder)
                self.session.start(train_parameters_from_settings(self.params))
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))
        self.timer.start(POLL_MS)
        self.poll()  # stops the timer again unless a job runs

    def attach(self, folder=None):
        folder = folder or qt.QFileDialog.getExistingDirectory(None, _("Open training job folder"))
        try:
            if folder:
                self.session.attach(folder)
        except SGRSError as exc:
            return slicer.util.errorDisplay(str(exc))
        self.timer.start(POLL_MS)
        self.poll()

    def poll(self):
        from SGRSTrainLib.plot import TrainingPlot
        state, status = self.session.poll(), self.session.status
        if status is not None and status.iterations:
            self.plot = self.plot or TrainingPlot(slicer.mrmlScene)  # made only once a job is shown
            self.plot.update(status)
            self.ui.plotWidget.setMRMLPlotViewNode(self.plot.view)
            self.ui.progressBar.maximum, self.ui.progressBar.value = status.iterations, status.iteration
        self.refreshModels() if state == "done" else self.showState()  # refreshModels: the new model, and showState
        if self.rank:
            ranking, self.ui.statusLabel.text = self.rank.poll() in ("running", "cancelling"), self.rank.message
            if not ranking:
                self.ui.rankButton.text = _("Suggest cases to annotate")
                self.showCases(self.rank.order(self.session.cases))
                self.rank = None
        if not self.session.busy and not self.rank:
            self.timer.stop()


class SGRSTrainTest(ModuleTest):
    def runTest(self):  # in the real Slicer: a tiny training job on phantoms through the session
        from SGRSTrainLib.dependencies import self_test_skip_reason
        if self_test_skip_reason():  # extension build machines have no torch: skip, do not fail
            return self.delayDisplay(self_test_skip_reason())
        from SGRSTrainLib.self_test import train_phantoms
        session = train_phantoms(shutil.which("PythonSlicer"), slicer.app.processEvents)
        self.assertEqual(session.state, "done", session.message)
