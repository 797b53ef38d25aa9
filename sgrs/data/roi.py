"""Region of interest: physical LPS bounds (mm) → the voxel box of an image, crop and paste back.

An ROI is six numbers ``(xmin, ymin, zmin, xmax, ymax, zmax)`` in the image's physical LPS
coordinates (ITK's world frame, the one ``Geometry.origin`` uses). The crop keeps every voxel whose
centre lies inside the ROI's bounding box in index space, half-open [min, max) so an ROI n voxels
wide keeps n voxels (for an oblique grid, the box around the ROI's eight corners).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..util.errors import InputError
from .image_io import Geometry

AXES = "xyz"


def check_bounds(bounds, where: str = "ROI") -> tuple:
    """Six finite numbers with min < max on every axis."""
    try:
        b = tuple(float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InputError(f"{where}: ROI must be six numbers XMIN YMIN ZMIN XMAX YMAX ZMAX (mm), got {bounds!r}") from None
    if len(b) != 6 or not np.isfinite(b).all():
        raise InputError(f"{where}: ROI must be six finite numbers XMIN YMIN ZMIN XMAX YMAX ZMAX (mm), got {bounds!r}")
    for i in range(3):
        if not b[i] < b[i + 3]:
            raise InputError(f"{where}: ROI {AXES[i]} range is empty ({AXES[i]}min {b[i]:g} ≥ {AXES[i]}max {b[i + 3]:g} mm)")
    return b


def bounds_from_center(center, size) -> tuple:
    c, s = np.asarray(center, float), np.asarray(size, float)
    if c.shape != (3,) or s.shape != (3,) or not (s > 0).all():
        raise InputError(f"ROI centre needs 3 numbers and size 3 positive numbers (mm), got {center!r} {size!r}")
    return tuple(float(v) for v in np.concatenate([c - s / 2, c + s / 2]))


def _mm(values) -> str:
    return "×".join(f"{v:.1f}" for v in values)


@dataclass(frozen=True)
class RoiCrop:
    """The voxel box [start, stop) of ``full`` that the ROI ``bounds`` covers."""

    bounds: tuple
    start: tuple
    stop: tuple
    full: Geometry
    clipped: bool

    @property
    def slices(self) -> tuple:
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop))

    @property
    def size(self) -> tuple:
        return tuple(b - a for a, b in zip(self.start, self.stop))

    def geometry(self) -> Geometry:
        d = np.asarray(self.full.direction, float).reshape(3, 3)
        origin = np.asarray(self.full.origin) + d @ (np.asarray(self.start) * np.asarray(self.full.spacing))
        return Geometry(self.size, self.full.spacing, tuple(float(v) for v in origin), self.full.direction)

    def crop(self, array: np.ndarray) -> np.ndarray:
        return array[self.slices]

    def paste(self, part: np.ndarray, fill=0) -> np.ndarray:
        """Full-size array: ``part`` inside the box, ``fill`` outside."""
        out = np.full(self.full.size, fill, dtype=part.dtype)
        out[self.slices] = part
        return out

    def describe(self) -> str:
        lo, hi = self.bounds[:3], self.bounds[3:]
        text = (f"ROI {_mm(np.subtract(hi, lo))} mm at ({', '.join(f'{(a + b) / 2:.1f}' for a, b in zip(lo, hi))}) "
                f"mm LPS: {'×'.join(map(str, self.size))} of {'×'.join(map(str, self.full.size))} voxels")
        return text + (", clipped to the image" if self.clipped else "")

    def to_json(self) -> dict:
        return {"bounds_lps": list(self.bounds), "index_start": list(self.start), "index_stop": list(self.stop),
                "size": list(self.size), "clipped": self.clipped}


def roi_crop(geometry: Geometry, bounds, where: str = "ROI") -> RoiCrop:
    """Voxel box of ``bounds`` on ``geometry``; one-line errors for an ROI outside the image or
    thinner than a voxel."""
    b = check_bounds(bounds, where)
    d = np.asarray(geometry.direction, float).reshape(3, 3)
    spacing = np.asarray(geometry.spacing, float)
    corners = np.array([[b[0 + 3 * i], b[1 + 3 * j], b[2 + 3 * k]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    index = (np.linalg.inv(d) @ (corners - np.asarray(geometry.origin)).T).T / spacing
    lo, hi = index.min(0), index.max(0)
    for a in range(3):
        if hi[a] - lo[a] < 1.0 - 1e-6:
            raise InputError(f"{where}: ROI is thinner than one voxel along image axis {AXES[a]} "
                             f"({(hi[a] - lo[a]) * spacing[a]:.2f} mm < spacing {spacing[a]:.2f} mm)")
    # half-open [lo, hi) in index space: an ROI n voxels wide keeps n voxels wherever it starts
    start = np.ceil(lo - 1e-6).astype(int)
    stop = np.ceil(hi - 1e-6).astype(int)
    size = np.asarray(geometry.size)
    clipped = bool((start < 0).any() or (stop > size).any())
    start, stop = np.clip(start, 0, size), np.clip(stop, 0, size)
    if (stop <= start).any():
        extent = image_bounds(geometry)
        raise InputError(f"{where}: ROI ({', '.join(f'{v:g}' for v in b)}) mm lies outside the image, which spans "
                         f"x {extent[0]:.1f}…{extent[3]:.1f}, y {extent[1]:.1f}…{extent[4]:.1f}, "
                         f"z {extent[2]:.1f}…{extent[5]:.1f} mm (LPS)")
    return RoiCrop(b, tuple(int(v) for v in start), tuple(int(v) for v in stop), geometry, clipped)


def image_bounds(geometry: Geometry) -> tuple:
    """LPS bounding box of the image's voxel centres, (xmin, ymin, zmin, xmax, ymax, zmax)."""
    return box_bounds(geometry, (0, 0, 0), np.asarray(geometry.size) - 1)


def box_bounds(geometry: Geometry, first, last) -> tuple:
    """LPS bounding box of the centres of the voxel box ``first``..``last`` (indices, inclusive)."""
    d = np.asarray(geometry.direction, float).reshape(3, 3)
    corners = np.array([[i, j, k] for i in (first[0], last[0]) for j in (first[1], last[1])
                        for k in (first[2], last[2])], float)
    points = np.asarray(geometry.origin) + (d @ (corners * np.asarray(geometry.spacing)).T).T
    return tuple(float(v) for v in np.concatenate([points.min(0), points.max(0)]))


def index_to_lps(geometry: Geometry, index) -> tuple:
    """LPS position (mm) of a voxel centre."""
    d = np.asarray(geometry.direction, float).reshape(3, 3)
    return tuple(float(v) for v in np.asarray(geometry.origin) + d @ (np.asarray(index, float) * np.asarray(geometry.spacing)))
