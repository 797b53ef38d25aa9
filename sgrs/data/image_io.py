"""Image I/O at the engine's boundary.

Axis convention, stated once: **engine arrays are (x, y, z)**, the order of the official
UA-MT / SGRS-Net data and checkpoints (read with pynrrd). SimpleITK's ``GetArrayFromImage``
returns (z, y, x); :func:`read_image` and :func:`write_image` transpose, nothing else does.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..util.atomic import current_umask
from ..util.errors import InputError
from .image_check import check_complete


@dataclass(frozen=True)
class Geometry:
    """Physical placement of a volume: size (x, y, z) in voxels, spacing in mm, origin, direction."""

    size: tuple
    spacing: tuple
    origin: tuple
    direction: tuple

    @classmethod
    def of(cls, image: sitk.Image) -> "Geometry":
        return cls(tuple(image.GetSize()), tuple(image.GetSpacing()), tuple(image.GetOrigin()),
                   tuple(image.GetDirection()))

    def apply(self, image: sitk.Image) -> sitk.Image:
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def mismatch(self, other: "Geometry", tol: float = 1e-4) -> str | None:
        """Name the first property that differs from ``other``, or None."""
        if self.size != other.size:
            return f"size {other.size} differs from {self.size}"
        for name in ("spacing", "origin", "direction"):
            a, b = np.asarray(getattr(self, name)), np.asarray(getattr(other, name))
            if not np.allclose(a, b, atol=tol * max(1.0, float(np.abs(a).max()))):
                return f"{name} {tuple(np.round(b, 4))} differs from {tuple(np.round(a, 4))}"
        return None

    def to_json(self) -> dict:
        return {k: list(getattr(self, k)) for k in ("size", "spacing", "origin", "direction")}

    @classmethod
    def from_json(cls, d: dict) -> "Geometry":
        return cls(*(tuple(d[k]) for k in ("size", "spacing", "origin", "direction")))


def _read_sitk(path: Path, series: str | None = None, source: dict | None = None) -> sitk.Image:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        from .dicom import read_series

        _check_series_files(path, series)
        image, info = read_series(path, series)
        if source is not None:
            source.update(info)
        return image
    if series is not None:
        raise InputError(f"{path}: --series applies to a DICOM folder, not a single file")
    check_complete(path)   # some readers zero-fill a cut file and call it whole
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()
        detail = next((line for line in reversed(reason) if line.strip()), "unreadable")
        raise InputError(f"{path}: cannot read image (corrupt, truncated or unsupported format): "
                         f"{detail.strip()[:200]}") from None


def _check_series_files(folder: Path, series: str | None) -> None:
    """Every instance of the series that will be read is whole (GDCM decodes a cut JPEG 2000 frame)."""
    from .dicom import check_series, choose_series

    chosen, _, _ = choose_series(folder, series)
    for name in check_series(chosen, folder):
        check_complete(name)


def read_image(path, what: str = "image") -> tuple[np.ndarray, Geometry]:
    """Read a 3D scalar image as a float32 (x, y, z) array with its geometry; refuse bad input."""
    array, geometry, _ = read_scan(path, what=what)
    return array, geometry


def read_scan(path, series: str | None = None, what: str = "image") -> tuple[np.ndarray, Geometry, dict | None]:
    """:func:`read_image` that also says, for a DICOM folder, which series it read (``series``: a
    SeriesInstanceUID; default the largest 3D series): see :func:`sgrs.data.dicom.read_series`;
    None for a file."""
    source: dict = {}
    image = _read_sitk(path, series, source)
    _check_3d_scalar(image, path, what)
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"{path}: {what} has {bad} NaN/Inf voxels; fix or mask them before use")
    return np.ascontiguousarray(array, dtype=np.float32), Geometry.of(image), source or None


def read_label(path, n_classes: int, reference: Geometry | None = None,
               reference_path=None) -> np.ndarray:
    """Read an integer label map (x, y, z) with values in 0..n_classes−1, on the image's grid."""
    image = _read_sitk(path)
    _check_3d_scalar(image, path, "label")
    if reference is not None:
        problem = reference.mismatch(Geometry.of(image))
        if problem:
            raise InputError(f"{path}: label geometry does not match its image {reference_path}: {problem}")
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or not np.array_equal(array, np.round(array)):
            raise InputError(f"{path}: label holds non-integer values")
    values = np.unique(array)
    outside = values[(values < 0) | (values >= n_classes)]
    if outside.size:
        raise InputError(f"{path}: label values {outside[:5].tolist()} outside the classes 0..{n_classes - 1}")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _check_3d_scalar(image: sitk.Image, path, what: str) -> None:
    if image.GetDimension() != 3:
        raise InputError(f"{path}: {what} is {image.GetDimension()}D; a 3D volume is required")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path}: {what} has {image.GetNumberOfComponentsPerPixel()} components per "
                         "voxel; a single-channel (scalar) volume is required")


def to_sitk(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    """(x, y, z) array → SimpleITK image with ``geometry``."""
    if tuple(array.shape) != tuple(geometry.size):
        raise ValueError(f"array shape {array.shape} does not match geometry size {geometry.size}")
    return geometry.apply(sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0))))


def write_image(array: np.ndarray, geometry: Geometry, path, compress: bool = True) -> Path:
    """Write atomically: a temp file beside the target, then rename, so no half-written output."""
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        sitk.WriteImage(to_sitk(array, geometry), tmp, compress)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 would hide it from a forwarder
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
