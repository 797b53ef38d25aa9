"""The spacing a model is trained at. Fine-tuning keeps the base model's spacing (a 1.25 mm model
fine-tuned on 3 mm scans stays a 1.25 mm model: the cases are resampled to it), unless the user
asks for another one; training from scratch uses the cohort's own median spacing."""
from __future__ import annotations

import numpy as np

from ..data.cohort import Cohort
from ..inference.resample import model_grid, resample_image

TOLERANCE = 0.02   # relative: closer than this, a case is used as it is


def median_spacing(cohort: Cohort):
    spacings = [c.geometry.spacing for c in cohort.labelled + cohort.unlabelled if c.geometry is not None]
    return [float(v) for v in np.median(np.array(spacings), axis=0)] if spacings else None


def target_spacing(requested, base_meta: dict | None):
    if requested:
        return [float(v) for v in requested]
    if base_meta and base_meta.get("spacing"):
        return [float(v) for v in base_meta["spacing"]]
    return None


def resample_cohort(cohort: Cohort, spacing) -> int:
    """Bring every case to ``spacing`` (image linear, label nearest); returns how many changed."""
    changed = 0
    for case in cohort.labelled + cohort.unlabelled + cohort.val:
        g = case.geometry
        if g is None or np.allclose(g.spacing, spacing, rtol=TOLERANCE):
            continue
        grid = model_grid(g, spacing)
        case.image = resample_image(case.image, g, grid)
        if case.label is not None:
            case.label = _nearest(case.label, g, grid)
        case.geometry = grid
        changed += 1
    return changed


def _nearest(label, geometry, grid):
    import SimpleITK as sitk

    from ..data.image_io import to_sitk
    out = sitk.Resample(to_sitk(label, geometry), [int(v) for v in grid.size], sitk.Transform(),
                        sitk.sitkNearestNeighbor, grid.origin, grid.spacing, grid.direction, 0, sitk.sitkUInt8)
    return np.ascontiguousarray(sitk.GetArrayViewFromImage(out).transpose(2, 1, 0))
