"""How strongly is Θ supervised? Gradient per Θ voxel of L_NR's Dice term against its CE term.

A synthetic but plausible batch (two samples of 64×64×48, foreground 10 %): Ω voxels agree with the
pseudo label (p = 0.95), Δ voxels sit at p = 0.5 (0.8 % of the patch), Θ voxels are confident
(p in 0.6–0.9) and wrong for half of them. Each term carries its weight inside the unlabelled loss
(CE terms ¼ per view, Dice terms ⅛ each) and mean teacher's ½(CE + Dice) on the same voxels is the
yardstick. Prints a Markdown table for each Dice form of the recipes and several Θ shares.

    python benchmarks/theta_gradient.py
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sgrs.method.losses import NR_DICE_SMOOTH, DiceForm, masked_ce

SHAPE = (2, 64, 64, 48)


def batch(theta_share: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pl = (torch.rand(SHAPE, generator=g) < 0.1).long()
    u = torch.rand(SHAPE, generator=g)
    theta = u < theta_share
    delta = (u >= theta_share) & (u < theta_share + 0.008)
    wrong = torch.rand(SHAPE, generator=g) < 0.5
    conf = 0.6 + 0.3 * torch.rand(SHAPE, generator=g)
    p_fg = torch.where(pl == 1, 0.95, 0.05)
    p_fg = torch.where(theta, torch.where(wrong ^ (pl == 1), conf, 1 - conf), p_fg)
    p_fg = torch.where(delta, torch.full_like(p_fg, 0.5), p_fg)
    logits = torch.stack([torch.zeros_like(p_fg), torch.log(p_fg / (1 - p_fg))], 1).requires_grad_(True)
    return logits, pl, theta


def per_voxel(loss, logits, mask) -> float:
    grad = torch.autograd.grad(loss, logits, retain_graph=True)[0]
    return float(grad.abs().sum(1)[mask].mean())


def main():
    forms = {"default (foreground, Σp²)": DiceForm(), "paper (all classes, Σp²)": DiceForm("all"),
             "released (all, Σp, per sample)": DiceForm("all", "linear", True)}
    print("| Dice form | Θ share | NR Dice / NR CE per Θ voxel | Θ (one view) / mean teacher, same voxels |")
    print("|---|---|---|---|")
    for name, dice in forms.items():
        for share in (0.005, 0.01, 0.025, 0.05):
            logits, pl, theta = batch(share)
            probs = logits.softmax(1)
            nr_ce = per_voxel(0.25 * masked_ce(logits, pl, theta, 0.2), logits, theta)
            nr_dice = per_voxel(0.125 * dice(probs, pl, theta, NR_DICE_SMOOTH), logits, theta)
            mt = per_voxel(0.5 * (masked_ce(logits, pl) + DiceForm()(probs, pl)), logits, theta)
            print(f"| {name} | {share:.1%} | {nr_dice / nr_ce:.1f}× | {(nr_ce + nr_dice) / mt:.2f}× |")


if __name__ == "__main__":
    main()
