"""Recipes: named presets of the options where the paper, the released code and our default differ.

- ``default``: ours, chosen by the benchmarks (``benchmarks/method/ssl_gain.py``, docs/benchmarks.md): the
  released code's hard CE on every agreeing voxel and the reference teacher, otherwise the paper's forms.
- ``paper``: the equations as printed (Dice over all classes with p² denominators, Δ = ∩ of formula 5);
  where the paper is silent it takes our default.
- ``released``: what github.com/ortonwang/SGRS-Net ``code/train.py`` does, *except* the broadcast that
  crosses the samples' Θ masks in the smoothed CE (a bug we never reproduce).

A training run resolves its recipe once (``TrainConfig``): an option given explicitly overrides the
recipe, every other option takes the recipe's value; config.json and the bundle's provenance record
the recipe name and every resolved value. Pure data: importing this module never imports torch.
"""
from __future__ import annotations

# Each option: its allowed values (None = any number) and one line of documentation.
OPTIONS: dict[str, tuple[tuple | None, str]] = {
    "dice_classes": (("foreground", "all"), (
        "classes the Dice terms average over: the foreground classes 1..C−1, or all classes "
        "including the background (paper eq. 9/14, released code)"
    )),
    "dice_denominator": (("squared", "linear"), (
        "Dice denominator: Σp² + Σy² (V-Net / UA-MT, paper) or Σp + Σy (released unlabelled "
        "SoftDiceLoss: 2tp + fp + fn)"
    )),
    "dice_per_sample": ((False, True), (
        "Dice per sample, then averaged (released SoftDiceLoss, batch_dice=False), instead of sums "
        "over the whole batch"
    )),
    "sup_dice": (("same", "released"), (
        "L_sup's Dice: the same form as the unlabelled terms (with the factor 2), or the released "
        "DiceLoss: all classes, Σp² + Σy², batch sums, *without* the factor 2"
    )),
    "delta_rule": (("union", "intersection"), (
        "Δ = uncertain(P_U) ∪ uncertain(P_M) (released) or ∩ (paper formula 5)"
    )),
    "con_ce_region": (("omega", "agree"), (
        "voxels of the hard CE toward the pseudo label: Ω only, or every voxel where the two views "
        "agree, Δ included (released)"
    )),
    "teacher_noise": ((False, True), (
        "the reference teacher of UA-MT, SSL4MIS and the released code: train mode (dropout, batch "
        "statistics; its forward updates its own BatchNorm running statistics, the EMA moves the "
        "parameters only) on D_U + clamp(N(0, 0.1²), ±0.2), instead of eval mode on the clean D_U"
    )),
    "ema": (("single", "double"), (
        "one EMA (decay min(1 − 1/(t+1), 0.99) over parameters and BatchNorm statistics), or the "
        "released pair: a constant-0.99 EMA over every float state entry, then a second min(1 − "
        "1/(t+2), 0.99) EMA over the parameters"
    )),
    "student_decay": (None, (
        "the student's parameters and float buffers are multiplied by (1 − d) after each teacher "
        "update's first stage (released WeightEMA: d = 0.02·0.01 = 2e-4, ~200× the stated weight "
        "decay of 1e-4 per step at lr 0.01)"
    )),
    "partner": (("replacement", "permutation"), (
        "labelled mix partners drawn with replacement, or a permutation of the unlabelled indices "
        "modulo B_l (released)"
    )),
    "ramp": (("smooth", "stepwise"), (
        "w(t) = exp(−5(1 − t/t_warm)²) per step, or the released staircase: the same curve "
        "evaluated at ⌊t / (t_warm/40)⌋ / 40 (150-iteration steps for t_warm = 6000)"
    )),
    "mix_noise": ((False, True), (
        "mix operands both carry clamp(N(0, 0.1²), ±0.2) noise (released: the teacher's noisy D_U "
        "and a noisy D_L) instead of the clean images"
    )),
    "batch_draw": (("replacement", "permutation"), (
        "cases of a batch drawn with replacement every step, or without: each epoch a permutation "
        "of the labelled cases cut into batches, unlabelled cases from an endless chain of "
        "permutations restarted every labelled epoch (released TwoStreamBatchSampler)"
    )),
    "augment": ((True, False), (
        "random 90° xy-rotation and flip of every patch (released: LA only; off for Pancreas-CT and "
        "BraTS)"
    )),
    "guard": (("none", "delta-ce", "tau-quantile"), (
        "runaway guard: none; 'delta-ce' adds guard_weight × hard CE toward the pseudo label on Δ; "
        "'tau-quantile' raises τ to the guard_quantile quantile q of the batch's entropies when that "
        "is larger, so at most about 1 − q of the voxels of both views are uncertain"
    )),
}

DEFAULT = {
    "dice_classes": "foreground",
    "dice_denominator": "squared",
    "dice_per_sample": False,
    "sup_dice": "same",
    "delta_rule": "union",
    "con_ce_region": "agree",   # the powered benchmark's best arm: Δ is no absorbing state (docs/benchmarks.md)
    "teacher_noise": True,      # the reference teacher: the issue-19 benchmark (docs/benchmarks.md)
    "ema": "single",
    "student_decay": 0.0,
    "partner": "replacement",
    "ramp": "smooth",
    "mix_noise": False,
    "batch_draw": "replacement",
    "augment": True,
    "guard": "none",
}

PAPER = {**DEFAULT, "dice_classes": "all", "dice_denominator": "squared", "delta_rule": "intersection",
         "con_ce_region": "omega"}  # the paper's Δ is "disregarded": no loss at all

RELEASED = {
    "dice_classes": "all",
    "dice_denominator": "linear",
    "dice_per_sample": True,
    "sup_dice": "released",
    "delta_rule": "union",
    "con_ce_region": "agree",
    "teacher_noise": True,
    "ema": "double",
    "student_decay": 2e-4,
    "partner": "permutation",
    "ramp": "stepwise",
    "mix_noise": True,
    "batch_draw": "permutation",
    "augment": True,   # the LA recipe; the released code has none for Pancreas-CT / BraTS (set augment=False)
    "guard": "none",
}

RECIPES: dict[str, dict] = {"default": DEFAULT, "paper": PAPER, "released": RELEASED}


def recipe(name: str) -> dict:
    """A copy of the named recipe's option values; ValueError naming the choices otherwise."""
    if name not in RECIPES:
        raise ValueError(f"recipe must be one of {tuple(RECIPES)}, not {name!r}")
    return dict(RECIPES[name])


def check_option(name: str, value) -> None:
    """ValueError with the allowed values when ``value`` is not one of them."""
    allowed = OPTIONS[name][0]
    if allowed is None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be a number in [0, 1), not {value!r}")
    elif value not in allowed or type(value) is not type(allowed[0]):
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
