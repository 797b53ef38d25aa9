"""DICOMweb through ``dicomweb-client``: QIDO-RS to list, WADO-RS to retrieve, STOW-RS to store.

A reference is a URL: the service root (``https://pacs/dicom-web``), a study
(``…/studies/UID``) or a series (``…/studies/UID/series/UID``). Every failure — server down,
credentials refused, nothing found, not an image series — is one :class:`InputError` line
that names the server and never holds the credentials (see :mod:`sgrs.data.credentials`).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..util.errors import InputError
from ..util.redact import safe_line
from .credentials import PASSWORD, TOKEN, USER, auth_for
from .dicom import NOT_IMAGES
from .series_rule import Candidate, pick

TIMEOUT_S = 60
PAGE = 100                     # QIDO results asked per request: a server's own cap never cuts a list short
UID_FORM = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def check_uid(uid: str, url: str = "") -> str:
    """A DICOM UID (digits and dots, at most 64 characters) or one line saying what is wrong with it."""
    where = f"{safe_line(url, 160)}: " if url else ""
    if len(uid) > 64:
        raise InputError(f"{where}not a DICOM UID: {len(uid)} characters (a UID has at most 64)")
    if not UID_FORM.match(uid):
        raise InputError(f"{where}not a DICOM UID: {safe_line(uid, 80)!r} (a UID is digits and dots, "
                         "e.g. 1.2.840.113619.2.55)")
    return uid


@dataclass
class Reference:
    root: str                    # service root, no trailing slash
    study: str | None = None
    series: str | None = None

    @classmethod
    def parse(cls, url: str) -> "Reference":
        url = url.rstrip("/")
        root, _, rest = url.partition("/studies/")
        parts = [p for p in rest.split("/") if p] if rest else []
        if parts and (len(parts) not in (1, 3) or (len(parts) == 3 and parts[1] != "series")):
            raise InputError(f"{safe_line(url)}: not a DICOMweb study or series URL (…/studies/UID[/series/UID])")
        for uid in parts[::2]:
            check_uid(uid, url)
        return cls(root, parts[0] if parts else None, parts[2] if len(parts) == 3 else None)

    def url(self) -> str:
        return self.root + (f"/studies/{self.study}" if self.study else "") + (
            f"/series/{self.series}" if self.series else "")


@contextmanager
def talking_to(root: str, what: str):
    """Turn what ``requests`` raises into one line that names the server and what we were doing."""
    import requests

    root = safe_line(root)
    try:
        yield
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        if code in (401, 403):
            raise InputError(f"{root}: the DICOMweb server refused the credentials (HTTP {code}) while {what}; "
                             f"set {USER}/{PASSWORD} or {TOKEN}, or a netrc entry for this host") from None
        if code == 404:
            raise InputError(f"{root}: not found on the DICOMweb server (HTTP 404) while {what}") from None
        reason = exc.response.reason if exc.response is not None else ""
        raise InputError(f"{root}: the DICOMweb server answered HTTP {code} {reason} while {what}") from None
    except requests.exceptions.Timeout:
        raise InputError(f"{root}: the DICOMweb server did not answer within {TIMEOUT_S} s while {what}") from None
    except requests.exceptions.SSLError:
        raise InputError(f"{root}: the server's TLS certificate is not trusted while {what}; give the hospital's CA "
                         "(--ca-bundle in sgrs watch, or REQUESTS_CA_BUNDLE=PEM)") from None
    except requests.exceptions.ConnectionError:
        raise InputError(f"{root}: cannot reach the DICOMweb server (down, or wrong host/port) while {what}") from None
    except requests.exceptions.RequestException as exc:
        raise InputError(f"{root}: DICOMweb request failed while {what} ({type(exc).__name__})") from None


def connect(root: str):
    import requests
    from dicomweb_client.api import DICOMwebClient

    auth, _ = auth_for(root)
    session = requests.Session()
    session.auth = auth  # requests still takes proxies and a CA bundle (REQUESTS_CA_BUNDLE) from the environment
    client = DICOMwebClient(url=root, session=session, timeout=TIMEOUT_S)
    client.set_http_retry_params(retry=False)  # a refused or missing server: say so at once
    return client


def _value(item: dict, tag: str, default=""):
    values = item.get(tag, {}).get("Value") or [default]
    v = values[0]
    return v.get("Alphabetic", "") if isinstance(v, dict) else v


def _pages(search, **kwargs) -> list[dict]:
    """Every QIDO result, PAGE at a time (offset/limit), until the server has no more."""
    found, offset = [], 0
    while True:
        page = search(offset=offset, limit=PAGE, **kwargs)
        found += page
        if not page:
            return found
        offset += len(page)


def study_filters(modality: str | None = None, date: str | None = None) -> dict:
    """QIDO search filters: ModalitiesInStudy, StudyDate (YYYYMMDD, or a range YYYYMMDD-YYYYMMDD, either end open)."""
    filters = {}
    if modality:
        filters["ModalitiesInStudy"] = modality.upper()
    if date:
        if not re.match(r"^(\d{8})?(-(\d{8})?)?$", date) or date in ("", "-"):
            raise InputError(f"--date {safe_line(date, 40)!r}: give YYYYMMDD or a range YYYYMMDD-YYYYMMDD "
                             "(either end may be left open)")
        filters["StudyDate"] = date
    return filters


def list_studies(root: str, modality: str | None = None, date: str | None = None) -> list[dict]:
    """QIDO-RS: the server's studies (uid, patient, date, description, modalities, series), all pages."""
    client = connect(root)
    filters = study_filters(modality, date)
    with talking_to(root, "listing studies"):
        found = _pages(client.search_for_studies, search_filters=filters,
                       fields=["ModalitiesInStudy", "NumberOfStudyRelatedSeries", "StudyDescription", "PatientName",
                               "PatientID"])
    return [{"uid": _value(s, "0020000D"), "patient": str(_value(s, "00100010")), "patient_id": _value(s, "00100020"),
             "date": _value(s, "00080020"), "description": _value(s, "00081030"),
             "modalities": list(s.get("00080061", {}).get("Value", [])),
             "series": int(_value(s, "00201206", 0) or 0)} for s in found]


