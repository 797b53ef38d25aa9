"""The Train / Cancel state machine every GUI drives (desktop and Studio); ranking is rank_session.py.

    session = TrainSession(scene, segmentations_logic, jobs_root, registry=None, python=None)
    session.collect()          # -> [SceneCase]; labelled = a label segmentation references the volume
    session.start(params)      # TrainParameters (cohort/out may be empty): a NEW job folder under
                               # jobs_root every run, the scene's cases exported inside it
    session.attach(folder)     # take over a job started earlier (by this or another process)
    session.last_job()         # the job to re-attach after a restart (started or attached last under
                               # jobs_root: running, or finished and not yet decided) or None
    session.poll()             # from a timer: -> state; registers a model trained from scratch exactly once
    session.deciding           # a fine-tuned model waits: session.check (JOB/check.json) says how it compares
    session.keep()             # ... with the base; keep() registers it exactly once, roll_back() leaves the base
    session.roll_back()        # model selected, registers nothing, deletes nothing; the job is never offered again
    session.cancel()           # clean stop (checkpoint), the whole process tree killed after a grace
    session.resume()           # continue a cancelled / stopped / failed job from its checkpoint
    session.state              # idle | running | cancelling | done | failed | cancelled | stopped
    session.status             # JobStatus (iterations, loss, ETA, curves) or None
    session.message            # one line for a status bar
    session.registered         # ModelEntry of the registered model, once done
    session.action(params)     # Action(kind, label, enabled, reason): the Train button: cancel | cancelling |
                               # install (packages missing) | train, disabled with the reason when the
                               # collected cohort cannot train with ``params``; session.can_resume
    session.class_notes(params)  # the scene's segments that match no class of the base model (left out)
    session.hold_out_hint(params)  # what holding a labelled case out (params.hold_out: volume ids) means here
    session.status_line(params)  # SGRS Train's status line: the job's progress or end, else the cases and why
                                 # Train is disabled, for the settings as they are now

``python`` is the interpreter or launcher that runs the engine (Slicer: ``shutil.which("PythonSlicer")``).
Nothing here imports qt; creating a session never imports torch.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from SGRSSegmentLib.i18n import translate
from sgrs.util.errors import SGRSError

from . import decision
from .decision import REGISTERED_FILE  # noqa: F401  (in the job folder: the model is registered once, ever)
from .states import CANCELLED, CANCELLING, DONE, FAILED, IDLE, RUNNING, STOPPED  # noqa: F401  (re-used by callers)
LAST_JOB_FILE = "last-job.txt"       # in jobs_root: what a restarted GUI re-attaches
CHECKPOINT = "checkpoint.safetensors"  # in the job folder: what a resume continues from
CANCEL_GRACE_S = 60.0
EXIT_GRACE_S = 30.0  # after the engine's last event, for the process tree to exit (torch teardown)


class Action(NamedTuple):
    kind: str
    label: str
    enabled: bool
    reason: str = ""   # why Train is disabled, in the GUI's words


def train_parameters_from_settings(s):
    """From the module's parameter node (or the Studio's state with the same names): cohortFolder,
    baseModel, iterations, batch, device, method, recipe, teacher, preset (patch and filters; fine-tuning
    keeps the base model's), absentClasses (comma-separated class names), holdOut (a labelled volume's node id,
    "" for none). An unset folder reads as "" (a parameter node gives Path('.'))."""
    from .job import TrainParameters
    cohort = str(s.cohortFolder or "")
    absent = tuple(a.strip() for a in str(getattr(s, "absentClasses", "") or "").split(",") if a.strip())
    params = TrainParameters(cohort="" if cohort in ("", ".") else cohort, base_model=s.baseModel or None,
                             iterations=int(s.iterations), batch=int(s.batch), device=s.device,
                             method=s.method, recipe=s.recipe, teacher=s.teacher, absent=absent,
                             hold_out=(s.holdOut,) if getattr(s, "holdOut", "") else ())
    preset = preset_settings(getattr(s, "preset", ""), s.baseModel)
    if preset:
        params = replace(params, patch=tuple(preset["patch"]), filters=preset["filters"],
                         extra_args=tuple(preset["extra"]))
    return params


def as_parameters(params):
    """TrainParameters as they are, or made from a parameter node / the Studio's settings."""
    from .job import TrainParameters
    return params if isinstance(params, TrainParameters) else train_parameters_from_settings(params)


