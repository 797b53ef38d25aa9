"""Windows predicted side by side on the CPU, one OpenMP thread each.

A small network on a small window (the demo model: 8 filters, 48×48×32) keeps two OpenMP threads
busy only part of the time: on 2 cores two threads per window ran 1.1× faster than one, while two
windows at once, one thread each, ran 1.3–2.0× faster than two threads per window. On the full-size
V-Net (16 filters, 112×112×80) it is the other way round (0.65–0.97×), so lanes are used only when
one window's work is small (``SMALL_WINDOW``, between the two measured sizes). docs/benchmarks.md
has the figures; ``benchmarks/speed/real_ct.py --arms default one-lane`` measures them end to end.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Iterable

import numpy as np
import torch

# filters × window voxels: demo model 8 × 73,728 ≈ 0.6 M (lanes 1.5× faster), full V-Net 16 × 1 M
# ≈ 16 M (lanes slower)
SMALL_WINDOW = 4_000_000


def auto_lanes(device: torch.device, backend: str, n_filters: int, patch) -> int:
    """2 lanes on a CPU with ≥ 2 torch threads for a small window and the torch backend, else 1."""
    if device.type != "cpu" or backend not in ("auto", "torch") or torch.get_num_threads() < 2:
        return 1
    return 2 if n_filters * int(np.prod(patch)) <= SMALL_WINDOW else 1


class Lanes:
    """``map`` runs a function over items on ``count`` threads (results in order); with ``count`` 1,
    in the caller. While open, torch runs ``threads // count`` OpenMP threads per lane; on close the
    caller's thread count is restored."""

    def __init__(self, count: int = 1):
        self.count = max(1, int(count))
        self._pool: ThreadPoolExecutor | None = None
        self._saved = torch.get_num_threads()

    def __enter__(self) -> "Lanes":
        if self.count > 1:
            each = max(1, self._saved // self.count)
            self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="sgrs-lane",
                                            initializer=torch.set_num_threads, initargs=(each,))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
            torch.set_num_threads(self._saved)

    def map(self, fn: Callable, items: Iterable) -> list:
        """Every result, in order; the first error (in item order) is raised once all have ended."""
        if self._pool is None:
            return [fn(item) for item in items]
        futures = [self._pool.submit(fn, item) for item in items]
        wait(futures)
        return [f.result() for f in futures]
