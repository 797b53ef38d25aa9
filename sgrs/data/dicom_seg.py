"""``label.seg.dcm``: the segmentation as a DICOM Segmentation (highdicom) on the source series' grid.

Segments 1..C−1 are the model's classes, coded from the bundle's terminology (a class without one gets
the private scheme ``99SGRS``: no standard code is claimed for it); two further segments carry the region
map's Δ (uncertain) and Θ (fragile) voxels, so a DICOM viewer shows where the model is unsure; with an ROI a
last segment marks the voxels never analysed. Segments overlap, so the SEG is BINARY with one bit plane per
segment. Each frame sits on a source frame: a slice of a classic series or a frame of an enhanced
(multi-frame) image, matched by its position on the result's grid. The case flag's word is in the
SeriesDescription and ContentDescription; an empty result writes no SEG.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from .. import __version__
from ..util.errors import InputError
from .dicom import check_series, choose_series

SCHEME = "99SGRS"
SCHEME_NAME = "SGRS private codes"
REGION_CODES = {  # a private scheme (99…): no standard code says "the model is unsure here"
    "delta": ("DELTA", "Δ uncertain", "SGRS Δ: model unsure (entropy above tau)", (255, 210, 0)),
    "theta": ("THETA", "Θ inconsistent", "SGRS Θ: prediction flips under a perturbation", (230, 0, 230)),
}
NOT_ANALYSED = ("NOTANALYSED", "not analysed", "outside the ROI: never analysed, not background", (128, 128, 128))
CLASS_CATEGORY = (SCHEME, "CLASS", "SGRS model class")  # for a class the bundle gives no terminology
EMPTY = "the result is empty (no voxel of any class): no DICOM SEG written"


# Type 2 patient and study attributes the SEG and the SR copy from the source (highdicom reads each one): a
# source may omit them (a de-identified or minimal export), and type 2 allows them empty
TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                "ReferringPhysicianName", "StudyID", "AccessionNumber")


def source_datasets(folder, series_uid: str | None):
    """The source series' headers (one per file; an enhanced series is one file holding every frame)."""
    import pydicom

    series, _, _ = choose_series(folder, series_uid)
    files = check_series(series, folder)
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
                           "FrameOfReferenceUID") if not str(datasets[0].get(k, "") or "")]
    if missing:
        raise InputError(f"{folder}: series lacks {', '.join(missing)} (anonymised without new UIDs?): "
                         "a DICOM SEG cannot reference it")
    if len({str(ds.SOPInstanceUID) for ds in datasets}) != len(datasets):
        raise InputError(f"{folder}: instances of the series share a SOPInstanceUID: a DICOM SEG cannot reference them")
    for ds in datasets:  # in memory only: the source files are never written
        for keyword in TYPE2_COPIED:
            if keyword not in ds:
                setattr(ds, keyword, "")
    return datasets


def _plane(ds, frame: int | None):
    """(ImagePositionPatient, ImageOrientationPatient) of a slice, or of frame ``frame`` of a multi-frame image."""
    if frame is None:
        return ds.ImagePositionPatient, ds.ImageOrientationPatient
    per = ds.PerFrameFunctionalGroupsSequence[frame]
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]

    def find(name):
        for group in (per, shared):
            if group is not None and name in group:
                return group.get(name)[0]
        raise AttributeError(name)
    return find("PlanePositionSequence").ImagePositionPatient, find("PlaneOrientationSequence").ImageOrientationPatient


def source_frames(datasets) -> list[tuple[np.ndarray, np.ndarray]]:
    """(position, orientation) of every source frame, in the order highdicom takes frames."""
    out = []
    for ds in datasets:
        n = int(ds.get("NumberOfFrames", 1) or 1)
        frames = [None] if n == 1 and "PerFrameFunctionalGroupsSequence" not in ds else range(n)
        for f in frames:
            try:
                position, orientation = _plane(ds, f)
                out.append((np.array([float(v) for v in position]), np.array([float(v) for v in orientation])))
            except (AttributeError, IndexError, TypeError, ValueError, KeyError):
                raise InputError("the source series lacks plane positions/orientations: a DICOM SEG cannot "
                                 "place its frames") from None
    return out


