"""Per-voxel maps from the blended class probabilities: label (argmax), entropy and the Δ/Ω/Θ regions.

Region map label convention (``regions.nrrd``, uint8), every voxel exactly one of:
    1 = Ω consistent (confident, plain and mixed views agree)
    2 = Θ inconsistent (confident, the views disagree: fragile under perturbation)
    3 = Δ uncertain (log10 entropy above τ in either view, or both with ``intersection``)
Entropy map (``entropy.nrrd``, uint8): round(255 · Ent(P_U) / log10(C)), 0 certain … 255 maximal.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..method.synergy import class_argmax, entropy_log10, synergy_regions
from .region_codes import DELTA, OMEGA, REGION_KEYS, REGION_NAMES, THETA  # noqa: F401  (re-exported)


def maps_by_slab(p_u: torch.Tensor, p_m: torch.Tensor | None, tau: float, rule: str, slab: int = 16):
    """Label, entropy (uint8) and region maps, computed a z-slab at a time so the float
    temporaries of the entropy and argmax stay a few slices big on large CT volumes."""
    shape = tuple(p_u.shape[1:])
    label = np.empty(shape, np.uint8)
    entropy = np.empty(shape, np.uint8)
    regions = None if p_m is None else np.empty(shape, np.uint8)
    for z0 in range(0, shape[2], slab):
        zs = (slice(None), slice(None), slice(None), slice(z0, z0 + slab))
        maps = slab_maps(p_u[zs], None if p_m is None else p_m[zs], tau, rule)
        label[..., z0:z0 + slab], entropy[..., z0:z0 + slab] = maps[0], maps[1]
        if regions is not None:
            regions[..., z0:z0 + slab] = maps[2]
    return label, entropy, regions


def slab_maps(p_u: torch.Tensor, p_m: torch.Tensor | None, tau: float, rule: str):
    """Label, entropy and region maps (uint8 numpy) of one (C, X, Y, z) block of probabilities."""
    n_c = p_u.shape[0]
    scale = 255.0 / math.log10(n_c) if n_c > 1 else 0.0
    pu = p_u.float()[None]
    label = class_argmax(pu)[0].cpu().numpy()
    entropy = (entropy_log10(pu)[0] * scale).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    regions = None
    if p_m is not None:
        r = synergy_regions(pu, p_m.float()[None], tau, rule)
        regions = (OMEGA * r.omega[0] + THETA * r.theta[0] + DELTA * r.delta[0]).to(torch.uint8).cpu().numpy()
    return label, entropy, regions


def labels_by_slab(p: torch.Tensor, slab: int = 16) -> np.ndarray:
    """argmax of (C, X, Y, Z) probabilities as uint8 numpy, a z-slab at a time."""
    out = np.empty(tuple(p.shape[1:]), np.uint8)
    for z0 in range(0, p.shape[-1], slab):
        out[..., z0:z0 + slab] = class_argmax(p[..., z0:z0 + slab].float()[None])[0].cpu().numpy()
    return out
