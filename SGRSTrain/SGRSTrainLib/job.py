"""A training job run by ``sgrs train`` in a background process, watched through its job folder.

The job folder (``progress.jsonl``) is the only channel: a GUI that restarts re-attaches with
``TrainJob.attach(folder)``; the ``started`` event holds the PID of the process-group leader, so
Cancel still reaches a job started by an earlier session.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from sgrs.training.job import TERMINAL_EVENTS, read_events
from sgrs.util.background import BackgroundProcess
from sgrs.util.errors import JobError, SGRSError


@dataclass
class TrainParameters:
    cohort: str = ""                 # manifest or folder
    out: str = ""                    # job folder
    base_model: str | None = None
    iterations: int = 2000
    batch: int = 4
    labelled: int | None = None
    patch: tuple = (96, 96, 80)
    filters: int = 16
    method: str = "sgrs"
    device: str = "auto"
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
        return True, ""

    def args(self) -> list:
        a = ["train", "--cohort", self.cohort, "--out", self.out, "--iterations", self.iterations,
             "--batch", self.batch, "--patch", *self.patch, "--filters", self.filters, "--method", self.method,
             "--device", self.device, "--json-progress"]
        if self.labelled is not None:
            a += ["--labelled", self.labelled]
        if self.base_model:
            a += ["--base-model", self.base_model]
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

    @property
    def fraction(self) -> float:
        return self.iteration / self.iterations if self.iterations else 0.0


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie (exited, not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class TrainJob:
    def __init__(self, folder, process: BackgroundProcess | None = None):
        self.folder = Path(folder)
        self.process = process

    @classmethod
    def start(cls, params: TrainParameters, python: str | None = None) -> "TrainJob":
        ok, reason = params.is_valid()
        if not ok:
            raise SGRSError(reason)
        return cls(params.out, BackgroundProcess(params.args(), python).start())

    @classmethod
    def attach(cls, folder) -> "TrainJob":
        """Re-attach to a job folder after a module reload or a Slicer restart."""
        if not (Path(folder) / "config.json").exists():
            raise JobError(f"{folder}: not a training job folder")
        return cls(folder)

    def resume(self, python: str | None = None) -> "TrainJob":
        if self.status().state == "running":
            raise JobError(f"{self.folder}: job is still running")
        self.process = BackgroundProcess(["train", "--out", self.folder, "--resume", "--json-progress"], python).start()
        return self

    def _pid(self, events) -> int | None:
        started = [e for e in events if e["event"] == "started"]
        return started[-1].get("pid") if started else None

    def status(self) -> JobStatus:
        events = read_events(self.folder)
        if not events:
            if self.process is not None and not self.process.running and self.process.returncode:
                return JobStatus("failed", reason=self.process.error_message())
            return JobStatus("running" if self.process is not None and self.process.running else "empty")
        started = [e for e in events if e["event"] == "started"]
        steps = [e for e in events if e["event"] == "step"]
        last = events[-1]
        if last["event"] in TERMINAL_EVENTS:
            state = last["event"]
        elif (self.process is not None and self.process.running) or _alive(self._pid(events)):
            state = "running"
        else:
            state = "stopped"  # killed without a word (power loss, kill -9): resume continues
        return JobStatus(
            state=state, iteration=steps[-1]["iteration"] if steps else (started[-1]["iteration"] if started else 0),
            iterations=started[-1]["iterations"] if started else 0,
            loss=steps[-1]["loss"] if steps else None, eta_s=steps[-1].get("eta_s") if steps else None,
            reason=last.get("reason"), model=last.get("model"),
            losses=[(e["iteration"], e["loss"]) for e in steps],
            dice=[(e["iteration"], e["dice"]) for e in events if e["event"] == "validation" and e["dice"] is not None])

    def cancel(self, grace: float = 60.0) -> None:
        """SIGTERM to the process group: the engine saves a checkpoint and ends ``cancelled``."""
        if self.process is not None and self.process.running:
            self.process.cancel(grace)
            return
        pid = self._pid(read_events(self.folder))
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)
