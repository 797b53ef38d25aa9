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
                   mode: str = "single", student_decay: float = 0.0, own_buffers: bool = False) -> None:
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

    ``own_buffers`` (the reference teacher, ``single`` only): the EMA moves the parameters alone and
    the BatchNorm buffers stay the teacher's own running statistics, which its train-mode forward
    passes update (UA-MT / SSL4MIS ``update_ema_variables``); ``double`` already does what the
    released code does with them.
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
    if own_buffers:
        return
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
def teacher_logits(teacher: nn.Module, images: torch.Tensor, reference: bool = False,
                   generator: torch.Generator | None = None, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """The teacher's logits on D_U.

    ``reference`` (the teacher of UA-MT, SSL4MIS and the released SGRS-Net): train mode — dropout on,
    BatchNorm normalising with the batch's statistics — on D_U + clamp(N(0, 0.1²), ±0.2) (``noisy``
    when the caller drew it, to share it with the mix). As in those codes the forward pass also
    updates the teacher's BatchNorm running statistics (momentum 0.1, from the noisy D_U); they are
    the ones an eval-mode teacher uses at test time. Dropout draws from torch's global generator.
    Otherwise: eval mode (running statistics, no dropout) on the clean D_U; nothing changes.
    """
    was_training = teacher.training
    teacher.train(reference)
    logits = teacher(released_noise(images, generator) if reference and noisy is None else
                     noisy if reference else images)
    teacher.train(was_training)
    return logits


def pseudo_labels(teacher: nn.Module, images: torch.Tensor, train_mode_noise: bool = False,
                  generator: torch.Generator | None = None, noisy: torch.Tensor | None = None) -> torch.Tensor:
    """PL = argmax teacher(D_U), shape (B, X, Y, Z), int64 (``train_mode_noise``: the reference teacher)."""
    return class_argmax(teacher_logits(teacher, images, train_mode_noise, generator, noisy))
