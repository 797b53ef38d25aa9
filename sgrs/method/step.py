"""One training step of SGRS-Net and of the baselines measured against it, in the same engine.

Methods (``--method``, names and descriptions in ``names.py``):
- ``supervised``: L_sup on the labelled images only.
- ``mean-teacher``: + 0.1·w(t)·mean((softmax student(D_U) − softmax teacher(D_U))²), w ramped over
  the whole run: the mean teacher of UA-MT / SSL4MIS (METHOD_WEIGHTS).
- ``self-training``: + w(t)·½(CE + Dice) of the student on D_U against the teacher's pseudo labels,
  over every voxel (the "base" of the paper's ablation).
- ``mix``: self-training + Mix Augmentation: both views D_U and D_M against the pseudo labels,
  every voxel (the ablation's "+ MA").
- ``sgrs``: + Synergy Evaluation and regional losses (the full method, DESIGN §3).

The recipe options (``recipes.py``) are fields of ``StepConfig``; its defaults are the ``default`` recipe.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from . import recipes
from .ema import released_noise, teacher_logits, update_teacher
from .losses import (
    NR_DICE_SMOOTH,
    NR_LABEL_SMOOTHING,
    DiceForm,
    masked_ce,
    regional_terms,
    softmax_mse,
    supervised_loss,
    unlabelled_loss,
)
from .mix import mix_augment
from .names import check_method
from .schedule import consistency_weight
from .synergy import DEFAULT_TAU, class_argmax, synergy_regions

# per method: weight of the unlabelled term and the warm-up's share of the run, when not given.
# mean-teacher: UA-MT / SSL4MIS consistency 0.1, sigmoid ramp-up over all iterations (UA-MT:
# sigmoid_rampup(iter // 150, 40) with 6000 iterations; SSL4MIS: (iter // 150, 200) with 30000).
METHOD_WEIGHTS = {"mean-teacher": (0.1, 1.0)}
HARD_LABEL_METHODS = ("self-training", "mix")
THETA_LOSSES = ("nr", "con", "none")
GUARD_WEIGHT = 0.1      # delta-ce guard: weight of the hard CE on Δ relative to the Ω/Θ CE terms
GUARD_QUANTILE = 0.8    # tau-quantile guard: at most ~20 % of a batch's voxels uncertain
_D = recipes.DEFAULT


@dataclass
class StepConfig:
    method: str = "sgrs"
    unsup_weight: float | None = None   # None: the method's (METHOD_WEIGHTS, else 1)
    tau: float = DEFAULT_TAU
    mix_alpha: float = 0.75
    theta_loss: str = "nr"          # region-loss ablation: L_NR on Θ, L_con on Θ, or ignore Θ
    nr_label_smoothing: float = NR_LABEL_SMOOTHING
    nr_dice_smooth: float = NR_DICE_SMOOTH
    ema_decay: float = 0.99
    guard_weight: float = GUARD_WEIGHT
    guard_quantile: float = GUARD_QUANTILE
    # recipe options (recipes.OPTIONS documents each one)
    dice_classes: str = _D["dice_classes"]
    dice_denominator: str = _D["dice_denominator"]
    dice_per_sample: bool = _D["dice_per_sample"]
    sup_dice: str = _D["sup_dice"]
    delta_rule: str = _D["delta_rule"]
    con_ce_region: str = _D["con_ce_region"]
    teacher_noise: bool = _D["teacher_noise"]
    ema: str = _D["ema"]
    student_decay: float = _D["student_decay"]
    partner: str = _D["partner"]
    ramp: str = _D["ramp"]
    mix_noise: bool = _D["mix_noise"]
    guard: str = _D["guard"]
    freeze_norm: bool = False       # fine-tuning: BatchNorm normalises with the base model's statistics, unchanged

    def __post_init__(self):
        if self.unsup_weight is None:
            self.unsup_weight = method_weight(self.method)

    @classmethod
    def from_recipe(cls, name: str = "default", **overrides) -> StepConfig:
        """The named recipe's step options, then ``overrides`` (sampler options are ignored here)."""
        options = {k: v for k, v in recipes.recipe(name).items() if k in cls.__dataclass_fields__}
        return cls(**{**options, **overrides})

    @property
    def dice(self) -> DiceForm:
        return DiceForm(self.dice_classes, self.dice_denominator, self.dice_per_sample)

    def validate(self) -> None:
        check_method(self.method)
        if not 0.0 <= self.unsup_weight <= 100.0:
            raise ValueError(f"unsup_weight must be in [0, 100], not {self.unsup_weight!r}")
        if self.theta_loss not in THETA_LOSSES:
            raise ValueError(f"theta_loss must be one of {THETA_LOSSES}, not {self.theta_loss!r}")
        for name in recipes.OPTIONS:
            if name in self.__dataclass_fields__:
                recipes.check_option(name, getattr(self, name))
        if not 0.0 <= self.guard_weight <= 10.0:
            raise ValueError(f"guard_weight must be in [0, 10], not {self.guard_weight!r}")
        if not 0.0 < self.guard_quantile < 1.0:
            raise ValueError(f"guard_quantile must be in (0, 1), not {self.guard_quantile!r}")


