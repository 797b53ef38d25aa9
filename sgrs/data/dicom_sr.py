"""``label.sr.dcm``: how far to trust the result, as a DICOM Structured Report (TID 1500, highdicom's
Comprehensive 3D SR) beside the SEG: per class its volume, referencing the SEG's segment and the source
series; the case flag and its reasons, the engine's warnings (a scan unlike the model's training
data, ...), the expected-error share, Δ and Θ shares, the analysed region
when an ROI was used; the model and its content hash as the algorithm. An empty result (no SEG) gets
an SR that says nothing was segmented. The flag's words come from the engine's summary.
"""
from __future__ import annotations

import hashlib

from .. import __version__
from .dicom_seg import SCHEME, class_codes, fit_lo, flag_word, model_hash

ML, PERCENT = ("UCUM", "ml", "milliliter"), ("UCUM", "%", "percent")
CODES = {  # the private scheme 99SGRS (declared in the SR's CodingSchemeIdentificationSequence)
    "flag": (SCHEME, "CASEFLAG", "SGRS case flag"),
    "reason": (SCHEME, "FLAGREASON", "SGRS case flag reason"),
    "warning": (SCHEME, "WARNING", "SGRS warning about the scan"),
    "error": (SCHEME, "EXPERRSHARE", "Expected error share of the structure"),
    "delta": (SCHEME, "DELTASHARE", "Uncertain (delta) share of the structure"),
    "theta": (SCHEME, "THETASHARE", "Inconsistent (theta) share of the structure"),
    "analysed": (SCHEME, "ANALYSED", "Analysed region"),
    "result": (SCHEME, "RESULT", "Segmentation result"),
}


def _code(triple):
    from highdicom.sr import CodedConcept

    scheme, value, meaning = (str(v) for v in triple)
    return CodedConcept(value[:16], scheme, fit_lo(meaning))


def _word_code(key: str, word: str):
    """A value in 99SGRS: CODE value from the words (16 characters), the words as meaning (64)."""
    value = "".join(ch for ch in word.upper() if ch.isalnum())[:16] or "NONE"
    return _code((SCHEME, value, word))


def _evaluations(summary: dict):
    import highdicom as hd

    out = []
    flag = flag_word(summary)
    if flag:
        out.append(hd.sr.QualitativeEvaluation(_code(CODES["flag"]), _word_code("flag", flag)))
    for reason in summary.get("case_flag_reasons") or []:
        out.append(hd.sr.QualitativeEvaluation(_code(CODES["reason"]), _word_code("reason", str(reason))))
    for warning in summary.get("warnings") or []:  # e.g. a scan unlike the model's training data
        text = str(warning)
        value = "W" + hashlib.sha1(text.encode()).hexdigest()[:15].upper()  # one code per whole text
        out.append(hd.sr.QualitativeEvaluation(_code(CODES["warning"]), _code((SCHEME, value, text))))
    roi = (summary.get("scan") or {}).get("roi")
    if roi:
        bounds = ", ".join(f"{v:.1f}" for v in roi.get("bounds_lps", []))
        region = _code((SCHEME, "ROI", f"ROI {bounds} mm LPS"))
        out.append(hd.sr.QualitativeEvaluation(_code(CODES["analysed"]), region))
    return out


def _shares(summary: dict, algorithm):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    measures = (summary.get("review") or {}).get("measures") or {}
    values = {"error": measures.get("expected_error_share")}
    for key in ("delta", "theta"):
        values[key] = ((summary.get("regions") or {}).get(key) or {}).get("share_of_foreground")
    return [hd.sr.Measurement(name=_code(CODES[k]), value=float(v) * 100.0, unit=_code(PERCENT),
                              algorithm_id=algorithm) for k, v in values.items() if v is not None]


def write_dicom_sr(summary: dict, meta: dict, datasets, seg_path, path, series_number: int) -> dict:
    """Write the SR; ``seg_path`` the SEG it reports on (None: the result is empty, no SEG)."""
    import highdicom as hd
    import pydicom
    from pydicom.sequence import Sequence
    from pydicom.sr.codedict import codes

    from ..util.atomic import atomic_path
    from .dicom_seg import _coding_scheme

    seg = pydicom.dcmread(seg_path) if seg_path else None
    digest = model_hash(meta)
    algorithm = hd.sr.AlgorithmIdentification(name="SGRS-Net", version=fit_lo(
        f"sgrs {__version__}; model {str(meta.get('name') or 'unnamed')[:24]} {digest}"))
    device = hd.sr.ObserverContext(observer_type=codes.DCM.Device,
                                   observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                                       uid=hd.UID(), name="SGRS-Net", manufacturer_name="SGRS",
                                       model_name=fit_lo(meta.get("name") or "SGRS-Net")))
    groups = []
    source_series = str(datasets[0].SeriesInstanceUID)
    if seg is not None:
        by_label = {s.SegmentLabel: int(s.SegmentNumber) for s in seg.SegmentSequence}
        for c in sorted(meta["classes"], key=lambda c: c["value"]):
            if c["value"] == 0 or fit_lo(c["name"]) not in by_label:
                continue
            ml = (summary.get("classes") or {}).get(c["name"], {}).get("ml", 0.0)
            first = len(groups) == 0
            shares = _shares(summary, algorithm) if first else []
            groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=fit_lo(c["name"])),
                referenced_segment=hd.sr.ReferencedSegment(
                    sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
                    segment_number=by_label[fit_lo(c["name"])],
                    source_series=hd.sr.SourceSeriesForSegmentation(source_series)),
                finding_type=_code(class_codes(c)[1]), algorithm_id=algorithm,
                measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=float(ml), unit=_code(ML),
                                                algorithm_id=algorithm)] + shares,
                qualitative_evaluations=_evaluations(summary) if first else None))
    else:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="SGRS result"),
            algorithm_id=algorithm,
            measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=0.0, unit=_code(ML),
                                            algorithm_id=algorithm)],
            qualitative_evaluations=[hd.sr.QualitativeEvaluation(
                _code(CODES["result"]), _code((SCHEME, "EMPTY", "nothing segmented")))] + _evaluations(summary)))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=_code(("SCT", "363679005", "Imaging procedure")), imaging_measurements=groups)
    evidence = list(datasets) + ([seg] if seg is not None else [])
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence, content=report, series_instance_uid=hd.UID(), series_number=int(series_number),
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="SGRS", is_complete=True)
    sr.SeriesDescription = fit_lo(f"SGRS [{flag_word(summary) or 'no flag'}] report")
    sr.CodingSchemeIdentificationSequence = Sequence([_coding_scheme()])
    sr.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: the flag's reasons name Δ∪Θ, the classes may be any language
    with atomic_path(path) as tmp:
        sr.save_as(tmp)
    return {"file": str(path), "series_uid": str(sr.SeriesInstanceUID), "sop_uid": str(sr.SOPInstanceUID),
            "series_number": int(series_number)}
