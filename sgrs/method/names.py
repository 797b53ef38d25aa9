"""The names a GUI offers as fixed choices (combo boxes, Studio selects), with the training methods'
one-line descriptions. Pure data, no torch: the Slicer panels import it at set-up, before the user
has installed torch."""
from __future__ import annotations

# sgrs train --method: name → what it is; the order is the order a GUI shows them in
METHOD_DESCRIPTIONS: dict[str, str] = {
    "sgrs": "SGRS-Net: mix augmentation, synergy evaluation and the regional losses",
    "mix": "hard-label self-training on the unlabelled and the mixed view (SGRS-Net ablation '+ MA')",
    "self-training": "hard-label self-training: ½(CE + Dice) toward the teacher's argmax (SGRS-Net ablation 'base')",
    "mean-teacher": "mean teacher of UA-MT / SSL4MIS: softmax MSE to the teacher, weight 0.1, ramped over the run",
    "supervised": "the labelled cases only",
}
METHODS: tuple[str, ...] = tuple(METHOD_DESCRIPTIONS)
DEFAULT_METHOD = "sgrs"
RECIPES = ("default", "paper", "released")                # sgrs train --recipe (sgrs.method.recipes)
DELTA_RULES = ("union", "intersection")                   # how the two views' uncertainty makes Δ
DEVICES = ("auto", "cuda", "cpu", "mps")                  # --device
RANK_SCORES = ("mean-entropy", "delta-theta", "entropy")  # sgrs rank --score (sgrs.inference.rank.SCORES)
# benchmarks/trust.py (docs/trust.md, 8 paired seeds): the 2 cases of highest mean entropy taught more
# (+0.032 test Dice [−0.005, +0.069] over 2 random ones) than the 2 of largest Δ∪Θ share (−0.057 [−0.183, +0.070])
DEFAULT_RANK_SCORE = "mean-entropy"


def check_method(name: str) -> None:
    """ValueError naming the choices when ``name`` is not a method."""
    if name not in METHOD_DESCRIPTIONS:
        raise ValueError(f"method must be one of {METHODS}, not {name!r}")
