"""Speeds measured on this machine, the one source of every run-time estimate (Train's and Segment's).

    training_speed(folder, filters, batch, patch, device, method=, frozen_share=)
        -> Speed(per_iteration, overhead, measured)
    record_training(folder, filters, batch, patch, device, per_iteration, overhead, method=, frozen=)  # the loop
    window_seconds(folder, key) / record_window_seconds(folder, key, seconds)         # segmentation
    running_estimate(iteration, iterations, it_per_s)   # during a run: from its progress events

The figures live in a small JSON table, ``timings.json`` in the user's sgrs folder (the model registry's:
``~/.sgrs/models``, ``$SGRS_MODELS`` or the Studio's ``--models``), read afresh for every estimate, so a new
measurement shows at once (no restart). A training speed is kept per network size, device and method
(a semi-supervised step also runs the teacher on unlabelled views), and apart for runs that freeze the encoder
for part of the run (fewer gradients). Before any measurement a training estimate is a stated rough guess
scaled from a reference step.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from .atomic import write_text

TIMINGS = "timings.json"
# Seconds per training step measured on this project's 2-core CPU (AVX2) for the full V-Net
# (16 filters), patch 112×112×80, batch 4 (docs/benchmarks.md): the scale of the unmeasured guess.
REFERENCE_CPU_STEP_S = 27.0
REFERENCE_VOXELS = 112 * 112 * 80
GPU_SPEEDUP = 40.0          # a rough factor, shown as a guess until a run on this machine measured it
GUESS_OVERHEAD_S = 15.0     # starting the engine, reading the cohort, saving the model: a guess too
# The reference step is taken as the default method's (sgrs, semi-supervised). A supervised step costs about
# 1/2.5 of it: fine-tuning 300 iterations took 1.66 CPU minutes supervised, 3.65 mean-teacher (docs/benchmarks.md,
# "Fine-tuning on the user's scans"), 2.2× with the shared start-up and saving, so a bit more per step.
SEMI_SUPERVISED_COST = 2.5
FROZEN_SAVING = 0.12        # a frozen-encoder iteration is about 12 % cheaper (no encoder gradients)
SUPERVISED = "supervised"   # sgrs.method.names: the one method without unlabelled views
LEGACY_METHOD = "sgrs"      # what a table entry written before the method was kept most likely measured


class Speed(NamedTuple):
    per_iteration: float    # seconds per iteration, validation and checkpoints included
    overhead: float         # seconds outside the iterations: start-up, reading the cohort, saving the model
    measured: bool


def read_table(folder) -> dict:
    try:
        table = json.loads((Path(folder) / TIMINGS).read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def store(folder, key: str, value) -> None:
    """One measured figure (a number, or a small dict of numbers) into the folder's table."""
    path = Path(folder) / TIMINGS
    table = read_table(folder)
    table.pop(key, None)   # last in the table = measured last (window_seconds_any reads "auto" so)
    table[key] = round(float(value), 4) if isinstance(value, (int, float)) else value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(table, indent=1))
    except OSError:
        pass   # an estimate is a convenience


def train_key(filters, batch, patch, device: str, method: str | None = None, frozen: bool = False) -> str:
    """``method`` None: the key written before the method was kept (read only, see training_speed)."""
    key = f"train-{filters}-{batch}-{'x'.join(str(int(v)) for v in patch)}-{device}"
    return key if method is None else f"{key}-{method}{'-frozen' if frozen else ''}"


def record_training(folder, filters, batch, patch, device, per_iteration: float, overhead: float | None = None,
                    *, method: str, frozen: bool = False) -> None:
    """``frozen``: the run froze the encoder for part of its iterations."""
    if not per_iteration or per_iteration <= 0:
        return
    value = {"per_iteration": round(float(per_iteration), 4)}
    if overhead is not None and overhead >= 0:
        value["overhead"] = round(float(overhead), 2)
    store(folder, train_key(filters, batch, patch, device, method, frozen), value)


def _measured(value) -> Speed | None:
    if isinstance(value, (int, float)):   # written before the overhead was kept
        return Speed(float(value), 0.0, True)
    if isinstance(value, dict) and isinstance(value.get("per_iteration"), (int, float)):
        return Speed(float(value["per_iteration"]), float(value.get("overhead") or 0.0), True)
    return None


def training_speed(folder, filters, batch, patch, device, *, method: str, frozen_share: float = 0.0) -> Speed:
    """Measured here for these settings and this method, else scaled from the reference step (a guess).
    ``frozen_share``: the part of the iterations with the encoder frozen (0 to 1)."""
    table = read_table(folder)
    found = _measured(table.get(train_key(filters, batch, patch, device, method, frozen_share > 0)))
    if found is None and method == LEGACY_METHOD and not frozen_share:
        # An entry without a method predates fine-tuning presets: the GUIs then trained from scratch with
        # their default method, so it stands for that method only; another method's step costs 2.5× more
        # or less and would be off by that much, so it gets the guess until its own run measures it.
        found = _measured(table.get(train_key(filters, batch, patch, device)))
    if found is not None:
        return found
    voxels = patch[0] * patch[1] * patch[2]
    guess = REFERENCE_CPU_STEP_S * (voxels / REFERENCE_VOXELS) * (filters / 16) ** 2 * (batch / 4)
    guess *= (1 / SEMI_SUPERVISED_COST if method == SUPERVISED else 1.0) * (1 - FROZEN_SAVING * frozen_share)
    return Speed(guess if device == "cpu" else guess / GPU_SPEEDUP, GUESS_OVERHEAD_S, False)


def training_estimate(folder, iterations, filters, batch, patch, device, *, method: str,
                      frozen_iterations: int = 0) -> str:
    from .progress import format_seconds

    share = min(1.0, frozen_iterations / iterations) if iterations > 0 and frozen_iterations > 0 else 0.0
    speed = training_speed(folder, filters, batch, patch, device, method=method, frozen_share=share)
    how = "measured on this machine" if speed.measured else \
        f"a rough guess for {'a 2-core CPU' if device == 'cpu' else 'a GPU'}, measured after the first iterations"
    start = f" + {format_seconds(speed.overhead)} to start and save" if speed.overhead >= 1 else ""
    total = speed.overhead + iterations * speed.per_iteration
    return f"about {format_seconds(total)} ({iterations} iterations × {speed.per_iteration:.2f} s{start}, {how})"


def running_estimate(iteration: int, iterations: int, it_per_s: float | None) -> str:
    """During a run: the time left at the speed its progress events report."""
    from .progress import format_seconds

    if not it_per_s or it_per_s <= 0:
        return "measuring the speed of this run…"
    left = max(0, iterations - iteration) / it_per_s
    return f"about {format_seconds(left)} left ({iterations - iteration} iterations × {1 / it_per_s:.2f} s, " \
           "measured in this run)"


def window_seconds(folder, key: str) -> float | None:
    value = read_table(folder).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def window_seconds_any(folder, prefix: str) -> float | None:
    """The last figure whose key starts with ``prefix`` (the device "auto" picked last time)."""
    found = [v for k, v in read_table(folder).items() if k.startswith(prefix) and isinstance(v, (int, float))]
    return float(found[-1]) if found else None


def record_window_seconds(folder, key: str, seconds: float) -> None:
    if seconds and seconds > 0:
        store(folder, key, seconds)
