"""The ``hard`` phantom family: a left-atrium-like target with headroom for semi-supervised methods.

What makes it hard, each a property of real cardiac MR that the default family leaves out:
- partial-volume blur: the clean image is blurred by a Gaussian of 0.7–1.2 voxels before noise, so
  the boundary is a ramp, not a step;
- a wall of variable thickness (0–4 mm), absent where the thickness field is low;
- distractors that touch the target: a ventricle-like blob whose surface meets the body and an
  aorta-like tube running alongside it, with no wall at the contact;
- lower contrast-to-noise: distractors at 78–92 % of the target's blood signal, more noise and a
  stronger bias field.
Everything is a function of (seed, case index) through its own random stream, so the default
family's output is untouched.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter

from .image_io import Geometry
from .phantom_parts import curve, smooth_noise, target, tube


def make_hard_case(index: int, seed: int, size, spacing):
    """(image float32, label uint8, geometry) of case ``index`` of the hard cohort ``seed``."""
    parts = hard_case_parts(index, seed, size, spacing)
    return parts["image"], parts["label"], parts["geometry"]


def hard_case_parts(index: int, seed: int, size, spacing) -> dict:
    """The case and the parts it is made of (distractor and wall masks, wall thickness in mm, the
    image before and after the partial-volume blur), so tests can check the family's properties."""
    rng = np.random.default_rng([seed, index, 2])  # a stream of its own: "2" names the hard family
    size, spacing = tuple(int(s) for s in size), tuple(float(s) for s in spacing)
    extent = np.array(size) * np.array(spacing)
    grid = np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(size, spacing)], indexing="ij", sparse=True)

    centre, r0, axes, label = target(rng, grid, size, extent, spread=0.1, radius=(0.15, 0.23), axis_jitter=0.25,
                                     warp=(0.1, 0.08), vein_radius=(0.1, 0.17))
    outside_mm = distance_transform_edt(~label, sampling=spacing)

    # Distractors placed against the target: the ventricle's surface meets the body along a random
    # direction below it; the aorta runs past the body's other side at touching distance.
    angle = rng.uniform(0, 2 * np.pi)
    v_dir = np.array([np.cos(angle), -abs(np.sin(angle)) - 0.3, rng.uniform(-0.3, 0.3)])
    v_dir /= np.linalg.norm(v_dir)
    v_r = r0 * rng.uniform(0.75, 1.0)
    reach = float(1.0 / np.sqrt(np.sum((v_dir / axes) ** 2)))  # centre to the ellipsoid's surface
    v_centre = centre + v_dir * (reach + v_r * 0.8)
    ventricle = (sum(((g - c) / v_r) ** 2 for g, c in zip(grid, v_centre)) < 1.0) & ~label
    a_r = r0 * rng.uniform(0.3, 0.42)
    a_side = np.array([-v_dir[0], -v_dir[1], 0.0])
    a_side /= np.linalg.norm(a_side) + 1e-8
    a_centre = centre + a_side * (axes[:2].mean() + a_r * 0.7)
    a_dir = np.array([rng.normal(0, 0.25), rng.normal(0, 0.25), 1.0])
    a_dir /= np.linalg.norm(a_dir)
    length = extent[2] * 1.2
    aorta = tube(grid, curve(rng, a_centre - a_dir * length / 2, a_dir, length, n=32), a_r) & ~label

    # Wall: thickness varies smoothly over the volume, 0–4 mm; below ~0.5 mm it is simply absent.
    thickness = np.clip(1.6 + 1.4 * smooth_noise(rng, size, 4.0), 0.0, 4.0)
    wall = (outside_mm > 0) & (outside_mm <= thickness)

    tissue = 0.4 + 0.06 * smooth_noise(rng, size, 3.0)
    torso = sum(((g - e / 2) / (e / 2 * 0.98)) ** 2 for g, e in zip(grid[:2], extent[:2])) < 1.0
    image = np.where(torso, tissue, 0.03)
    blood = rng.uniform(0.7, 1.0)
    image = np.where(wall, 0.25, image)
    image = np.where(aorta | ventricle, blood * rng.uniform(0.78, 0.92), image)  # no wall at the contact
    image = np.where(label, blood, image)
    clean = image
    image = gaussian_filter(image, rng.uniform(0.7, 1.2), mode="nearest")  # partial-volume blur
    blurred = image
    image = image * (1.0 + 0.05 * smooth_noise(rng, size, 1.5))
    # centred: a low-pass field on a small grid is mostly its mean, which would scale the signal
    # against the noise at random instead of shading the volume
    field = smooth_noise(rng, size, 18.0)
    bias = np.exp(0.05 * (field - field.mean()))
    sigma = rng.uniform(0.06, 0.1)
    noisy = np.sqrt((image * bias + rng.normal(0, sigma, size)) ** 2 + rng.normal(0, sigma, size) ** 2)
    scale = rng.uniform(300, 900)
    geometry = Geometry(size, spacing, tuple(rng.uniform(-120, -80, 3).round(2)), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return {"image": (noisy * scale).astype(np.float32), "label": label.astype(np.uint8), "geometry": geometry,
            "ventricle": ventricle, "aorta": aorta, "wall": wall, "thickness_mm": thickness,
            "clean": clean, "blurred": blurred, "noise_sigma": sigma}
