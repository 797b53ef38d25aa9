"""DistributedDataParallel under ``torchrun``: rank 0 alone writes; every rank keeps a teacher.

The teachers stay identical because every input to their EMA is: DDP all-reduces the gradients
(same parameters after the step) and :func:`average_buffers` all-reduces the BatchNorm running
statistics, which each rank otherwise updates from its own batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_type: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def average_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    if not info.enabled:
        return
    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b.div_(info.world)


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if it is true on one (cancel requests reach ranks at different times)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t)
    return bool(t.item() > 0)


def max_param_difference(model: torch.nn.Module, info: DistInfo) -> float:
    """Largest difference of a parameter or buffer between ranks (0.0 = identical)."""
    if not info.enabled:
        return 0.0
    flat = torch.cat([t.detach().float().flatten().cpu() for t in list(model.parameters()) + list(model.buffers())])
    hi, lo = flat.clone(), flat.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return float((hi - lo).max())


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
