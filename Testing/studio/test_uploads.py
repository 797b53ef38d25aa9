"""Upload checks on real files through the engine's reader: what the Data panel accepts and refuses."""
import locale
import zipfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sgrs.data.image_io import read_image
from sgrs.util.errors import InputError
from SGRSStudio import uploads
from SGRSStudio.cli import host_warning, is_loopback, parser

SAMPLE = Path(__file__).resolve().parents[2] / "Resources" / "Demo" / "sample" / "image.nrrd"
MB = 1 << 20


def dicom_series(folder: Path, array_zyx: np.ndarray, spacing=(0.8, 0.8, 2.0)) -> list[Path]:
    """A CT series SimpleITK/GDCM can read back: one slice per file, shared series UID, positions.

    GDCM's writer switches the process locale to "C" (Python's text files would turn ASCII for every
    later test): it is put back afterwards."""
    saved = locale.setlocale(locale.LC_ALL)
    try:
        return _write_series(folder, array_zyx, spacing)
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def _write_series(folder: Path, array_zyx: np.ndarray, spacing) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series_uid = "1.2.826.0.1.3680043.2.1125.1.4242"
    files = []
    for k, plane in enumerate(array_zyx):
        img = sitk.GetImageFromArray(plane.astype(np.int16))
        img.SetSpacing(spacing[:2])
        for tag, value in (("0008|0060", "CT"), ("0020|000e", series_uid), ("0020|000d", series_uid + ".0"),
                           ("0020|0032", f"0\\0\\{k * spacing[2]}"), ("0020|0013", str(k + 1)),
                           ("0020|0037", "1\\0\\0\\0\\1\\0"), ("0018|0050", str(spacing[2])),
                           ("0008|0018", f"{series_uid}.{k + 1}")):
            img.SetMetaData(tag, value)
        path = folder / f"slice{k:03d}.dcm"
        writer.SetFileName(str(path))
        writer.Execute(img)
        files.append(path)
    return files


def test_a_zipped_dicom_series_becomes_a_volume(tmp_path):
    array = np.random.default_rng(0).integers(0, 1000, (6, 12, 10)).astype(np.int16)
    files = dicom_series(tmp_path / "series", array)
    archive = tmp_path / "data" / "uploads" / "ct.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.write(f, f"study/series/{f.name}")
    out = uploads.validate_image(archive, 10 * MB)
    image, geometry = read_image(out)
    assert out.name == "ct.nrrd" and geometry.size == (10, 12, 6)
    assert np.array_equal(image.transpose(2, 1, 0), array)


@pytest.mark.parametrize("member", ["../evil.dcm", "/etc/evil.dcm", "a/../../evil.dcm", "C:/evil.dcm"])
def test_a_zip_member_cannot_leave_the_folder(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, b"x")
    with pytest.raises(InputError, match="tries to leave"):
        uploads.validate_image(archive, MB)
    assert not (tmp_path.parent / "evil.dcm").exists()


def test_zip_symlinks_and_bombs_are_refused(tmp_path):
    link = zipfile.ZipInfo("link.dcm")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        uploads.validate_image(tmp_path / "link.zip", MB)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.dcm", b"\0" * (2 * MB))
    with pytest.raises(InputError, match="beyond the upload limit"):
        uploads.validate_image(tmp_path / "bomb.zip", MB)


@pytest.mark.parametrize("name", ["../x.nrrd", "a/b.nrrd", "..\\x.nrrd", "/etc/x.nrrd", ".hidden.nrrd", ""])
def test_names_that_leave_the_data_folder_are_refused(tmp_path, name):
    with pytest.raises(InputError, match="upload refused"):
        uploads.store_upload(tmp_path, name, SAMPLE.read_bytes(), 10 * MB)
    assert not any(tmp_path.parent.glob("x.nrrd"))


def bad_file(tmp_path, kind) -> tuple[str, bytes]:
    if kind == "non-image":
        return "notes.nrrd", b"these are my notes, not an image\n"
    if kind == "truncated":
        data = SAMPLE.read_bytes()
        return "cut.nrrd", data[: len(data) // 2]
    if kind == "truncated nifti":   # ITK's reader zero-filled it and called it whole (issue 26, item 6)
        path = tmp_path / "cut.nii.gz"
        sitk.WriteImage(sitk.ReadImage(str(SAMPLE)), str(path), True)
        data = path.read_bytes()
        return "cut.nii.gz", data[: len(data) * 2 // 3]
    if kind == "2D":
        path = tmp_path / "flat.nrrd"
        sitk.WriteImage(sitk.GetImageFromArray(np.zeros((8, 8), np.float32)), str(path))
        return "flat.nrrd", path.read_bytes()
    if kind == "4D":
        path = tmp_path / "time.nii.gz"
        sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 3, 4, 5), np.float32), isVector=False), str(path))
        return "time.nii.gz", path.read_bytes()
    if kind == "wrong type":
        return "scan.exe", b"MZ"
    raise ValueError(kind)


