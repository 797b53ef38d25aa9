"""label.seg.dcm on the real CT series: references, codes, algorithm, and read back with highdicom
it gives our label and Δ / Θ voxels exactly, each frame on its source slice."""
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ROOT
from pacs_fixtures import DEMO, SERIES_UID, STUDY_UID, ct_roi, ct_series  # noqa: F401 (fixtures)

from sgrs.inference.maps import DELTA, THETA
import dciodvfy
from sgrs.data.dicom_seg import model_hash
from sgrs.models.bundle import read_meta


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)


@pytest.fixture(scope="module")
def segmented(ct_series, ct_roi, tmp_path_factory):
    out = tmp_path_factory.mktemp("seg")
    done = run_cli("segment", ct_series, "--model", DEMO, "--out", out, "--device", "cpu", "--dicom-seg",
                   "--roi", *ct_roi)
    assert done.returncode == 0, done.stderr[-3000:]
    dciodvfy.assert_valid(out / "label.seg.dcm")
    dciodvfy.assert_valid(out / "label.sr.dcm")
    return out


def source_headers(folder):
    import pydicom

    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(folder.iterdir())]
    normal = np.cross(*np.reshape([float(v) for v in headers[0].ImageOrientationPatient], (2, 3)))
    return sorted(headers, key=lambda ds: float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient])))


def test_the_seg_references_the_source_and_names_classes_regions_and_algorithm(segmented, ct_series):
    import highdicom as hd

    seg = hd.seg.segread(segmented / "label.seg.dcm")
    sources = source_headers(ct_series)
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == STUDY_UID and seg.SeriesInstanceUID != SERIES_UID
    assert seg.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    assert seg.PatientID == "SGRS-16"
    (referenced,) = seg.ReferencedSeriesSequence
    assert referenced.SeriesInstanceUID == SERIES_UID
    assert {i.ReferencedSOPInstanceUID for i in referenced.ReferencedInstanceSequence} == \
        {ds.SOPInstanceUID for ds in sources}
    meta = read_meta(DEMO)
    term = next(c for c in meta["classes"] if c["value"] == 1)["terminology"]
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    assert labels == [next(c["name"] for c in meta["classes"] if c["value"] == 1), "Δ uncertain", "Θ inconsistent",
                      "not analysed"]  # the ROI: voxels outside it are not confident background
    first, delta, theta, outside = seg.SegmentSequence
    assert outside.SegmentedPropertyTypeCodeSequence[0].CodeValue == "NOTANALYSED"
    assert (first.SegmentedPropertyTypeCodeSequence[0].CodeValue,
            first.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator) == (term["type"][1], term["type"][0])
    assert first.SegmentedPropertyCategoryCodeSequence[0].CodeValue == term["category"][1]
    assert delta.SegmentedPropertyTypeCodeSequence[0].CodeValue == "DELTA"
    assert theta.SegmentedPropertyTypeCodeSequence[0].CodeValue == "THETA"
    assert "unsure" in delta.SegmentDescription and "perturbation" in theta.SegmentDescription
    for s in seg.SegmentSequence:
        assert s.SegmentAlgorithmType == "AUTOMATIC"
        (algo,) = s.SegmentationAlgorithmIdentificationSequence
        assert algo.AlgorithmName == "SGRS-Net" and meta["name"] in algo.AlgorithmVersion
        assert model_hash(meta) in algo.AlgorithmVersion and len(model_hash(meta)) == 16
    summary = (segmented / "summary.json").read_text()
    assert '"dicom_seg"' in summary and "label.seg.dcm" in summary


def test_read_back_gives_label_and_regions_exactly_on_their_source_slices(segmented, ct_series):
    import highdicom as hd

    seg = hd.seg.segread(segmented / "label.seg.dcm")
    sources = source_headers(ct_series)
    uids = [ds.SOPInstanceUID for ds in sources]
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1, 2, 3],
                                               combine_segments=False)
    # SimpleITK's (z, y, x) arrays: slice k lies at the k-th source position along the normal
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(segmented / "label.nrrd")))
    regions = sitk.GetArrayFromImage(sitk.ReadImage(str(segmented / "regions.nrrd")))
    assert pixels.shape == (20, 512, 512, 3)
    assert (label == 1).sum() > 0 and (regions == DELTA).sum() > 0 and (regions == THETA).sum() > 0
    assert np.array_equal(pixels[..., 0], label == 1)
    assert np.array_equal(pixels[..., 1], regions == DELTA)
    assert np.array_equal(pixels[..., 2], regions == THETA)
    # and each stored frame sits where its source slice sits
    position = {ds.SOPInstanceUID: [float(v) for v in ds.ImagePositionPatient] for ds in sources}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        stored = [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
        assert np.allclose(stored, position[source], atol=1e-3)


def test_an_anonymised_series_without_uids_is_refused_in_one_line(clinical_files, tmp_path, ct_roi):
    done = run_cli("segment", clinical_files / "example_ct_dicom", "--model", DEMO, "--out", tmp_path,
                   "--device", "cpu", "--dicom-seg", "--roi", *ct_roi)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr  # refused before segmenting: no progress line
    assert "Traceback" not in done.stderr
    assert "lacks StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID" in done.stderr
    assert not (tmp_path / "summary.json").exists()


def test_a_source_without_its_type2_patient_attributes_gets_a_seg_and_an_sr(ct_series, ct_roi, tmp_path):
    """A minimal or de-identified export may omit type 2 attributes (birth date, sex, referring
    physician, ...); the SEG and SR copy them, and highdicom raised AttributeError on the first missing."""
    import pydicom

    source = tmp_path / "series"
    source.mkdir()
    for f in sorted(ct_series.iterdir()):
        ds = pydicom.dcmread(f)
        for keyword in ("PatientBirthDate", "PatientSex", "ReferringPhysicianName", "AccessionNumber", "StudyID"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(source / f.name)
    before = {f.name: f.read_bytes() for f in source.iterdir()}
    done = run_cli("segment", source, "--model", DEMO, "--out", tmp_path / "out", "--device", "cpu",
                   "--dicom-seg", "--roi", *ct_roi)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("label.seg.dcm", "label.sr.dcm"):
        dciodvfy.assert_valid(tmp_path / "out" / name)
        assert pydicom.dcmread(tmp_path / "out" / name).PatientBirthDate == ""
    assert {f.name: f.read_bytes() for f in source.iterdir()} == before  # the source is never written

