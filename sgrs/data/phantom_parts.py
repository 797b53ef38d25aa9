"""Drawing primitives every phantom family shares (phantom.py, phantom_hard.py, shifts.py): smooth
noise fields, tubes along curves, the left-atrium-like target, a cheap dilation. A module of its own
so the families import it and not each other."""
from __future__ import annotations

import numpy as np


def smooth_noise(rng: np.random.Generator, shape, scale_vox: float) -> np.ndarray:
    """Gaussian-filtered white noise (FFT), unit standard deviation."""
    white = rng.standard_normal(shape)
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    k2 = sum(f * f for f in freqs)
    out = np.real(np.fft.ifftn(np.fft.fftn(white) * np.exp(-2 * (np.pi * scale_vox) ** 2 * k2)))
    return out / (out.std() + 1e-8)


def tube(points_mm: tuple[np.ndarray, ...], path: np.ndarray, radius: float) -> np.ndarray:
    """Voxels within ``radius`` mm of a polyline sampled densely enough to treat as points."""
    inside = np.zeros(np.broadcast(*points_mm).shape, dtype=bool)
    for p in path:
        inside |= sum((c - pc) ** 2 for c, pc in zip(points_mm, p)) < radius * radius
    return inside


def curve(rng, start, direction, length, n=24) -> np.ndarray:
    bend = rng.normal(0, 0.35, 3)
    t = np.linspace(0, 1, n)[:, None]
    ctrl = start + direction * length * 0.5 + bend * length * 0.3
    end = start + direction * length
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * ctrl + t * t * end


def target(rng, grid, size, extent, spread=0.08, radius=(0.16, 0.24), axis_jitter=0.2,
           warp=(0.08, 0.06), vein_radius=(0.12, 0.18)):
    """The left-atrium-like target: an irregular body (radius modulated by random low-order
    harmonics of the direction) with four tubular veins, two each side, pointing outwards and
    backwards. Returns (centre, r0, axes, label); every family draws it in this order from ``rng``."""
    centre = extent * (0.5 + rng.uniform(-spread, spread, 3))
    r0 = rng.uniform(*radius) * extent[:2].mean()
    axes = r0 * rng.uniform(1 - axis_jitter, 1 + axis_jitter, 3)
    rel = [g - c for g, c in zip(grid, centre)]
    dist = np.sqrt(sum((r / a) ** 2 for r, a in zip(rel, axes))) + 1e-6
    unit = [r / (a * dist) for r, a in zip(rel, axes)]
    bump = sum(rng.normal(0, warp[0]) * u for u in unit)
    bump = bump + sum(rng.normal(0, warp[1]) * unit[i] * unit[j] for i in range(3) for j in range(i, 3))
    body = dist < 1.0 + bump
    veins = np.zeros(size, dtype=bool)
    for k in range(4):
        side = -1 if k < 2 else 1
        d = np.array([side * rng.uniform(0.6, 1.0), rng.uniform(0.2, 0.7), rng.uniform(-0.5, 0.5)])
        d /= np.linalg.norm(d)
        path = curve(rng, centre + d * axes * 0.8, d, rng.uniform(0.5, 0.9) * r0)
        veins |= tube(grid, path, rng.uniform(*vein_radius) * r0)
    return centre, r0, axes, body | veins


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for axis in range(3):
        for s in range(1, r + 1):
            out |= np.roll(mask, s, axis) | np.roll(mask, -s, axis)
    return out
