"""Kinds of distribution shift applied to phantom cases, for the failure-detection benchmark
(benchmarks/trust/failure_detection.py): each turns a case of a family into one a model trained on
that family was never shown, with a severity in [0, 1] so a set of cases spans mild to severe.

Kinds (``SHIFTS``): noise, gamma (contrast), blur (lower resolution along z), bias (a strong bias
field), neighbour (a bright blob touching the target), cut (a field of view cut through the
target), inverted (intensities reversed), anatomy (the target inside another anatomy: a head-like
scene). The label stays the truth of the shifted image. Deterministic in (seed, index, kind).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

from .image_io import Geometry
from .phantom import make_case
from .phantom_parts import dilate, smooth_noise, target

SHIFTS = ("noise", "gamma", "blur", "bias", "neighbour", "cut", "inverted", "anatomy")


def _unit(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) / max(hi - lo, 1e-6), lo, hi


def shift_case(kind: str, image: np.ndarray, label: np.ndarray, geometry: Geometry, severity: float,
               rng: np.random.Generator):
    """(image, label, geometry) after the shift ``kind`` at ``severity`` (0 mild … 1 severe)."""
    if kind not in SHIFTS:
        raise ValueError(f"shift must be one of {SHIFTS}, not {kind!r}")
    s = float(np.clip(severity, 0.0, 1.0))
    u, lo, hi = _unit(image.astype(np.float64))
    if kind == "noise":
        sigma = 0.05 + 0.35 * s
        u = np.sqrt((u + rng.normal(0, sigma, u.shape)) ** 2 + rng.normal(0, sigma, u.shape) ** 2)
    elif kind == "gamma":
        u = u ** (1.0 + 5.0 * s if rng.random() < 0.5 else 1.0 / (1.0 + 5.0 * s))
    elif kind == "blur":
        factor = 2.0 + 8.0 * s                       # slices this many times thicker
        small = zoom(gaussian_filter(u, (0.3, 0.3, factor / 2.5)), (1, 1, 1 / factor), order=1)
        u = zoom(small, np.array(u.shape) / np.array(small.shape), order=1)[:u.shape[0], :u.shape[1], :u.shape[2]]
    elif kind == "bias":
        field = smooth_noise(rng, u.shape, 10.0)
        u = u * np.exp((0.3 + 1.2 * s) * field)
    elif kind == "neighbour":
        u = _bright_neighbour(u, label, geometry, s, rng)
    elif kind == "cut":
        return _cut(image, label, geometry, s, rng)
    elif kind == "inverted":
        u = 1.0 - u ** (1.0 + s)  # reversed (a linear change would be undone by the normalisation)
    elif kind == "anatomy":
        u = _other_anatomy(u, label, geometry, s, rng)
    return (lo + u * (hi - lo)).astype(np.float32), label, geometry


def _bright_neighbour(u, label, geometry, s, rng):
    """A blob brighter than the target, pressed against it from a random side."""
    grid = np.meshgrid(*[np.arange(n) for n in u.shape], indexing="ij", sparse=True)
    where = np.argwhere(label > 0)
    centre = where.mean(0)
    extent = where.max(0) - where.min(0) + 1
    d = rng.normal(size=3)
    d /= np.linalg.norm(d)
    r = (0.5 + 0.6 * s) * extent.mean() / 2
    c = centre + d * (extent / 2 * 0.9 + r * 0.6)
    blob = (sum((g - ci) ** 2 for g, ci in zip(grid, c)) < r * r) & (label == 0)
    level = float(np.percentile(u[label > 0], 50)) * (0.9 + 0.3 * s)  # as bright as the target, or more
    return np.where(blob, gaussian_filter(np.where(blob, level, u), 0.7), u)


def _cut(image, label, geometry: Geometry, s, rng):
    """Keep a slab of the volume that cuts through the target along one in-plane axis."""
    axis = int(rng.integers(0, 2))
    where = np.flatnonzero(np.any(label > 0, axis=tuple(a for a in range(3) if a != axis)))
    if where.size == 0:
        return image, label, geometry
    lo_t, hi_t = int(where.min()), int(where.max())
    cut_at = int(round(hi_t - (0.3 + 0.65 * s) * (hi_t - lo_t)))  # this share of the target cut away
    keep = slice(0, max(cut_at, 8)) if rng.random() < 0.5 else slice(min(lo_t + (hi_t - cut_at), image.shape[axis] - 8),
                                                                   image.shape[axis])
    index = [slice(None)] * 3
    index[axis] = keep
    origin = list(geometry.origin)
    origin[axis] += (keep.start or 0) * geometry.spacing[axis]
    image, label = image[tuple(index)], label[tuple(index)]
    return (np.ascontiguousarray(image), np.ascontiguousarray(label),
            Geometry(tuple(image.shape), geometry.spacing, tuple(origin), geometry.direction))


def _other_anatomy(u, label, geometry: Geometry, s, rng):
    """A head-like scene around the target: bright scalp ring, darker skull, textured brain with dark
    ventricles; the target keeps a blood-like signal. ``s`` moves the target's contrast towards the brain's."""
    size = u.shape
    extent = np.array(size) * np.array(geometry.spacing)
    grid = np.meshgrid(*[(np.arange(n) + 0.5) * sp for n, sp in zip(size, geometry.spacing)], indexing="ij",
                       sparse=True)
    rad = sum(((g - e / 2) / (e / 2 * 0.96)) ** 2 for g, e in zip(grid, extent))
    brain = 0.45 + 0.08 * smooth_noise(rng, size, 2.0)
    scene = np.where(rad < 0.75, brain, np.where(rad < 0.85, 0.15, np.where(rad < 1.0, 0.9, 0.02)))
    _, _, _, ventricles = target(rng, grid, size, extent, spread=0.15, radius=(0.06, 0.1))
    scene = np.where(ventricles & (label == 0), 0.1, scene)
    blood = 0.95 - 0.4 * s
    scene = np.where(dilate(label > 0, 1) & (label == 0), 0.3, scene)
    scene = np.where(label > 0, blood, scene)
    sigma = 0.04
    return np.sqrt((gaussian_filter(scene, 0.6) + rng.normal(0, sigma, size)) ** 2 + rng.normal(0, sigma, size) ** 2)


def make_shifted_case(kind: str, index: int, seed: int, size, spacing, family: str = "default",
                      severity: float | None = None):
    """Case ``index`` of the family's cohort ``seed`` under shift ``kind``; severity drawn in
    [0.1, 1] per case when not given. Returns (image, label, geometry, severity)."""
    image, label, geometry = make_case(index, seed, size, spacing, family)
    rng = np.random.default_rng([seed, index, 7, SHIFTS.index(kind)])
    sev = float(rng.uniform(0.1, 1.0)) if severity is None else float(severity)
    image, label, geometry = shift_case(kind, image, label, geometry, sev, rng)
    return image, label, geometry, sev
