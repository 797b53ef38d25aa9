"""Resampling between the scan's grid and the model's grid (SimpleITK), and the class
probabilities back to the scan's grid a z-slab at a time.

The probabilities come back with linear interpolation whatever the image interpolator was: linear
weights are non-negative and sum to one, so interpolated probabilities stay in [0, 1] and still sum
to one (a B-spline would overshoot). Class 0 is therefore 1 − Σ(other classes): one resampling
fewer per view (half the work for a binary model).
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import torch

from ..data.image_io import Geometry, to_sitk
from ..data.orientation import direction_matrix
from .maps import slab_maps

INTERPOLATORS = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}
SLAB_VOXELS = 1 << 23  # ~8 M voxels of the scan's grid per slab: a few tens of MB of float temporaries


def _box_corners(geometry: Geometry, lo=None, hi=None) -> np.ndarray:
    """Physical corners of the voxel box [lo − ½, hi − ½] (default: the whole grid)."""
    lo = np.zeros(3) if lo is None else np.asarray(lo, float)
    hi = np.asarray(geometry.size, float) if hi is None else np.asarray(hi, float)
    d, s, o = direction_matrix(geometry.direction), np.asarray(geometry.spacing), np.asarray(geometry.origin)
    idx = np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]] for i in (0, 1) for j in (0, 1)
                    for k in (0, 1)]) - 0.5
    return o + (d @ (idx * s).T).T


def model_grid(geometry: Geometry, spacing, direction=None) -> Geometry:
    """A grid at ``spacing`` and ``direction`` (default: the scan's) covering the scan's voxel box,
    centred on it."""
    d_out = direction_matrix(direction if direction is not None else geometry.direction)
    spacing = np.asarray(spacing, float)
    u = (d_out.T @ (_box_corners(geometry) - np.asarray(geometry.origin)).T).T
    lo, hi = u.min(0), u.max(0)
    size = np.maximum(1, np.floor((hi - lo) / spacing + 0.5)).astype(int)
    first = (lo + hi) / 2 - (size - 1) / 2 * spacing
    origin = np.asarray(geometry.origin) + d_out @ first
    return Geometry(tuple(int(v) for v in size), tuple(float(v) for v in spacing),
                    tuple(float(v) for v in origin), tuple(float(v) + 0.0 for v in d_out.ravel()))


def _resample(image: sitk.Image, target: Geometry, interpolator, fill: float, extrapolate: bool) -> np.ndarray:
    out = sitk.Resample(image, [int(v) for v in target.size], sitk.Transform(), interpolator, target.origin,
                        target.spacing, target.direction, float(fill), sitk.sitkFloat32, extrapolate)
    return np.ascontiguousarray(sitk.GetArrayViewFromImage(out).transpose(2, 1, 0))


def resample_image(array: np.ndarray, geometry: Geometry, target: Geometry, interpolation: str = "linear",
                   extrapolate: bool = True) -> np.ndarray:
    """(x, y, z) float32 array on ``target``. Points beyond the scan repeat its nearest voxel
    (``extrapolate``, for grids that only differ by rounding at the border) or take the scan's minimum
    (an oblique scan's corners, as the sliding window pads)."""
    return resample_sitk(to_sitk(array, geometry), target, interpolation, float(array.min()), extrapolate)


def resample_sitk(image: sitk.Image, target: Geometry, interpolation: str, fill: float, extrapolate: bool):
    return _resample(image, target, INTERPOLATORS[interpolation], fill, extrapolate)


def probabilities_back(p_u: torch.Tensor, p_m: torch.Tensor | None, model: Geometry, target: Geometry,
                       tau: float, rule: str, slab_voxels: int = SLAB_VOXELS):
    """Label, entropy and region maps on ``target`` from probabilities (C, X, Y, Z) on ``model``.

    Each z-slab of ``target`` gets only the block of the model grid it overlaps, converted to
    float32 one class at a time, so no full-size float copy of the probabilities ever exists.
    """
    shape = tuple(int(v) for v in target.size)
    label = np.zeros(shape, np.uint8)
    entropy = np.zeros(shape, np.uint8)
    regions = None if p_m is None else np.zeros(shape, np.uint8)
    slab = max(1, slab_voxels // (shape[0] * shape[1]))
    d_t = direction_matrix(target.direction)
    d_m, s_m, o_m = direction_matrix(model.direction), np.asarray(model.spacing), np.asarray(model.origin)
    views = [p_u] if p_m is None else [p_u, p_m]
    for z0 in range(0, shape[2], slab):
        dz = min(slab, shape[2] - z0)
        origin = np.asarray(target.origin) + d_t @ np.array([0.0, 0.0, z0 * target.spacing[2]])
        part = Geometry((shape[0], shape[1], dz), target.spacing, tuple(origin), target.direction)
        # the model-grid block this slab overlaps, one voxel wider for the interpolation
        idx = (np.linalg.inv(d_m) @ (_box_corners(part) - o_m).T).T / s_m
        lo = np.clip(np.floor(idx.min(0)).astype(int) - 1, 0, model.size)
        hi = np.clip(np.ceil(idx.max(0)).astype(int) + 2, 0, model.size)
        hi = np.maximum(hi, np.minimum(lo + 1, model.size))
        lo = np.minimum(lo, hi - 1)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        block_origin = o_m + d_m @ (lo * s_m)
        block = Geometry(tuple(int(v) for v in hi - lo), model.spacing, tuple(block_origin), model.direction)
        slabs = []
        for view in views:
            probs = [_resample(to_sitk(view[(c,) + box].float().numpy(), block), part, sitk.sitkLinear, 0.0, True)
                     for c in range(1, view.shape[0])]
            rest = np.clip(1.0 - np.sum(probs, axis=0), 0.0, 1.0)
            slabs.append(torch.from_numpy(np.stack([rest] + probs)))
        maps = slab_maps(slabs[0], slabs[1] if p_m is not None else None, tau, rule)
        label[..., z0:z0 + dz], entropy[..., z0:z0 + dz] = maps[0], maps[1]
        if regions is not None:
            regions[..., z0:z0 + dz] = maps[2]
    return label, entropy, regions
