"""Sliding-window inference with batched windows and Gaussian blending.

Windows overlap by ``overlap`` (0.5 costs ~8× fewer windows than the paper's dense 18×18×4
stride); each window's probabilities are weighted by a Gaussian centred on the window, so seams
from the borders, where the network sees less context, fade out. Sums accumulate on the device in
``accum_dtype`` (float16 keeps a 512×512×400 CT volume within a few GB).
"""
from __future__ import annotations

import itertools
import time
from typing import Callable

import numpy as np
import torch

from .defaults import DEFAULT_OVERLAP
from .lanes import Lanes
from .memory import CPU, HOST, OomLadder
from .windows import WindowCount, WindowProgress, count_windows, window_starts  # noqa: F401 (re-exported)


def gaussian_weight(patch, sigma_scale: float = 0.125, device="cpu") -> torch.Tensor:
    """Separable Gaussian (σ = patch/8), max 1, floored at 1e-3 so borders still count a little."""
    axes = []
    for p in patch:
        x = torch.arange(p, dtype=torch.float32, device=device) - (p - 1) / 2
        axes.append(torch.exp(-0.5 * (x / (p * sigma_scale)) ** 2))
    w = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    return (w / w.max()).clamp_min(1e-3)


def pad_volume(image: np.ndarray, patch) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Pad a volume smaller than the patch (with its minimum); return the crop that undoes it."""
    pads = [(max(0, p - s) // 2, max(0, p - s) - max(0, p - s) // 2) for s, p in zip(image.shape, patch)]
    crop = tuple(slice(a, a + s) for (a, _), s in zip(pads, image.shape))
    if any(a or b for a, b in pads):
        image = np.pad(image, pads, mode="constant", constant_values=float(image.min()))
    return image, crop


def accumulation_dtype(shape, n_classes: int, views: int) -> torch.dtype:
    """float32 while the sums stay small; float16 for large volumes (bounded memory)."""
    voxels = int(np.prod(shape))
    return torch.float32 if voxels * n_classes * views * 4 < (1 << 30) else torch.float16


@torch.no_grad()
def sliding_window(predict: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray, patch,
                   n_classes: int, overlap: float = DEFAULT_OVERLAP, batch_size: int = 4, device="cpu",
                   accum_dtype=None, progress: Callable[[WindowProgress], None] | None = None,
                   mix_reference: np.ndarray | None = None, mix_lambda: float = 0.8,
                   mixed_where: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   ladder: OomLadder | None = None, stats: dict | None = None, lanes: Lanes | None = None,
                   mixed_overlap: float | None = None):
    """Blended class probabilities (C, X, Y, Z) of a normalised (x, y, z) volume.

    ``predict`` maps a (B, 1, *patch) batch to probabilities (B, C, *patch). With a
    ``mix_reference`` patch, windows are also predicted mixed, λ·window + (1 − λ)·reference, in a
    second pass, and the result is the pair (P_U, P_M). ``mixed_where`` (P_U block → bool mask)
    limits that second pass to the windows holding a voxel it marks: P_M is exact wherever every
    window covering a voxel was computed (all marked voxels and a margin around them) and P_U
    elsewhere. ``mixed_overlap`` puts the mixed view on a grid of its own (None: the plain view's);
    P_U, hence the label, is the same whatever it is. ``ladder`` decides what an out-of-memory
    error does (see :mod:`.memory`); ``progress`` hears a :class:`~.windows.WindowProgress` after each
    batch: the plain view's windows plus the mixed view's (the whole mixed grid until ``mixed_where``
    has chosen, then exactly those chosen). ``stats`` receives the windows computed and the network's
    seconds per window. ``lanes`` (an open :class:`~.lanes.Lanes`) predicts that many batches at
    once while on the CPU.
    """
    padded, crop = pad_volume(image, patch)
    ladder = ladder or OomLadder(batch_size, device)
    views = 1 if mix_reference is None else 2
    accum_dtype = accum_dtype or accumulation_dtype(padded.shape, n_classes, views)
    inputs = {"volume": torch.from_numpy(padded), "weight": gaussian_weight(patch)}
    if mix_reference is not None:
        inputs["ref"] = torch.from_numpy(np.ascontiguousarray(mix_reference))
    inputs = {k: v.to(ladder.device) for k, v in inputs.items()}
    acc = _allocate(ladder, {"p_u": (n_classes,) + padded.shape, "norm": padded.shape}, accum_dtype)
    windows = window_grid(padded.shape, patch, overlap)
    grid = windows if mixed_overlap in (None, overlap) else window_grid(padded.shape, patch, mixed_overlap)
    timing = {"windows": 0, "seconds": 0.0}
    count = WindowCount(len(windows), len(grid) if views == 2 else 0, mixed_known=mixed_where is None)

    def plain(chunk):
        return torch.stack([inputs["volume"][w] for w in chunk])[:, None]

    def mixed(chunk):
        return mix_lambda * plain(chunk) + (1.0 - mix_lambda) * inputs["ref"]

    def tick(done):
        if progress:
            progress(WindowProgress(done, count))

    _pass(predict, windows, plain, acc, "p_u", "norm", inputs, ladder, timing, tick, lanes)
    acc["p_u"] /= acc["norm"]
    out = [acc["p_u"]]
    if mix_reference is not None:
        chosen, skipped = grid, []
        if mixed_where is not None:
            marked = _marked(acc["p_u"], mixed_where)
            near = [bool(marked[_grown(w)].any()) for w in grid]
            chosen, skipped = [w for w, n in zip(grid, near) if n], [w for w, n in zip(grid, near) if not n]
            del marked
        count = WindowCount(len(windows), len(chosen))
        tick(len(windows))
        own_norm = chosen is not windows  # the plain view's sums weigh exactly these windows otherwise
        shapes = {"p_m": (n_classes,) + padded.shape} | ({"norm_m": padded.shape} if own_norm else {})
        acc.update(_allocate(ladder, shapes, accum_dtype))
        _pass(predict, chosen, mixed, acc, "p_m", "norm_m" if own_norm else None, inputs, ladder, timing,
              lambda done: tick(len(windows) + done), lanes)
        if not own_norm:
            acc["p_m"] /= acc["norm"]
        else:  # exact where every covering window of the grid ran, the plain view elsewhere
            _finish_partial(acc["p_m"], acc["norm_m"], acc["p_u"], skipped)
        out.append(acc["p_m"])
    if stats is not None:
        stats.update({"windows_plain": count.plain, "windows_mixed": count.mixed,
                      "network_seconds": round(timing["seconds"], 3),
                      "seconds_per_window": round(timing["seconds"] / max(timing["windows"], 1), 5),
                      "batch_size": ladder.batch_size, "lanes": lanes.count if lanes is not None else 1})
    out = [o[(slice(None),) + crop] for o in out]
    return out[0] if views == 1 else (out[0], out[1])


def _allocate(ladder: OomLadder, shapes: dict, dtype) -> dict:
    """Zeroed accumulators on the ladder's accumulation device; on the host after an OOM there."""
    while True:
        try:
            return {k: torch.zeros(s, dtype=dtype, device=ladder.accum_device) for k, s in shapes.items()}
        except Exception as error:  # noqa: BLE001 (re-raised unless out of memory)
            ladder.climb(error, allow=(HOST,))


def _grown(window: tuple, by: int = 1) -> tuple:
    """The window one voxel wider on every side: a voxel next to a marked one gets all its windows too,
    so the linear resampling back to the scan's grid reads only exact neighbours."""
    return tuple(slice(max(0, w.start - by), w.stop + by) for w in window)


def _marked(p_u: torch.Tensor, where, slab: int = 16) -> torch.Tensor:
    """``where`` over P_U a z-slab at a time (bounded float temporaries on large volumes)."""
    marked = torch.zeros(p_u.shape[1:], dtype=torch.bool, device=p_u.device)
    for z0 in range(0, p_u.shape[-1], slab):
        marked[..., z0:z0 + slab] = where(p_u[..., z0:z0 + slab].float())
    return marked


def _finish_partial(p_m, norm_m, p_u, skipped: list, slab: int = 16) -> None:
    """In place, a z-slab at a time: P_M where every covering window ran (one did, and none of the
    ``skipped`` windows covers the voxel), P_U elsewhere."""
    for z0 in range(0, p_m.shape[-1], slab):
        z1 = min(z0 + slab, p_m.shape[-1])
        zs = (Ellipsis, slice(z0, z1))
        complete = norm_m[zs] > 0
        for x, y, z in skipped:
            if z.start < z1 and z.stop > z0:
                complete[x, y, max(z.start, z0) - z0:min(z.stop, z1) - z0] = False
        p_m[zs] = torch.where(complete, p_m[zs] / norm_m[zs].clamp_min(1e-6), p_u[zs])


def _pass(predict, windows, make_batch, acc, key, norm_key, inputs, ladder, timing, tick, lanes=None) -> None:
    """Predict ``windows`` in batches and add their Gaussian-weighted probabilities to ``acc[key]``,
    in window order; with ``lanes``, one batch per lane at a time (only while on the CPU)."""
    i = 0
    while i < len(windows):
        count = lanes.count if lanes is not None and ladder.device.type == "cpu" else 1
        size = ladder.batch_size
        chunks = [windows[j:j + size] for j in range(i, min(len(windows), i + count * size), size)]
        target = acc[key]

        def weighted(chunk):
            probs = predict(make_batch(chunk))
            return (probs.float() * inputs["weight"]).to(target.device, target.dtype)

        t0 = time.perf_counter()
        try:
            results = lanes.map(weighted, chunks) if count > 1 else [weighted(chunks[0])]
        except Exception as error:  # noqa: BLE001 (re-raised unless out of memory)
            step = ladder.climb(error)
            if step == HOST:
                acc.update({k: v.cpu() for k, v in acc.items()})
            elif step == CPU:
                inputs.update({k: v.cpu() for k, v in inputs.items()})
                if hasattr(predict, "to"):
                    predict.to("cpu")
            continue
        timing["seconds"] += time.perf_counter() - t0
        weight = inputs["weight"].to(target.device, target.dtype) if norm_key else None
        for chunk, probs in zip(chunks, results):
            timing["windows"] += len(chunk)
            for k, w in enumerate(chunk):
                target[(slice(None),) + w] += probs[k]
                if norm_key:
                    acc[norm_key][w] += weight
            i += len(chunk)
        tick(i)


def window_grid(shape, patch, overlap: float) -> list[tuple]:
    """The windows (tuples of slices) covering a volume at least ``patch`` big, in raster order."""
    starts = itertools.product(*(window_starts(s, p, overlap) for s, p in zip(shape, patch)))
    return [tuple(slice(a, a + p) for a, p in zip(st, patch)) for st in starts]


class Predictor:
    """Softmax probabilities of a model in eval mode, optionally under an autocast context.

    ``channels_last`` runs the convolutions in channels-last-3d memory format and ``fold_bn`` on a
    copy with the BatchNorm folded into the convolutions (both identical to float rounding, both
    faster on the CPU: see docs/benchmarks.md). ``to(device)`` moves it (the out-of-memory fallback).
    """

    def __init__(self, model: torch.nn.Module, autocast=None, channels_last: bool = False, fold_bn: bool = False):
        from ..models.vnet import fold_batchnorm

        model.eval()
        self.model = fold_batchnorm(model) if fold_bn else model
        self.autocast, self.channels_last = autocast, channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last_3d)

    def to(self, device) -> "Predictor":
        self.model.to(device)
        if torch.device(device).type == "cpu":
            self.autocast = None
        return self

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last_3d)
        if self.autocast is None:
            return self.model(batch).softmax(1)
        with self.autocast():
            return self.model(batch).float().softmax(1)


def model_predictor(model: torch.nn.Module, autocast=None, channels_last: bool = False,
                    fold_bn: bool = False) -> Predictor:
    """A :class:`Predictor`; with ``channels_last`` and without ``fold_bn`` it converts ``model``."""
    return Predictor(model, autocast, channels_last, fold_bn)
