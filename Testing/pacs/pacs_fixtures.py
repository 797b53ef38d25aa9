"""Fixtures for the DICOM SEG and DICOMweb tests: the real CT series with UIDs, a real Orthanc."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

import orthanc_server

DEMO = ROOT / "Resources" / "Demo" / "model"
STUDY_UID = "1.2.826.0.1.3680043.8.498.16.1"
SERIES_UID = "1.2.826.0.1.3680043.8.498.16.1.1"
REPORT_UID = "1.2.826.0.1.3680043.8.498.16.1.2"
USER, PASSWORD = "radiology", "pw-Zq81-never-print-me"


@pytest.fixture(scope="session")
def ct_series(clinical_files, tmp_path_factory):
    """TotalSegmentator's 20-slice CT as a PACS holds it: the anonymiser emptied the study, series and
    instance UIDs, which a PACS and a DICOM SEG need, so they are filled in (the instance UIDs from the
    files' own meta header)."""
    import pydicom
    from pydicom.uid import CTImageStorage

    folder = tmp_path_factory.mktemp("ct-series")
    for f in sorted((clinical_files / "example_ct_dicom").iterdir()):
        ds = pydicom.dcmread(f)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY_UID, SERIES_UID
        ds.PatientID, ds.PatientName, ds.StudyID = "SGRS-16", "Test^CT", "1"
        ds.save_as(folder / f.name)
    return folder


@pytest.fixture(scope="session")
def ct_roi(ct_series):
    """A 60 mm cube at the scan's centre: the real CT segmented in seconds on a CPU."""
    from sgrs.data.image_io import read_image
    from sgrs.data.roi import image_bounds

    _, geometry = read_image(ct_series)
    bounds = np.asarray(image_bounds(geometry))
    centre = (bounds[:3] + bounds[3:]) / 2
    return [*(centre - 30), *(centre + 30)]


def write_report(path, study_uid: str) -> None:
    """A structured report in the CT's study: a series without images."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    meta.MediaStorageSOPInstanceUID = REPORT_UID + ".1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesDescription = "SR", REPORT_UID, "dose report"
    ds.StudyInstanceUID, ds.PatientID, ds.PatientName = study_uid, "SGRS-16", "Test^CT"
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def orthanc(ct_series, tmp_path_factory):
    """A real Orthanc (DICOMweb plugin, authentication on) holding the CT series and a report."""
    why = orthanc_server.available()
    if why:
        pytest.fail(why)  # make test installs it; a silent skip would hide the PACS tests
    folder = tmp_path_factory.mktemp("orthanc")
    server = orthanc_server.start(folder, {USER: PASSWORD})
    try:
        report = folder / "report.dcm"
        write_report(report, STUDY_UID)
        server.upload(sorted(ct_series.iterdir()) + [report])
        yield server
    finally:
        server.stop()
