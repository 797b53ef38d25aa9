"""Which unlabelled case to annotate next: the larger the share of its predicted structure in
Δ (uncertain) ∪ Θ (fragile under perturbation), the more an annotation should teach the model.

``RankSession`` (session.py) runs this in a worker thread with progress and cancel."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Ranked:
    case: object
    share: float              # Δ ∪ Θ share of the predicted foreground
    foreground_ml: float


def rank_arrays(inputs, model: str, device: str = "auto", overlap: float = 0.25, progress=None,
                window=None) -> list[Ranked]:
    """``inputs``: [(case, (x, y, z) array, Geometry)]. ``progress(done, total)`` after each case,
    ``window(done, total)`` after each window (raise there to stop)."""
    from sgrs.inference.segment import SegmentOptions, segment_array
    from sgrs.models.bundle import load_bundle
    bundle = load_bundle(model)
    ranked = []
    for i, (case, image, geometry) in enumerate(inputs):
        seg = segment_array(image, geometry, bundle, SegmentOptions(device=device, overlap=overlap), window)
        regions = seg.summary["regions"]
        share = regions["delta"]["share_of_foreground"] + regions["theta"]["share_of_foreground"]
        ranked.append(Ranked(case, share, seg.summary["foreground_ml"]))
        if progress:
            progress(i + 1, len(inputs))
    # an empty prediction on an unlabelled case is itself a reason to look at it
    return sorted(ranked, key=lambda r: (r.foreground_ml > 0, -r.share))


def rank_unlabelled(cases, model: str, device: str = "auto", overlap: float = 0.25, progress=None) -> list[Ranked]:
    """In this thread (scripts); GUIs use ``RankSession``."""
    from SGRSSegmentLib.volume_io import array_of, geometry_of
    todo = [c for c in cases if not c.labelled]
    return rank_arrays([(c, array_of(c.volume), geometry_of(c.volume)) for c in todo], model, device, overlap,
                       progress)