def preset_settings(preset: str, base_model: str = "") -> dict | None:
    """A training preset's settings (sgrs.training.presets); None for no preset. No torch."""
    if not preset:
        return None
    from sgrs.models.card import model_facts
    from sgrs.training.presets import apply_preset
    try:
        base = model_facts(base_model) if base_model else None
    except SGRSError:
        base = None
    return apply_preset(preset, base)


def estimate_text(params, registry=None) -> str:
    """The run time expected before Train is pressed (measured seconds per iteration here, else a guess)."""
    from sgrs.models.registry import registry_folder
    from sgrs.training.presets import train_estimate
    return train_estimate(registry_folder(registry), params.iterations, params.filters, params.batch,
                          params.patch, params.device, method=params.method, extra=params.extra_args)


def new_job_folder(root) -> Path:
    """``ROOT/job-YYYYmmdd-HHMMSS[-N]``, created here so two runs can never share one."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = "job-" + time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = root / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise SGRSError(f"{root}: cannot create a new job folder")


class TrainSession:
    def __init__(self, scene, segmentations_logic, jobs_root, registry=None, python=None):
        self.scene, self.segmentations_logic = scene, segmentations_logic
        self.jobs_root, self.registry, self.python = Path(jobs_root), registry, python  # jobs_root: settable
        self.cases: list = []
        self.job = None
        self.status = None
        self.registered = self.check = None
        self.state, self.message = IDLE, translate("SGRSTrain", "Collect the scene's cases, or choose a cohort folder.")
        self._deadline = self._exit_by = None
        self._exiting = []   # our finished jobs' processes that had not exited yet
        self._cases_said, self._job_shown = (None, ""), False   # status_line: the last Collect's (cases, line)

    def reap(self) -> int:
        """Collect the exit status of ended job processes (a GUI calls it from its timer), so none
        stays a zombie; returns how many are still exiting."""
        self._exiting = [p for p in self._exiting if p.running]
        return len(self._exiting)

    @property
    def busy(self) -> bool:
        return self.state in (RUNNING, CANCELLING)

    @property
    def can_resume(self) -> bool:
        """A cancelled or stopped job with a checkpoint; a failed one only when its cause would not come
        back (a wrong cohort or base model fails the same way again)."""
        from sgrs.training.failure_words import repeats
        if self.job is None or self.state not in (CANCELLED, STOPPED, FAILED):
            return False
        if not (self.job.folder / CHECKPOINT).exists():
            return False
        return self.state != FAILED or not repeats(self.status.reason if self.status else None)

    def action(self, params=None) -> Action:
        """The Train button; with ``params`` (TrainParameters, or the settings train_parameters_from_settings
        reads) Train is disabled when the collected cohort cannot train, ``reason`` saying why."""
        from SGRSSegmentLib.dependencies import missing_packages
        if self.state == RUNNING:
            return Action("cancel", translate("SGRSTrain", "Cancel"), True)
        if self.state == CANCELLING:
            return Action("cancelling", translate("SGRSTrain", "Cancelling…"), False)
        if missing_packages():
            return Action("install", translate("SGRSTrain", "Install dependencies…"), True)
        reason = self.blocker(as_parameters(params)) if params is not None else ""
        return Action("train", translate("SGRSTrain", "Train"), not reason, reason)

    def blocker(self, params) -> str:
        """Why the collected scene cases cannot train with ``params`` ("" when they can). A cohort folder
        is checked by the engine when the job starts. While a new model waits for Keep or Roll back, no new
        run starts: it would take the job's place and the waiting model would never be offered again."""
        if self.deciding:
            return translate("SGRSTrain", "A new model is waiting: keep it or roll back to the base model "
                                          "before training again.")
        if params.cohort:
            return ""
        if not self.cases:
            return translate("SGRSTrain", "Collect the scene's cases, or choose a cohort folder.")
        labelled = sum(c.labelled for c in self.cases)
        unlabelled = len(self.cases) - labelled
        if not labelled:
            return translate("SGRSTrain", "No labelled case: segment at least one case (or mark a model result "
                                          "reviewed), then collect the cases again.")
        if params.method != "supervised" and not unlabelled:
            return translate("SGRSTrain", "{labelled} labelled, 0 unlabelled: the '{method}' method also learns "
                                          "from unlabelled cases. Load unlabelled scans, or choose the "
                                          "'supervised' method.").format(labelled=labelled, method=params.method)
        return self._class_plan(params).problem() or \
            decision.hold_out_problem(self.cases, params.hold_out, params.base_model)

    def hold_out_hint(self, params) -> str:
        """What holding the chosen case out (or none) means for the collected cases."""
        params = as_parameters(params)
        return "" if params.cohort else decision.hold_out_hint(self.cases, params.hold_out, params.base_model)

    def class_notes(self, params) -> str:
        """The scene's segments that match no class of the base model: left out of training."""
        return self._class_plan(params).notes() if not params.cohort else ""

    def _class_plan(self, params):
        from .classes import plan_classes
        return plan_classes(self.cases, self._base_classes(params.base_model), params.absent)

    @staticmethod
    def _base_classes(base_model) -> list | None:
        """The base model's classes (its model.json, no torch); None when training from scratch."""
        if not base_model:
            return None
        from sgrs.models.meta import read_meta
        try:
            return read_meta(base_model)["classes"]
        except SGRSError:
            return None   # the engine says what is wrong with the model when the job starts

    def estimate(self, settings, preset: str | int = "", again: bool = False) -> str:
        """The run time before Train is pressed, for the settings (parameter node) with ``preset`` as
        the widget shows it: its name, or its index in PRESETS (the combo box shows translated text).
        A preset the user just picked (it differs from the stored one, or ``again``: the user picked the one
        shown once more) also sets the preset first, then the iterations, the device (a GPU preset: auto) and
        the method and recipe where the preset names them; reloading a scene does not.
        The parameter node's defaults are the default preset's (sgrs.training.presets.DEFAULT), so the preset
        shown first is what runs although showing it fires nothing.
        SGRS Train connects its preset combo box to this before binding the parameter node: slots run in
        connection order, so this sees the pick before the parameter connector stores it."""
        from sgrs.training.presets import PRESETS
        if isinstance(preset, int):
            preset = list(PRESETS)[preset] if 0 <= preset < len(PRESETS) else ""
        if preset in PRESETS and (again or preset != getattr(settings, "preset", preset)):
            chosen = PRESETS[preset]
            settings.preset = preset  # first: each assignment rewrites the bound combo boxes from the node
            settings.iterations = chosen.iterations
            settings.device = "cpu" if chosen.device == "cpu" else "auto"  # a GPU preset still runs without one
            settings.method = (preset_settings(preset, settings.baseModel) or {}).get("method") or settings.method
            settings.recipe = chosen.recipe or settings.recipe
        elif self._base_model_picked(settings):   # fine-tuning: the preset's method for it (presets.FineTuning)
            settings.method = (preset_settings(settings.preset, settings.baseModel) or {}).get("method") \
                or settings.method
        if self.busy:   # the run's own speed, from its progress events
            return "Expected run time: " + self.running_estimate()
        return "Expected run time: " + estimate_text(train_parameters_from_settings(settings), self.registry)

    _seen_base = (None, None)   # (parameter node, base model) at the last estimate

    def _base_model_picked(self, settings) -> bool:
        """True when the base model differs from the one this parameter node had at the last estimate: the
        user picked it. A node seen for the first time (set-up, a loaded scene) keeps its stored method."""
        node = getattr(settings, "parameterNode", settings)
        seen_node, seen_base = self._seen_base
        self._seen_base = (node, settings.baseModel)
        return seen_node is node and seen_base != settings.baseModel and bool(settings.baseModel)

    def running_estimate(self) -> str:
        """The time left of the shown run at the speed its progress events report."""
        from sgrs.util.speed import running_estimate
        s = self.status
        return running_estimate(s.iteration, s.iterations, s.it_per_s) if s is not None else \
            running_estimate(0, 0, None)

    def collect(self, params=None) -> list:
        """The scene's cases; with ``params`` (as for action) the message also lists the segments that match
        no class of the base model (left out of training) and why Train is disabled, if it is."""
        from .cohort import collect_cases, skipped_volumes
        self.cases = collect_cases(self.scene)
        n = sum(c.labelled for c in self.cases)
        self.message = translate("SGRSTrain", "{labelled} labelled, {unlabelled} unlabelled cases.").format(
            labelled=n, unlabelled=len(self.cases) - n)
        for why, names in skipped_volumes(self.scene).items():
            self.message += " " + translate("SGRSTrain", "Left out: {names} ({why}).").format(
                names=", ".join(f"'{name}'" for name in names), why=why)
        self._cases_said, self._job_shown = (self.cases, self.message), False   # a job's end was said before
        if params is not None:   # what is left out, and why Train is disabled (a status line shows it)
            params = as_parameters(params)
            self.message = " ".join(t for t in (self.message, self.class_notes(params), self.blocker(params)) if t)
        return self.cases

    def status_line(self, params) -> str:
        """SGRS Train's status line: a job's progress, or its end until the cases are collected again; else the
        collected cases and what is left out of them; and, when not running, why Train is disabled for ``params``
        as they are now (a method or cohort changed since the Collect)."""
        if self.busy:
            return self.message
        params = as_parameters(params)
        reason = "" if self.deciding else self.blocker(params)   # the check already says: keep it, or roll back
        if self.job is not None and (self._job_shown or self.deciding):   # the end (a new model waits: its check)
            return " ".join(t for t in (self.message, reason) if t)
        cases = self._cases_said[1] if self._cases_said[0] is self.cases else ""   # not once the scene closed
        return " ".join(t for t in (cases, self.class_notes(params), reason) if t)

    def start(self, params) -> Path:
        """Start a new job; returns its folder. SGRSError with one line when it cannot start."""
        if self.busy:
            raise SGRSError("A training job is running: cancel it first.")
        labelled = sum(c.labelled for c in self.cases)
        if not params.cohort and not labelled:
            raise SGRSError("Collect cases with at least one labelled case, or choose a cohort folder.")
        if self.blocker(params):
            raise SGRSError(self.blocker(params))
        ok, reason = replace(params, cohort=params.cohort or "scene", out="new").is_valid()
        if not ok:
            raise SGRSError(reason)
        from .job import TrainJob
        try:
            folder = new_job_folder(self.jobs_root)
        except OSError as exc:   # a file, a read-only place: said without the path, in the panel's words
            raise SGRSError(translate("SGRSTrain", "No job folder can be made in the jobs folder '{name}' ({why}): "
                                                   "choose another jobs folder.").format(
                name=self.jobs_root.name, why=exc.strerror or type(exc).__name__)) from None
        try:
            held = decision.held_cases(self.cases, params.hold_out) if params.base_model else []
            if not params.cohort:
                from .cohort import case_ids, export_cohort
                base_classes = self._base_classes(params.base_model)
                hold = [c.volume.GetID() for c in held]
                manifest = export_cohort(self.scene, self.segmentations_logic, self.cases, folder / "cohort",
                                         base_classes or ("background", "foreground"),
                                         val=1 if labelled - len(held) > 2 else 0, absent=params.absent,
                                         hold_out=hold)
                ids = case_ids(self.cases)
                params = replace(params, cohort=str(manifest), hold_out=tuple(ids[h] for h in hold))
            else:   # a cohort folder: the scene's volumes are not its cases
                params = replace(params, hold_out=())
            from sgrs.models.registry import registry_folder
            speed = ("--speed-dir", str(registry_folder(self.registry)))   # the engine measures for the next estimate
            job = TrainJob.start(replace(params, out=str(folder), extra_args=tuple(params.extra_args) + speed),
                                 python=self.python)
        except (SGRSError, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)  # nothing of value yet
            raise SGRSError(str(exc)) from None
        self._take(job, RUNNING, translate("SGRSTrain", "Training in job folder '{name}'…").format(
            name=folder.name))
        return folder

    def attach(self, folder) -> str:
        from SGRSSegmentLib.dependencies import require

        from .job import TrainJob
        require("Opening a training job")  # watching its processes needs psutil
        if self.busy:
            raise SGRSError("A training job is running: cancel it first.")
        self._take(TrainJob.attach(folder), RUNNING, translate("SGRSTrain", "Opened job folder '{name}'.").format(
            name=Path(folder).name))
        return self.poll()

    def _take(self, job, state, message) -> None:
        self.job, self.state, self.message, self._job_shown = job, state, message, True
        self.status, self.registered, self.check, self._deadline, self._exit_by = None, None, None, None, None
        try:
            self.jobs_root.mkdir(parents=True, exist_ok=True)
            (self.jobs_root / LAST_JOB_FILE).write_text(str(job.folder.resolve()))
        except OSError:
            pass  # re-attaching after a restart is a convenience

    def last_job(self) -> Path | None:
        """The job to re-attach at set-up: one still running, or finished with a model neither registered nor
        rolled back yet. A failed or cancelled job is not shown again (its end was said when it ended)."""
        try:
            folder = Path((self.jobs_root / LAST_JOB_FILE).read_text().strip())
        except OSError:
            return None
        return folder if worth_reattaching(folder) else None

    def forget(self) -> None:
        """Show no job (one attached only to look at it, whose end was already said)."""
        if not self.busy:
            self.job, self.status, self.registered, self.check, self.state, self.message = \
                None, None, None, None, IDLE, ""

    def cancel(self) -> None:
        if self.state == RUNNING:
            self.job.cancel()
            self.state, self.message = CANCELLING, translate("SGRSTrain", "Cancelling: saving a checkpoint…")
            self._deadline = time.monotonic() + CANCEL_GRACE_S

    def resume(self) -> None:
        if self.job is None or self.busy:
            raise SGRSError("Nothing to resume.")
        self.job.resume(python=self.python)
        self._take(self.job, RUNNING, "Resumed from the last checkpoint…")

    def close(self) -> None:
        """Widget cleanup: nothing to stop; a running job keeps running and is re-attached next time."""

    def poll(self) -> str:
        if self.job is None:
            return self.state
        from sgrs.training.failure_words import gui_reason
        from sgrs.util.progress import format_seconds
        status = self.status = self.job.status()
        if status.state in ("running", "empty") and self.job.alive():
            if self.state == CANCELLING:
                if time.monotonic() > self._deadline:  # no checkpoint in time: stop the tree anyway
                    self.job.kill()
                return self.state
            self.state = RUNNING
            if status.iterations:
                eta = f", ETA {format_seconds(status.eta_s)}" if status.eta_s is not None else ""
                loss = f", loss {status.loss:.3f}" if status.loss is not None else ""
                self.message = translate("SGRSTrain", "Iteration {i}/{n}").format(
                    i=status.iteration, n=status.iterations) + loss + eta
            return self.state
        if self.job.alive():  # the last event is written and the tree is exiting: not over until it has
            self._exit_by = self._exit_by or time.monotonic() + EXIT_GRACE_S
            if time.monotonic() < self._exit_by:
                return self.state
            self.job.kill()  # a tree that outlives its own end is stopped
        self._exit_by = None
        self.job.reap(timeout=2.0)
        if self.job.process is not None and self.job.process.running:
            self._exiting.append(self.job.process)   # still writing its last lines: reaped later
        if status.state == "finished" and status.model:
            self.state = DONE
            if decision.rolled_back(self.job.folder):
                self.message = decision.rolled_back_text(self._base_name())
            elif decision.pending(self.job.folder):   # fine-tuned: the user keeps it or rolls back
                from sgrs.training.compare import read_check
                self.check = read_check(self.job.folder)
                self.message = decision.check_text(self.check)
            else:
                self.registered = self._register_once(status.model)
                self.message = finished_message(self.registered)
        elif status.state == "cancelled":
            self.state = CANCELLED
            self.message = translate("SGRSTrain", "Cancelled: Resume continues from the checkpoint.")
        elif status.state in ("failed", "empty"):
            self.state = FAILED
            self.message = translate("SGRSTrain", "Failed: {reason}").format(
                reason=gui_reason(status.reason or "the engine did not start"))
        else:
            self.state = STOPPED
            self.message = translate("SGRSTrain", "Stopped unexpectedly: Resume continues from the last checkpoint.")
        return self.state

    @property
    def deciding(self) -> bool:
        """A finished fine-tuned model waits for Keep or Roll back."""
        return self.state == DONE and self.job is not None and self.registered is None and \
            decision.pending(self.job.folder)

    def keep(self):
        """Register the new model (exactly once); returns its registry entry."""
        if not self.deciding:
            raise SGRSError(translate("SGRSTrain", "No new model is waiting to be kept."))
        self.registered = self._register_once(self.status.model)
        self.message, self._job_shown = finished_message(self.registered), True   # said even after a Collect
        return self.registered

    def roll_back(self) -> None:
        """Leave the base model selected: the new model is not registered and the job is never offered again;
        its folder (the new bundle included) stays as it is."""
        if not self.deciding:
            raise SGRSError(translate("SGRSTrain", "No new model is waiting to be rolled back."))
        decision.mark_rolled_back(self.job.folder)
        self.message, self._job_shown = decision.rolled_back_text(self._base_name()), True

    def _base_name(self) -> str:
        base = self._config().get("base_model") or ""
        from sgrs.models.meta import read_meta
        try:
            return read_meta(base).get("name") or Path(base).name
        except SGRSError:
            return Path(base).name

    def model_name(self) -> str:
        """cohort, date and base model, e.g. 'sample-and-2-more-20261201-1530-from-model'."""
        from sgrs.training.presets import model_name
        config = self._config()
        cohort = config.get("cohort") or ""
        scene_cohort = "/cohort/manifest.json" in cohort.replace("\\", "/") and \
            Path(cohort).parent.parent == self.job.folder
        base_name = self._base_name() if config.get("base_model") else None
        label = cohort_label(self.cases if scene_cohort or not cohort else [], cohort)
        return model_name(label, base_name, (self.job.folder / "config.json").stat().st_mtime
                          if (self.job.folder / "config.json").exists() else None)

    def _config(self) -> dict:
        try:
            return json.loads((self.job.folder / "config.json").read_text())
        except (OSError, ValueError):
            return {}

    def _register_once(self, model):
        """Register this job's model; a job re-attached after registration reuses the entry."""
        from sgrs.models.registry import list_models, register
        marker = self.job.folder / REGISTERED_FILE
        if marker.exists():
            path = Path(json.loads(marker.read_text())["path"])
            for entry in list_models(self.registry):
                if entry.path == path:
                    return entry
        entry = register(model, self.model_name(), self.registry)
        marker.write_text(json.dumps({"path": str(entry.path)}))
        return entry


