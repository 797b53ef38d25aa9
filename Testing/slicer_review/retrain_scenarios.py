"""Issue 28 item 2 (the retrain loop) in SGRS Train as Slicer's own code drives it: the panel made and
bound by Slicer's ScriptedLoadableModuleWidget / parameterNodeWrapper / VTKObservationMixin at one tag
(scenarios.py builds the harness), real scenes (slicer-core), real engine processes for the runs.
Each check prints one line through ``check``; ``run(h)`` takes scenarios.py's helpers."""
import json
import os
import shutil
import sys
import time
from pathlib import Path

SCENARIOS = []


def scenario(function):
    SCENARIOS.append(function)
    return function


def texts(h, w):
    return w.ui.trainButton.text, w.ui.trainButton.enabled, w.ui.statusLabel.text, w.ui.estimateLabel.text


def settle(h, w, until, timeout=300):
    """The panel's timer, by hand (no event loop here): poll until ``until(w)`` or timeout."""
    end = time.time() + timeout
    while time.time() < end:
        h.app.processEvents()
        w.poll()
        if until(w):
            return True
        time.sleep(0.2)
    return False


def add_cases(h, labelled, unlabelled, size=(48, 48, 32)):
    """Phantom scans loaded through the real storage node; the labelled ones get a hand-made segmentation."""
    from sgrs.data.phantom import write_cohort
    slicer, scene = h.slicer, h.slicer.mrmlScene
    cohort = h.work / f"phantoms-{len(labelled) + len(unlabelled)}-{size[0]}"
    if not (cohort / "manifest.json").exists():
        write_cohort(cohort, cases=len(labelled) + len(unlabelled), seed=3, val=0, test=0, size=size)
    logic = slicer.modules.segmentations.logic()
    for i, name in enumerate(list(labelled) + list(unlabelled)):
        vol = load(h, cohort / "images" / f"case{i:03d}.nrrd", name, "vtkMRMLScalarVolumeNode")
        if name in labelled:
            lab = load(h, cohort / "labels" / f"case{i:03d}.nrrd", name + " label", "vtkMRMLLabelMapVolumeNode")
            seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name + " segmentation")
            seg.SetReferenceImageGeometryParameterFromVolumeNode(vol)
            assert logic.ImportLabelmapToSegmentationNode(lab, seg)
            scene.RemoveNode(lab)
    return cohort


def load(h, path, name, cls):
    scene = h.slicer.mrmlScene
    node = scene.AddNewNodeByClass(cls, name)
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node)
    node.SetAndObserveStorageNodeID(storage.GetID())
    return node


def add_photo(h, name="photo"):
    import vtk
    image = vtk.vtkImageData()
    image.SetDimensions(8, 8, 4)
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 3)
    photo = h.slicer.mrmlScene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", name)
    photo.SetAndObserveImageData(image)
    return photo


def add_localizer(h, name="localizer"):
    """A single-slice scalar volume (a DICOM scout/localizer loads as one)."""
    import vtk
    image = vtk.vtkImageData()
    image.SetDimensions(64, 64, 1)
    image.AllocateScalars(vtk.VTK_SHORT, 1)
    node = h.slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    node.SetAndObserveImageData(image)
    return node


def fresh(h):
    """A new panel on an empty scene, jobs and registry of this run only."""
    h.slicer.mrmlScene.Clear(1)
    h.messages.clear()
    return h.make("SGRSTrain")


