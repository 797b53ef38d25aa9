"""A child process whose JSON-lines output is read without blocking, and which is stopped with
its whole process tree. Used by the Slicer modules and the Studio to run ``sgrs`` commands."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading


class BackgroundProcess:
    def __init__(self, args: list[str], python: str | None = None, env: dict | None = None, cwd=None):
        self.args = [python or sys.executable, "-m", "sgrs", *map(str, args)]
        self.env, self.cwd = env, cwd
        self.proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self.stderr_tail: list[str] = []

    def start(self) -> "BackgroundProcess":
        # A new session makes the child the leader of its own process group: cancel reaches
        # everything it starts (torchrun workers, data threads) and nothing of ours.
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(self.env or {})}, cwd=self.cwd, start_new_session=True)
        threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True).start()
        return self

    def _pump(self, stream, is_stdout: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            if is_stdout:
                try:
                    self._lines.put(json.loads(line))
                except json.JSONDecodeError:
                    continue
            elif line.strip():
                self.stderr_tail = (self.stderr_tail + [line])[-20:]

    def events(self) -> list[dict]:
        """The JSON records printed since the last call (never blocks)."""
        out = []
        while True:
            try:
                out.append(self._lines.get_nowait())
            except queue.Empty:
                return out

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def error_message(self) -> str:
        """The child's one-line error (``sgrs: error: ...``), or its last stderr line."""
        for line in reversed(self.stderr_tail):
            if line.startswith("sgrs: error:"):
                return line[len("sgrs: error:"):].strip()
        return self.stderr_tail[-1] if self.stderr_tail else f"process exited with code {self.returncode}"

    def cancel(self, grace: float = 30.0) -> None:
        """SIGTERM to the process group (training saves and exits), SIGKILL after ``grace`` seconds."""
        if not self.running:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)
