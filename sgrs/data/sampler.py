"""Training batches: random crops (padded where the volume is small) with rotation/flip augmentation;
cases drawn with replacement or, as the released code, by permutations (``draw``).

Batch t of rank r is a pure function of (seed, t, r): a resumed run sees exactly the batches it
would have seen, and a background thread can prepare the next batches while the step runs.
"""
from __future__ import annotations

import queue
import threading

import numpy as np
import torch

from .cohort import Case

DRAWS = ("replacement", "permutation")


def _chain(seed: int, rank: int, key: tuple, n: int, start: int, count: int) -> np.ndarray:
    """Items [start, start + count) of the chain perm_0 + perm_1 + … of range(n), perm_k seeded by key."""
    out = []
    for k in range(start, start + count):
        block, i = divmod(k, n)
        out.append(np.random.default_rng([seed, rank, *key, block, 7]).permutation(n)[i])
    return np.array(out, dtype=int)


def pad_to(array: np.ndarray, shape, value: float) -> np.ndarray:
    """Pad symmetrically to at least ``shape``."""
    pads = [(max(0, s - a) // 2, max(0, s - a) - max(0, s - a) // 2) for a, s in zip(array.shape, shape)]
    if not any(p for pair in pads for p in pair):
        return array
    return np.pad(array, pads, mode="constant", constant_values=value)


def random_patch(case: Case, patch, rng: np.random.Generator, augment: bool = True):
    """One (image, label|None) crop of size ``patch`` with random 90° xy-rotation and flip."""
    image = pad_to(case.image, patch, float(case.image.min()))
    label = None if case.label is None else pad_to(case.label, patch, 0)
    k = int(rng.integers(4)) if augment else 0
    if patch[0] != patch[1]:
        k = 2 * (k // 2)  # only 0° / 180° keep a non-square xy patch's shape
    start = [int(rng.integers(0, s - p + 1)) for s, p in zip(image.shape, patch)]
    window = tuple(slice(a, a + p) for a, p in zip(start, patch))
    out = [image[window]] + ([] if label is None else [label[window]])
    if augment:
        axis = int(rng.integers(2))
        out = [np.flip(np.rot90(a, k, axes=(0, 1)), axis=axis) for a in out]
    out = [np.ascontiguousarray(a) for a in out]
    return out[0], (out[1] if label is not None else None)


class BatchSampler:
    """Batches of B_l labelled + B_u unlabelled patches, prefetched by a background thread."""

    def __init__(self, labelled: list[Case], unlabelled: list[Case], patch, batch_labelled: int = 2,
                 batch_unlabelled: int = 2, seed: int = 0, rank: int = 0, augment: bool = True,
                 prefetch: int = 3, draw: str = "replacement"):
        if draw not in DRAWS:
            raise ValueError(f"batch_draw must be one of {DRAWS}, not {draw!r}")
        self.labelled, self.unlabelled = labelled, unlabelled
        self.patch, self.b_l, self.b_u = tuple(patch), batch_labelled, batch_unlabelled
        self.seed, self.rank, self.augment, self.prefetch, self.draw = seed, rank, augment, prefetch, draw

    def indices(self, t: int, stream: str, rng: np.random.Generator) -> np.ndarray:
        """Which cases of ``stream`` ("labelled" | "unlabelled") batch t uses.

        ``replacement``: drawn independently every step. ``permutation`` (released
        TwoStreamBatchSampler): labelled epoch e = one permutation cut into ⌊n_l / B_l⌋ batches (the
        rest dropped); the unlabelled cases come from an endless chain of permutations that restarts
        with every labelled epoch. Every permutation is a function of (seed, rank, epoch, ...), so
        batch t still depends on t alone.
        """
        cases, b = (self.labelled, self.b_l) if stream == "labelled" else (self.unlabelled, self.b_u)
        if self.draw == "replacement":
            return rng.integers(0, len(cases), b)
        epoch, j = divmod(t, max(len(self.labelled) // self.b_l, 1))
        return _chain(self.seed, self.rank, (epoch, int(stream == "unlabelled")), len(cases), j * b, b)

    def batch(self, t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_l (B_l,1,X,Y,Z) float32, y_l (B_l,X,Y,Z) int64, x_u (B_u,1,X,Y,Z) float32) for step t."""
        rng = np.random.default_rng([self.seed, t, self.rank])
        lab = [random_patch(self.labelled[i], self.patch, rng, self.augment)
               for i in self.indices(t, "labelled", rng)]
        unl = [random_patch(self.unlabelled[i], self.patch, rng, self.augment)[0]
               for i in self.indices(t, "unlabelled", rng)] if self.unlabelled and self.b_u else []
        x_l = torch.from_numpy(np.stack([a for a, _ in lab]))[:, None]
        y_l = torch.from_numpy(np.stack([b for _, b in lab]).astype(np.int64))
        x_u = torch.from_numpy(np.stack(unl))[:, None] if unl else torch.empty((0, 1) + self.patch)
        return x_l, y_l, x_u

    def iterate(self, start: int, stop: int):
        """Yield (t, batch) for t in [start, stop), computed ahead in a daemon thread."""
        q: queue.Queue = queue.Queue(self.prefetch)
        stop_flag = threading.Event()

        def work():
            for t in range(start, stop):
                if stop_flag.is_set():
                    return
                try:
                    item = (t, self.batch(t))
                except BaseException as exc:  # surface the error in the consumer
                    q.put(exc)
                    return
                while not stop_flag.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue

        thread = threading.Thread(target=work, daemon=True, name="sgrs-batches")
        thread.start()
        try:
            for _ in range(start, stop):
                item = q.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:  # however the loop ends: the thread must not be inside torch when the process exits
            stop_flag.set()
            thread.join(timeout=30)