@scenario
def presets_and_defaults_agree(h):
    from sgrs.training.presets import PRESETS
    w = fresh(h)
    p, combo = w.params, w.ui.presetComboBox

    def agree():
        chosen = PRESETS[p.preset]
        return (combo.currentText == p.preset and p.iterations == chosen.iterations and
                w.ui.iterationsSpinBox.value == chosen.iterations and
                p.device == ("cpu" if chosen.device == "cpu" else "auto") and
                f"{chosen.iterations} iterations" in w.ui.estimateLabel.text)

    h.check("a fresh node runs the preset shown, whose estimate is shown", agree(),
            (combo.currentText, p.iterations, p.device, w.ui.estimateLabel.text))
    combo.activated.emit(combo.currentIndex)   # the user re-picks the preset shown: Qt emits activated only
    h.check("re-picking the shown preset keeps preset and settings agreeing", agree(), (p.iterations, p.device))
    w.ui.iterationsSpinBox.value = 1000
    h.check("the estimate follows the iterations typed", "1000 iterations" in w.ui.estimateLabel.text,
            w.ui.estimateLabel.text)
    combo.activated.emit(combo.currentIndex)
    h.check("re-picking the shown preset after editing its iterations runs the preset again", agree(),
            (p.iterations, w.ui.estimateLabel.text))
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    h.check("picking another preset sets its settings and estimate", agree(), (p.preset, p.iterations, p.device))
    w.cleanup()


@scenario
def setup_refreshes_before_dependencies_are_installed(h):
    saved = sys.modules.get("torch", "absent")
    sys.modules["torch"] = None   # injected: a fresh Slicer has no torch (find_spec then answers None)
    try:
        w = fresh(h)
        button, enabled, status, estimate = texts(h, w)
        h.check("at setup without torch the button offers the install", button == "Install dependencies…" and
                enabled, button)
        h.check("at setup the estimate is shown", estimate.startswith("Expected run time: about"), estimate)
        w.exit()
    finally:
        if saved == "absent":
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved
    w.enter()   # installed meanwhile (from SGRS Segment, or the Python console)
    h.check("shown again after the install the button says Train", w.ui.trainButton.text == "Train",
            w.ui.trainButton.text)
    w.cleanup()


def job_folder(h, name, events, checkpoint=False, log=None, model=None):
    folder = h.jobs / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    if checkpoint:
        (folder / "checkpoint.safetensors").write_bytes(b"")
    if log:
        (folder / "train.log").write_text(log)
    if model:
        shutil.copytree(model, folder / "model")
    (h.jobs / "last-job.txt").write_text(str(folder))
    return folder


STARTED = {"event": "started", "iteration": 0, "iterations": 300}


