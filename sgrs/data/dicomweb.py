"""DICOMweb through ``dicomweb-client``: QIDO-RS to list, WADO-RS to retrieve, STOW-RS to store.

A reference is a URL: the service root (``https://pacs/dicom-web``), a study
(``…/studies/UID``) or a series (``…/studies/UID/series/UID``). Every failure — server down,
credentials refused, nothing found, not an image series — is one :class:`InputError` line
that names the server and never holds the credentials (see :mod:`sgrs.data.credentials`).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..util.errors import InputError
from .credentials import PASSWORD, TOKEN, USER, auth_for
from .dicom import NOT_IMAGES

TIMEOUT_S = 60


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
            raise InputError(f"{url}: not a DICOMweb study or series URL (…/studies/UID[/series/UID])")
        return cls(root, parts[0] if parts else None, parts[2] if len(parts) == 3 else None)

    def url(self) -> str:
        return self.root + (f"/studies/{self.study}" if self.study else "") + (
            f"/series/{self.series}" if self.series else "")


@contextmanager
def talking_to(root: str, what: str):
    """Turn what ``requests`` raises into one line that names the server and what we were doing."""
    import requests

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


def list_studies(root: str, limit: int = 200) -> list[dict]:
    """QIDO-RS: the server's studies (uid, patient, date, description, modalities, series)."""
    client = connect(root)
    with talking_to(root, "listing studies"):
        found = client.search_for_studies(limit=limit, fields=["ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                                                               "StudyDescription", "PatientName", "PatientID"])
    return [{"uid": _value(s, "0020000D"), "patient": str(_value(s, "00100010")), "patient_id": _value(s, "00100020"),
             "date": _value(s, "00080020"), "description": _value(s, "00081030"),
             "modalities": list(s.get("00080061", {}).get("Value", [])),
             "series": int(_value(s, "00201206", 0) or 0)} for s in found]


def list_series(root: str, study: str) -> list[dict]:
    """QIDO-RS: a study's series (uid, modality, description, instances), the largest first."""
    client = connect(root)
    with talking_to(root, f"listing the series of study {study}"):
        found = client.search_for_series(study, fields=["NumberOfSeriesRelatedInstances", "SeriesDescription"])
    out = [{"uid": _value(s, "0020000E"), "modality": _value(s, "00080060"), "description": _value(s, "0008103E"),
            "instances": int(_value(s, "00201209", 0) or 0)} for s in found]
    return sorted(out, key=lambda s: (-s["instances"], s["uid"]))


def choose_series(ref: Reference) -> str:
    """The series a study URL means (its largest image series), or the URL's series if it is an image series."""
    if ref.study is None:
        raise InputError(f"{ref.root}: name a study or series (…/studies/UID[/series/UID]) to segment; "
                         "list them with 'sgrs dicomweb URL'")
    series = list_series(ref.root, ref.study)
    if ref.series is not None:
        found = [s for s in series if s["uid"] == ref.series]
        if not found:
            raise InputError(f"{ref.url()}: no such series in study {ref.study} on the DICOMweb server")
        if str(found[0]["modality"]).upper() in NOT_IMAGES:
            raise InputError(f"{ref.url()}: series is {found[0]['modality']}, not an image series")
        return ref.series
    images = [s for s in series if str(s["modality"]).upper() not in NOT_IMAGES]
    if not images:
        raise InputError(f"{ref.url()}: the study holds no image series "
                         f"({', '.join(sorted({s['modality'] for s in series})) or 'nothing'})")
    return images[0]["uid"]


def retrieve(ref: Reference, folder) -> Path:
    """WADO-RS: the series' instances as files in ``folder`` (their original transfer syntax)."""
    series = choose_series(ref)
    client = connect(ref.root)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with talking_to(ref.root, f"retrieving series {series}"):
        for i, ds in enumerate(client.iter_series(ref.study, series, media_types=(("application/dicom", "*"),))):
            ds.save_as(folder / f"{i:05d}.dcm", enforce_file_format=True)
    if not any(folder.iterdir()):
        raise InputError(f"{ref.url()}: the DICOMweb server returned no instances for series {series}")
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


def send_seg(root: str, label, regions, dicom_folder, meta: dict, path, series_uid: str | None = None) -> dict:
    """Write ``label`` (and ``regions``) as a DICOM SEG on the series in ``dicom_folder``, store it with STOW-RS."""
    from .dicom_seg import source_datasets, write_dicom_seg

    info = write_dicom_seg(label, regions, source_datasets(dicom_folder, series_uid), meta, Path(path))
    store(root, [path])
    return {**info, "pushed_to": root}
