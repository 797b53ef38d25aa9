"""Run an ``sgrs`` command detached from the GUI that starts it; find, probe and stop it later.

The work folder (a training job folder, a segmentation work folder) is the only channel between the
GUI and the engine, so a job outlives the GUI that started it and any later GUI can take it over:

    FOLDER/<name>.log       the child's stdout + stderr (no pipe the GUI owns: nothing breaks when it exits)
    FOLDER/launcher.json    PID (+ start time) of the process we started: ``PythonSlicer`` is a launcher
                            that runs ``python-real`` as its child and forwards no signal
    FOLDER/engine.json      PID (+ start time) the engine writes itself on start (``record_engine_pid``)
    FOLDER/stop.request     a polite stop request (the only one Windows processes can see); SIGTERM as well
                            on POSIX

Stopping kills the whole tree of both recorded PIDs with psutil (every platform; no process groups,
no /proc, no signal-0 probe, which sends CTRL_C on Windows). Start times guard against PID reuse.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psutil

ENGINE_PID_ENV = "SGRS_ENGINE_PID_FILE"
LAUNCHER_FILE, ENGINE_FILE, STOP_FILE = "launcher.json", "engine.json", "stop.request"
# Windows creation flags (named here: subprocess defines them only on Windows)
CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW = 0x00000200, 0x08000000


def popen_options(windows: bool) -> dict:
    """Detach from the GUI: own session on POSIX (a Ctrl+C in Slicer's terminal does not reach the
    job); on Windows no console window (as Slicer's ``launchConsoleProcess``: STARTUPINFO, SW_HIDE)."""
    if not windows:
        return {"start_new_session": True}
    options = {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}
    if hasattr(subprocess, "STARTUPINFO"):
        info = subprocess.STARTUPINFO()
        info.dwFlags |= subprocess.STARTF_USESHOWWINDOW
        info.wShowWindow = 0  # SW_HIDE
        options["startupinfo"] = info
    return options


def _write_record(path: Path, pid: int) -> None:
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        created = None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"pid": pid, "create_time": created}))
    os.replace(tmp, path)


def record_engine_pid() -> None:
    """Called by ``sgrs`` on start: write this process's PID where the launching GUI asked for it."""
    target = os.environ.get(ENGINE_PID_ENV)
    if target:
        try:
            _write_record(Path(target), os.getpid())
        except OSError:
            pass  # the folder is gone: the job will fail on its own with a clear reason


def read_record(path) -> dict | None:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def process_of(record: dict | None) -> psutil.Process | None:
    """The live process a record names (None when gone, a zombie, or the PID was reused)."""
    if not record:
        return None
    try:
        proc = psutil.Process(record["pid"])
        if record.get("create_time") is not None and abs(proc.create_time() - record["create_time"]) > 1.0:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def alive(pid: int | None) -> bool:
    """Portable liveness probe (a zombie is not alive)."""
    return bool(pid) and process_of({"pid": pid}) is not None


def folder_processes(folder) -> list[psutil.Process]:
    """Launcher, engine and every descendant still alive, children first."""
    roots = [process_of(read_record(Path(folder) / name)) for name in (LAUNCHER_FILE, ENGINE_FILE)]
    found: dict[int, psutil.Process] = {}
    for root in roots:
        if root is None:
            continue
        try:
            for child in root.children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.Error:
            pass
    for root in roots:
        if root is not None:
            found.setdefault(root.pid, root)
    return [p for p in found.values() if _running(p)]


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def request_stop(folder) -> None:
    """Ask the engine to stop cleanly: a file it checks between steps, plus SIGTERM on POSIX
    (on Windows ``terminate`` would be TerminateProcess, so there the file is the request)."""
    folder = Path(folder)
    try:
        (folder / STOP_FILE).write_text(str(time.time()))
    except OSError:
        pass
    if os.name != "nt":
        engine = process_of(read_record(folder / ENGINE_FILE))
        if engine is not None:
            try:
                engine.terminate()
            except psutil.Error:
                pass


def kill_tree(processes: list[psutil.Process], timeout: float = 10.0) -> None:
    for proc in processes:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(processes, timeout=timeout)


def stop_folder(folder, grace: float = 30.0) -> bool:
    """Request a clean stop, wait up to ``grace`` seconds, then kill whatever is left of the tree.
    True when nothing is left running. ``grace=0``: kill at once."""
    tree = folder_processes(folder)
    if not tree:
        return True
    if grace > 0:  # grace 0: nothing to save (a segmentation), kill at once
        request_stop(folder)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_running(p) for p in tree):
        tree += [c for c in folder_processes(folder) if c.pid not in {p.pid for p in tree}]
        time.sleep(0.1)
    kill_tree([p for p in tree if _running(p)])
    return not any(_running(p) for p in tree)


def launcher_command(python) -> list[str]:
    """``python`` may be an interpreter, a launcher such as PythonSlicer, or a command prefix list."""
    if python is None:
        return [sys.executable]
    return [str(p) for p in python] if isinstance(python, (list, tuple)) else [str(python)]


def command_arg(value) -> str:
    """One argument of an ``sgrs`` command line. A float is written in fixed-point notation with every
    digit ``repr`` keeps: ``str(-5e-05)`` is ``-5e-05``, which argparse takes for an option flag (its
    negative-number pattern is ``-digits[.digits]``), so an ROI bound just below 0 broke the command."""
    if isinstance(value, float) and math.isfinite(value):
        return format(Decimal(repr(value)), "f")
    return str(value)


class BackgroundProcess:
    """``sgrs ARGS`` started detached, output to ``FOLDER/<name>.log``."""

    def __init__(self, args: list, folder, python=None, env: dict | None = None, name: str = "engine"):
        self.folder = Path(folder)
        self.args = [*launcher_command(python), "-m", "sgrs", *map(command_arg, args)]
        self.env = env
        self.log = self.folder / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> BackgroundProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in (ENGINE_FILE, STOP_FILE):
            (self.folder / stale).unlink(missing_ok=True)
        env = {**os.environ, **(self.env or {}), ENGINE_PID_ENV: str(self.folder / ENGINE_FILE),
               "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as log:  # the child keeps its own handle; ours closes here
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=env, cwd=str(self.folder), **popen_options(os.name == "nt"))
        _write_record(self.folder / LAUNCHER_FILE, self.proc.pid)
        return self

    @property
    def running(self) -> bool:
        """Reaps the child when it has exited (no zombie left behind)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def error_message(self) -> str:
        return log_error(self.log, self.returncode)

    def cancel(self, grace: float = 30.0) -> None:
        stop_folder(self.folder, grace)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)  # reap our direct child
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)


def log_error(log, returncode: int | None = None) -> str:
    """The engine's one-line error (``sgrs: error: ...``) from its log, or the log's last line."""
    try:
        lines = [line.strip() for line in Path(log).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    for line in reversed(lines):
        if line.startswith("sgrs: error:"):
            return line[len("sgrs: error:"):].strip()
    if lines:
        return lines[-1]
    return f"the engine exited with code {returncode}" if returncode is not None else "the engine stopped"