def slices_on_grid(geometry, frames) -> list[int]:
    """For each source frame, the result's z index it lies on; an error if a frame is not on the grid."""
    d = np.asarray(geometry.direction, float).reshape(3, 3)
    spacing, origin = np.asarray(geometry.spacing, float), np.asarray(geometry.origin, float)
    out = []
    for position, orientation in frames:
        index = (np.linalg.inv(d) @ (position - origin)) / spacing
        aligned = np.allclose(orientation[:3], d[:, 0], atol=1e-3) and np.allclose(orientation[3:], d[:, 1], atol=1e-3)
        k = int(round(index[2]))
        if not aligned or np.abs(index[:2]).max() > 1e-2 or abs(index[2] - k) > 1e-2 or not 0 <= k < geometry.size[2]:
            raise InputError(f"a source frame at {np.round(position, 2).tolist()} mm is not on the result's grid "
                             f"(voxel index {np.round(index, 2).tolist()}): a DICOM SEG needs the result on the "
                             "source grid")
        out.append(k)
    if sorted(out) != list(range(geometry.size[2])):
        raise InputError(f"the source's {len(out)} frames do not cover the result's {geometry.size[2]} slices "
                         "once each: a DICOM SEG needs the result on the source grid")
    return out


def model_hash(meta: dict) -> str:
    """The model's content hash: the bundle's own if it records one, else a hash of its weight files' SHA-256."""
    own = meta.get("content_hash") or meta.get("hash")
    if own:
        return str(own)[:16]
    return hashlib.sha256(json.dumps(meta.get("sha256") or {}, sort_keys=True).encode()).hexdigest()[:16]


def flag_word(summary: dict) -> str | None:
    """The case flag's word as the engine put it in the summary (the trust code owns the words)."""
    flag = summary.get("case_flag")
    if isinstance(flag, dict):
        flag = flag.get("flag") or flag.get("word")
    return str(flag) if flag else None


def _code(triple):
    from highdicom.sr import CodedConcept

    scheme, value, meaning = (str(v) for v in triple)
    return CodedConcept(value, scheme, fit_lo(meaning))


def _colour(rgb):
    import highdicom as hd

    return hd.color.CIELabColor.from_rgb(*(int(v) for v in rgb[:3])) if rgb else None


def _algorithm(meta: dict):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    digest = model_hash(meta)
    name = str(meta.get("name") or "unnamed")[: 64 - len(f"sgrs {__version__}; model  {digest}")]
    return hd.AlgorithmIdentificationSequence(
        name="SGRS-Net", family=codes.cid7162.ArtificialIntelligence,
        version=fit_lo(f"sgrs {__version__}; model {name} {digest}"), source=fit_lo(meta.get("name") or "") or None)


def _segment(number, label, category, kind, algorithm, description=None, colour=None):
    import highdicom as hd

    seg = hd.seg.SegmentDescription(segment_number=number, segment_label=fit_lo(label),
                                    segmented_property_category=category, segmented_property_type=kind,
                                    algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                                    algorithm_identification=algorithm, display_color=_colour(colour))
    if description:
        seg.SegmentDescription = fit_lo(description)
    return seg


def class_codes(c: dict) -> tuple[tuple, tuple]:
    """(category, type) triples of a class: the bundle's terminology, else the private scheme."""
    term = c.get("terminology") or {}
    if term.get("category") and term.get("type"):
        return tuple(term["category"]), tuple(term["type"])
    return CLASS_CATEGORY, (SCHEME, f"CLASS{int(c['value'])}", c["name"])


def segments_for(meta: dict, with_regions: bool, not_analysed: bool = False) -> list[tuple[str, object]]:
    """(what, SegmentDescription) per segment, in segment-number order: classes, Δ and Θ, not analysed."""
    algorithm = _algorithm(meta)
    out = []
    for c in sorted(meta["classes"], key=lambda c: c["value"]):
        if c["value"] == 0:
            continue
        category, kind = class_codes(c)
        out.append((f"class:{c['value']}", _segment(len(out) + 1, c["name"], _code(category), _code(kind), algorithm,
                                                    colour=c.get("color"))))
    category = _code((SCHEME, "REGION", "Model confidence region"))
    extra = list(REGION_CODES.items()) if with_regions else []
    extra += [("outside", NOT_ANALYSED)] if not_analysed else []
    for key, (value, label, description, colour) in extra:
        out.append((f"region:{key}", _segment(len(out) + 1, label, category, _code((SCHEME, value, label)),
                                              algorithm, description, colour)))
    return out


