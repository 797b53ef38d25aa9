"""The losses of SGRS-Net: L_sup, the regional L_con / L_NR, and their building blocks.

Conventions (documented in docs/method.md):
- CE terms are the voxel mean over the whole batch of patches of the *masked* per-voxel CE:
  Σ m·ce / N, N = all voxels of all samples. A region covering few voxels gives a small term.
- Dice terms are soft Dice losses 1 − (2Σ m·p·y + s) / (Σ m·p² + Σ m·y² + s) with the factor 2,
  sums over the batch and the masked voxels, averaged over the foreground classes 1..C−1 by default;
  the recipe options (``DiceForm``) switch to all classes, linear denominators, per-sample sums.
  Masks are per sample and per voxel: a sample's region never weights another sample's voxels.
"""
from __future__ import annotations

from dataclasses import dataclass

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
                   smooth: float = 1e-5, classes: str = "foreground", denominator: str = "squared",
                   per_sample: bool = False, factor: float = 2.0) -> torch.Tensor:
    """Masked soft Dice loss 1 − (factor·Σ m·p·y + s) / (D + s), averaged over classes (and samples).

    ``classes``: "foreground" (1..C−1) or "all" (background included, paper eq. 9/14).
    ``denominator``: "squared" D = Σ m·p² + Σ m·y², or "linear" D = Σ m·p + Σ m·y (released SoftDiceLoss).
    ``per_sample``: sums per sample and the mean over samples (released), instead of sums over the batch.
    ``factor``: 2 as printed; the released supervised DiceLoss has 1.
    Per-class boolean targets instead of a one-hot tensor: no (B, C, X, Y, Z) copy, no strided views.
    """
    if classes not in ("foreground", "all") or denominator not in ("squared", "linear"):
        raise ValueError(f"Dice classes/denominator {classes!r}/{denominator!r} unknown")
    probs = probs.float()
    m = None if mask is None else mask.to(probs.dtype)
    dims = tuple(range(1, probs.dim() - 1)) if per_sample else None
    losses = []
    for c in range(0 if classes == "all" else 1, probs.shape[1]):
        p = probs[:, c]
        y = (target == c).to(probs.dtype)
        if m is not None:
            p, y = p * m, y * m  # masks are 0/1, so m·p·y = (m·p)·(m·y) and m·p² = (m·p)·p
        inter = (p * y).sum(dims) if dims else (p * y).sum()
        pp = p * probs[:, c] if denominator == "squared" else p
        denom = (pp.sum(dims) + y.sum(dims)) if dims else (pp.sum() + y.sum())
        losses.append(1.0 - (factor * inter + smooth) / (denom + smooth))
    return torch.stack(losses).mean()


@dataclass(frozen=True)
class DiceForm:
    """Which Dice: the recipe options ``dice_classes``, ``dice_denominator``, ``dice_per_sample``."""

    classes: str = "foreground"
    denominator: str = "squared"
    per_sample: bool = False

    def __call__(self, probs, target, mask=None, smooth: float = 1e-5) -> torch.Tensor:
        return soft_dice_loss(probs, target, mask, smooth, self.classes, self.denominator, self.per_sample)


# The released supervised DiceLoss: all classes, Σp² + Σy², batch sums, no factor 2, smoothing 1e-10.
RELEASED_SUP_DICE = {"smooth": 1e-10, "classes": "all", "denominator": "squared", "per_sample": False, "factor": 1.0}


def supervised_loss(logits: torch.Tensor, target: torch.Tensor, probs: torch.Tensor | None = None,
                    dice: DiceForm = DiceForm(), sup_dice: str = "same") -> torch.Tensor:
    """L_sup = ½·(CE + Dice) against the ground truth (``probs``: softmax of logits, if at hand).

    ``sup_dice="released"``: the released DiceLoss instead of ``dice`` (see RELEASED_SUP_DICE).
    """
    probs = logits.float().softmax(1) if probs is None else probs
    d = soft_dice_loss(probs, target, **RELEASED_SUP_DICE) if sup_dice == "released" else dice(probs, target)
    return 0.5 * (masked_ce(logits, target) + d)


def regional_terms(logits: torch.Tensor, pseudo: torch.Tensor, omega: torch.Tensor,
                   theta: torch.Tensor, nr_smoothing: float = NR_LABEL_SMOOTHING,
                   nr_dice_smooth: float = NR_DICE_SMOOTH, probs: torch.Tensor | None = None,
                   dice: DiceForm = DiceForm(), con_ce_mask: torch.Tensor | None = None,
                   delta: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One view's terms: L_con (CE + Dice on Ω) and L_NR (smoothed CE + Dice on Θ).

    ``con_ce_mask``: voxels of the hard CE if not Ω (released: every agreeing voxel, Δ included).
    ``delta``: also return ``guard_ce``, the hard CE toward the pseudo label on Δ (the delta-ce guard).
    """
    probs = logits.float().softmax(1) if probs is None else probs
    terms = {
        "con_ce": masked_ce(logits, pseudo, omega if con_ce_mask is None else con_ce_mask),
        "con_dice": dice(probs, pseudo, omega, smooth=CON_DICE_SMOOTH),
        "nr_ce": masked_ce(logits, pseudo, theta, label_smoothing=nr_smoothing),
        "nr_dice": dice(probs, pseudo, theta, smooth=nr_dice_smooth),
    }
    if delta is not None:
        terms["guard_ce"] = masked_ce(logits, pseudo, delta)
    return terms


def unlabelled_loss(view_u: dict[str, torch.Tensor], view_m: dict[str, torch.Tensor],
                    guard_weight: float = 0.0) -> torch.Tensor:
    """½·(mean of the four Dice terms + mean of the two views' CE terms).

    A view's CE term is con_ce + nr_ce (+ guard_weight·guard_ce when the delta-ce guard is on).
    """
    dice = (view_u["con_dice"] + view_u["nr_dice"] + view_m["con_dice"] + view_m["nr_dice"]) / 4.0

    def ce(v):
        return v["con_ce"] + v["nr_ce"] + (guard_weight * v["guard_ce"] if "guard_ce" in v else 0.0)
    return 0.5 * (dice + (ce(view_u) + ce(view_m)) / 2.0)


def softmax_mse(student_probs: torch.Tensor, teacher_probs: torch.Tensor) -> torch.Tensor:
    """Mean over every sample, class and voxel of (softmax student − softmax teacher)²: the mean-teacher
    consistency of UA-MT / SSL4MIS (their ``softmax_mse_loss`` reduced by ``torch.mean``). The teacher
    side carries no gradient."""
    return ((student_probs.float() - teacher_probs.detach().float()) ** 2).mean()
