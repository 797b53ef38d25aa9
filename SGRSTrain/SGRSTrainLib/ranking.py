"""Which unlabelled case to annotate next: the larger the share of its predicted structure in
Δ (uncertain) ∪ Θ (fragile under perturbation), the more an annotation should teach the model."""
from __future__ import annotations

from dataclasses import dataclass

from SGRSSegmentLib.volume_io import array_of, geometry_of

from sgrs.inference.segment import SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle


@dataclass
class Ranked:
    case: object
    share: float              # Δ ∪ Θ share of the predicted foreground
    foreground_ml: float


def rank_unlabelled(cases, model: str, device: str = "auto", overlap: float = 0.25, progress=None) -> list[Ranked]:
    bundle = load_bundle(model)
    ranked = []
    todo = [c for c in cases if not c.labelled]
    for i, case in enumerate(todo):
        seg = segment_array(array_of(case.volume), geometry_of(case.volume), bundle,
                            SegmentOptions(device=device, overlap=overlap))
        regions = seg.summary["regions"]
        share = regions["delta"]["share_of_foreground"] + regions["theta"]["share_of_foreground"]
        ranked.append(Ranked(case, share, seg.summary["foreground_ml"]))
        if progress:
            progress(i + 1, len(todo))
    # an empty prediction on an unlabelled case is itself a reason to look at it
    return sorted(ranked, key=lambda r: (r.foreground_ml > 0, -r.share))
