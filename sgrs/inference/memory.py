"""What a segmentation does when its device runs out of memory: one rung down per error.

1. halve the window batch (down to one window per forward pass);
2. keep the probability sums on the host (CPU memory), the network stays on the device;
3. run the network on the CPU.
Each rung adds a one-line warning (summary.json, the status line); after the last one the error is
a one-line ``SGRSError``, never a traceback. Work already accumulated is kept at every rung.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..util.device import is_out_of_memory
from ..util.errors import SGRSError

BATCH, HOST, CPU = "batch", "host_accumulators", "cpu"


class OomLadder:
    def __init__(self, batch_size: int, device, warn: Callable[[str], None] | None = None,
                 host_accumulators: bool | None = None, can_fall_back: bool | None = None):
        """``host_accumulators`` / ``can_fall_back`` default to what ``device`` implies (on the CPU: the
        sums are already on the host and there is nothing to fall back to); tests set them to drive
        every rung on a CPU-only machine."""
        self.batch_size = max(1, int(batch_size))
        self.device = torch.device(device)
        on_cpu = self.device.type == "cpu"
        self.host_accumulators = on_cpu if host_accumulators is None else host_accumulators
        self.can_fall_back = (not on_cpu) if can_fall_back is None else can_fall_back
        self.steps: list[str] = []       # rungs taken, in order
        self.warnings: list[str] = []
        self._warn = warn

    @property
    def accum_device(self) -> torch.device:
        return torch.device("cpu") if self.host_accumulators else self.device

    def climb(self, error: BaseException, allow=(BATCH, HOST, CPU)) -> str:
        """Take the next rung for ``error`` (re-raised when it is not an out-of-memory error)."""
        if not is_out_of_memory(error):
            raise error
        where = f"{self.device.type} out of memory"
        if BATCH in allow and self.batch_size > 1:
            self.batch_size //= 2
            return self._take(BATCH, f"{where}: window batch halved to {self.batch_size}")
        if HOST in allow and not self.host_accumulators:
            self.host_accumulators = True
            return self._take(HOST, f"{where} at one window per pass: probability sums moved to the host")
        if CPU in allow and self.can_fall_back:
            self.device, self.can_fall_back = torch.device("cpu"), False
            return self._take(CPU, f"{where} with the sums on the host: network moved to the CPU (slower)")
        raise SGRSError(f"out of memory even at one window per pass on the {self.device.type}; free memory, "
                        "use --no-regions or a smaller --roi") from None

    def _take(self, step: str, text: str) -> str:
        self.steps.append(step)
        self.warnings.append(text)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # hand the failed batch's blocks back before the retry
        if self._warn:
            self._warn(text)
        return step