def _coding_scheme():
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = "SGRS for 3D Slicer"
    return item


def fit_lo(text: str, limit: int = 64) -> str:
    """``text`` cut to what an LO element holds, counted in UTF-8 bytes as validators count it ("×", "Δ"
    take two), never inside a character."""
    return str(text).encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def descriptions(meta: dict, flag: str | None, roi: bool, regions: bool = True) -> tuple[str, str]:
    """(SeriesDescription, ContentDescription), both LO (64 characters): the flag's word first, never cut;
    the content names the uncertain regions only when the SEG holds them (an edited label does not)."""
    word = f"[{flag}] " if flag else ""
    series = fit_lo(f"SGRS {word}{meta.get('name') or ''}".strip())
    content = f"SGRS-Net {word}".strip() + (" ROI only: outside not analysed" if roi
                                            else " with uncertain regions" if regions else "")
    return series, fit_lo(content)


def write_dicom_seg(label: np.ndarray, regions: np.ndarray | None, datasets, meta: dict, path, geometry,
                    flag: str | None = None, series_number: int | None = None,
                    outside: np.ndarray | None = None) -> dict:
    """Write the SEG beside the outputs; returns its UIDs and segments for the summary, or, for an empty
    result, ``{"skipped": why}`` and no file. ``outside``: the voxels an ROI left unanalysed (or None)."""
    import highdicom as hd
    from pydicom.sequence import Sequence

    from ..inference.maps import DELTA, THETA
    from ..util.atomic import atomic_path

    first = datasets[0]
    if (label.shape[0], label.shape[1]) != (int(first.Columns), int(first.Rows)):
        raise InputError(f"label {label.shape} is not on the source series' grid ({int(first.Columns)}, "
                         f"{int(first.Rows)}, …): a DICOM SEG needs the result on the source grid")
    order = slices_on_grid(geometry, source_frames(datasets))
    if not label.any():
        return {"skipped": EMPTY}
    with_outside = outside is not None and bool(outside.any())
    segments = segments_for(meta, regions is not None, with_outside)
    masks = {"delta": lambda: regions == DELTA, "theta": lambda: regions == THETA, "outside": lambda: outside}
    planes = []
    for what, _ in segments:
        kind, key = what.split(":")
        mask = label == int(key) if kind == "class" else masks[key]()
        planes.append(mask[:, :, order].transpose(2, 1, 0))  # (x, y, source frame) → (frame, row, column)
    pixels = np.stack(planes, axis=-1).astype(np.uint8)
    series_description, content_description = descriptions(meta, flag, with_outside, regions is not None)
    seg = hd.seg.Segmentation(
        source_images=datasets, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[d for _, d in segments], series_instance_uid=hd.UID(),
        series_number=int(series_number or 1), sop_instance_uid=hd.UID(), instance_number=1, manufacturer="SGRS",
        manufacturer_model_name=fit_lo(meta.get("name") or "SGRS-Net"), software_versions=f"sgrs {__version__}",
        device_serial_number="0", series_description=series_description, content_label="SGRS",
        content_description=content_description)
    seg.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: the Δ / Θ labels are not Latin-1
    seg.CodingSchemeIdentificationSequence = Sequence([_coding_scheme()])
    with atomic_path(path) as tmp:
        seg.save_as(tmp)
    return {"file": str(path), "series_uid": str(seg.SeriesInstanceUID), "sop_uid": str(seg.SOPInstanceUID),
            "study_uid": str(seg.StudyInstanceUID), "series_number": int(seg.SeriesNumber),
            "series_description": series_description, "segments": [d.SegmentLabel for _, d in segments]}


def next_series_number(folder) -> int:
    """One above the highest SeriesNumber of any series in the DICOM folder (its study, as far as it holds it)."""
    import os

    import pydicom

    highest = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                ds = pydicom.dcmread(os.path.join(root, name), stop_before_pixels=True,
                                     specific_tags=["SeriesNumber"])
                highest = max(highest, int(ds.get("SeriesNumber") or 0))
            except Exception:  # noqa: BLE001 — not DICOM, or no usable number: it does not count
                continue
    return highest + 1
