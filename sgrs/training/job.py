"""The training job folder (DESIGN §4), the contract between ``sgrs train`` and the GUIs.

    JOB/config.json          the full training configuration (``--resume`` reads it back)
    JOB/progress.jsonl       one JSON event a line: started, step, validation, checkpoint,
                             then finished | cancelled | failed (with a reason)
    JOB/checkpoint.safetensors  last good state, replaced atomically (temp file + rename)
    JOB/model/               the final bundle

A killed writer can leave a truncated last line in progress.jsonl; :func:`read_events` skips it.
"""
from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..util.atomic import atomic_path, remove_stale_temps, write_text
from ..util.background import STOP_FILE
from ..util.errors import JobError
from .events import TERMINAL_EVENTS, read_events  # noqa: F401  (re-exported: torch-free home)


class JobFolder:
    def __init__(self, path):
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.progress = self.path / "progress.jsonl"
        self.checkpoint = self.path / "checkpoint.safetensors"
        self.model = self.path / "model"
        self.stop_request = self.path / STOP_FILE

    def stop_requested(self) -> bool:
        """A GUI asked for a clean stop (``sgrs.util.background.request_stop``)."""
        return self.stop_request.exists()

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise JobError(f"{self.path}: output folder is not writable ({exc.strerror or exc})") from None
        remove_stale_temps(self.path)

    def write_config(self, config: dict) -> None:
        write_text(self.config, json.dumps(config, indent=1))

    def read_config(self) -> dict:
        if not self.config.exists():
            raise JobError(f"{self.path}: no config.json: not a training job folder, nothing to resume")
        try:
            return json.loads(self.config.read_text())
        except json.JSONDecodeError as exc:
            raise JobError(f"{self.config}: unreadable ({exc})") from None

    def event(self, kind: str, **fields) -> dict:
        """Append one event; a line left unterminated by a killed run is closed first."""
        record = {"event": kind, "time": round(time.time(), 3), **fields}
        line = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            with open(self.progress, "ab+") as f:
                if f.tell() > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        f.write(b"\n")
                f.write(line.encode())
                f.flush()
        except OSError as exc:
            gone = "" if self.path.is_dir() else "; the job folder was deleted or moved"
            raise JobError(f"{self.progress}: cannot record progress ({exc.strerror or exc}){gone}") from None
        return record

    def save_checkpoint(self, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
        """Replace the checkpoint atomically; on a full disk keep the last good one and say so."""
        if not self.path.is_dir():
            raise JobError(f"{self.path}: job folder was deleted or moved during training; nothing saved")
        try:
            with atomic_path(self.checkpoint) as tmp:
                save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
                          metadata={k: str(v) for k, v in meta.items()})
        except OSError as exc:
            why = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise JobError(f"{self.checkpoint}: cannot write checkpoint ({why}); "
                           "the previous checkpoint is kept") from None

    def load_checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
        if not self.checkpoint.exists():
            return None
        try:
            from safetensors import safe_open
            with safe_open(str(self.checkpoint), "pt") as f:
                meta = f.metadata() or {}
            return load_file(str(self.checkpoint)), meta
        except (SafetensorError, OSError) as exc:
            raise JobError(f"{self.checkpoint}: unreadable checkpoint ({exc})") from None