def list_series(root: str, study: str) -> list[dict]:
    """QIDO-RS: a study's series (uid, modality, description, number, instances), the most instances first."""
    client = connect(root)
    with talking_to(root, f"listing the series of study {study}"):
        found = _pages(client.search_for_series, study_instance_uid=study,
                       fields=["NumberOfSeriesRelatedInstances", "SeriesDescription", "SeriesNumber"])
    out = [{"uid": _value(s, "0020000E"), "modality": _value(s, "00080060"), "description": _value(s, "0008103E"),
            "number": _int(_value(s, "00200011", None)), "instances": int(_value(s, "00201209", 0) or 0)}
           for s in found]
    return sorted(out, key=lambda s: (-s["instances"], s["uid"]))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def series_instances(root: str, study: str, series: str) -> list[dict]:
    """QIDO-RS: the series' instances with what the series rule needs (size, frames, image type, SOP class)."""
    client = connect(root)
    with talking_to(root, f"listing the instances of series {series}"):
        found = _pages(client.search_for_instances, study_instance_uid=study, series_instance_uid=series,
                       fields=["Rows", "Columns", "NumberOfFrames", "ImageType", "SOPClassUID"])
    return [{"uid": _value(i, "00080018"), "rows": _int(_value(i, "00280010", 0)) or 0,
             "columns": _int(_value(i, "00280011", 0)) or 0, "frames": _int(_value(i, "00280008", 1)) or 1,
             "image_type": list(i.get("00080008", {}).get("Value", [])), "sop_class": _value(i, "00080016")}
            for i in found]


