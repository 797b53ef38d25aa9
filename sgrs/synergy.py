"""Synergy Evaluation: split every voxel into Δ (uncertain), Ω (consistent), Θ (inconsistent)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

DEFAULT_TAU = 0.296
DELTA_RULES = ("union", "intersection")


def entropy_log10(probs: torch.Tensor) -> torch.Tensor:
    """Ent(p) = −Σ_j p_j log10 p_j over the class axis (dim 1); 0·log 0 = 0."""
    return -(probs * torch.log10(probs.clamp_min(1e-12))).sum(1)


@dataclass
class Regions:
    """Boolean masks of shape (B, X, Y, Z); disjoint, and together they cover every voxel."""

    delta: torch.Tensor
    omega: torch.Tensor
    theta: torch.Tensor

    def shares(self) -> dict[str, float]:
        n = self.delta.numel()
        return {k: float(getattr(self, k).sum()) / n for k in ("delta", "omega", "theta")}


def synergy_regions(p_u: torch.Tensor, p_m: torch.Tensor, tau: float = DEFAULT_TAU,
                    delta_rule: str = "union") -> Regions:
    """Regions from the two views' class probabilities (B, C, X, Y, Z).

    Uncertain = Ent > τ. With two classes τ = 0.296 is a foreground probability inside
    (0.425, 0.575). Δ = uncertain(P_U) ∪ uncertain(P_M) (``union``, released code) or ∩
    (``intersection``, the paper's formula 5); Ω = agreeing argmax outside Δ; Θ = disagreeing outside Δ.
    """
    if delta_rule not in DELTA_RULES:
        raise ValueError(f"delta_rule must be one of {DELTA_RULES}, not {delta_rule!r}")
    unc_u, unc_m = entropy_log10(p_u) > tau, entropy_log10(p_m) > tau
    delta = unc_u | unc_m if delta_rule == "union" else unc_u & unc_m
    agree = p_u.argmax(1) == p_m.argmax(1)
    return Regions(delta=delta, omega=agree & ~delta, theta=~agree & ~delta)