@pytest.mark.parametrize("kind,reason", [("non-image", "cannot read image"), ("truncated", "cannot read image"),
                                         ("truncated nifti", r"cut\.nii\.gz: cannot read image \(corrupt, truncated\)"),
                                         ("2D", "2D; a 3D volume"), ("4D", "4D; a 3D volume"),
                                         ("wrong type", "not NRRD, NIfTI")])
def test_bad_images_are_refused_and_removed(tmp_path, kind, reason):
    name, content = bad_file(tmp_path, kind)
    data = tmp_path / "data"
    with pytest.raises(InputError, match=reason):
        uploads.store_upload(data, name, content, 10 * MB)
    assert not list((data / "uploads").glob("*"))  # nothing half-accepted stays behind


def test_size_limit_and_no_overwrite(tmp_path):
    with pytest.raises(InputError, match="above the 0 MB limit"):
        uploads.store_upload(tmp_path, "big.nrrd", SAMPLE.read_bytes(), 1000)
    first = uploads.store_upload(tmp_path, "scan.nrrd", SAMPLE.read_bytes(), 10 * MB)
    second = uploads.store_upload(tmp_path, "scan.nrrd", SAMPLE.read_bytes(), 10 * MB)
    assert first != second and first.exists() and second.exists()


def test_inside_refuses_escapes(tmp_path):
    assert uploads.inside(tmp_path, "a/b") == (tmp_path / "a" / "b").resolve()
    for bad in ("..", "../x", "/etc", "a/../../x"):
        with pytest.raises(InputError, match="outside the data folder"):
            uploads.inside(tmp_path, bad)


def test_a_zip_result_never_overwrites(tmp_path):
    array = np.ones((3, 4, 5), np.int16)
    files = dicom_series(tmp_path / "series", array)
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "ct.nrrd").write_bytes(b"keep me")
    with zipfile.ZipFile(tmp_path / "up" / "ct.zip", "w") as zf:
        for f in files:
            zf.write(f, f.name)
    out = uploads.validate_image(tmp_path / "up" / "ct.zip", MB)
    assert out.name != "ct.nrrd" and (tmp_path / "up" / "ct.nrrd").read_bytes() == b"keep me"


def test_only_loopback_counts_as_local():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert parser().parse_args([]).host == "127.0.0.1"                      # loopback unless asked
    assert host_warning("127.0.0.1") is None and "SSH tunnel" in host_warning("0.0.0.0")


def test_chunked_uploads_refuse_bad_pieces_and_leave_nothing(tmp_path):
    """The browser sends uploads in pieces (www/upload.js): each bad piece is refused with one line and
    removes the part received so far; a restarted server clears parts nobody finished."""
    from SGRSStudio.upload_receiver import UploadReceiver

    content = SAMPLE.read_bytes()
    receiver = UploadReceiver(tmp_path, 10 * MB)
    token = receiver.begin("scan.nrrd", len(content))
    half = len(content) // 2
    assert receiver.chunk(token, 0, content[:half]) == half
    assert receiver.chunk(token, half, content[half:]) == len(content)
    path = receiver.finish(token)
    assert path == tmp_path / "uploads" / "scan.nrrd" and path.read_bytes() == content
    incoming = tmp_path / "uploads" / ".incoming"
    for bad, reason in ((lambda t: receiver.chunk(t, 5, content[:10]), "out of order"),
                        (lambda t: receiver.chunk(t, 0, content + b"x"), "more bytes than its size"),
                        (lambda t: receiver.chunk(t, 0, "text"), "not bytes"),
                        (lambda t: receiver.finish(t), "incomplete")):
        token = receiver.begin("scan.nrrd", len(content))
        with pytest.raises(InputError, match=reason):
            bad(token)
        assert not list(incoming.iterdir())
        with pytest.raises(InputError, match="does not know this upload"):
            receiver.chunk(token, 0, content)
    with pytest.raises(InputError, match="above the 10 MB limit"):
        receiver.begin("big.nrrd", 11 * MB)
    with pytest.raises(InputError, match="not a plain file name"):
        receiver.begin("../x.nrrd", 10)
    with pytest.raises(InputError, match="a size in bytes"):
        receiver.begin("x.nrrd", "10")
    receiver.begin("left.nrrd", len(content))   # a server stopped mid-upload …
    assert list(incoming.iterdir())
    UploadReceiver(tmp_path, 10 * MB)            # … starts again with no part of it left
    assert not incoming.exists() and (tmp_path / "uploads" / "scan.nrrd").exists()
