"""The mean teacher: EMA of the student and the pseudo labels it gives."""
from __future__ import annotations

import torch
from torch import nn

from .synergy import class_argmax


def ema_decay(step: int, max_decay: float = 0.99) -> float:
    """min(1 − 1/(t+1), max_decay): the teacher follows the student closely at the start."""
    return min(1.0 - 1.0 / (step + 1), max_decay)


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, step: int, max_decay: float = 0.99) -> None:
    """teacher ← d·teacher + (1−d)·student over parameters *and* floating-point buffers.

    Averaging the BatchNorm running statistics too matters: a teacher whose buffers never move
    normalises with its initial statistics and predicts garbage in eval mode.
    Integer buffers (``num_batches_tracked``) are copied.
    """
    d = ema_decay(step, max_decay)
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(d).add_(s.detach(), alpha=1.0 - d)
    for t, s in zip(teacher.buffers(), student.buffers()):
        if t.is_floating_point():
            t.mul_(d).add_(s.detach(), alpha=1.0 - d)
        else:
            t.copy_(s)


@torch.no_grad()
def pseudo_labels(teacher: nn.Module, images: torch.Tensor, train_mode_noise: bool = False,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """PL = argmax teacher(D_U), shape (B, X, Y, Z), int64.

    Default: teacher in eval mode on the clean images. ``train_mode_noise`` reproduces the released
    code's variant: teacher in train mode on D_U + clamp(N(0, 0.1²), ±0.2). Train mode would update
    the teacher's BatchNorm statistics from a forward pass; they are restored afterwards.
    """
    if not train_mode_noise:
        was_training = teacher.training
        teacher.eval()
        logits = teacher(images)
        teacher.train(was_training)
        return class_argmax(logits)
    saved = [b.clone() for b in teacher.buffers()]
    teacher.train()
    noise = torch.randn(images.shape, generator=generator, device="cpu").to(images) * 0.1
    logits = teacher(images + noise.clamp(-0.2, 0.2))
    for b, v in zip(teacher.buffers(), saved):
        b.copy_(v)
    return class_argmax(logits)
