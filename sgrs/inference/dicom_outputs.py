"""A batch case's DICOM outputs: the SEG and the SR beside it, on the source series, pushed when asked.

Whatever stops them, the case's other outputs are kept: the record says why (``{"error": …}``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..util.redact import one_line, safe_line
from .cases import CaseSource


@dataclass
class BatchOutputs:
    png: bool = False
    dicom_seg: bool = False
    push: bool = False               # STOW-RS the SEG back to the DICOMweb server it came from
    series_number: int | None = None  # the SEG's SeriesNumber (None: one above the highest in the study)
    hold_failed: bool = False        # a "likely failed" result is written but not pushed


def seg_sources(source: Path, options, outputs: BatchOutputs, case: CaseSource):
    from ..data.dicom_seg import source_datasets
    from ..util.errors import InputError

    if not source.is_dir():
        raise InputError(f"{case.source}: --dicom-seg needs a DICOM series as input, not an image file")
    if outputs.push and not case.is_url:
        raise InputError(f"{case.source}: --push stores the SEG on the DICOMweb server the scan came from; "
                         "this scan is not from one")
    return source_datasets(source, options.series)


def outside_roi(seg, options):
    """The voxels an ROI left unanalysed (region 0 where there is a region map), or None without an ROI."""
    if options.roi is None:
        return None
    if seg.regions is not None:
        return seg.regions == 0
    from ..data.roi import roi_crop

    inside = np.zeros(seg.label.shape, bool)
    inside[roi_crop(seg.geometry, options.roi).slices] = True
    return ~inside


def write_seg_and_sr(seg, datasets, bundle, folder: Path, outputs: BatchOutputs, case: CaseSource, source: Path,
               options) -> dict:
    """The SEG written (and pushed): its record for the summary; ``{"error": …}`` when it could not be."""
    from ..data.dicom_seg import flag_word, next_series_number
    from .case_flag import FAILED

    info: dict = {}
    stage = "written"
    try:
        number = outputs.series_number
        if number is None and case.is_url:
            from ..data.dicomweb import Reference
            from ..data.dicomweb import next_series_number as on_server

            ref = Reference.parse(case.source)
            number = on_server(ref.root, ref.study)
        elif number is None:
            number = next_series_number(source)
        info, written = seg_and_sr_files(seg.label, seg.regions, seg.geometry, seg.summary, datasets, bundle.meta,
                                         folder, number, outside_roi(seg, options))
        if outputs.push and outputs.hold_failed and flag_word(seg.summary) == FAILED:
            info["held"] = f"case flag '{FAILED}': kept here, not pushed (--hold-failed)"
        elif outputs.push:
            from ..data.dicomweb import Reference, store

            root = Reference.parse(case.source).root
            stage = "pushed"
            store(root, written)
            info["pushed_to"] = safe_line(root)
    except Exception as exc:  # noqa: BLE001 — whatever stops the SEG/SR, the other outputs are kept
        return {**info, "error": f"the DICOM SEG/SR was not {stage}: {one_line(exc)}"}
    return info


def seg_and_sr_files(label, regions, geometry, summary: dict, datasets, meta: dict, folder: Path, number: int,
                     outside=None) -> tuple[dict, list[Path]]:
    """``label.seg.dcm`` (the flag's word leading its descriptions; none for an empty result) and
    ``label.sr.dcm`` beside it: (the SEG's record, the files written)."""
    from ..data.dicom_seg import flag_word, write_dicom_seg
    from ..data.dicom_sr import write_dicom_sr

    info = write_dicom_seg(label, regions, datasets, meta, folder / "label.seg.dcm", geometry, flag_word(summary),
                           number, outside)
    written = [folder / "label.seg.dcm"] if "skipped" not in info else []
    if written:
        info["file"] = written[0].name
    sr = write_dicom_sr(summary, meta, datasets, written[0] if written else None, folder / "label.sr.dcm",
                        number + 1)
    info["sr"] = {**sr, "file": "label.sr.dcm"}
    return info, written + [folder / "label.sr.dcm"]


def edited_summary(label: np.ndarray, geometry, meta: dict) -> dict:
    """What the SR says of a label a person drew or changed: each class's volume and the word ``edited``
    in place of a case flag (the model's flag and reasons were about its own result, not this label)."""
    from .flag_words import EDITED

    voxel_ml = float(np.prod(geometry.spacing)) / 1000.0
    names = {int(c["value"]): c["name"] for c in meta.get("classes", [])}
    values, counts = np.unique(label[label > 0], return_counts=True)
    return {"case_flag": EDITED, "classes": {names.get(int(v), str(int(v))): {
        "value": int(v), "voxels": int(n), "ml": round(int(n) * voxel_ml, 3)} for v, n in zip(values, counts)}}


def send_seg_and_sr(root: str, label, regions, summary: dict, dicom_folder: Path, series_uid: str | None,
                    meta: dict, folder: Path) -> dict:
    """What ``sgrs segment --push`` stores, for a label made elsewhere (the Studio): the SEG and the SR on the
    series in ``dicom_folder``, written to ``folder`` and stored with STOW-RS on ``root``."""
    from ..data.dicom_seg import source_datasets
    from ..data.dicomweb import next_series_number, store
    from ..data.image_io import read_scan
    from ..util.errors import InputError

    datasets = source_datasets(dicom_folder, series_uid)
    _, geometry, _ = read_scan(dicom_folder, series_uid)
    number = next_series_number(root, str(datasets[0].StudyInstanceUID))
    info, written = seg_and_sr_files(label, regions, geometry, summary, datasets, meta, folder, number)
    if "skipped" in info:
        raise InputError(f"Nothing sent: {info['skipped']}")
    store(root, written)
    return {**info, "pushed_to": safe_line(root)}
