"""The mean teacher: EMA of the student and the pseudo labels it gives."""
from __future__ import annotations

import torch
from torch import nn

from .synergy import class_argmax

RELEASED_NOISE_STD, RELEASED_NOISE_CLAMP = 0.1, 0.2


def ema_decay(step: int, max_decay: float = 0.99) -> float:
    """min(1 − 1/(t+1), max_decay): the teacher follows the student closely at the start."""
    return min(1.0 - 1.0 / (step + 1), max_decay)


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, step: int, max_decay: float = 0.99,
                   mode: str = "single", student_decay: float = 0.0) -> None:
    """Move the teacher toward the student after optimiser step ``step`` (0-based).

    ``single``: teacher ← d·teacher + (1−d)·student, d = ema_decay(step), over parameters *and*
    floating-point buffers. Averaging the BatchNorm running statistics matters: a teacher whose
    buffers never move normalises with its initial statistics and predicts garbage in eval mode.
    Integer buffers (``num_batches_tracked``) are copied.

    ``double`` (released code): first a constant-``max_decay`` EMA over every float state entry
    (WeightEMA), then — after the student decay — a second EMA with d = ema_decay(step + 1) over the
    parameters only (update_ema_variables, called with the already incremented iteration).

    ``student_decay``: the student's float state is multiplied by (1 − student_decay) between the two
    stages (released WeightEMA: 2e-4); with ``single`` before the one EMA.
    """
    if mode not in ("single", "double"):
        raise ValueError(f"ema must be 'single' or 'double', not {mode!r}")
    s_state, t_state = list(student.state_dict().values()), list(teacher.state_dict().values())
    if mode == "double":
        for t, s in zip(t_state, s_state):
            if t.is_floating_point():
                t.mul_(max_decay).add_(s.detach(), alpha=1.0 - max_decay)
    if student_decay:
        for s in s_state:
            if s.is_floating_point():
                s.mul_(1.0 - student_decay)
    if mode == "double":
        d = ema_decay(step + 1, max_decay)
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(d).add_(s.detach(), alpha=1.0 - d)
        return
    d = ema_decay(step, max_decay)
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(d).add_(s.detach(), alpha=1.0 - d)
    for t, s in zip(teacher.buffers(), student.buffers()):
        if t.is_floating_point():
            t.mul_(d).add_(s.detach(), alpha=1.0 - d)
        else:
            t.copy_(s)


def released_noise(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """images + clamp(N(0, 0.1²), ±0.2), drawn on the CPU from ``generator`` (device-independent)."""
    noise = torch.randn(images.shape, generator=generator, device="cpu").to(images) * RELEASED_NOISE_STD
    return images + noise.clamp(-RELEASED_NOISE_CLAMP, RELEASED_NOISE_CLAMP)


@torch.no_grad()
def pseudo_labels(teacher: nn.Module, images: torch.Tensor, train_mode_noise: bool = False,
                  generator: torch.Generator | None = None, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """PL = argmax teacher(D_U), shape (B, X, Y, Z), int64.

    Default: teacher in eval mode on the clean images. ``train_mode_noise`` reproduces the released
    code's variant: teacher in train mode on D_U + clamp(N(0, 0.1²), ±0.2) (``noisy`` when the caller
    drew it, to share it with the mix). Train mode would update the teacher's BatchNorm statistics
    from a forward pass; they are restored afterwards.
    """
    if not train_mode_noise:
        was_training = teacher.training
        teacher.eval()
        logits = teacher(images)
        teacher.train(was_training)
        return class_argmax(logits)
    saved = [b.clone() for b in teacher.buffers()]
    teacher.train()
    logits = teacher(released_noise(images, generator) if noisy is None else noisy)
    for b, v in zip(teacher.buffers(), saved):
        b.copy_(v)
    return class_argmax(logits)
