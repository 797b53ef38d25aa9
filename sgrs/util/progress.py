"""Terminal progress bar (stderr) and JSON-lines progress (stdout) for GUIs."""
from __future__ import annotations

import json
import sys
import time


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """One redrawn line on a terminal; on a pipe, a plain line every ~5 % so logs stay short."""

    def __init__(self, total: int, label: str, stream=None, enabled: bool = True):
        self.total, self.label, self.enabled = max(total, 1), label, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last_pct = -1

    def update(self, done: int, extra: str = "", eta: float | None = None) -> None:
        if not self.enabled:
            return
        frac = min(done / self.total, 1.0)
        if eta is None:
            elapsed = time.monotonic() - self.start
            eta = elapsed / frac * (1 - frac) if frac > 0 else 0.0
        bar = "#" * int(frac * 24)
        line = f"{self.label} {done}/{self.total} [{bar:<24}] {extra} ETA {format_seconds(eta)}".rstrip()
        if self.tty:
            self.stream.write("\r" + line[:160] + "\033[K")
        elif int(frac * 20) != self._last_pct or done == self.total:
            self._last_pct = int(frac * 20)
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def emit_json(record: dict, stream=None) -> None:
    """One progress record as a JSON line (the format SGRSSegment / SGRSTrain read)."""
    stream = stream or sys.stdout
    stream.write(json.dumps(record, separators=(",", ":")) + "\n")
    stream.flush()


def append_json(path, record: dict) -> None:
    """Append one JSON line and flush: readers only take lines that end in a newline."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
