"""``label.seg.dcm``: the segmentation as a DICOM Segmentation (highdicom) on the source series' grid.

Segments 1..C−1 are the model's classes with the bundle's terminology codes; two further segments
carry the region map's Δ (uncertain) and Θ (fragile) voxels, so a DICOM viewer shows where the model
is unsure. Segments overlap (Δ lies over the structure), so the SEG is BINARY with one bit plane per
segment. Frames follow the source instances: frame k of segment s is source slice k, referenced by
its SOP Instance UID; the SEG shares the source's study and frame of reference.
"""
from __future__ import annotations

import numpy as np

from .. import __version__
from ..util.errors import InputError
from .dicom import check_series, choose_series

REGION_CODES = {  # a private scheme (99…): no standard code says "the model is unsure here"
    "delta": ("DELTA", "Δ uncertain", "SGRS Δ: model unsure (entropy above tau)"),
    "theta": ("THETA", "Θ inconsistent", "SGRS Θ: prediction flips under a perturbation"),
}
SCHEME = "99SGRS"
UNSPECIFIED_TYPE = ("SCT", "85756007", "Tissue")
UNSPECIFIED_CATEGORY = ("SCT", "85756007", "Tissue")


def source_datasets(folder, series_uid: str | None):
    """The source series' headers in the order the engine's array has its slices (along the normal)."""
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
    return datasets


def _code(triple):
    from highdicom.sr import CodedConcept

    scheme, value, meaning = triple
    return CodedConcept(value, scheme, meaning)


def _algorithm(meta: dict):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.AlgorithmIdentificationSequence(
        name="SGRS-Net", family=codes.cid7162.ArtificialIntelligence,
        version=f"sgrs {__version__}; model {meta.get('name') or 'unnamed'}"[:64],
        source=str(meta.get("name") or "")[:64] or None)


def _segment(number, label, category, kind, algorithm, description=None):
    import highdicom as hd

    seg = hd.seg.SegmentDescription(segment_number=number, segment_label=label[:64],
                                    segmented_property_category=category, segmented_property_type=kind,
                                    algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                                    algorithm_identification=algorithm)
    if description:
        seg.SegmentDescription = description[:64]
    return seg


def segments_for(meta: dict, with_regions: bool) -> list[tuple[str, object]]:
    """(what, SegmentDescription) per segment, in segment-number order: classes, then Δ and Θ."""
    algorithm = _algorithm(meta)
    out = []
    for c in sorted(meta["classes"], key=lambda c: c["value"]):
        if c["value"] == 0:
            continue
        term = c.get("terminology") or {}
        category = _code(term.get("category", UNSPECIFIED_CATEGORY))
        kind = _code(term.get("type", (UNSPECIFIED_TYPE[0], UNSPECIFIED_TYPE[1], c["name"])))
        out.append((f"class:{c['value']}", _segment(len(out) + 1, c["name"], category, kind, algorithm)))
    if with_regions:
        category = _code((SCHEME, "REGION", "Model confidence region"))
        for key, (value, label, description) in REGION_CODES.items():
            out.append((f"region:{key}", _segment(len(out) + 1, label, category, _code((SCHEME, value, label)),
                                                  algorithm, description)))
    return out


def write_dicom_seg(label: np.ndarray, regions: np.ndarray | None, datasets, meta: dict, path) -> dict:
    """Write the SEG beside the outputs; returns its UIDs and segments for the summary."""
    import highdicom as hd

    from ..inference.maps import DELTA, THETA
    from ..util.atomic import atomic_path

    first = datasets[0]
    shape = (len(datasets), int(first.Rows), int(first.Columns))
    if (label.shape[2], label.shape[1], label.shape[0]) != shape:
        raise InputError(f"label {label.shape} is not on the source series' grid {shape[::-1]}: "
                         "a DICOM SEG needs the result on the source grid")
    segments = segments_for(meta, regions is not None)
    planes = []
    for what, _ in segments:
        kind, key = what.split(":")
        mask = label == int(key) if kind == "class" else regions == {"delta": DELTA, "theta": THETA}[key]
        planes.append(mask.transpose(2, 1, 0))  # (x, y, z) → (frame, row, column)
    pixels = np.stack(planes, axis=-1).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=datasets, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[d for _, d in segments], series_instance_uid=hd.UID(), series_number=9001,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="SGRS",
        manufacturer_model_name=str(meta.get("name") or "SGRS-Net")[:64], software_versions=f"sgrs {__version__}",
        device_serial_number="0", series_description=f"SGRS {meta.get('name') or ''}".strip()[:64],
        content_label="SGRS", content_description="SGRS-Net segmentation with its uncertain regions")
    seg.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: the Δ / Θ labels are not Latin-1
    with atomic_path(path) as tmp:
        seg.save_as(tmp)
    return {"file": str(path), "series_uid": str(seg.SeriesInstanceUID), "sop_uid": str(seg.SOPInstanceUID),
            "study_uid": str(seg.StudyInstanceUID), "segments": [d.SegmentLabel for _, d in segments]}
