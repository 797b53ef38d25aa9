"""Training configuration: every default of DESIGN §3 as a named option.

Recipe options (``sgrs.method.recipes.OPTIONS``) default to None, meaning "from the recipe": they are
resolved once, at construction, from ``recipe`` (an explicit value always wins). The resolved values,
the recipe name and the overrides are what config.json and the bundle's provenance record; a resumed
job reads them back as explicit values, so it continues with exactly the options it started with.
Choose the recipe when constructing (``dataclasses.replace`` keeps the already resolved values).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..method import recipes
from ..method.losses import NR_DICE_SMOOTH, NR_LABEL_SMOOTHING
from ..method.runaway import RUNAWAY_SHARE, RUNAWAY_WINDOW
from ..method.schedule import WARMUP_FRACTION
from ..method.names import DEFAULT_METHOD
from ..method.step import GUARD_QUANTILE, GUARD_WEIGHT, StepConfig, method_warmup_fraction, method_weight
from ..method.synergy import DEFAULT_TAU

POSTPROCESS = ("none", "lcc")
FULL_DROPOUT = 0.5           # the V-Net's Dropout3d, as released
NARROW_DROPOUT = 0.1         # below FULL_WIDTH filters (see resolved_dropout)
FULL_WIDTH = 16


def resolved_dropout(filters: int) -> float:
    """0.5 from 16 filters on, 0.1 below. Why: the last Dropout3d sees ``filters`` channels; at 0.5 a
    4-filter network loses all of them for 1 sample in 16 (its logits are then the bias alone), the
    16-filter one for 1 in 65 536. At 0.1 the 4-filter one loses them for 1 in 10 000."""
    return FULL_DROPOUT if filters >= FULL_WIDTH else NARROW_DROPOUT


@dataclass
class TrainConfig:
    cohort: str
    out: str
    labelled: int | None = None       # first N train cases with labels; None = all of them
    val: int | None = None            # validation cases taken from train when the cohort has no val split
    iterations: int = 15000
    patch: tuple = (112, 112, 80)
    filters: int = 16
    dropout: float | None = None      # Dropout3d probability; None = resolved_dropout(filters)
    method: str = DEFAULT_METHOD
    unsup_weight: float | None = None  # weight of the unlabelled term; None = the method's (step.METHOD_WEIGHTS)
    batch: int = 4                    # B_l = batch // 2 labelled + the rest unlabelled
    lr: float = 0.01
    lr_policy: str = "constant"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_fraction: float | None = None  # None = the method's: 1 for mean-teacher, else WARMUP_FRACTION
    seed: int = 1337
    device: str = "auto"
    tau: float = DEFAULT_TAU
    mix_alpha: float = 0.75
    mix_lambda: float = 0.8           # fixed λ for region maps at inference, stored in the bundle
    theta_loss: str = "nr"
    recipe: str = "default"           # default | paper | released (sgrs/method/recipes.py)
    # recipe options: None = the recipe's value (recipes.OPTIONS documents each)
    dice_classes: str | None = None
    dice_denominator: str | None = None
    dice_per_sample: bool | None = None
    sup_dice: str | None = None
    delta_rule: str | None = None
    con_ce_region: str | None = None
    teacher_noise: bool | None = None
    ema: str | None = None
    student_decay: float | None = None
    partner: str | None = None
    ramp: str | None = None
    mix_noise: bool | None = None
    batch_draw: str | None = None
    augment: bool | None = None
    guard: str | None = None
    guard_weight: float = GUARD_WEIGHT        # delta-ce guard: weight of the hard CE on Δ
    guard_quantile: float = GUARD_QUANTILE    # tau-quantile guard: entropy quantile that caps τ
    runaway_share: float = RUNAWAY_SHARE      # warn when Δ + Θ stays above this share ...
    runaway_window: int = RUNAWAY_WINDOW      # ... for this many logged steps after the warm-up
    nr_label_smoothing: float = NR_LABEL_SMOOTHING
    nr_dice_smooth: float = NR_DICE_SMOOTH
    ema_decay: float = 0.99
    ct_window: tuple | None = None
    base_model: str | None = None     # bundle to fine-tune from
    spacing: tuple | None = None      # mm (x y z) to train at; None: the base model's, else the cohort's median
    postprocess: str | None = None    # stored in the bundle: "lcc" keeps the largest component at inference;
    #                                   None: the base model's when fine-tuning, else "none"
    absent_classes: tuple = ()        # fine-tuning: base classes every labelled case may lack (by name)
    hold_out: tuple = ()              # fine-tuning: labelled case ids never trained on; the new model and the base
    #                                   are compared on them at the end (sgrs.training.compare), else on val
    freeze_encoder: int = 0           # the encoder's weights stay fixed for the first N iterations (no backward
    #                                   through it: cheaper steps while the decoder adapts to a base model)
    freeze_norm: bool = False         # fine-tuning: BatchNorm keeps the base model's statistics
    #                                   (sgrs.method.step.keep_norm_statistics)
    stop_when_stable: int = 0         # every N iterations segment a few unlabelled cases and end the run once
    #                                   that stops changing (sgrs/training/stability.py); 0: run every iteration
    stable_dice: float = 0.98         # ... agreement with the previous check that counts as unchanged
    stable_checks: int = 2            # ... at this many checks in a row
    val_every: int | None = None
    checkpoint_every: int | None = None
    log_every: int | None = None
    speed_dir: str | None = None      # where the measured speed is kept for the next estimate (sgrs.util.speed)
    val_overlap: float = 0.5
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.patch = tuple(int(p) for p in self.patch)
        self.absent_classes = tuple(str(a) for a in self.absent_classes or ())
        self.hold_out = tuple(str(a) for a in self.hold_out or ())
        if self.base_model is not None:   # the CLI resolves a registered name to a Path
            self.base_model = str(self.base_model)
        if self.spacing is not None:
            self.spacing = tuple(float(v) for v in self.spacing)
        if self.ct_window is not None:
            self.ct_window = tuple(float(v) for v in self.ct_window)
        if self.dropout is None:
            self.dropout = resolved_dropout(int(self.filters))
        if self.unsup_weight is None:
            self.unsup_weight = method_weight(self.method)
        if self.warmup_fraction is None:
            self.warmup_fraction = method_warmup_fraction(self.method, WARMUP_FRACTION)
        for name, value in recipes.recipe(self.recipe).items():  # ValueError for an unknown recipe
            if getattr(self, name) is None:
                setattr(self, name, value)

    def recipe_overrides(self) -> dict:
        """The options whose resolved value differs from the recipe's."""
        base = recipes.recipe(self.recipe)
        return {k: getattr(self, k) for k in recipes.OPTIONS if getattr(self, k) != base[k]}

    def recipe_summary(self) -> dict:
        """For the bundle's provenance: the recipe name, its overrides and every resolved option."""
        return {"name": self.recipe, "overrides": self.recipe_overrides(),
                "options": {k: getattr(self, k) for k in recipes.OPTIONS}}

    def check(self) -> None:
        for name in recipes.OPTIONS:
            recipes.check_option(name, getattr(self, name))
        self.step_config().validate()
        if not 0.0 < self.runaway_share < 1.0 or self.runaway_window < 1:
            raise ValueError("need 0 < runaway_share < 1 and runaway_window ≥ 1")
        if any(p % 16 or p <= 0 for p in self.patch):
            raise ValueError(f"patch {self.patch}: every side must be a positive multiple of 16")
        if self.freeze_encoder < 0:
            raise ValueError(f"freeze_encoder must be ≥ 0 iterations, not {self.freeze_encoder!r}")
        if self.stop_when_stable < 0 or self.stable_checks < 1 or not 0.0 < self.stable_dice <= 1.0:
            raise ValueError("stopping when stable needs an interval ≥ 0 iterations, ≥ 1 check and an agreement "
                             f"in (0, 1], not {self.stop_when_stable!r}, {self.stable_checks!r}, "
                             f"{self.stable_dice!r}")
        if self.iterations < 1 or self.batch < 2:
            raise ValueError("need iterations ≥ 1 and batch ≥ 2")
        if self.filters < 1:
            raise ValueError("filters must be ≥ 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout!r}")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1], not {self.warmup_fraction!r}")
        if self.hold_out and not self.base_model:
            raise ValueError("a held-out case checks a fine-tuned model against its base model: "
                             "name the base model too (--base-model)")
        if self.postprocess is not None and self.postprocess not in POSTPROCESS:
            raise ValueError(f"postprocess must be one of {POSTPROCESS}, not {self.postprocess!r}")

    @property
    def batch_labelled(self) -> int:
        return self.batch // 2

    @property
    def batch_unlabelled(self) -> int:
        return 0 if self.method == "supervised" else self.batch - self.batch // 2

    @property
    def warmup_steps(self) -> int:
        return round(self.warmup_fraction * self.iterations)

    def every(self, name: str) -> int:
        """Event intervals: explicit, or derived from the run length."""
        value = getattr(self, name)
        if value:
            return int(value)
        return {"val_every": max(1, self.iterations // 10), "checkpoint_every": max(1, min(500, self.iterations // 10)),
                "log_every": max(1, self.iterations // 200)}[name]

    def step_config(self) -> StepConfig:
        names = {f.name for f in fields(StepConfig)}
        return StepConfig(**{k: v for k, v in asdict(self).items() if k in names})

    def to_json(self) -> dict:
        d = asdict(self)
        d["patch"] = list(self.patch)
        d["ct_window"] = list(self.ct_window) if self.ct_window else None
        d["spacing"] = list(self.spacing) if self.spacing else None
        d["absent_classes"] = list(self.absent_classes)
        d["hold_out"] = list(self.hold_out)
        d["recipe_overrides"] = self.recipe_overrides()  # for readers; from_json ignores it
        return d

    @classmethod
    def from_json(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        d = dict(d)
        # every job written before the teacher was an option had the eval-mode teacher, the default until
        # issue 19's benchmark made it the reference teacher: a resumed old job keeps its teacher
        d.setdefault("teacher_noise", False)
        if "unsup_weight" not in d:  # written before the methods were renamed (issue 19)
            d.setdefault("dropout", FULL_DROPOUT)  # every network had Dropout3d(0.5) then
            if d.get("method") == "mean-teacher":  # which then meant hard-label self-training
                d["method"] = "self-training"
        return cls(**{k: v for k, v in d.items() if k in known})