def worth_reattaching(folder) -> bool:
    """A job folder a GUI picks up again after a restart: its job is running, or it finished with a model
    neither registered (kept) nor rolled back yet."""
    from .job import TrainJob, holds_job
    folder = Path(folder)
    if not folder.is_dir() or not holds_job(folder) or decision.decided(folder):
        return False
    try:
        job = TrainJob.attach(folder)
    except SGRSError:
        return False
    if job.alive():
        return True
    status = job.status()
    return status.state == "finished" and bool(status.model)


def finished_message(entry) -> str:
    """Neutral about the GUI (desktop or Studio); says what the validation figure means, or why
    there is none."""
    from sgrs.models.card import validation_text
    from sgrs.models.meta import read_meta
    try:
        validation = validation_text(read_meta(entry.path))
    except SGRSError:
        validation = "unknown"
    return translate(
        "SGRSTrain", "Finished: model '{name}' is registered and ready to segment with. Validation: {validation}.").format(
        name=entry.name, validation=validation)


def cohort_label(cases, cohort: str = "") -> str:
    """A few words naming what a model learned from: the scene's first labelled case and how many more,
    or the cohort folder's name."""
    labelled = [c.volume.GetName() for c in cases if c.labelled]
    if labelled:
        more = f"-and-{len(labelled) - 1}-more" if len(labelled) > 1 else ""
        return f"{labelled[0]}{more}"
    path = Path(cohort) if cohort else None
    return (path.parent.name if path and path.suffix else path.name if path else "") or "cohort"
