"""Issue 26, item 6: a truncated or corrupt image is refused with one line naming the file, by the
real reader (sgrs/data/image_io.py) in every format, and by the CLI and a batch. ITK's NIfTI reader
zero-fills a cut .nii.gz and returns it as whole, so the engine checks the files itself."""
import csv
import shutil
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ROOT

from sgrs.data.image_io import read_image
from sgrs.util.errors import InputError

SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"
DEMO = ROOT / "Resources" / "Demo" / "model"
# file name, compress; .mhd and .nhdr keep their voxels in a separate file, which is the one cut
FORMATS = [("scan.nii.gz", True), ("scan.nii", False), ("gzip.nrrd", True), ("raw.nrrd", False),
           ("zlib.mha", True), ("raw.mha", False), ("raw.mhd", False), ("zlib.mhd", True),
           ("gzip.nhdr", True), ("raw.nhdr", False)]


def write(folder, name, compress):
    path = folder / name
    sitk.WriteImage(sitk.ReadImage(str(SAMPLE)), str(path), compress)
    return path


def data_file(path):
    """The file that holds the voxels: the image itself, a .mhd's ElementDataFile or a .nhdr's data file."""
    key, sep = {".mhd": ("ElementDataFile", "="), ".nhdr": ("data file", ":")}.get(path.suffix, (None, None))
    if key is None:
        return path
    line = next(x for x in path.read_text().splitlines() if x.startswith(key))
    return path.parent / line.split(sep, 1)[1].strip()


@pytest.mark.parametrize("name,compress", FORMATS)
def test_every_format_reads_whole_and_is_refused_cut_anywhere(tmp_path, name, compress):
    path = write(tmp_path, name, compress)
    whole, _ = read_image(path)
    assert np.array_equal(whole, read_image(SAMPLE)[0])          # no false alarm on a whole file
    target = data_file(path)
    data = target.read_bytes()
    for cut in (200, len(data) // 2, len(data) - 1):              # in the header (or first bytes), middle, end
        target.write_bytes(data[:cut])
        with pytest.raises(InputError) as caught:
            read_image(path)
        line = str(caught.value)
        assert line.startswith(f"{path}:") and "\n" not in line, line
        assert "cannot read image" in line, line


@pytest.mark.parametrize("name", ["scan.nii.gz", "gzip.nrrd", "zlib.mha"])
def test_a_corrupt_byte_in_compressed_data_is_refused(tmp_path, name):
    path = write(tmp_path, name, True)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(255 - b for b in data[middle:middle + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cannot read image .*corrupt"):
        read_image(path)


def test_the_reported_nifti_case_is_refused(clinical_files, tmp_path):
    """The issue's file: the real MR cut to 200,000 of its 277,762 bytes was read with 31 % zeros."""
    path = tmp_path / "mr.nii.gz"
    path.write_bytes((clinical_files / "example_mr_sm.nii.gz").read_bytes()[:200_000])
    with pytest.raises(InputError, match=r"mr\.nii\.gz: cannot read image \(corrupt, truncated\)"):
        read_image(path)


def uncompressed_series(ct_dir, out, n=4):
    """``n`` slices of the real CT's headers with raw (uncompressed) 16-bit pixels."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian

    out.mkdir()
    for i, src in enumerate(sorted(ct_dir.iterdir())[:n]):
        ds = pydicom.dcmread(src)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.Rows = ds.Columns = 32
        ds.PixelData = (np.arange(32 * 32, dtype=np.int16) + i).tobytes()
        ds.save_as(out / f"{i:03d}.dcm", enforce_file_format=True)
    return out


@pytest.mark.parametrize("kind", ["jpeg2000", "uncompressed"])
def test_a_dicom_instance_cut_short_is_refused(clinical_files, tmp_path, kind):
    ct = clinical_files / "example_ct_dicom"
    if kind == "jpeg2000":   # the real CT: GDCM decodes a JPEG 2000 frame cut at its end as if whole
        folder = tmp_path / "ct"
        shutil.copytree(ct, folder)
    else:
        folder = uncompressed_series(ct, tmp_path / "raw")
    assert read_image(folder)[0].shape[2] >= 4
    victim = sorted(folder.iterdir())[2]
    data = victim.read_bytes()
    for cut in (len(data) // 2, len(data) - 1):
        victim.write_bytes(data[:cut])
        with pytest.raises(InputError, match=f"{victim.name}: cannot read image"):
            read_image(folder)
    with pytest.raises(InputError, match="cannot read image"):   # one instance given on its own
        read_image(victim)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_cli_and_batch_refuse_a_cut_nifti(tmp_path):
    cut = write(tmp_path, "cut.nii.gz", True)
    cut.write_bytes(cut.read_bytes()[:cut.stat().st_size * 2 // 3])
    done = run_cli("segment", cut, "--model", DEMO, "--out", tmp_path / "one")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == done.stderr.strip().splitlines()[0]          # one line …
    assert f"{cut}: cannot read image (corrupt, truncated)" in done.stderr      # … naming the file
    assert not (tmp_path / "one" / "summary.json").exists()

    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copy(SAMPLE, batch / "good.nrrd")
    shutil.copy(cut, batch / "cut.nii.gz")
    done = run_cli("segment", batch, "--model", DEMO, "--out", tmp_path / "many", "--no-regions")
    assert done.returncode == 1, done.stderr
    rows = {r["case"]: r for r in csv.DictReader((tmp_path / "many" / "results.csv").open())}
    assert rows["good"]["status"] == "done"
    assert rows["cut"]["status"] == "failed" and "cannot read image (corrupt, truncated)" in rows["cut"]["error"]
