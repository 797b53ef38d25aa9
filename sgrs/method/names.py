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
# sgrs train --recipe (sgrs.method.recipes): the recipe of the sgrs method; the other methods take the default
RECIPE_DESCRIPTIONS: dict[str, str] = {
    "default": "ours, chosen by the powered benchmark: the released code's hard CE where the two views agree",
    "paper": "the equations as printed: Dice over all classes, Δ = ∩ of formula 5, no loss on Δ",
    "released": "the authors' released code, without its cross-sample mask bug",
}
RECIPES: tuple[str, ...] = tuple(RECIPE_DESCRIPTIONS)
DEFAULT_RECIPE = "default"
# the mean teacher's mode: "recipe" leaves it to the recipe (sgrs train --teacher-noise / --no-teacher-noise)
TEACHER_DESCRIPTIONS: dict[str, str] = {
    "recipe": "the recipe's: the reference teacher in every recipe (default, paper, released)",
    "reference": ("the reference teacher of UA-MT, SSL4MIS and the released code: train mode (dropout on) "
                  "on the scan plus clamped noise"),
    "eval": "eval mode on the clean scan: the teacher's pseudo labels are close to the student's own prediction",
}
TEACHERS: tuple[str, ...] = tuple(TEACHER_DESCRIPTIONS)
DEFAULT_TEACHER = "recipe"
TEACHER_FLAGS = {"recipe": (), "reference": ("--teacher-noise",), "eval": ("--no-teacher-noise",)}
DELTA_RULES = ("union", "intersection")                   # how the two views' uncertainty makes Δ
DEVICES = ("auto", "cuda", "cpu", "mps")                  # --device
RANK_SCORES = ("mean-entropy", "delta-theta", "entropy")  # sgrs rank --score (sgrs.inference.rank.SCORES)
# benchmarks/trust/trust.py (docs/trust.md, 8 paired seeds): the 2 cases of highest mean entropy taught more
# (+0.032 test Dice [−0.005, +0.069] over 2 random ones) than the 2 of largest Δ∪Θ share (−0.057 [−0.183, +0.070])
DEFAULT_RANK_SCORE = "mean-entropy"


def check_method(name: str) -> None:
    """ValueError naming the choices when ``name`` is not a method."""
    if name not in METHOD_DESCRIPTIONS:
        raise ValueError(f"method must be one of {METHODS}, not {name!r}")


def method_args(method: str, recipe: str = DEFAULT_RECIPE, teacher: str = DEFAULT_TEACHER) -> list[str]:
    """The ``sgrs train`` arguments of a GUI's method, recipe and teacher choice. The recipe goes with
    ``sgrs`` only (the baselines keep the default recipe, as the benchmark runs them) and the teacher
    with every method that has one (not ``supervised``, whose config then records no teacher choice);
    ValueError naming the choices for an unknown name."""
    check_method(method)
    for kind, name, allowed in (("recipe", recipe, RECIPES), ("teacher", teacher, TEACHERS)):
        if name not in allowed:
            raise ValueError(f"{kind} must be one of {allowed}, not {name!r}")
    return ["--method", method, *(["--recipe", recipe] if method == "sgrs" else []),
            *(TEACHER_FLAGS[teacher] if method != "supervised" else ())]
