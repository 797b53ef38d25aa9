"""A plain, literal re-implementation of one SGRS step, written the obvious way.

It is the baseline of ``step_speed.py`` and an independent cross-check of the engine's losses:
per-sample and per-class Python loops, float masks, explicit log-softmax and one-hot tensors.
"""
import math

import torch
import torch.nn.functional as F

from sgrs.method.ema import update_teacher
from sgrs.method.schedule import consistency_weight


def plain_dice(probs, target_onehot, mask, smooth):
    losses = []
    for c in range(1, probs.shape[1]):
        inter, p2, y2 = 0.0, 0.0, 0.0
        for b in range(probs.shape[0]):
            p, y, m = probs[b, c], target_onehot[b, c], mask[b]
            inter = inter + (m * p * y).sum()
            p2 = p2 + (m * p * p).sum()
            y2 = y2 + (m * y * y).sum()
        losses.append(1 - (2 * inter + smooth) / (p2 + y2 + smooth))
    return sum(losses) / len(losses)


def plain_ce(logits, target_onehot, mask, eps=0.0):
    logp = torch.log_softmax(logits.float(), 1)
    c = logits.shape[1]
    soft = target_onehot * (1 - eps) + eps / c
    total = 0.0
    for b in range(logits.shape[0]):
        total = total + (-(soft[b] * logp[b]).sum(0) * mask[b]).sum()
    return total / (logits.shape[0] * logits[0, 0].numel())


def plain_losses(logits, y_l, pl, b_l, b_u, step, warmup, tau=0.296):
    """Same math as sgrs.step.losses_from_logits, written literally."""
    n_c = logits.shape[1]
    probs = torch.softmax(logits, 1)
    y_oh = F.one_hot(y_l, n_c).permute(0, 4, 1, 2, 3).float()
    ones = torch.ones_like(y_l, dtype=torch.float32)
    sup = 0.5 * (plain_ce(logits[:b_l], y_oh, ones) + plain_dice(probs[:b_l], y_oh, ones, 1e-5))
    p_u, p_m = probs[b_l:b_l + b_u], probs[b_l + b_u:]
    ent_u = -(p_u * torch.log(p_u + 1e-12)).sum(1) / math.log(10)
    ent_m = -(p_m * torch.log(p_m + 1e-12)).sum(1) / math.log(10)
    delta = ((ent_u > tau) | (ent_m > tau)).float()
    agree = (p_u.argmax(1) == p_m.argmax(1)).float()
    omega, theta = agree * (1 - delta), (1 - agree) * (1 - delta)
    pl_oh = F.one_hot(pl, n_c).permute(0, 4, 1, 2, 3).float()
    dice_terms, ce_terms = [], []
    for lg, pr in ((logits[b_l:b_l + b_u], p_u), (logits[b_l + b_u:], p_m)):
        dice_terms += [plain_dice(pr, pl_oh, omega.detach(), 1.0), plain_dice(pr, pl_oh, theta.detach(), 20.0)]
        ce_terms.append(plain_ce(lg, pl_oh, omega.detach()) + plain_ce(lg, pl_oh, theta.detach(), 0.2))
    unsup = 0.5 * (sum(dice_terms) / 4 + sum(ce_terms) / 2)
    return sup + consistency_weight(step, warmup) * unsup


def plain_step(student, teacher, optimizer, x_l, y_l, x_u, x_m, step, warmup, tau=0.296):
    """Same math as sgrs.step with the mix given (so both see identical inputs)."""
    student.train()
    teacher.eval()
    with torch.no_grad():
        pl = teacher(x_u).argmax(1)
    logits = student(torch.cat([x_l, x_u, x_m]))
    loss = plain_losses(logits, y_l, pl, x_l.shape[0], x_u.shape[0], step, warmup, tau)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    update_teacher(teacher, student, step)
    return loss.item()
