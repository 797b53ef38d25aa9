"""Bring a scan to the model's conditions and the result back to the scan's exact grid.

Order (docs/inference.md): reorient (permutation and flips, lossless) → ROI crop → normalise (inside
the ROI only) → resample to the model's spacing → [sliding window] → probabilities back to the
cropped grid → maps → paste into the full grid → undo the reorientation. Every step that changes
the scan adds a one-line entry to ``steps``; ``info`` holds the same facts as numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.image_io import Geometry, to_sitk
from ..data.normalize import Normalization
from ..data.orientation import (
    ALIGNED_DEG,
    Reorientation,
    code_matrix,
    obliquity_deg,
    orientation_code,
    reorientation,
)
from ..data.roi import RoiCrop, roi_crop
from ..util.errors import InputError
from .maps import maps_by_slab
from .resample import INTERPOLATORS, model_grid, probabilities_back, resample_sitk

SPACING_WARN_RATIO = 1.5      # --keep-spacing: warn that results may be poor
WRONG_MODEL_RATIO = 10.0      # any mode: a scan this far from the model's spacing is likely the wrong model
MAX_GROWTH = 8                # refuse a resampled grid this many times larger than the scan (and ≥ 100 M voxels)


def mm(values) -> str:
    return "×".join(f"{float(v):.2f}" for v in values)


@dataclass
class ScanPlan:
    """Every grid a scan passes through: ``input`` → reoriented → ``work`` (ROI) → ``network``."""

    input: Geometry
    reorient: Reorientation | None
    roi: RoiCrop | None
    work: Geometry
    network: Geometry | None          # the model-spacing grid, None when not resampled
    interpolation: str
    oblique: bool
    steps: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def network_size(self) -> tuple:
        return (self.network or self.work).size

    def to_json(self) -> dict:
        return {"steps": list(self.steps), **self.info}


def plan_scan(geometry: Geometry, meta: dict, keep_spacing: bool = False, interpolation: str = "linear",
              roi=None) -> ScanPlan:
    """Decide what to do to a scan of ``geometry`` for the model described by ``meta``."""
    if interpolation not in INTERPOLATORS:
        raise InputError(f"interpolation must be one of {sorted(INTERPOLATORS)}, not {interpolation!r}")
    steps, warnings = [], []
    code, tilt = orientation_code(geometry.direction), obliquity_deg(geometry.direction)
    model_code, model_spacing = meta.get("orientation"), meta.get("spacing")
    oblique = tilt > ALIGNED_DEG
    info = {"input": {"size": list(geometry.size), "spacing": list(geometry.spacing), "orientation": code,
                      "oblique_deg": round(tilt, 2)},
            "model": {"spacing": model_spacing, "orientation": model_code},
            "reoriented": None, "roi": None, "resampled": None, "series": None}

    reorient, g1 = None, geometry
    if model_code:
        if oblique and keep_spacing:
            raise InputError(f"scan direction is oblique (axes up to {tilt:.1f}° from L/P/S, nearest {code}): it cannot "
                             f"be brought to the model's {model_code} orientation by axis permutation and flips; "
                             "run without --keep-spacing to resample it into the model's orientation")
        reorient = reorientation(geometry, model_code)
        g1 = reorient.geometry(geometry)
        if reorient.identity:
            reorient = None
        else:
            steps.append(reorient.describe())
            info["reoriented"] = {"from": reorient.source, "to": reorient.target,
                                  "permutation": list(reorient.perm), "flips": list(reorient.flip)}
    else:
        steps.append(f"model records no orientation: scan used in file order ({code})")

    crop, work = None, g1
    if roi is not None:
        crop = roi_crop(g1, roi)
        work = crop.geometry()
        steps.append(crop.describe())
        info["roi"] = crop.to_json()

    network = None
    if not model_spacing:
        steps.append(f"model records no spacing: scan kept at {mm(work.spacing)} mm")
    else:
        ratio = np.asarray(work.spacing) / np.asarray(model_spacing, float)
        if np.any(ratio >= WRONG_MODEL_RATIO) or np.any(ratio <= 1 / WRONG_MODEL_RATIO):
            warnings.append(f"scan spacing {mm(work.spacing)} mm is {WRONG_MODEL_RATIO:g}× or more away from the "
                            f"model's {mm(model_spacing)} mm on some axis: likely the wrong model for this scan "
                            "(or a wrong spacing in its header)")
        differs = not np.allclose(ratio, 1.0, rtol=0, atol=1e-3)
        if keep_spacing:
            if differs:
                steps.append(f"kept the scan's spacing {mm(work.spacing)} mm (--keep-spacing; model: "
                             f"{mm(model_spacing)} mm)")
                if np.any(ratio > SPACING_WARN_RATIO) or np.any(ratio < 1 / SPACING_WARN_RATIO):
                    warnings.append(f"scan spacing {mm(work.spacing)} mm differs from the model's training spacing "
                                    f"{mm(model_spacing)} mm by more than {SPACING_WARN_RATIO}×; results may be poor: "
                                    "drop --keep-spacing to resample to the model's spacing")
        elif differs or (oblique and model_code):
            direction = code_matrix(model_code).ravel() if model_code else None
            network = model_grid(work, model_spacing, direction)
            grown = np.prod(network.size) / np.prod(work.size)
            if grown > MAX_GROWTH and np.prod(network.size) >= 100e6:
                raise InputError(f"resampling {mm(work.spacing)} mm to the model's {mm(model_spacing)} mm would make a "
                                 f"{'×'.join(map(str, network.size))} grid ({grown:.0f}× the scan): wrong model or "
                                 "wrong spacing in the header? Use --keep-spacing to segment as is")
            text = f"resampled {mm(work.spacing)} mm → {mm(model_spacing)} mm ({interpolation})"
            if oblique and model_code:
                text += f", oblique grid ({tilt:.1f}° tilt) resampled into {model_code}"
            steps.append(text)
            info["resampled"] = {"from_spacing": list(work.spacing), "to_spacing": list(network.spacing),
                                 "interpolation": interpolation, "from_size": list(work.size),
                                 "to_size": list(network.size), "oblique": bool(oblique and model_code)}
    if not steps:
        steps.append("scan used as is: it has the model's spacing and orientation")
    info["network_size"] = list((network or work).size)
    return ScanPlan(geometry, reorient, crop, work, network, interpolation, oblique, steps, warnings, info)


def prepare_image(image: np.ndarray, plan: ScanPlan, normalization: Normalization) -> np.ndarray:
    """The normalised array the network sees (x, y, z, float32, contiguous)."""
    x = plan.reorient.apply(image) if plan.reorient else image
    if plan.roi is not None:
        x = plan.roi.crop(x)
    x = normalization(x)  # a contiguous copy; statistics of the ROI only
    if plan.network is None:
        return x
    fill, image = float(x.min()), to_sitk(x, plan.work)
    del x  # large CT: never hold the normalised array, its SimpleITK copy and the result at once
    return resample_sitk(image, plan.network, plan.interpolation, fill, extrapolate=not plan.oblique)


def finish_maps(plan: ScanPlan, p_u, p_m, tau: float, rule: str):
    """Label, entropy and region maps (uint8) on the scan's exact input grid.

    Outside the ROI: label 0, entropy 0 and region 0 (not analysed)."""
    if plan.network is not None:
        label, entropy, regions = probabilities_back(p_u, p_m, plan.network, plan.work, tau, rule)
    else:
        label, entropy, regions = maps_by_slab(p_u, p_m, tau, rule)
    maps = [label, entropy, regions]
    if plan.roi is not None:
        maps = [None if m is None else plan.roi.paste(m, 0) for m in maps]
    if plan.reorient is not None:
        maps = [None if m is None else plan.reorient.undo(m) for m in maps]
    return maps
