"""``sgrs calibrate MODEL --cohort …``: store the feature statistics (features.py) of cases like the
model's training data in its bundle, for bundles trained before the statistics existed and for
imported checkpoints. Unlabelled cases suffice; each goes through the path ``sgrs segment`` takes
(reorientation, resampling to the model's grid, the bundle's normalisation)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..util.errors import InputError
from .features import FeatureStats, pooled_features, write_feature_stats

MIN_CASES = 3


def scan_features(bundle, image: np.ndarray, geometry, device="cpu") -> np.ndarray:
    """The feature vector of a scan as read (``read_scan``), prepared exactly as for segmentation."""
    from ..data.normalize import Normalization
    from .prepare import plan_scan, prepare_image

    plan = plan_scan(geometry, bundle.meta)
    norm = prepare_image(np.asarray(image, np.float32), plan, Normalization.from_json(bundle.meta["normalization"]))
    return pooled_features(bundle.model, norm, bundle.patch_size, device)


def calibrate_bundle(model, cases, progress=None, source: str = "calibrate") -> dict:
    """``cases``: [(id, image path)]. Returns the ``feature_stats`` entry written to model.json."""
    from ..data.image_io import read_scan
    from ..models.bundle import load_bundle

    if len(cases) < MIN_CASES:
        raise InputError(f"calibration needs at least {MIN_CASES} cases, got {len(cases)}")
    bundle = load_bundle(model)
    features = []
    for i, (_cid, path) in enumerate(cases):
        image, geometry, _ = read_scan(path)
        features.append(scan_features(bundle, image, geometry))
        if progress:
            progress(i + 1, len(cases))
    return write_feature_stats(Path(bundle.path), FeatureStats.fit(np.stack(features), source))


def training_feature_stats(model, arrays, patch, device="cpu") -> FeatureStats | None:
    """Statistics of the training cases' normalised arrays (what the loop holds when it ends);
    None with fewer than MIN_CASES cases."""
    arrays = list(arrays)
    if len(arrays) < MIN_CASES:
        return None
    return FeatureStats.fit(np.stack([pooled_features(model, a, patch, device) for a in arrays]), "training")