@scenario
def setup_reattaches_only_running_or_unregistered(h):
    from sgrs.models.registry import list_models
    failed = job_folder(h, "failed", [STARTED, {"event": "failed", "reason": "/data/x/manifest.json: no unlabelled "
                                                "case left for semi-supervised training (use --method supervised)"}])
    w = fresh(h)
    h.check("a failed job is not re-attached at setup", w.session.job is None and "Failed" not in
            w.ui.statusLabel.text, w.ui.statusLabel.text)
    w.attach(str(failed))   # Open job…: the user asks to see it
    status = w.ui.statusLabel.text
    h.check("an opened failed job says why in the GUI's words", status.startswith("Failed: every case is labelled")
            and "--" not in status and "/" not in status, status)
    h.check("a failed job whose cause repeats offers no Resume", not w.ui.resumeButton.enabled)
    w.cleanup()
    job_folder(h, "cancelled", [STARTED, {"event": "step", "iteration": 5, "loss": 0.5},
                                {"event": "cancelled"}], checkpoint=True)
    w = fresh(h)
    h.check("a cancelled job is not re-attached at setup", w.session.job is None, w.ui.statusLabel.text)
    w.cleanup()
    demo = next(e.path for e in list_models() if e.bundled)
    done = job_folder(h, "finished", [], model=demo)
    events = [STARTED, {"event": "finished", "model": str(done / "model")}]
    (done / "progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    w = fresh(h)
    h.check("a finished, unregistered job is re-attached and registered at setup",
            w.session.state == "done" and w.ui.statusLabel.text.startswith("Finished: model"), w.ui.statusLabel.text)
    h.check("the registered model is offered as a base model", any(
        w.ui.baseModelComboBox.itemData(i) == str(w.session.registered.path)
        for i in range(w.ui.baseModelComboBox.count)) if w.session.registered else False)
    w.cleanup()
    w = fresh(h)
    h.check("a registered job is not re-attached again", w.session.job is None, w.ui.statusLabel.text)
    w.cleanup()
    import subprocess
    from sgrs.util.background import LAUNCHER_FILE, _write_record
    running = job_folder(h, "running", [STARTED, {"event": "step", "iteration": 3, "loss": 0.4, "it_per_s": 2.0}])
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _write_record(running / LAUNCHER_FILE, proc.pid)
        w = fresh(h)
        h.check("a running job is re-attached at setup with Cancel", w.session.state == "running" and
                w.ui.trainButton.text == "Cancel", (w.session.state, w.ui.trainButton.text))
        h.check("a running job's estimate is its own measured speed", "measured in this run" in
                w.ui.estimateLabel.text, w.ui.estimateLabel.text)
        w.cleanup()
    finally:
        proc.kill()
        proc.wait()


@scenario
def train_disabled_with_a_reason(h):
    w = fresh(h)
    add_cases(h, ("lab0",), ())
    add_photo(h)
    w.ui.collectButton.click()
    button, enabled, status, _ = texts(h, w)
    h.check("1 labelled, 0 unlabelled: Train disabled, the supervised alternative offered",
            not enabled and "'supervised'" in status and "--" not in status, status)
    h.check("a vector volume is left out of the cases with a note", w.ui.casesTable.rowCount == 1 and
            "'photo'" in status, (w.ui.casesTable.rowCount, status))
    from sgrs.method.names import METHODS
    w.ui.methodComboBox.setCurrentIndex(METHODS.index("supervised"))   # the items show words, not the names
    h.check("choosing supervised enables Train", w.params.method == "supervised" and w.ui.trainButton.enabled,
            (w.params.method, w.ui.trainButton.enabled, w.ui.statusLabel.text))
    w.ui.methodComboBox.setCurrentIndex(METHODS.index("sgrs"))
    h.check("choosing sgrs again disables Train", not w.ui.trainButton.enabled, w.ui.statusLabel.text)
    w.cleanup()


@scenario
def a_single_slice_scan_does_not_block_training(h):
    w = fresh(h)
    add_cases(h, ("lab0",), ("unl0",))
    add_localizer(h)
    w.ui.collectButton.click()
    h.check("a single-slice scan is left out of the cases with a note", w.ui.casesTable.rowCount == 2 and
            "'localizer'" in w.ui.statusLabel.text, (w.ui.casesTable.rowCount, w.ui.statusLabel.text))
    w.cleanup()


@scenario
def an_unusable_jobs_folder_is_one_line(h):
    w = fresh(h)
    add_cases(h, ("lab0",), ("unl0",))
    w.ui.collectButton.click()
    (h.work / "a-file").write_text("")
    w.params.jobsFolder = h.work / "a-file" / "jobs"
    try:
        w.ui.trainButton.click()
        h.check("a jobs folder that cannot be made is one line", len(h.messages) == 1 and
                "\n" not in h.messages[0] and str(h.work) not in h.messages[0], h.messages)
    except Exception as exc:  # noqa: BLE001
        h.check("a jobs folder that cannot be made is one line", False, repr(exc))
    w.cleanup()


@scenario
def case_states_as_every_panel_says_them(h):
    from SGRSSegmentLib.labels import mark_generated, mark_reviewed
    from SGRSTrainLib.case_state import case_states, state_text
    w = fresh(h)
    add_cases(h, ("hand", "guess", "accepted"), ("none",))
    scene = h.slicer.mrmlScene
    mark_generated(scene.GetFirstNodeByName("guess segmentation"))
    accepted = scene.GetFirstNodeByName("accepted segmentation")
    mark_generated(accepted)
    mark_reviewed(accepted)
    w.ui.collectButton.click()
    table = {w.ui.casesTable.item(r, 1).text(): w.ui.casesTable.item(r, 2).text()
             for r in range(w.ui.casesTable.rowCount)}
    studio = {scene.GetNodeByID(k).GetName(): state_text(v) for k, v in case_states(scene).items()}
    h.check("case table: no result / model result / reviewed", table == {
        "hand": "reviewed (a label)", "guess": "model result (a guess)", "accepted": "reviewed (a label)",
        "none": "no result"}, table)
    h.check("the case table says what the Studio's panels say", table == studio, studio)
    h.check("the status line counts what the table says", "2 labelled, 2 unlabelled" in w.ui.statusLabel.text,
            w.ui.statusLabel.text)
    w.cleanup()


@scenario
def runs_end_as_the_panel_says(h):
    """Real engine runs from the panel's buttons: finished, cancelled, failed."""
    if os.environ.get("REVIEW_NO_RUNS"):
        return h.say("skip", "real runs (REVIEW_NO_RUNS)")
    w = fresh(h)
    add_cases(h, ("lab0", "lab1"), ("unl0",))
    add_photo(h)
    w.ui.collectButton.click()
    w.ui.iterationsSpinBox.value = 2
    w.ui.trainButton.click()
    job = w.session.job.folder if w.session.job else None
    manifest = json.loads((job / "cohort" / "manifest.json").read_text()) if job else {"cases": []}
    h.check("Train exports the scalar cases only (a vector volume in the scene)", len(manifest["cases"]) == 3,
            (h.messages, w.ui.statusLabel.text))
    h.check("while running the button is Cancel", w.ui.trainButton.text == "Cancel", w.ui.trainButton.text)
    settle(h, w, lambda w: not w.session.busy)
    h.check("completion reaches the status line", w.ui.statusLabel.text.startswith("Finished: model"),
            w.ui.statusLabel.text)
    h.check("after the run the estimate is measured on this machine", "measured on this machine" in
            w.ui.estimateLabel.text, w.ui.estimateLabel.text)
    w.ui.iterationsSpinBox.value = 2000
    w.ui.trainButton.click()
    settle(h, w, lambda w: (w.session.status and w.session.status.iteration or 0) >= 1 or not w.session.busy)
    w.ui.trainButton.click()   # Cancel
    h.check("Cancel asks for a checkpoint", w.ui.trainButton.text == "Cancelling…" and
            not w.ui.trainButton.enabled, w.ui.trainButton.text)
    settle(h, w, lambda w: not w.session.busy)
    h.check("cancel reaches the status line, Resume offered", w.ui.statusLabel.text.startswith("Cancelled") and
            w.ui.resumeButton.enabled, (w.ui.statusLabel.text, w.ui.resumeButton.enabled))
    w.cleanup()
    w = fresh(h)
    h.check("the cancelled run is not re-attached at the next setup", w.session.job is None, w.ui.statusLabel.text)
    cohort = add_cases(h, ("a", "b"), ())
    manifest = json.loads((cohort / "manifest.json").read_text())
    for case in manifest["cases"]:
        case["split"] = "train"
    (cohort / "manifest.json").write_text(json.dumps(manifest))
    w.params.cohortFolder = cohort
    w.ui.trainButton.click()
    settle(h, w, lambda w: not w.session.busy)
    status = w.ui.statusLabel.text
    h.check("an engine failure reaches the status line in the GUI's words", status.startswith("Failed:") and
            "--" not in status and str(cohort) not in status, status)
    h.check("a failure that would repeat offers no Resume", not w.ui.resumeButton.enabled)
    w.params.cohortFolder = Path(".")   # cleared: the scene's cases again ('a', 'b': both labelled)
    w.ui.collectButton.click()
    status = w.ui.statusLabel.text
    h.check("Collect after a job's end says the cases and why Train is disabled", status.startswith(
        "2 labelled, 0 unlabelled cases.") and "'supervised'" in status and not w.ui.trainButton.enabled, status)
    w.cleanup()


def run(h):
    import traceback
    for function in SCENARIOS:
        try:
            function(h)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            h.say("FAIL", function.__name__, "raised")
        stop_jobs(h)
        h.slicer.mrmlScene.Clear(1)


def stop_jobs(h):
    """No engine outlives its scenario (one that raised mid-run would leave its job training)."""
    from sgrs.util.background import folder_processes, kill_tree
    for folder in h.jobs.glob("*") if h.jobs.is_dir() else []:
        kill_tree(folder_processes(folder))
