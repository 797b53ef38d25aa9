"""Schedules: the unlabelled-loss warm-up weight w(t) and the learning rate."""
from __future__ import annotations

import math

WARMUP_FRACTION = 0.4
RELEASED_RAMP_STAIRS = 40  # released: sigmoid_rampup(iter_num // 150, 40), t_warm = 40 × 150 = 6000


def consistency_weight(step: int, warmup_steps: int, ramp: str = "smooth") -> float:
    """w(t) = exp(−5·(1 − min(t/t_warm, 1))²); 1 from t_warm on.

    ``stepwise`` (released code): the same curve at ⌊t / (t_warm/40)⌋ / 40, i.e. a staircase of 40
    stairs (150 iterations each for t_warm = 6000; the stair length is kept fractional so any run
    length gives exactly 40 stairs, and w(0) = e⁻⁵ either way).
    """
    if ramp not in ("smooth", "stepwise"):
        raise ValueError(f"ramp must be 'smooth' or 'stepwise', not {ramp!r}")
    if warmup_steps <= 0:
        return 1.0
    progress = min(step / warmup_steps, 1.0)
    if ramp == "stepwise":
        progress = math.floor(progress * RELEASED_RAMP_STAIRS + 1e-9) / RELEASED_RAMP_STAIRS
    phase = 1.0 - progress
    return math.exp(-5.0 * phase * phase)


def learning_rate(step: int, total_steps: int, base_lr: float = 0.01, policy: str = "constant") -> float:
    """Constant (released code) or poly decay base·(1 − t/T)^0.9."""
    if policy == "constant":
        return base_lr
    if policy == "poly":
        return base_lr * (1.0 - min(step, total_steps) / max(total_steps, 1)) ** 0.9
    raise ValueError(f"lr policy must be 'constant' or 'poly', not {policy!r}")
