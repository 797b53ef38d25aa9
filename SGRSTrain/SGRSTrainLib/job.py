"""A training job run by ``sgrs train`` in a background process, watched through its job folder.

The job folder is the only channel (``sgrs.util.background``): ``progress.jsonl`` for events,
``train.log`` for the engine's output, ``launcher.json`` / ``engine.json`` for the PIDs. A GUI that
restarts re-attaches with ``TrainJob.attach(folder)`` and can still cancel: the PIDs are in the folder,
and the whole process tree (launcher, engine, workers) is stopped on every platform.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from sgrs.method.names import DEFAULT_METHOD, DEFAULT_RECIPE, DEFAULT_TEACHER, DEVICES, method_args
from sgrs.training.presets import DEFAULT
from sgrs.util.errors import JobError, SGRSError

TERMINAL_EVENTS = ("finished", "cancelled", "failed")
JOB_FILES = ("config.json", "progress.jsonl", "checkpoint.safetensors", "model")


@dataclass
class TrainParameters:
    cohort: str = ""                 # manifest or folder
    out: str = ""                    # job folder
    base_model: str | None = None
    iterations: int = DEFAULT.iterations   # the default preset's (sgrs.training.presets): one source
    batch: int = DEFAULT.batch
    labelled: int | None = None
    patch: tuple = DEFAULT.patch
    filters: int = DEFAULT.filters
    method: str = DEFAULT_METHOD     # sgrs.method.names: METHODS, RECIPES (sgrs only), TEACHERS
    recipe: str = DEFAULT_RECIPE
    teacher: str = DEFAULT_TEACHER
    device: str = DEFAULT.device
    absent: tuple = ()               # base-model classes the labelled cases may lack (sgrs train --absent-classes)
    hold_out: tuple = ()             # cases never trained on, the check of the new model: the GUIs give scene volume
    #                                  ids, the session passes the exported case ids (sgrs train --hold-out)
    extra_args: tuple = ()

    def is_valid(self) -> tuple[bool, str]:
        if not self.cohort:
            return False, "Collect or choose a cohort first."
        if not self.out:
            return False, "Choose a job folder."
        if self.iterations < 1 or self.batch < 2:
            return False, "Iterations must be ≥ 1 and batch ≥ 2."
        if any(p % 16 for p in self.patch):
            return False, "Every patch side must be a multiple of 16."
        try:
            method_args(self.method, self.recipe, self.teacher)
        except ValueError as exc:
            return False, str(exc)
        if self.device not in DEVICES:  # e.g. from a scene saved by another version
            return False, self.device_error()
        return True, ""

    def device_error(self) -> str:
        return f"Unknown device '{self.device}': choose one of {', '.join(DEVICES)}."

    def args(self) -> list:
        """The engine's command line; its choices are checked again here (``method_args`` raises on an
        unknown method, recipe or teacher), so none the panel could not show reaches the engine."""
        if self.device not in DEVICES:
            raise SGRSError(self.device_error())
        a = ["train", "--cohort", self.cohort, "--out", self.out, "--iterations", self.iterations,
             "--batch", self.batch, "--patch", *self.patch, "--filters", self.filters,
             *method_args(self.method, self.recipe, self.teacher), "--device", self.device, "--json-progress"]
        if self.labelled is not None:
            a += ["--labelled", self.labelled]
        if self.base_model:
            a += ["--base-model", self.base_model]
        if self.absent:
            a += ["--absent-classes", *self.absent]
        if self.hold_out and self.base_model:
            a += ["--hold-out", *self.hold_out]
        return a + list(self.extra_args)


@dataclass
class JobStatus:
    state: str                       # running | finished | cancelled | failed | stopped | empty
    iteration: int = 0
    iterations: int = 0
    loss: float | None = None
    eta_s: float | None = None
    reason: str | None = None
    model: str | None = None
    losses: list = None              # [(iteration, loss)]
    dice: list = None                # [(iteration, validation Dice)]
    it_per_s: float | None = None    # the speed the last step event reported

    @property
    def fraction(self) -> float:
        return self.iteration / self.iterations if self.iterations else 0.0


def holds_job(folder) -> bool:
    return any((Path(folder) / name).exists() for name in JOB_FILES)


class TrainJob:
    def __init__(self, folder, process=None):
        self.folder = Path(folder)
        self.process = process
        self._old_events = 0  # events of the run before a resume: its end is not this run's end

    @classmethod
    def start(cls, params: TrainParameters, python=None) -> TrainJob:
        """Start ``sgrs train`` detached; never into a folder that already holds a job (issue 8, item 6:
        its old ``progress.jsonl`` would be read as this run's)."""
        from sgrs.util.background import BackgroundProcess
        ok, reason = params.is_valid()
        if not ok:
            raise SGRSError(reason)
        if holds_job(params.out):
            raise JobError(f"{params.out}: folder already holds a training job; choose a new folder "
                           "or attach to it and resume")
        return cls(params.out, BackgroundProcess(params.args(), params.out, python, name="train").start())

    @classmethod
    def attach(cls, folder) -> TrainJob:
        """Re-attach to a job folder after a module reload or a Slicer restart (no process handle)."""
        folder = Path(folder)
        if not any((folder / name).exists() for name in ("config.json", "launcher.json")):
            raise JobError(f"{folder}: not a training job folder")
        return cls(folder)

    def resume(self, python=None) -> TrainJob:
        from sgrs.util.background import BackgroundProcess
        if self.alive():
            raise JobError(f"{self.folder}: job is still running")
        from sgrs.training.events import read_events
        self._old_events = len(read_events(self.folder))
        log = self.folder / "train.log"
        if log.exists():  # the previous run's last error is not this run's
            log.replace(self.folder / "train-previous.log")
        self.process = BackgroundProcess(["train", "--out", self.folder, "--resume"], self.folder, python,
                                         name="train").start()
        return self

    def alive(self) -> bool:
        """Our child, or any process the folder records (launcher, engine, their children), still runs."""
        from sgrs.util.background import folder_processes
        if self.process is not None and self.process.running:
            return True
        return bool(folder_processes(self.folder))

    def status(self) -> JobStatus:
        from sgrs.training.events import read_events
        from sgrs.util.background import log_error
        events = read_events(self.folder)
        if len(events) <= self._old_events:
            if self.alive():
                return JobStatus("running")  # starting: reading the cohort
            if (self.folder / "train.log").exists():
                return JobStatus("failed", reason=log_error(self.folder / "train.log"))
            return JobStatus("empty")
        started = [e for e in events if e["event"] == "started"]
        steps = [e for e in events if e["event"] == "step"]
        last = events[-1]
        if last["event"] in TERMINAL_EVENTS:
            state = last["event"]
        elif self.alive():
            state = "running"
        else:
            state = "stopped"  # killed without a word (power loss, kill -9): resume continues
        reason = last.get("reason")
        if state == "stopped" and (self.folder / "train.log").exists():
            reason = log_error(self.folder / "train.log")
        return JobStatus(
            state=state, iteration=steps[-1]["iteration"] if steps else (started[-1]["iteration"] if started else 0),
            iterations=started[-1]["iterations"] if started else 0,
            loss=steps[-1]["loss"] if steps else None, eta_s=steps[-1].get("eta_s") if steps else None,
            it_per_s=steps[-1].get("it_per_s") if steps else None,
            reason=reason, model=last.get("model"),
            losses=[(e["iteration"], e["loss"]) for e in steps],
            dice=[(e["iteration"], e["dice"]) for e in events if e["event"] == "validation" and e["dice"] is not None])

    def cancel(self) -> None:
        """Ask for a clean stop (returns at once): the engine saves a checkpoint and ends ``cancelled``."""
        from sgrs.util.background import request_stop
        request_stop(self.folder)

    def kill(self) -> None:
        """Kill the whole process tree now (a stop that took too long)."""
        from sgrs.util.background import folder_processes, kill_tree
        kill_tree(folder_processes(self.folder))
        self.reap()

    def stop(self, grace: float = 60.0) -> None:
        """Cancel, wait up to ``grace`` seconds for the checkpoint, then kill what is left."""
        from sgrs.util.background import stop_folder
        stop_folder(self.folder, grace)
        self.reap()

    def reap(self, timeout: float = 5.0) -> None:
        """Collect our own child's exit status (no zombie)."""
        if self.process is not None and self.process.proc is not None:
            try:
                self.process.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
