"""Training presets, the run-time estimate shown before Train, and the name a trained model gets.

    PRESETS["quick look (CPU, minutes)"] -> Preset(iterations, filters, batch, patch, device, extra, ...)
    settings = apply_preset(name, base_meta)     # fine-tuning keeps the base model's patch and filters
    text = train_estimate(folder, iterations, filters, batch, patch, device, method=, extra=)
    record_train_timing(folder, filters, batch, patch, device, seconds_per_iteration, method=, frozen=)
    model_name(cohort_label, base_name, when)   # "3-labelled-sample-20261201-1530-from-model"

No torch here: the desktop SGRS Train panel shows presets and the estimate at set-up.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..util import speed   # the one measured-speed table for segmentation and training
from ..util.speed import GPU_SPEEDUP, REFERENCE_CPU_STEP_S, REFERENCE_VOXELS, TIMINGS  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class FineTuning:
    """What a preset changes when a base model is chosen: the method and the engine's extra arguments that
    the retrain benchmark measured best within the time goal (docs/benchmarks.md, "Fine-tuning on the
    user's scans"). Training from scratch keeps the preset's own settings."""
    method: str | None = None
    extra: tuple = ()


@dataclass(frozen=True)
class Preset:
    iterations: int
    filters: int
    batch: int
    patch: tuple
    device: str
    extra: tuple = field(default=())
    note: str = ""
    method: str | None = None     # a preset that names them sets the GUIs' method and recipe choice;
    recipe: str | None = None     # None leaves the user's (sgrs.method.names)
    fine_tuning: FineTuning | None = None   # with a base model: its method and extra arguments instead


PRESETS = {
    "quick look (CPU, minutes)": Preset(300, 8, 4, (48, 48, 32), "cpu",
                                        note="a first look on a laptop: small network, small patches",
                                        fine_tuning=FineTuning("supervised", ("--freeze-encoder", "150"))),
    "standard (GPU)": Preset(6000, 16, 4, (96, 96, 80), "cuda", note="the full V-Net; hours on a CPU"),
    "paper": Preset(15000, 16, 4, (112, 112, 80), "cuda",
                    note="the published recipe: 15k iterations, patch 112×112×80", method="sgrs", recipe="paper"),
}
DEFAULT_PRESET = "quick look (CPU, minutes)"
DEFAULT = PRESETS[DEFAULT_PRESET]   # the one source of the GUIs' first settings (parameter node, Studio, Lib)


def apply_preset(name: str, base_meta: dict | None = None) -> dict:
    """The preset's settings; fine-tuning keeps the base model's patch (its filters are fixed by it) and
    takes the preset's fine-tuning method and extra arguments where it has them.
    ``method`` / ``recipe``: what the preset sets, or None where it leaves the user's choice."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    patch, filters, method, extra = p.patch, p.filters, p.method, p.extra
    if base_meta:
        patch = tuple(int(v) for v in base_meta["patch_size"])
        filters = int((base_meta.get("architecture") or {}).get("n_filters") or filters)
        if p.fine_tuning is not None:
            method, extra = p.fine_tuning.method or method, p.extra + p.fine_tuning.extra
    return {"iterations": p.iterations, "filters": filters, "batch": p.batch, "patch": patch, "device": p.device,
            "extra": extra, "method": method, "recipe": p.recipe}


def record_train_timing(folder, filters, batch, patch, device, seconds_per_iteration: float,
                        overhead: float | None = None, *, method: str, frozen: bool = False) -> None:
    speed.record_training(folder, filters, batch, patch, device, seconds_per_iteration, overhead,
                          method=method, frozen=frozen)


def frozen_iterations(extra) -> int:
    """The iterations ``--freeze-encoder N`` in the engine's extra arguments freezes (0 without it)."""
    extra = [str(a) for a in extra or ()]
    for i, arg in enumerate(extra[:-1]):
        if arg == "--freeze-encoder":
            try:
                return max(0, int(extra[i + 1]))
            except ValueError:
                return 0   # the engine refuses it when the run starts
    return 0


def train_estimate(folder, iterations, filters, batch, patch, device, *, method: str, extra=()) -> str:
    """``method`` and the engine's ``extra`` arguments: a semi-supervised or frozen-encoder step costs more
    or less than a supervised one, and each is measured apart (sgrs.util.speed)."""
    return speed.training_estimate(folder, iterations, filters, batch, patch, device, method=method,
                                   frozen_iterations=frozen_iterations(extra))


def model_name(cohort_label: str, base_name: str | None, when: float | None = None) -> str:
    """Recognisable and file-safe: what it learned from, when, and what it started from."""
    stamp = time.strftime("%Y%m%d-%H%M", time.localtime(when))
    name = f"{cohort_label}-{stamp}-{'from-' + base_name if base_name else 'from-scratch'}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:80]
