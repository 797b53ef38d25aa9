"""Case scores without ground truth: how likely is this segmentation to be wrong (higher: worse)?

Each is computed per structure (class value ≥ 1) of the label map; the case flag takes the worst
structure (case_flag.py). benchmarks/trust/failure_detection.py measures each against Dice.

- ``mean_entropy``: mean normalised entropy (0 … 1) near the structure: the predicted structure
  grown by ``MARGIN`` voxels (the whole scan when nothing is predicted);
- ``non_boundary_entropy``: the same mean without the band of ``BAND`` voxels either side of the
  predicted boundary, where entropy is high even on a correct result (Zenk et al. 2025);
- ``uncertain_share``: the Δ∪Θ share of the structure (the region maps' statistic, per structure);
- ``view_disagreement``: 1 − Dice between the plain view's and the mixed view's labels (the mixed
  view is computed anyway whenever the region maps are);
- ``tta_disagreement``: 1 − the mean pairwise Dice of the flip-TTA labels (opt-in, ``--tta N``);
- ``feature_distance`` / ``feature_knn``: the scan's pooled bottleneck features against the training
  cases' (features.py: Mahalanobis, and the k-nearest-neighbour distance, both after PCA), per scan.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.ndimage import binary_dilation, binary_erosion

from .region_codes import DELTA, THETA

MARGIN = 3   # voxels around the predicted structure that "near" includes
BAND = 1     # voxels either side of the predicted boundary that non-boundary entropy leaves out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks; two empty masks agree (1.0)."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def _grow(mask: np.ndarray, r: int) -> np.ndarray:
    return binary_dilation(mask, iterations=r) if r > 0 else mask


def near(mask: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """The structure grown by ``margin`` voxels; the whole volume when the structure is empty."""
    return _grow(mask, margin) if mask.any() else np.ones_like(mask, dtype=bool)


def boundary_band(mask: np.ndarray, band: int = BAND) -> np.ndarray:
    """Voxels within ``band`` voxels of the mask's boundary, inside or outside."""
    if band <= 0 or not mask.any():
        return np.zeros_like(mask, dtype=bool)
    inner = binary_erosion(mask, iterations=band, border_value=1)
    return _grow(mask, band) & ~inner


def _box(mask: np.ndarray, pad: int) -> tuple[slice, ...]:
    """The mask's bounding box grown by ``pad`` voxels (clipped): the scores never need more, so a
    small structure in a large CT costs a small crop, not the volume."""
    idx = [np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != ax))) for ax in range(mask.ndim)]
    return tuple(slice(max(int(i[0]) - pad, 0), min(int(i[-1]) + pad + 1, n)) for i, n in zip(idx, mask.shape))


def _scale(entropy: np.ndarray) -> float:
    return 255.0 if entropy.dtype == np.uint8 else 1.0


def mean_entropy(entropy: np.ndarray, mask: np.ndarray, margin: int = MARGIN) -> float:
    """Mean of ``entropy`` (uint8 map: 0 … 255, or floats 0 … 1) near the structure, as 0 … 1."""
    if not mask.any():
        return float(entropy.mean() / _scale(entropy))
    box = _box(mask, margin + 1)
    values = entropy[box][near(mask[box], margin)]
    return float(values.mean() / _scale(entropy))


def non_boundary_entropy(entropy: np.ndarray, mask: np.ndarray, margin: int = MARGIN, band: int = BAND) -> float:
    """Mean entropy near the structure, the boundary band left out."""
    if not mask.any():
        return float(entropy.mean() / _scale(entropy))
    box = _box(mask, max(margin, band) + 1)
    m = mask[box]
    where = near(m, margin) & ~boundary_band(m, band)
    return float(entropy[box][where].mean() / _scale(entropy)) if where.any() else 0.0


def pairwise_dice(masks: list[np.ndarray]) -> float:
    """Mean Dice over every pair of masks (1.0 for fewer than two)."""
    pairs = list(combinations(masks, 2))
    return float(np.mean([dice(a, b) for a, b in pairs])) if pairs else 1.0


def structure_scores(label: np.ndarray, entropy: np.ndarray, n_classes: int, views: tuple | None = None,
                     tta_labels: list | None = None, regions: np.ndarray | None = None) -> dict[int, dict]:
    """{class value: {score name: value}} for every structure of the label map. ``views``: (plain,
    mixed) label maps on the network's grid; ``tta_labels``: the plain label and each flipped pass's,
    on that grid. ``regions``: the Δ/Ω/Θ map (scan grid), for each structure's Δ∪Θ share. Scores whose
    input is missing (no region maps, no TTA) are left out."""
    out = {}
    for c in range(1, n_classes):
        mask = label == c
        s = {"mean_entropy": round(mean_entropy(entropy, mask), 6),
             "non_boundary_entropy": round(non_boundary_entropy(entropy, mask), 6)}
        if regions is not None:
            n = int(mask.sum())
            s["uncertain_share"] = round(int((mask & ((regions == DELTA) | (regions == THETA))).sum()) / n, 6) \
                if n else 0.0
        if views is not None:
            s["view_disagreement"] = round(1.0 - dice(views[0] == c, views[1] == c), 6)
        if tta_labels:
            s["tta_disagreement"] = round(1.0 - pairwise_dice([t == c for t in tta_labels]), 6)
        out[c] = s
    return out
