"""One training step of SGRS-Net and of the baselines measured against it, in the same engine.

Methods (``--method``):
- ``supervised``: L_sup on the labelled images only.
- ``mean-teacher``: + w(t)·½(CE + Dice) of the student on D_U against the teacher's pseudo labels,
  over every voxel (the "base" of the paper's ablation).
- ``mix``: mean teacher + Mix Augmentation: both views D_U and D_M against the pseudo labels,
  every voxel (the ablation's "+ MA").
- ``sgrs``: + Synergy Evaluation and regional losses (the full method, DESIGN §3).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from .ema import pseudo_labels, update_teacher
from .losses import (
    NR_DICE_SMOOTH,
    NR_LABEL_SMOOTHING,
    masked_ce,
    regional_terms,
    soft_dice_loss,
    supervised_loss,
    unlabelled_loss,
)
from .mix import mix_augment
from .schedule import consistency_weight
from .synergy import DEFAULT_TAU, synergy_regions

METHODS = ("sgrs", "mix", "mean-teacher", "supervised")
THETA_LOSSES = ("nr", "con", "none")


@dataclass
class StepConfig:
    method: str = "sgrs"
    tau: float = DEFAULT_TAU
    delta_rule: str = "union"
    mix_alpha: float = 0.75
    theta_loss: str = "nr"          # region-loss ablation: L_NR on Θ, L_con on Θ, or ignore Θ
    teacher_noise: bool = False     # released-code variant: teacher in train mode on noisy D_U
    nr_label_smoothing: float = NR_LABEL_SMOOTHING
    nr_dice_smooth: float = NR_DICE_SMOOTH
    ema_decay: float = 0.99

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        if self.theta_loss not in THETA_LOSSES:
            raise ValueError(f"theta_loss must be one of {THETA_LOSSES}, not {self.theta_loss!r}")


def compute_losses(student, teacher, x_l: torch.Tensor, y_l: torch.Tensor, x_u: torch.Tensor,
                   step: int, warmup_steps: int, cfg: StepConfig, rng: np.random.Generator,
                   autocast=contextlib.nullcontext) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of one batch and the figures to log; no optimiser work."""
    b_l = x_l.shape[0]
    if cfg.method == "supervised":
        with autocast():
            logits = student(x_l)
        loss = supervised_loss(logits, y_l)
        return loss, {"loss": loss.item(), "sup": loss.item()}

    with autocast():
        pl = pseudo_labels(teacher, x_u, train_mode_noise=cfg.teacher_noise,
                           generator=torch.Generator().manual_seed(int(rng.integers(2**31))))
    inputs = [x_l, x_u]
    if cfg.method in ("sgrs", "mix"):
        inputs.append(mix_augment(x_u, x_l, rng, cfg.mix_alpha)[0])
    with autocast():
        logits = student(torch.cat(inputs))  # one forward: BatchNorm sees the whole batch
    return losses_from_logits(logits, y_l, pl, b_l, x_u.shape[0], step, warmup_steps, cfg)


def losses_from_logits(logits: torch.Tensor, y_l: torch.Tensor, pl: torch.Tensor, b_l: int, b_u: int,
                       step: int, warmup_steps: int, cfg: StepConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss from the student's logits on [D_L, D_U, D_M] (D_M absent for mean-teacher)."""
    probs = logits.float().softmax(1)  # once for every term below
    sup = supervised_loss(logits[:b_l], y_l, probs[:b_l])
    views = [(logits[b_l:b_l + b_u], probs[b_l:b_l + b_u])]
    if cfg.method != "mean-teacher":
        views.append((logits[b_l + b_u:], probs[b_l + b_u:]))
    stats: dict[str, float] = {}
    if cfg.method in ("mean-teacher", "mix"):
        dice = sum(soft_dice_loss(p, pl) for _, p in views) / len(views)
        ce = sum(masked_ce(lg, pl) for lg, _ in views) / len(views)
        unsup = 0.5 * (dice + ce)
    else:
        (logits_u, p_u), (logits_m, p_m) = views
        regions = synergy_regions(p_u.detach(), p_m.detach(), cfg.tau, cfg.delta_rule)
        omega, theta = regions.omega, regions.theta
        if cfg.theta_loss == "con":
            omega, theta = omega | theta, torch.zeros_like(theta)
        elif cfg.theta_loss == "none":
            theta = torch.zeros_like(theta)
        terms = [regional_terms(lg, pl, omega, theta, cfg.nr_label_smoothing, cfg.nr_dice_smooth, p)
                 for lg, p in views]
        unsup = unlabelled_loss(*terms)
        stats.update({f"share_{k}": v for k, v in regions.shares().items()})
    w = consistency_weight(step, warmup_steps)
    loss = sup + w * unsup
    stats.update({"loss": loss.item(), "sup": sup.item(), "unsup": unsup.item(), "w": w})
    return loss, stats


def training_step(student, teacher, optimizer, x_l, y_l, x_u, step: int, warmup_steps: int,
                  cfg: StepConfig, rng: np.random.Generator, autocast=contextlib.nullcontext,
                  after_update=None) -> dict[str, float]:
    """Losses, SGD step, then the teacher's EMA update. Returns the logged figures."""
    student.train()
    loss, stats = compute_losses(student, teacher, x_l, y_l, x_u, step, warmup_steps, cfg, rng, autocast)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if after_update is not None:
        after_update()  # e.g. average BatchNorm statistics across ranks before the EMA
    if teacher is not None:
        update_teacher(teacher, _unwrap(student), step, cfg.ema_decay)
    return stats


def _unwrap(model):
    return getattr(model, "module", model)
