"""Files that arrive from a browser: checked before anything touches the scene.

A browser is untrusted input: the name may try to leave the data folder, the bytes may be a
truncated or non-image file, a zip may hold ``../`` members or expand to gigabytes. Every check
raises ``InputError`` with one line the Data panel shows; the engine's reader decides what an image
is (3D, scalar, finite), so the Studio accepts exactly what ``sgrs`` accepts.
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from sgrs.data.image_io import read_image
from sgrs.util.errors import InputError

IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd", ".zip")
DEFAULT_MAX_MB = 1024


def safe_name(name: str) -> str:
    """The file name itself, or InputError when it names a folder, a parent or a hidden path."""
    if not name or "\x00" in name:
        raise InputError("upload refused: empty file name")
    plain = PurePosixPath(name).name
    if plain != name or PureWindowsPath(name).name != name or name in (".", "..") or name.startswith("."):
        raise InputError(f"upload refused: '{name}' is not a plain file name (paths outside the data folder "
                         "are not allowed)")
    if not name.lower().endswith(IMAGE_SUFFIXES):
        raise InputError(f"upload refused: '{name}' is not NRRD, NIfTI, MHA or a zipped DICOM series "
                         f"({', '.join(IMAGE_SUFFIXES)})")
    return name


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` if it stays inside ``folder`` (after resolving links), else InputError."""
    root = Path(folder).resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise InputError(f"'{relative}' is outside the data folder")
    return target


def extract_dicom_zip(archive: Path, out_dir: Path, max_bytes: int) -> Path:
    """Extract a zipped DICOM series member by member, refusing escapes, links and zip bombs."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"{archive.name}: not a readable zip archive") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if not members:
            raise InputError(f"{archive.name}: the zip archive is empty")
        if sum(m.file_size for m in members) > max_bytes:
            raise InputError(f"{archive.name}: the archive expands beyond the upload limit")
        for i, member in enumerate(members):
            parts = PurePosixPath(member.filename.replace("\\", "/")).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise InputError(f"{archive.name}: member '{member.filename}' tries to leave the folder")
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise InputError(f"{archive.name}: member '{member.filename}' is a symbolic link")
            # flat, numbered names: the series reader sorts by DICOM tags, not by file name
            with zf.open(member) as src, open(out_dir / f"{i:05d}.dcm", "wb") as dst:
                shutil.copyfileobj(src, dst)
    return out_dir


def validate_image(path: Path, max_bytes: int = DEFAULT_MAX_MB << 20) -> Path:
    """Read ``path`` with the engine's reader; a zip becomes a NRRD written beside it.

    Returns the file the scene should load. Raises InputError (one line) for anything the engine
    would refuse: non-image, truncated, 2D, 4D, multi-component, NaN voxels.
    """
    path = Path(path)
    if not path.name.lower().endswith(".zip"):
        read_image(path)
        return path
    from sgrs.data.image_io import write_image

    work = Path(tempfile.mkdtemp(prefix="sgrs-studio-dicom-"))
    try:
        folder = extract_dicom_zip(path, work, max_bytes)
        try:
            array, geometry = read_image(folder)
        except InputError as exc:
            raise InputError(f"{path.name}: {str(exc).split(': ', 1)[-1]}") from None
        out, n = path.with_name(path.name[:-4] + ".nrrd"), 2
        while out.exists():
            out, n = path.with_name(f"{path.name[:-4]}-{n}.nrrd"), n + 1
        write_image(array, geometry, out)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def store_upload(data_dir: Path, name: str, content: bytes, max_bytes: int) -> Path:
    """Write an uploaded file into ``data_dir/uploads`` (never over an existing file) and validate it.

    A refused file is removed again, so the data folder only ever holds readable images.
    """
    name = check_upload(name, len(content), max_bytes)
    target = new_upload_path(data_dir, name)
    target.write_bytes(content)
    return accept_upload(target, max_bytes)


def check_upload(name: str, size: int, max_bytes: int) -> str:
    """The plain file name of an upload of ``size`` bytes, or InputError before anything is written."""
    name = safe_name(name)
    if size > max_bytes:
        raise InputError(f"upload refused: '{name}' is {size / 2**20:.0f} MB, above the "
                         f"{max_bytes / 2**20:.0f} MB limit (--max-upload-mb)")
    if not size:
        raise InputError(f"upload refused: '{name}' is empty")
    return name


def new_upload_path(data_dir: Path, name: str) -> Path:
    """Where an upload called ``name`` goes in ``data_dir/uploads``: never over an existing file."""
    folder = Path(data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)  # exists even when the first upload is refused
    target = inside(folder, name)
    stem, n = name, 2
    while target.exists():
        target, n = inside(folder, f"{n}-{stem}"), n + 1
    return target


def accept_upload(target: Path, max_bytes: int) -> Path:
    """Validate a stored upload (the file the scene should load); a refused one is removed again."""
    try:
        return validate_image(target, max_bytes)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
