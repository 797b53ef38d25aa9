"""DICOM folders: list the series, choose one (the largest 3D image series, or ``--series UID``),
check it is one complete volume, read it with SimpleITK's GDCM series reader.

Headers are read with pydicom (``stop_before_pixels``), which groups files by SeriesInstanceUID
under the whole folder tree, including anonymised files that lack the UID. A series is refused,
with the reason, when its images differ in size or orientation, share slice positions (several
phases or echoes in one series) or leave a gap (missing slices).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..util.errors import InputError
from .series_rule import Candidate, pick, why_not

NOT_IMAGES = {"RTSTRUCT", "RTPLAN", "RTRECORD", "SR", "PR", "KO", "REG", "SEG", "DOC", "AU", "ECG"}
NO_UID = "(no SeriesInstanceUID)"


@dataclass
class SeriesInfo:
    uid: str
    description: str
    modality: str
    size: tuple                      # (columns, rows, slices)
    files: list = field(repr=False)
    headers: list = field(repr=False, default_factory=list)

    @property
    def voxels(self) -> int:
        return int(np.prod(self.size))

    @property
    def is_3d(self) -> bool:
        return self.size[2] >= 2

    def name(self) -> str:
        return f"{self.uid or NO_UID} ({self.description or 'no description'})"

    def to_json(self) -> dict:
        return {"uid": self.uid, "description": self.description, "modality": self.modality,
                "size": list(self.size), "files": len(self.files)}


def _headers(folder: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    for root, _, names in os.walk(folder):
        for name in sorted(names):
            path = Path(root) / name
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, EOFError):
                continue  # not DICOM (a DICOMDIR index, a README, a thumbnail...)
            yield str(path), ds


def list_series(folder) -> list[SeriesInfo]:
    """Image series under ``folder``, largest first; non-image objects (RTSTRUCT, SR, SEG...) left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    groups: dict[str, list] = {}
    for path, ds in _headers(folder):
        modality = str(ds.get("Modality", "")).upper()
        if modality in NOT_IMAGES or "Rows" not in ds or "Columns" not in ds:
            continue
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((path, ds))
    out = []
    for uid, members in groups.items():
        first = members[0][1]
        frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in members)
        out.append(SeriesInfo(uid, str(first.get("SeriesDescription", "")).strip(), str(first.get("Modality", "")),
                              (int(first.Columns), int(first.Rows), frames), [p for p, _ in members],
                              [ds for _, ds in members]))
    return sorted(out, key=lambda s: (-s.voxels, s.uid))


def choose_series(folder, uid: str | None = None, listed: list | None = None) -> tuple[SeriesInfo, str, int]:
    """(series, how it was chosen, number of image series); ``listed``: :func:`list_series` already run."""
    series = list_series(folder) if listed is None else listed
    if not series:
        raise InputError(f"{folder}: no DICOM image series in this folder (no readable DICOM files with pixel data)")
    if uid is not None:
        found = [s for s in series if s.uid == uid or (uid in ("", NO_UID) and s.uid == "")]
        if not found:
            raise InputError(f"{folder}: no series {uid!r}; the folder has {len(series)}: "
                             + ", ".join(s.uid or NO_UID for s in series[:5]) + (" …" if len(series) > 5 else ""))
        return found[0], "chosen with --series", len(series)
    chosen, line = pick([candidate(s) for s in series])
    if chosen is None:
        raise InputError(f"{folder}: {line}; choose one with --series")
    return next(s for s in series if (s.uid or NO_UID) == chosen.uid), line, len(series)


def candidate(s: SeriesInfo) -> Candidate:
    """The series as the series rule sees it (sgrs.data.series_rule)."""
    types = [list(ds.get("ImageType", []) or []) for ds in s.headers]
    classes = {str(ds.get("SOPClassUID", "")) for ds in s.headers}
    return Candidate(s.uid or NO_UID, s.description, s.modality, s.size, why_not(types, classes, s.size[2]))


def check_series(s: SeriesInfo, folder) -> list[str]:
    """The series' files sorted along the slice normal; a clear error if it is not one volume."""
    where = f"{folder}: series {s.name()}"
    if len(s.files) == 1:
        return list(s.files)  # one (multi-frame) file: the reader checks it
    sizes = sorted({(int(ds.Columns), int(ds.Rows)) for ds in s.headers})
    if len(sizes) > 1:
        raise InputError(f"{where} is mixed: images of different sizes ({', '.join(f'{a}×{b}' for a, b in sizes)}); "
                         "choose another with --series")
    try:
        orients = np.array([[float(v) for v in ds.ImageOrientationPatient] for ds in s.headers])
        positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in s.headers])
    except (AttributeError, TypeError, ValueError):
        raise InputError(f"{where} lacks image position/orientation tags: not a 3D volume") from None
    if np.abs(orients - orients[0]).max() > 1e-3:
        n = len({tuple(np.round(o, 3)) for o in orients})
        raise InputError(f"{where} is mixed: images in {n} different orientations (e.g. a localizer); "
                         "choose another with --series")
    normal = np.cross(orients[0][:3], orients[0][3:])
    order = np.argsort(positions @ normal)
    depth = (positions @ normal)[order]
    steps = np.diff(depth)
    pixel = float(min(s.headers[0].get("PixelSpacing", [1.0])))
    if (steps < 1e-3 * max(pixel, 1e-3)).any():
        same = int((steps < 1e-3 * max(pixel, 1e-3)).sum()) + 1
        raise InputError(f"{where} is mixed: {same} images share a slice position (several phases, echoes or "
                         "time points in one series); choose another with --series or split the series")
    usual = float(np.median(steps))
    gap = int(np.argmax(steps))
    if steps[gap] > 1.5 * usual:
        missing = round(float(steps[gap]) / usual) - 1
        raise InputError(f"{where} is incomplete: a {steps[gap]:.2f} mm gap between slices at {depth[gap]:.2f} and "
                         f"{depth[gap + 1]:.2f} mm (usual spacing {usual:.2f} mm): about {missing} slice"
                         f"{'s' if missing != 1 else ''} missing")
    return [s.files[i] for i in order]


def read_series(folder, uid: str | None = None):
    """(SimpleITK image, what was read): ``{"uid", "description", "modality", "size", "files",
    "chosen", "series_in_folder", "step"}``, ``step`` a one-line description for the summary."""
    import SimpleITK as sitk

    listed = list_series(folder)
    series, how, count = choose_series(folder, uid, listed)
    files = check_series(series, folder)
    try:
        if len(files) == 1:
            image = sitk.ReadImage(files[0])
        else:
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(files)
            image = reader.Execute()
    except RuntimeError as exc:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        raise InputError(f"{folder}: series {series.name()} cannot be read: "
                         f"{(lines[-1] if lines else 'unreadable').strip()[:200]}") from None
    others = [candidate(s).to_json() for s in listed if s is not series]
    return image, {**series.to_json(), "chosen": how, "series_in_folder": count, "alternatives": others,
                   "step": f"DICOM {how}" if uid is None else f"DICOM series {series.name()}, {how}"}