def _candidate(root: str, study: str, s: dict) -> Candidate:
    from .series_rule import why_not

    if str(s["modality"]).upper() in NOT_IMAGES:
        return Candidate(s["uid"], s["description"], s["modality"], (0, 0, 0), f"not images ({s['modality']})")
    items = [i for i in series_instances(root, study, s["uid"]) if i["rows"] and i["columns"]]
    if not items:
        return Candidate(s["uid"], s["description"], s["modality"], (0, 0, 0), "no images")
    frames = sum(i["frames"] for i in items)
    return Candidate(s["uid"], s["description"], s["modality"], (items[0]["columns"], items[0]["rows"], frames),
                     why_not([i["image_type"] for i in items], {i["sop_class"] for i in items}, frames))


def choose_series(ref: Reference) -> tuple[str, str, list[dict]]:
    """(series UID, one line on the choice, the alternatives): the URL's series if it is an image series,
    else the study's series the series rule picks (sgrs.data.series_rule)."""
    if ref.study is None:
        raise InputError(f"{safe_line(ref.root)}: name a study or series (…/studies/UID[/series/UID]) to segment; "
                         "list them with 'sgrs dicomweb URL'")
    series = list_series(ref.root, ref.study)
    if not series:
        raise InputError(f"{safe_line(ref.root)}: no such study {ref.study} on the DICOMweb server")
    if ref.series is not None:
        found = [s for s in series if s["uid"] == ref.series]
        if not found:
            raise InputError(f"{safe_line(ref.url())}: no such series in study {ref.study} on the DICOMweb server")
        if str(found[0]["modality"]).upper() in NOT_IMAGES:
            raise InputError(f"{safe_line(ref.url())}: series is {found[0]['modality']}, not an image series")
        return ref.series, f"series {ref.series}, named in the URL", []
    candidates = [_candidate(ref.root, ref.study, s) for s in series]
    chosen, line = pick(candidates)
    if chosen is None:
        raise InputError(f"{safe_line(ref.url())}: the study holds {line}; name a series in the URL "
                         "(…/series/UID) to segment it anyway")
    return chosen.uid, line, [c.to_json() for c in candidates if c is not chosen]


def source_key(ref: Reference, series: str) -> str:
    """What resume compares: a hash of the source series' SOP Instance UIDs (never our own SEG or SR,
    which are other series), so a study that gained or lost images is segmented again."""
    import hashlib

    uids = sorted(i["uid"] for i in series_instances(ref.root, ref.study, series))
    return hashlib.sha256("\n".join([series, *uids]).encode()).hexdigest()[:16]


def next_series_number(root: str, study: str) -> int:
    """One above the highest SeriesNumber in the study (1 if none has one)."""
    numbers = [s["number"] for s in list_series(root, study) if s["number"] is not None]
    return max(numbers, default=0) + 1


def retrieve(ref: Reference, folder, series: str | None = None) -> Path:
    """WADO-RS: the series' instances as files in ``folder`` (their original transfer syntax);
    ``series``: already chosen (:func:`choose_series`)."""
    series = series or choose_series(ref)[0]
    client = connect(ref.root)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with talking_to(ref.root, f"retrieving series {series}"):
        for i, ds in enumerate(client.iter_series(ref.study, series, media_types=(("application/dicom", "*"),))):
            ds.save_as(folder / f"{i:05d}.dcm", enforce_file_format=True)
    if not any(folder.iterdir()):
        raise InputError(f"{safe_line(ref.url())}: the DICOMweb server returned no instances for series {series}")
    return folder


def store(root: str, paths) -> None:
    """STOW-RS: store DICOM files (our SEG) on the server."""
    import pydicom

    client = connect(root)
    datasets = [pydicom.dcmread(p) for p in paths]
    with talking_to(root, "storing the DICOM SEG"):
        client.store_instances(datasets)


def pull_volume(ref: Reference, folder) -> tuple[Path, Path, dict]:
    """WADO-RS a series into ``folder/dicom`` and write it as ``folder/image.nrrd``:
    (volume file, DICOM folder, the series read). The DICOM files stay: a SEG of it will reference them."""
    from .image_io import read_scan, write_image

    folder = Path(folder)
    dicom = retrieve(ref, folder / "dicom")
    image, geometry, series = read_scan(dicom)
    return write_image(image, geometry, folder / "image.nrrd"), dicom, series

