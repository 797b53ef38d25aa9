"""Device choice: ``auto`` picks CUDA, then Apple MPS, then the CPU."""
from __future__ import annotations

import contextlib
import functools

import torch

from .errors import SGRSError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    if name not in DEVICES and not name.startswith("cuda:"):
        raise SGRSError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SGRSError("device 'cuda' requested but no CUDA GPU is available to this PyTorch "
                        f"(torch {torch.__version__}); use --device cpu or install a CUDA build")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SGRSError("device 'mps' requested but Apple Metal is not available; use --device cpu")
    return torch.device(name)


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (speed, no loss scaling needed); a no-op elsewhere."""
    if device.type == "cuda":
        return functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def is_out_of_memory(error: BaseException) -> bool:
    """A device (CUDA, MPS) or host out-of-memory error, whatever the torch version calls it."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    if isinstance(error, (MemoryError, oom)):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def training_fit_advice(device: torch.device, batch: int, patch) -> str:
    """One line: what ran out of memory and the (batch, patch) to try next."""
    where = f"{device.type} out of memory"
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        where += f" ({total:.0f} GiB GPU)"
    size = "×".join(map(str, patch))
    if batch > 2:
        hint = f"--batch {max(2, batch // 2)}"
    else:  # 20 % smaller on every axis, kept divisible by 16 (the V-Net's four stride-2 stages)
        hint = "--patch " + " ".join(str(max(16, int(p * 0.8) // 16 * 16)) for p in patch)
    return f"{where} training batch {batch} at patch {size}: try {hint} (or a larger GPU / --device cpu)"
