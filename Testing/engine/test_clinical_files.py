"""Real clinical files (TotalSegmentator's reference CT/MR volumes and CT DICOM series): DICOM series
listing, choice, checks and read; a real RAS-oriented CT segmented with resampling, reorientation and an ROI."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ROOT

from sgrs.data.dicom import list_series
from sgrs.data.image_io import Geometry, read_image, read_scan
from sgrs.data.roi import image_bounds
from sgrs.inference.segment import SegmentOptions, segment_file
from sgrs.util.errors import InputError

DEMO = ROOT / "Resources" / "Demo" / "model"
THIN_UID = "1.2.826.0.1.3680043.8.498.11.1"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


def copy_series(files, folder, uid=None, description=None, edit=None):
    """Copies of real DICOM files, optionally as another series or with an edited header."""
    import pydicom
    folder.mkdir(parents=True)
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        if uid is not None:
            ds.SeriesInstanceUID = uid
            ds.SOPInstanceUID = f"{uid}.{i + 1}"
        if description is not None:
            ds.SeriesDescription = description
        if edit:
            edit(i, ds)
        ds.save_as(folder / f"{i:03d}.dcm")


def write_report(path):
    """A structured report: a DICOM object without pixels, which is no image series."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesDescription = "SR", "1.2.3.4.5.6", "dose report"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def ct_files(clinical_files):
    return sorted((clinical_files / "example_ct_dicom").iterdir())


@pytest.fixture(scope="module")
def study(ct_files, tmp_path_factory):
    """Like a PACS export: the real 20-slice CT in one subfolder, a 6-slice series in another, a report."""
    root = tmp_path_factory.mktemp("study")
    shutil.copytree(ct_files[0].parent, root / "ct")
    copy_series(ct_files[:6], root / "thin", THIN_UID, "thin recon")
    write_report(root / "report" / "sr.dcm")
    (root / "README.txt").write_text("exported study")
    return root


def test_series_are_listed_largest_first_without_the_report(study, tmp_path):
    series = list_series(study)
    assert [(s.uid, s.modality, s.size, len(s.files)) for s in series] == [
        ("", "CT", (512, 512, 20), 20), (THIN_UID, "CT", (512, 512, 6), 6)]
    assert series[0].description == "CT Body 3.0"
    listed = run_cli("series", study)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("2 image series") and lines[1].startswith("* (no SeriesInstanceUID)  CT")
    assert "512×512×20" in lines[1] and "20 files" in lines[1] and THIN_UID in lines[2]
    as_json = json.loads(run_cli("series", study, "--json").stdout)
    assert [s["default"] for s in as_json] == [True, False] and as_json[1]["description"] == "thin recon"


CHOSEN = ("series (no SeriesInstanceUID) (CT 512×512×20, CT Body 3.0) chosen: the largest 3D image series by "
          f"voxel count; also in the study: {THIN_UID} (CT 512×512×6, thin recon)")


def test_the_largest_series_is_read_by_default_and_another_with_series(study, ct_files):
    image, geometry, source = read_scan(study)
    assert image.shape == (512, 512, 20) and source["files"] == 20 and source["chosen"] == CHOSEN
    assert source["step"] == "DICOM " + CHOSEN
    assert [a["uid"] for a in source["alternatives"]] == [THIN_UID]
    # the same volume SimpleITK's own GDCM reader gives for the folder alone
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(ct_files[0].parent)))
    direct = reader.Execute()
    assert Geometry.of(direct).mismatch(geometry, tol=1e-6) is None
    assert np.array_equal(sitk.GetArrayFromImage(direct).transpose(2, 1, 0), image)
    thin, _, source = read_scan(study, THIN_UID)
    assert thin.shape == (512, 512, 6) and source["chosen"] == "chosen with --series"
    with pytest.raises(InputError, match="no series '9.9'; the folder has 2"):
        read_scan(study, "9.9")


def test_incomplete_mixed_and_empty_folders_are_refused_with_the_reason(ct_files, tmp_path):
    copy_series(ct_files[:9] + ct_files[10:], tmp_path / "gap", "1.2.3.1")
    with pytest.raises(InputError, match=r"is incomplete: a 4\.00 mm gap .*usual spacing 2\.00 mm\): about 1 slice missing"):
        read_scan(tmp_path / "gap")
    copy_series(ct_files + ct_files[4:5], tmp_path / "twice", "1.2.3.2")
    with pytest.raises(InputError, match="is mixed: 2 images share a slice position"):
        read_scan(tmp_path / "twice")

    def tilt(i, ds):
        if i == 3:
            ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # a localizer in another plane
    copy_series(ct_files, tmp_path / "scout", "1.2.3.3", edit=tilt)
    with pytest.raises(InputError, match="is mixed: images in 2 different orientations"):
        read_scan(tmp_path / "scout")
    write_report(tmp_path / "empty" / "sr.dcm")
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    bad = run_cli("segment", tmp_path / "empty", "--model", DEMO, "--out", tmp_path / "o")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    message = (f"sgrs: error: {tmp_path / 'empty'}: no DICOM image series in this folder "
               "(no readable DICOM files with pixel data)")
    assert bad.stderr.strip().splitlines() == [message]
    listed = run_cli("series", tmp_path / "empty")
    assert listed.returncode == 1 and listed.stderr.strip().splitlines() == [message]


def test_dicom_series_segmented_in_an_roi_reports_the_series(study, tmp_path):
    _, geometry, _ = read_scan(study)
    b = image_bounds(geometry)
    centre = [(b[i] + b[i + 3]) / 2 for i in range(3)]
    roi = tuple(c - 30 for c in centre) + tuple(c + 30 for c in centre)
    _, files = segment_file(study, DEMO, tmp_path / "out", SegmentOptions(device="cpu", regions=False, roi=roi))
    summary = json.loads(files["summary"].read_text())
    steps = summary["scan"]["steps"]
    assert steps[0] == "DICOM " + CHOSEN
    assert steps[1].startswith("ROI 60.0×60.0×60.0 mm") and steps[2].startswith("resampled ")
    assert summary["scan"]["series"]["files"] == 20 and summary["scan"]["series"]["uid"] == ""
    assert Geometry.of(sitk.ReadImage(str(files["label"]))).mismatch(geometry, tol=1e-6) is None


def test_real_ras_ct_and_mr_volumes_keep_their_geometry(clinical_files, tmp_path):
    for name, code in (("example_ct_sm.nii.gz", "RAS"), ("example_mr_sm.nii.gz", "LPS")):
        path = clinical_files / name
        image, geometry = read_image(path)
        assert Geometry.of(sitk.ReadImage(str(path))) == geometry
        b = image_bounds(geometry)
        centre = [(b[i] + b[i + 3]) / 2 for i in range(3)]
        roi = tuple(c - 25 for c in centre) + tuple(c + 25 for c in centre)
        seg, files = segment_file(path, DEMO, tmp_path / name, SegmentOptions(device="cpu", regions=False, roi=roi))
        steps = seg.summary["scan"]["steps"]
        assert ("reoriented RAS → LPS by flips" in steps) == (code == "RAS")
        assert steps[-1] == "resampled 3.00×3.00×3.00 mm → 1.25×1.25×1.25 mm (linear)"
        written = sitk.ReadImage(str(files["label"]))
        assert Geometry.of(written).mismatch(geometry, tol=1e-6) is None and written.GetSize() == image.shape
