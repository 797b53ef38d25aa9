"""Schedules: the unlabelled-loss warm-up weight w(t) and the learning rate."""
from __future__ import annotations

import math

WARMUP_FRACTION = 0.4


def consistency_weight(step: int, warmup_steps: int) -> float:
    """w(t) = exp(−5·(1 − min(t/t_warm, 1))²); 1 from t_warm on."""
    if warmup_steps <= 0:
        return 1.0
    phase = 1.0 - min(step / warmup_steps, 1.0)
    return math.exp(-5.0 * phase * phase)


def learning_rate(step: int, total_steps: int, base_lr: float = 0.01, policy: str = "constant") -> float:
    """Constant (released code) or poly decay base·(1 − t/T)^0.9."""
    if policy == "constant":
        return base_lr
    if policy == "poly":
        return base_lr * (1.0 - min(step, total_steps) / max(total_steps, 1)) ** 0.9
    raise ValueError(f"lr policy must be 'constant' or 'poly', not {policy!r}")
