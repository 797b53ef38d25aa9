"""What ``sgrs segment`` gives: the arrays in memory and the files it writes. Torch-free, so a GUI that
imports a finished background run's files (SGRSSegmentLib.job) does not load torch (review finding 4)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.image_io import Geometry

OUTPUT_FILES = {"label": "label.nrrd", "regions": "regions.nrrd", "entropy": "entropy.nrrd",
                "summary": "summary.json", "png": "overview.png"}


@dataclass
class Segmentation:
    label: np.ndarray                 # uint8 (x, y, z)
    regions: np.ndarray | None        # uint8 (x, y, z), values OMEGA / THETA / DELTA
    entropy: np.ndarray               # uint8 (x, y, z)
    geometry: Geometry
    summary: dict = field(default_factory=dict)
    # on the network's grid, in memory only: "view_disagreement" (bool: plain ≠ mixed label) and, with
    # --tta, "tta_votes" (uint8: flipped passes whose label differs from the plain one)
    network_maps: dict = field(default_factory=dict)
