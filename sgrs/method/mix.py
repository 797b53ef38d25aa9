"""Mix Augmentation: a second view of each unlabelled image, mixed with a labelled partner."""
from __future__ import annotations

import numpy as np
import torch

PARTNER_RULES = ("replacement", "permutation")


def mix_augment(unlabelled: torch.Tensor, labelled: torch.Tensor, rng: np.random.Generator,
                alpha: float = 0.75, partner_rule: str = "replacement"
                ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """D_M = λ·D_U + (1 − λ)·D_L[partner], λ = max(b, 1 − b), b ~ Beta(α, α) per sample.

    Each unlabelled image gets a labelled partner from the batch: drawn with replacement
    (``replacement``), or a permutation of the unlabelled indices modulo B_l (``permutation``, the
    released ``np.random.permutation(range(U_b)) % X_b``: with B_u = B_l every labelled image is used
    once). λ ≥ 0.5 keeps the unlabelled image dominant, so its pseudo label stays the target of D_M.
    Returns (D_M, λ of shape (B_u,), partner indices of shape (B_u,)).
    """
    b_u, b_l = unlabelled.shape[0], labelled.shape[0]
    if b_l == 0:
        raise ValueError("mix augmentation needs at least one labelled image in the batch")
    if partner_rule not in PARTNER_RULES:
        raise ValueError(f"partner must be one of {PARTNER_RULES}, not {partner_rule!r}")
    b = rng.beta(alpha, alpha, size=b_u)
    lam = np.maximum(b, 1.0 - b)
    partner = rng.integers(0, b_l, size=b_u) if partner_rule == "replacement" else rng.permutation(b_u) % b_l
    return mix_with(unlabelled, labelled[torch.as_tensor(partner, device=labelled.device)], lam), lam, partner


def mix_with(image: torch.Tensor, reference: torch.Tensor, lam) -> torch.Tensor:
    """λ·image + (1 − λ)·reference with λ a scalar or one value per sample."""
    lam_t = torch.as_tensor(np.asarray(lam, dtype=np.float32), device=image.device)
    lam_t = lam_t.view((-1,) + (1,) * (image.dim() - 1)) if lam_t.dim() else lam_t
    return lam_t * image + (1.0 - lam_t) * reference
