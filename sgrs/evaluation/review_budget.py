"""How many of a result's wrong voxels a voxel map finds within a reviewing budget (benchmarks of
the review list: benchmarks/trust/, benchmarks/overlap_cost.py)."""
from __future__ import annotations

import numpy as np


def found_at_count(score: np.ndarray, errors: np.ndarray, count: float) -> float:
    """Error voxels among the ``count`` highest-scoring voxels; ties at the cut are split pro rata
    (the expected count of a random tie-break)."""
    count = min(max(count, 0.0), score.size)
    if count == 0:
        return 0.0
    values, inverse = np.unique(score.ravel(), return_inverse=True)
    n = np.bincount(inverse, minlength=len(values))[::-1]          # highest value first
    e = np.bincount(inverse, errors.ravel().astype(np.float64), len(values))[::-1]
    cum = np.cumsum(n)
    k = int(np.searchsorted(cum, count))                            # the level holding the cut
    before = cum[k - 1] if k else 0
    return float(e[:k].sum() + e[k] * (count - before) / n[k])
