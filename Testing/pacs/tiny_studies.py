"""Tiny CT studies as a scanner would send them (one file per slice, real UIDs), for the watch tests and soak:
a bright blob in noise, 40×40×12 voxels of 1.25 mm, segmented by the demo model in about a second."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT_UID = "1.2.826.0.1.3680043.8.498.27.3"


def study_uid(n: int) -> str:
    return f"{ROOT_UID}.{n}"


def write_study(folder, n: int, slices: int = 12, size: int = 40, study_date: str = "20260101",
                body_part: str = "CHEST", flat: bool = False) -> list[Path]:
    """Study number ``n`` as ``slices`` CT files in ``folder``; ``flat``: one slice only (no 3D series: a study
    the series rule refuses every time)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    rng = np.random.default_rng(n)
    z, y, x = np.mgrid[:slices, :size, :size]
    blob = ((x - size / 2) ** 2 + (y - size / 2) ** 2 + ((z - slices / 2) * 2) ** 2) < (size / 4) ** 2
    volume = (100 + 250 * blob + rng.normal(0, 20, blob.shape)).astype(np.int16)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study, series = study_uid(n), f"{study_uid(n)}.1"
    paths = []
    for k in range(1 if flat else slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, f"{series}.{k + 1}"
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, f"{study}.9"
        ds.Modality, ds.BodyPartExamined, ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = (
            "CT", body_part, study_date, 1, k + 1)
        ds.PatientName, ds.PatientID, ds.StudyID, ds.AccessionNumber = f"Tiny^{n}", f"TINY-{n}", str(n), ""
        ds.PatientBirthDate, ds.PatientSex, ds.ReferringPhysicianName, ds.StudyTime = "", "O", "", "120000"
        ds.Manufacturer, ds.SeriesDescription = "SGRS test", "tiny CT"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [0.0, 0.0, 1.25 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [1.25, 1.25], 1.25
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = volume[k].tobytes()
        path = folder / f"s{n}_{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def hospital_ca(folder) -> tuple[Path, Path, Path]:
    """A CA of the hospital's own and a server certificate for localhost it signed, made with openssl:
    (server PEM with its key, the CA's certificate, another CA's certificate that signed nothing here)."""
    import subprocess

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    for ca in ("ca", "other-ca"):
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
            "-subj", f"/CN=Hospital {ca}")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "server.crt", "-days", "2", "-extfile", "san.ext")
    (folder / "server.pem").write_text((folder / "server.crt").read_text() + (folder / "server.key").read_text())
    return folder / "server.pem", folder / "ca.pem", folder / "other-ca.pem"
