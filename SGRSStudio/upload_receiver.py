"""Uploads that arrive in chunks, so the browser can show how far each one is (``www/upload.js``).

    receiver = UploadReceiver(data_dir, max_bytes)
    token = receiver.begin(name, size)        # name and size checked before any byte is written
    receiver.chunk(token, offset, data)       # -> bytes received so far; in order, never past size
    path = receiver.finish(token)             # complete: moved into uploads/ and validated
    receiver.abort(token)                     # a refused or interrupted upload leaves nothing

A file being received lives in ``uploads/.incoming/`` (hidden: no folder listing or case sees it);
any error removes it, and a server restart clears what an interrupted upload left there.
"""
from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sgrs.util.errors import InputError

from . import uploads


@dataclass
class _Incoming:
    name: str
    size: int
    path: Path
    received: int = 0


class UploadReceiver:
    def __init__(self, data_dir, max_bytes: int):
        self.data_dir, self.max_bytes = Path(data_dir), max_bytes
        self.folder = self.data_dir / "uploads" / ".incoming"
        shutil.rmtree(self.folder, ignore_errors=True)   # parts of uploads a stopped server never finished
        self._open: dict[str, _Incoming] = {}

    def begin(self, name: str, size: int) -> str:
        if not isinstance(name, str) or not isinstance(size, int):   # the browser is untrusted input
            raise InputError("upload refused: a file name and a size in bytes are needed")
        name = uploads.check_upload(name, size, self.max_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        path = self.folder / token
        path.write_bytes(b"")
        self._open[token] = _Incoming(name, size, path)
        return token

    def chunk(self, token: str, offset: int, data) -> int:
        incoming = self._get(token)
        if isinstance(data, list):   # a long message may arrive as the websocket's pieces
            data = b"".join(data)
        try:
            if not isinstance(data, (bytes, bytearray)):
                raise InputError(f"upload of '{incoming.name}' failed: a piece is not bytes")
            if offset != incoming.received:
                raise InputError(f"upload of '{incoming.name}' failed: a piece arrived out of order")
            if incoming.received + len(data) > incoming.size:
                raise InputError(f"upload of '{incoming.name}' failed: more bytes than its size")
            with open(incoming.path, "ab") as f:
                f.write(data)
        except BaseException:
            self.abort(token)
            raise
        incoming.received += len(data)
        return incoming.received

    def finish(self, token: str) -> Path:
        incoming = self._get(token)
        if incoming.received != incoming.size:
            self.abort(token)
            raise InputError(f"upload of '{incoming.name}' is incomplete ({incoming.received} of "
                             f"{incoming.size} bytes)")
        del self._open[token]
        target = uploads.new_upload_path(self.data_dir, incoming.name)
        incoming.path.replace(target)
        return uploads.accept_upload(target, self.max_bytes)

    def abort(self, token: str) -> None:
        incoming = self._open.pop(token, None)
        if incoming is not None:
            incoming.path.unlink(missing_ok=True)

    def _get(self, token: str) -> _Incoming:
        incoming = self._open.get(token)
        if incoming is None:
            raise InputError("upload failed: the server does not know this upload (restarted?); send the file again")
        return incoming
