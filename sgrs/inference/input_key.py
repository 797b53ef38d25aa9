"""What a batch case's input is now, for resume: a content key, and for DICOMweb the series the rule chose.

Files: a SHA-256 of the bytes (every file of a DICOM folder, with its name). DICOMweb: a hash of the chosen
source series' SOP Instance UIDs, so our own SEG and SR in the study never make it look changed, while an
image added to or taken from the series does.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .cases import CaseSource


@dataclass
class Resolved:
    """What a case's input is now: its content key, and for DICOMweb the series the rule chose."""
    key: str
    series: str | None = None
    chosen: str = ""
    alternatives: list = field(default_factory=list)


def resolve_input(case: CaseSource, options) -> Resolved:
    """The input's content key (and DICOMweb series choice), before any long work."""
    if case.is_url:
        from ..data.dicomweb import Reference, check_uid, choose_series, source_key

        ref = Reference.parse(case.source)
        if options.series and ref.series is None:  # --series names the study's series to read
            ref.series = check_uid(options.series, "--series")
        series, line, others = choose_series(ref)
        return Resolved(source_key(ref, series), series, line, others)
    return Resolved(content_key(Path(case.source)))


def content_key(path: Path) -> str:
    """SHA-256 of a file's bytes, or of every file under a folder (names and bytes), first 16 hex digits."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
        try:
            with open(f, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            digest.update(b"unreadable")  # the reader gives the real error
    return digest.hexdigest()[:16]