def compute_losses(student, teacher, x_l: torch.Tensor, y_l: torch.Tensor, x_u: torch.Tensor,
                   step: int, warmup_steps: int, cfg: StepConfig, rng: np.random.Generator,
                   autocast=contextlib.nullcontext) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of one batch and the figures to log; no optimiser work.

    Random draws, in order, all from ``rng`` (a function of (seed, t)): the noise generator's seed,
    then the mix's λ and partners. The noise generator gives D_U's noise first, then D_L's.
    """
    b_l = x_l.shape[0]
    if cfg.method == "supervised":
        with autocast():
            logits = student(x_l)
        loss = supervised_loss(logits, y_l, dice=cfg.dice, sup_dice=cfg.sup_dice)
        return loss, {"loss": loss.item(), "sup": loss.item()}

    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    noisy_u = released_noise(x_u, generator) if (cfg.teacher_noise or cfg.mix_noise) else None
    with autocast():
        t_logits = teacher_logits(teacher, x_u, cfg.teacher_noise, noisy=noisy_u)
    # mean-teacher: the teacher's softmax is the target; the others: its argmax
    pl = t_logits.float().softmax(1) if cfg.method == "mean-teacher" else class_argmax(t_logits)
    inputs = [x_l, x_u]
    if cfg.method in ("sgrs", "mix"):
        # released: the teacher's noisy D_U and a noisy D_L are the mix operands
        u_op, l_op = (noisy_u, released_noise(x_l, generator)) if cfg.mix_noise else (x_u, x_l)
        inputs.append(mix_augment(u_op, l_op, rng, cfg.mix_alpha, cfg.partner)[0])
    with autocast():
        logits = student(torch.cat(inputs))  # one forward: BatchNorm sees the whole batch
    return losses_from_logits(logits, y_l, pl, b_l, x_u.shape[0], step, warmup_steps, cfg)


def losses_from_logits(logits: torch.Tensor, y_l: torch.Tensor, pl: torch.Tensor, b_l: int, b_u: int,
                       step: int, warmup_steps: int, cfg: StepConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss from the student's logits on [D_L, D_U, D_M] (D_M absent for mean-teacher and
    self-training). ``pl``: the teacher's softmax on D_U for mean-teacher, its argmax otherwise."""
    probs = logits.float().softmax(1)  # once for every term below
    dice = cfg.dice
    sup = supervised_loss(logits[:b_l], y_l, probs[:b_l], dice, cfg.sup_dice)
    views = [(logits[b_l:b_l + b_u], probs[b_l:b_l + b_u])]
    if cfg.method in ("mix", "sgrs"):
        views.append((logits[b_l + b_u:], probs[b_l + b_u:]))
    stats: dict[str, float] = {}
    if cfg.method == "mean-teacher":
        unsup = softmax_mse(views[0][1], pl)
    elif cfg.method in HARD_LABEL_METHODS:
        d = sum(dice(p, pl) for _, p in views) / len(views)
        ce = sum(masked_ce(lg, pl) for lg, _ in views) / len(views)
        unsup = 0.5 * (d + ce)
    else:
        (_, p_u), (_, p_m) = views
        regions = synergy_regions(p_u.detach(), p_m.detach(), cfg.tau, cfg.delta_rule,
                                  cfg.guard_quantile if cfg.guard == "tau-quantile" else None)
        omega, theta = regions.omega, regions.theta
        con_ce_mask = None
        if cfg.con_ce_region == "agree":  # released: hard CE on every agreeing voxel, Δ included
            con_ce_mask = class_argmax(p_u.detach()) == class_argmax(p_m.detach())
        if cfg.theta_loss == "con":
            omega, theta = omega | theta, torch.zeros_like(theta)
            con_ce_mask = None if con_ce_mask is None else con_ce_mask | regions.theta
        elif cfg.theta_loss == "none":
            theta = torch.zeros_like(theta)
        delta = regions.delta if cfg.guard == "delta-ce" else None
        terms = [regional_terms(lg, pl, omega, theta, cfg.nr_label_smoothing, cfg.nr_dice_smooth, p, dice,
                                con_ce_mask, delta) for lg, p in views]
        unsup = unlabelled_loss(*terms, guard_weight=cfg.guard_weight if delta is not None else 0.0)
        stats.update({f"share_{k}": v for k, v in regions.shares().items()})
        if cfg.guard == "tau-quantile":
            stats["tau"] = regions.tau
    w = cfg.unsup_weight * consistency_weight(step, warmup_steps, cfg.ramp)
    loss = sup + w * unsup
    stats.update({"loss": loss.item(), "sup": sup.item(), "unsup": unsup.item(), "w": w})
    return loss, stats


def training_step(student, teacher, optimizer, x_l, y_l, x_u, step: int, warmup_steps: int,
                  cfg: StepConfig, rng: np.random.Generator, autocast=contextlib.nullcontext,
                  after_update=None) -> dict[str, float]:
    """Losses, SGD step, then the teacher's EMA update. Returns the logged figures."""
    student.train()
    if cfg.freeze_norm:
        keep_norm_statistics(student)
    loss, stats = compute_losses(student, teacher, x_l, y_l, x_u, step, warmup_steps, cfg, rng, autocast)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if after_update is not None:
        after_update()  # e.g. average BatchNorm statistics across ranks before the EMA
    if teacher is not None:
        update_teacher(teacher, _unwrap(student), step, cfg.ema_decay, cfg.ema, cfg.student_decay,
                       own_buffers=cfg.teacher_noise)
    return stats


def keep_norm_statistics(model) -> None:
    """BatchNorm layers in eval mode: they normalise with their running statistics and do not update them.
    Why: a fine-tuning step sees two labelled patches, whose batch statistics are noisy, and the running
    statistics the model segments with would follow that noise; the scale and shift still learn."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def method_weight(method: str) -> float:
    return METHOD_WEIGHTS.get(method, (1.0, None))[0]


def method_warmup_fraction(method: str, default: float) -> float:
    return METHOD_WEIGHTS.get(method, (None, default))[1]


def _unwrap(model):
    return getattr(model, "module", model)
