"""Synergy Evaluation: split every voxel into Δ (uncertain), Ω (consistent), Θ (inconsistent)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .names import DELTA_RULES  # noqa: F401  (one list for the engine and the GUIs)

DEFAULT_TAU = 0.296


def class_argmax(x: torch.Tensor) -> torch.Tensor:
    """argmax over dim 1 (ties → the first class, as ``torch.argmax``), by elementwise running max.

    A reduction over a short strided class axis is slow on CPUs (~17× slower for 2 classes on a
    training batch); comparing contiguous class slices is not.
    """
    best = x[:, 0]
    index = torch.zeros(best.shape, dtype=torch.long, device=x.device)
    for c in range(1, x.shape[1]):
        better = x[:, c] > best
        best = torch.where(better, x[:, c], best)
        index = index.masked_fill(better, c)
    return index


def entropy_log10(probs: torch.Tensor) -> torch.Tensor:
    """Ent(p) = −Σ_j p_j log10 p_j over the class axis (dim 1); 0·log 0 = 0."""
    return -(probs * torch.log10(probs.clamp_min(1e-12))).sum(1)


@dataclass
class Regions:
    """Boolean masks of shape (B, X, Y, Z); disjoint, and together they cover every voxel."""

    delta: torch.Tensor
    omega: torch.Tensor
    theta: torch.Tensor
    tau: float = DEFAULT_TAU  # the threshold used (raised under the tau-quantile guard)

    def shares(self) -> dict[str, float]:
        n = self.delta.numel()
        return {k: float(getattr(self, k).sum()) / n for k in ("delta", "omega", "theta")}


def quantile_tau(ent_u: torch.Tensor, ent_m: torch.Tensor, tau: float, q: float) -> float:
    """max(τ, the q-quantile of both views' entropies): at most ~1 − q of the batch's voxels uncertain.

    ``kthvalue`` rather than ``torch.quantile``, which refuses tensors of more than 2^24 elements.
    """
    ent = torch.cat([ent_u.flatten(), ent_m.flatten()]).float()
    k = min(max(int(q * ent.numel()), 1), ent.numel())
    return max(float(tau), float(ent.kthvalue(k).values))


def synergy_regions(p_u: torch.Tensor, p_m: torch.Tensor, tau: float = DEFAULT_TAU,
                    delta_rule: str = "union", tau_quantile: float | None = None) -> Regions:
    """Regions from the two views' class probabilities (B, C, X, Y, Z).

    Uncertain = Ent > τ. With two classes τ = 0.296 is a foreground probability inside
    (0.425, 0.575). Δ = uncertain(P_U) ∪ uncertain(P_M) (``union``, released code) or ∩
    (``intersection``, the paper's formula 5); Ω = agreeing argmax outside Δ; Θ = disagreeing outside Δ.
    ``tau_quantile`` q (the tau-quantile guard): τ = max(τ, q-quantile of the batch entropies).
    """
    if delta_rule not in DELTA_RULES:
        raise ValueError(f"delta_rule must be one of {DELTA_RULES}, not {delta_rule!r}")
    ent_u, ent_m = entropy_log10(p_u), entropy_log10(p_m)
    if tau_quantile is not None:
        tau = quantile_tau(ent_u, ent_m, tau, tau_quantile)
    unc_u, unc_m = ent_u > tau, ent_m > tau
    delta = unc_u | unc_m if delta_rule == "union" else unc_u & unc_m
    agree = class_argmax(p_u) == class_argmax(p_m)
    return Regions(delta=delta, omega=agree & ~delta, theta=~agree & ~delta, tau=float(tau))
