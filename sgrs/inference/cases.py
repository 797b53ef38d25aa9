"""What ``sgrs segment`` was given, as a list of cases.

One input that is an image file or a DICOM series folder is a *single* scan (outputs straight in
``--out``, as always). Everything else is a *batch* (``OUT/<case>/`` per case and ``results.csv``):
- a folder holding image files (``.nrrd .nhdr .nii .nii.gz .mha .mhd``) at its top level: one case per file;
- a cohort manifest (``manifest.json`` / ``.csv``, or a folder holding one): every case, with its ROI;
- a list file (``.txt`` / ``.list``): one path or DICOMweb URL a line, ``#`` comments, paths relative to it;
- several paths;
- a DICOMweb URL of a study or series (``https://host/dicom-web/studies/UID[/series/UID]``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..util.errors import InputError

IMAGE_SUFFIXES = (".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd")
LIST_SUFFIXES = (".txt", ".list")
MANIFESTS = ("manifest.json", "manifest.csv")


@dataclass
class CaseSource:
    id: str
    source: str                      # a file, a DICOM folder or a DICOMweb URL
    roi: tuple | None = None         # a manifest's per-case ROI (LPS mm)

    @property
    def is_url(self) -> bool:
        return is_url(self.source)


def is_url(text: str) -> bool:
    return bool(re.match(r"^https?://", str(text), re.IGNORECASE))


def case_id(source: str) -> str:
    """A folder name from a path or URL: file name without image suffixes, folder name, or the last UID."""
    text = str(source).rstrip("/")
    if is_url(text):
        name = text.split("/")[-1]
    else:
        name = Path(text).name
        for suffix in IMAGE_SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
                break
    return bounded(re.sub(r"[^A-Za-z0-9._-]", "_", name) or "case")


MAX_ID = 100  # a folder name well inside every file system's 255-byte limit


def bounded(name: str) -> str:
    """A case id that fits in a folder name: a long one keeps its start and gets a hash of the whole."""
    import hashlib

    if len(name) <= MAX_ID:
        return name
    return f"{name[:MAX_ID - 17]}-{hashlib.sha1(name.encode()).hexdigest()[:16]}"


def natural_key(text: str) -> list:
    """s2 before s10: digits compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", text)]


def _unique(cases: list[CaseSource]) -> list[CaseSource]:
    """Two inputs with the same name (a/ct.nrrd, b/ct.nrrd) get ct and ct-2: no output overwrites another."""
    seen: dict[str, int] = {}
    for c in cases:
        n = seen.get(c.id, 0) + 1
        seen[c.id] = n
        if n > 1:
            c.id = f"{c.id}-{n}"
    return cases


def _scan_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)
                   and not p.name.startswith(".")), key=lambda p: natural_key(p.name))


def _from_list(path: Path) -> list[CaseSource]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the list file ({exc})") from None
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(CaseSource(case_id(line), line if is_url(line) else str(path.parent / line)))
    if not out:
        raise InputError(f"{path}: the list file names no scan")
    return out


def _from_manifest(path: Path) -> list[CaseSource]:
    from ..data.cohort import find_manifest, read_manifest

    entries, _ = read_manifest(find_manifest(Path(path)))
    return [CaseSource(bounded(re.sub(r"[^A-Za-z0-9._-]", "_", e.id)), str(e.image), e.roi) for e in entries]


def expand(source: str) -> tuple[list[CaseSource], bool]:
    """(cases, whether this one input is already a batch)."""
    if is_url(source):
        return [CaseSource(case_id(source), source)], True
    path = Path(source)
    if path.is_dir():
        for name in MANIFESTS:
            if (path / name).is_file():
                return _from_manifest(path / name), True
        files = _scan_files(path)
        if files:
            return [CaseSource(case_id(f), str(f)) for f in files], True
        return [CaseSource(case_id(path), str(path))], False  # a DICOM folder: one scan
    lower = path.name.lower()
    if path.is_file() and lower.endswith(LIST_SUFFIXES):
        return _from_list(path), True
    if path.is_file() and lower.endswith((".json", ".csv")):
        return _from_manifest(path), True
    return [CaseSource(case_id(path), str(path))], False  # a scan file (missing or not: the reader says)


def collect_cases(inputs: list[str]) -> tuple[list[CaseSource], bool]:
    """(cases, batch): every input expanded; ``batch`` False only for one plain scan."""
    if not inputs:
        raise InputError("no input given")
    cases, batch = [], len(inputs) > 1
    for source in inputs:
        found, many = expand(str(source))
        cases += found
        batch = batch or many
    return _unique(cases), batch
