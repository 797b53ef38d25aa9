"""Orientation codes and lossless reorientation (axis permutation and flips, no interpolation).

Code convention (SimpleITK's ``DICOMOrientImageFilter``): letter i names the patient direction in
which array axis i points as its index grows. ``LPS`` is the identity direction matrix (ITK's world
frame: +x Left, +y Posterior, +z Superior); a NIfTI/Slicer-style RAS file reads as ``RAS``
(diag(−1, −1, 1)); a sagittal acquisition is e.g. ``PSL`` or ``AIR``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..util.errors import InputError
from .image_io import Geometry

LETTERS = {"L": (0, 1.0), "R": (0, -1.0), "P": (1, 1.0), "A": (1, -1.0), "S": (2, 1.0), "I": (2, -1.0)}
OPPOSITE = {"L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"}
# Direction cosines this close to an axis count as that axis: DICOM and NIfTI headers carry float
# noise of ~1e-6, and a 0.5° tilt moves a voxel at the edge of a 512 grid by under half a voxel.
ALIGNED_DEG = 0.5


def direction_matrix(direction) -> np.ndarray:
    """ITK's row-major flat direction → 3×3 matrix whose column j is array axis j in LPS."""
    return np.asarray(direction, dtype=float).reshape(3, 3)


def check_code(code: str) -> str:
    code = str(code).upper()
    axes = sorted(LETTERS[c][0] for c in code if c in LETTERS)
    if len(code) != 3 or axes != [0, 1, 2]:
        raise InputError(f"orientation {code!r} is not a 3-letter code with one of L/R, P/A, S/I each (e.g. LPS, RAS)")
    return code


def code_matrix(code: str) -> np.ndarray:
    m = np.zeros((3, 3))
    for j, letter in enumerate(check_code(code)):
        axis, sign = LETTERS[letter]
        m[axis, j] = sign
    return m


def orientation_code(direction) -> str:
    """The nearest axis-aligned code of a direction matrix (oblique axes go to their closest axis)."""
    d = direction_matrix(direction)
    letters, used = [""] * 3, set()
    # assign the most clearly aligned axes first so an oblique matrix still gives a valid code
    for j in sorted(range(3), key=lambda j: -np.abs(d[:, j]).max()):
        axis = next(int(a) for a in np.argsort(-np.abs(d[:, j])) if int(a) not in used)
        used.add(axis)
        letters[j] = "LPS"[axis] if d[axis, j] >= 0 else "RAI"[axis]
    return "".join(letters)


def obliquity_deg(direction) -> float:
    """Largest angle between an array axis and the patient axis it is nearest to."""
    d = direction_matrix(direction)
    cos = np.abs(d).max(axis=0) / np.linalg.norm(d, axis=0)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).max())


@dataclass(frozen=True)
class Reorientation:
    """New array axis i is old axis ``perm[i]``, reversed where ``flip[i]``."""

    perm: tuple
    flip: tuple
    source: str
    target: str

    @property
    def identity(self) -> bool:
        return self.perm == (0, 1, 2) and not any(self.flip)

    def apply(self, array: np.ndarray) -> np.ndarray:
        """A view of ``array`` (x, y, z) in the target orientation (no copy, no interpolation)."""
        out = array.transpose(self.perm)
        return np.flip(out, [i for i in range(3) if self.flip[i]]) if any(self.flip) else out

    def undo(self, array: np.ndarray) -> np.ndarray:
        """Back to the source orientation, as a contiguous array."""
        out = np.flip(array, [i for i in range(3) if self.flip[i]]) if any(self.flip) else array
        return np.ascontiguousarray(out.transpose(np.argsort(self.perm)))

    def geometry(self, g: Geometry) -> Geometry:
        d = direction_matrix(g.direction)
        cols = [d[:, p] * (-1.0 if f else 1.0) for p, f in zip(self.perm, self.flip)]
        start = [g.size[p] - 1 if f else 0 for p, f in zip(self.perm, self.flip)]
        corner = np.zeros(3)
        for p, s in zip(self.perm, start):
            corner[p] = s
        origin = np.asarray(g.origin) + d @ (corner * np.asarray(g.spacing))
        return Geometry(tuple(int(g.size[p]) for p in self.perm), tuple(float(g.spacing[p]) for p in self.perm),
                        tuple(float(v) for v in origin), tuple(float(v) + 0.0 for v in np.stack(cols, 1).ravel()))

    def describe(self) -> str:
        how = "axis permutation and flips" if self.perm != (0, 1, 2) and any(self.flip) else \
            "axis permutation" if self.perm != (0, 1, 2) else "flips"
        return f"reoriented {self.source} → {self.target} by {how}"


def reorientation(geometry: Geometry, target: str) -> Reorientation:
    """The permutation and flips that bring ``geometry``'s nearest code to ``target``."""
    target = check_code(target)
    source = orientation_code(geometry.direction)
    perm, flip = [], []
    for letter in target:
        j = next(i for i, s in enumerate(source) if s in (letter, OPPOSITE[letter]))
        perm.append(j)
        flip.append(source[j] != letter)
    return Reorientation(tuple(perm), tuple(flip), source, target)


def tilt_description(angle: float) -> str:
    return f"{angle:.1f}°" if angle >= 0.1 else f"{angle:.2g}°" if angle > 0 else "0°"

