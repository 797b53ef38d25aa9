"""Deterministic synthetic cohorts: MR-like volumes with a left-atrium-like target.

Each case: a torso of textured soft tissue; an irregular blood-pool body (the target) with four
tubular "pulmonary veins" leaving it; a darker wall around it; bright distractors that look like
blood but are not the target (an aorta-like tube, a ventricle-like blob); a smooth multiplicative
bias field; Rician noise. Shape, position, size, contrast and noise vary per case; everything is a
function of (seed, case index), so the same command always writes the same files.

Families (``family=``): ``default`` (the demo's, unchanged) and ``hard``, built for a benchmark with
headroom (see ``phantom_hard.py``): partial-volume blur, a wall of variable thickness with gaps,
distractors that touch the target at lower contrast, more noise.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .image_io import Geometry, write_image
from .phantom_hard import make_hard_case
from .phantom_parts import curve, dilate, smooth_noise, target, tube

DEFAULT_SIZE = (64, 64, 48)
DEFAULT_SPACING = (1.25, 1.25, 1.25)
FAMILIES = ("default", "hard")


def make_case(index: int, seed: int = 0, size=DEFAULT_SIZE, spacing=DEFAULT_SPACING, family: str = "default"):
    """Return (image float32, label uint8, geometry) for case ``index`` of cohort ``seed``."""
    if family not in FAMILIES:
        raise ValueError(f"phantom family must be one of {FAMILIES}, not {family!r}")
    if family == "hard":
        return make_hard_case(index, seed, size, spacing)
    rng = np.random.default_rng([seed, index])
    size, spacing = tuple(int(s) for s in size), tuple(float(s) for s in spacing)
    extent = np.array(size) * np.array(spacing)
    grid = np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(size, spacing)], indexing="ij", sparse=True)

    centre, r0, axes, label = target(rng, grid, size, extent)

    # Distractors: bright blood pools that are not the target.
    aorta_start = np.array([extent[0] * rng.uniform(0.35, 0.65), 0.0, extent[2] * rng.uniform(0.3, 0.7)])
    aorta_dir = np.array([rng.normal(0, 0.2), 1.0, rng.normal(0, 0.2)])
    aorta_dir /= np.linalg.norm(aorta_dir)
    aorta = tube(grid, curve(rng, aorta_start, aorta_dir, extent[1] * 0.35), r0 * 0.35) & ~label
    v_centre = centre + np.array([rng.uniform(-1, 1), -1.0, rng.uniform(-0.3, 0.3)]) * r0 * 1.9
    ventricle = (sum(((g - c) / (r0 * 0.9)) ** 2 for g, c in zip(grid, v_centre)) < 1.0) & ~label

    # Intensities: tissue texture, dark wall around the target, bright blood, bias field, Rician noise.
    tissue = 0.35 + 0.06 * smooth_noise(rng, size, 3.0)
    torso = sum(((g - e / 2) / (e / 2 * 0.98)) ** 2 for g, e in zip(grid[:2], extent[:2])) < 1.0
    image = np.where(torso, tissue, 0.03)
    blood = rng.uniform(0.7, 1.0)
    # other chambers and vessels carry a different flow signal; a dark wall separates them
    image = np.where(aorta | ventricle, blood * rng.uniform(0.5, 0.65), image)
    image = np.where(dilate(label, 2) & ~label, 0.22, image)
    image = np.where(label, blood, image)
    image = image * (1.0 + 0.04 * smooth_noise(rng, size, 1.5))
    # mild enough that the target stays the brightest pool locally, as on a bias-corrected scan
    bias = np.exp(0.1 * smooth_noise(rng, size, 18.0))
    sigma = rng.uniform(0.03, 0.07)
    noisy = np.sqrt((image * bias + rng.normal(0, sigma, size)) ** 2 + rng.normal(0, sigma, size) ** 2)
    scale = rng.uniform(300, 900)  # scanner units vary from case to case
    geometry = Geometry(size, spacing, tuple(rng.uniform(-120, -80, 3).round(2)), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return (noisy * scale).astype(np.float32), label.astype(np.uint8), geometry


def write_cohort(out_dir, cases: int, seed: int = 0, val: int | None = None, test: int | None = None,
                 size=DEFAULT_SIZE, spacing=DEFAULT_SPACING, progress=None, family: str = "default") -> Path:
    """Write ``cases`` NRRD images and labels plus ``manifest.json``; returns the manifest path.

    Splits: the last ``test`` cases are ``test``, the ``val`` before them ``val``, the rest ``train``
    (defaults: one tenth each, at least one).
    """
    if family not in FAMILIES:
        raise ValueError(f"phantom family must be one of {FAMILIES}, not {family!r}")
    out = Path(out_dir)
    val = max(1, cases // 10) if val is None else val
    test = max(1, cases // 10) if test is None else test
    if cases < 1 or val < 0 or test < 0 or val + test >= cases:
        raise ValueError(f"need cases > val + test ≥ 0, got cases={cases}, val={val}, test={test}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(cases):
        image, label, geometry = make_case(i, seed, size, spacing, family)
        cid = f"case{i:03d}"
        write_image(image, geometry, out / "images" / f"{cid}.nrrd")
        write_image(label, geometry, out / "labels" / f"{cid}.nrrd")
        split = "test" if i >= cases - test else "val" if i >= cases - test - val else "train"
        entries.append({"id": cid, "image": f"images/{cid}.nrrd", "label": f"labels/{cid}.nrrd", "split": split})
        if progress:
            progress(i + 1, cases)
    generator = {"seed": seed, "cases": cases, "size": list(size), "spacing": list(spacing)}
    if family != "default":  # the default family's manifest stays as it was
        generator["family"] = family
    manifest = {"name": f"sgrs-phantom-seed{seed}" + ("" if family == "default" else f"-{family}"),
                "classes": ["background", "left atrium"], "generator": generator,
                "cases": entries}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path
