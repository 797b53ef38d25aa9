"""Segmentation metrics, defined as ``medpy.metric.binary`` defines them.

Surfaces are the mask minus its erosion by the face-connected (6-neighbour) structure, the volume
outside counting as background; surface distances are Euclidean distance transforms with the
image spacing. ``hd95`` is the 95th percentile of both directed surface-distance sets pooled,
``asd`` the mean directed distance from ``pred`` to ``truth``, ``assd`` the mean of both directed
sets pooled (medpy 0.5's definition, which weights each direction by its number of surface voxels).
Pass ``spacing=None`` for voxel units (as the published tables use).

Empty masks (documented convention): both empty → Dice = Jaccard = 1 and distances 0 (perfect
agreement on absence); exactly one empty → Dice = Jaccard = 0 and distances NaN (undefined;
medpy raises instead). Means in ``sgrs evaluate`` skip NaN and report how many were skipped.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

METRICS = ("dice", "jaccard", "hd95", "asd", "assd")


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    p, t = pred.astype(bool), truth.astype(bool)
    total = int(p.sum()) + int(t.sum())
    return 1.0 if total == 0 else 2.0 * int((p & t).sum()) / total


def foreground_dice(pred: np.ndarray, truth: np.ndarray, n_classes: int) -> float:
    """Mean Dice over the foreground classes (a class absent from both counts as agreement, 1)."""
    return float(np.mean([dice(pred == c, truth == c) for c in range(1, max(2, n_classes))]))


def jaccard(pred: np.ndarray, truth: np.ndarray) -> float:
    p, t = pred.astype(bool), truth.astype(bool)
    union = int((p | t).sum())
    return 1.0 if union == 0 else int((p & t).sum()) / union


def surface_distances(a: np.ndarray, b: np.ndarray, spacing=None) -> np.ndarray:
    """Distances from each surface voxel of ``a`` to the nearest surface voxel of ``b``."""
    a, b = a.astype(bool), b.astype(bool)
    structure = ndimage.generate_binary_structure(a.ndim, 1)
    a_border = a ^ ndimage.binary_erosion(a, structure=structure, iterations=1)
    b_border = b ^ ndimage.binary_erosion(b, structure=structure, iterations=1)
    dt = ndimage.distance_transform_edt(~b_border, sampling=spacing)
    return dt[a_border]


def all_metrics(pred: np.ndarray, truth: np.ndarray, spacing=None) -> dict[str, float]:
    p, t = pred.astype(bool), truth.astype(bool)
    out = {"dice": dice(p, t), "jaccard": jaccard(p, t)}
    if not p.any() and not t.any():
        return {**out, "hd95": 0.0, "asd": 0.0, "assd": 0.0}
    if not p.any() or not t.any():
        return {**out, "hd95": float("nan"), "asd": float("nan"), "assd": float("nan")}
    d_pt, d_tp = surface_distances(p, t, spacing), surface_distances(t, p, spacing)
    return {**out, "hd95": float(np.percentile(np.hstack((d_pt, d_tp)), 95)),
            "asd": float(d_pt.mean()), "assd": float(np.hstack((d_pt, d_tp)).mean())}


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest face-connected component (the ``--lcc`` post-processing)."""
    labels, n = ndimage.label(mask > 0)
    if n <= 1:
        return mask > 0
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == sizes.argmax()
