"""Stop a run when its predictions on the unlabelled cases stop changing (issue 28 item 4).

Fine-tuning on two corrected cases leaves no validation split, and the test split is never looked at, so
the only signal left is the model itself: every ``every`` iterations it segments a few of the cohort's
unlabelled cases (the labelled ones where there are none), and the run ends once the agreement with the
previous check's segmentation reaches ``threshold`` at ``checks`` checks in a row. Checks start once the
whole network trains (``start``: after a frozen encoder's iterations): while the encoder is frozen only the
decoder moves, and a run stopped then keeps the base model's encoder (measured: docs/benchmarks.md).

Agreement is a pooled Dice over every case and every foreground class: 2·|voxels with the same non-background
label| / (|foreground before| + |foreground now|). Two empty segmentations give no evidence (None, not 1):
a model that finds nothing has not converged on the anatomy. The check uses the whole image at no overlap
(each voxel predicted once: the cheapest full view), on at most ``cases`` cases.
"""
from __future__ import annotations

import numpy as np
import torch

from ..inference.sliding import model_predictor, sliding_window
from ..method.synergy import class_argmax

DEFAULT_THRESHOLD = 0.98
DEFAULT_CHECKS = 2
DEFAULT_CASES = 2


def agreement(before: list[np.ndarray], now: list[np.ndarray]) -> float | None:
    """Pooled foreground Dice between two segmentations of the same cases (label maps); None when both empty."""
    same = total = 0
    for a, b in zip(before, now):
        same += int(np.count_nonzero((a == b) & (a > 0)))
        total += int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 2.0 * same / total if total else None


class StableStop:
    """``check(model, t)`` at every iteration; True when the run should end at ``t``."""

    def __init__(self, every: int, images: list[np.ndarray], patch, device, autocast=None,
                 threshold: float = DEFAULT_THRESHOLD, checks: int = DEFAULT_CHECKS, cases: int = DEFAULT_CASES,
                 start: int = 0):
        self.every, self.patch, self.device, self.autocast = int(every), tuple(patch), device, autocast
        self.start = int(start)
        self.images = list(images)[:cases]
        self.threshold, self.checks = float(threshold), int(checks)
        self.previous: list[np.ndarray] | None = None
        self.in_a_row = 0
        self.last: float | None = None   # the latest agreement, for the progress log

    @property
    def enabled(self) -> bool:
        return self.every > 0 and bool(self.images)

    def due(self, done: int) -> bool:
        return self.enabled and done > self.start and (done - self.start) % self.every == 0

    def segment(self, model) -> list[np.ndarray]:
        was_training = model.training
        model.eval()
        predict = model_predictor(model, self.autocast)
        out = []
        with torch.no_grad():
            for image in self.images:
                probs = sliding_window(predict, image, self.patch, model.n_classes, overlap=0.0, device=self.device)
                out.append(class_argmax(probs[None])[0].cpu().numpy().astype(np.uint8))
        model.train(was_training)
        return out

    def check(self, model) -> bool:
        """Segment now, compare with the last check; True once ``checks`` agreements in a row reach the
        threshold."""
        now = self.segment(model)
        self.last = agreement(self.previous, now) if self.previous is not None else None
        self.previous = now
        self.in_a_row = self.in_a_row + 1 if self.last is not None and self.last >= self.threshold else 0
        return self.in_a_row >= self.checks
