"""Multi-class bases and cohorts for the fine-tuning tests (engine and Train Lib share them)."""
import json
from pathlib import Path

import numpy as np

LIVER = {"category": ["SCT", "123037004", "Anatomical Structure"], "type": ["SCT", "10200004", "Liver"]}
SPLEEN = {"category": ["SCT", "123037004", "Anatomical Structure"], "type": ["SCT", "78961009", "Spleen"]}
THREE_CLASSES = [{"name": "background", "color": [0, 0, 0]},
                 {"name": "liver", "color": [221, 130, 101], "terminology": LIVER},
                 {"name": "spleen", "color": [157, 108, 162], "terminology": SPLEEN}]


def three_class_bundle(folder, trust_marker: str | None = None) -> Path:
    """A 2-filter V-Net with 3 outputs (patch 32×32×16) whose classes are liver and spleen;
    ``trust_marker``: a value planted in the base's trust figures and training statistics."""
    import torch

    from sgrs.models.bundle import save_bundle
    from sgrs.models.classes import class_entries
    from sgrs.models.vnet import VNet

    torch.manual_seed(0)
    model = VNet(3, 2)
    ref = np.zeros((32, 32, 16), np.float32)
    provenance = {"trust": {"measured": trust_marker}, "training_statistics": {"entropy": trust_marker},
                  "feature_statistics": {"mean": trust_marker}} if trust_marker else None
    out = save_bundle(Path(folder), model, None, patch_size=(32, 32, 16), classes=class_entries(THREE_CLASSES),
                      normalization={"mode": "zscore", "window": None}, tau=0.296, delta_rule="union",
                      mix_reference=ref, spacing=[1.5, 1.5, 2.0], postprocess="lcc", name="organs",
                      provenance=provenance)
    if trust_marker:   # a figure kept at the top level of model.json, as a trust module might
        meta = json.loads((out / "model.json").read_text())
        meta["trust"] = {"review_threshold": trust_marker}
        (out / "model.json").write_text(json.dumps(meta))
    return out


def split_label(label: np.ndarray, low: int = 1, high: int = 2) -> np.ndarray:
    """A phantom's foreground split along x: the lower half ``low``, the upper half ``high``."""
    out = np.zeros_like(label, dtype=np.uint8)
    xs = np.nonzero(label)[0]
    mid = int(np.median(xs)) if xs.size else label.shape[0] // 2
    fg = label > 0
    out[:mid][fg[:mid]] = low
    out[mid:][fg[mid:]] = high
    return out
