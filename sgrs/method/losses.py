"""The losses of SGRS-Net: L_sup, the regional L_con / L_NR, and their building blocks.

Conventions (documented in docs/method.md):
- CE terms are the voxel mean over the whole batch of patches of the *masked* per-voxel CE:
  Σ m·ce / N, N = all voxels of all samples. A region covering few voxels gives a small term.
- Dice terms are soft Dice losses 1 − (2Σ m·p·y + s) / (Σ m·p² + Σ m·y² + s) with the factor 2,
  sums over the batch and the masked voxels, averaged over the foreground classes 1..C−1.
  Masks are per sample and per voxel: a sample's region never weights another sample's voxels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CON_DICE_SMOOTH = 1.0
NR_DICE_SMOOTH = 20.0
NR_LABEL_SMOOTHING = 0.2


def masked_ce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """Σ mask·CE / (number of voxels); ``mask=None`` is the plain voxel-mean CE."""
    ce = F.cross_entropy(logits.float(), target, reduction="none", label_smoothing=label_smoothing)
    if mask is None:
        return ce.mean()
    return (ce * mask.to(ce.dtype)).sum() / ce.numel()


def soft_dice_loss(probs: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                   smooth: float = 1e-5) -> torch.Tensor:
    """Masked soft Dice loss over the foreground classes (see the module docstring).

    Per-class boolean targets instead of a one-hot tensor: no (B, C, X, Y, Z) copy, no strided views.
    """
    probs = probs.float()
    m = None if mask is None else mask.to(probs.dtype)
    losses = []
    for c in range(1, probs.shape[1]):
        p = probs[:, c]
        y = (target == c).to(probs.dtype)
        if m is not None:
            p, y = p * m, y * m  # masks are 0/1, so m·p·y = (m·p)·(m·y) and m·p² = (m·p)·p
        inter = (p * y).sum()
        denom = (p * probs[:, c]).sum() + y.sum()
        losses.append(1.0 - (2.0 * inter + smooth) / (denom + smooth))
    return torch.stack(losses).mean()


def supervised_loss(logits: torch.Tensor, target: torch.Tensor, probs: torch.Tensor | None = None) -> torch.Tensor:
    """L_sup = ½·(CE + Dice) against the ground truth (``probs``: softmax of logits, if at hand)."""
    probs = logits.float().softmax(1) if probs is None else probs
    return 0.5 * (masked_ce(logits, target) + soft_dice_loss(probs, target))


def regional_terms(logits: torch.Tensor, pseudo: torch.Tensor, omega: torch.Tensor,
                   theta: torch.Tensor, nr_smoothing: float = NR_LABEL_SMOOTHING,
                   nr_dice_smooth: float = NR_DICE_SMOOTH, probs: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
    """One view's four terms: L_con (CE + Dice on Ω) and L_NR (smoothed CE + Dice on Θ)."""
    probs = logits.float().softmax(1) if probs is None else probs
    return {
        "con_ce": masked_ce(logits, pseudo, omega),
        "con_dice": soft_dice_loss(probs, pseudo, omega, smooth=CON_DICE_SMOOTH),
        "nr_ce": masked_ce(logits, pseudo, theta, label_smoothing=nr_smoothing),
        "nr_dice": soft_dice_loss(probs, pseudo, theta, smooth=nr_dice_smooth),
    }


def unlabelled_loss(view_u: dict[str, torch.Tensor], view_m: dict[str, torch.Tensor]) -> torch.Tensor:
    """½·(mean of the four Dice terms + mean of the two views' CE terms)."""
    dice = (view_u["con_dice"] + view_u["nr_dice"] + view_m["con_dice"] + view_m["nr_dice"]) / 4.0
    ce = ((view_u["con_ce"] + view_u["nr_ce"]) + (view_m["con_ce"] + view_m["nr_ce"])) / 2.0
    return 0.5 * (dice + ce)
