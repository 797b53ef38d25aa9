"""Text that may hold a URL, made safe to log or write: no credentials, bounded length.

Every place that writes or logs a URL (a results row, failed.json, summary.json, an error line)
passes it through :func:`redact`, so a password put in a URL never reaches a file or a terminal.
"""
from __future__ import annotations

import re

# scheme://user[:password]@host — the userinfo part, whatever it holds (up to the first @ before the host)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")
# query parameters that carry secrets in some DICOMweb set-ups
_SECRET_QUERY = re.compile(r"(?i)([?&](?:access_token|token|password|passwd|pwd|key|apikey|api_key)=)[^&#\s]*")
LIMIT = 300


def redact(text) -> str:
    """``text`` with any URL's userinfo replaced by ``***@`` and secret query values by ``***``."""
    text = _USERINFO.sub(r"\1***@", str(text))
    return _SECRET_QUERY.sub(r"\1***", text)


def shorten(text, limit: int = LIMIT) -> str:
    """At most ``limit`` characters on one line: a long middle becomes ``…(N characters)…``."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    keep = (limit - 24) // 2
    return f"{text[:keep]}…({len(text) - 2 * keep} characters)…{text[-keep:]}"


def safe_line(text, limit: int = LIMIT) -> str:
    """What a log line, a CSV cell or failed.json may hold: redacted, one line, bounded."""
    return shorten(redact(text), limit)


def one_line(exc: BaseException) -> str:
    """An exception as one bounded line without credentials; an OS error says what it is (a name too long...)."""
    from pathlib import Path

    from .errors import SGRSError

    if isinstance(exc, SGRSError):
        return safe_line(exc)
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        name = Path(str(exc.filename)).name if exc.filename else ""
        return safe_line(f"{exc.strerror}" + (f": {name}" if name else ""))
    text = (str(exc).strip().splitlines() or [""])[-1]
    return safe_line(f"{type(exc).__name__}: {text}")
