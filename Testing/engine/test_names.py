"""The GUIs' fixed choices (sgrs.method.names) are the engine's own lists, and importing them is torch-free."""
import subprocess
import sys

from sgrs.cli import build_parser
from sgrs.method import names, recipes


def choices_of(command: str, flag: str) -> tuple:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return tuple(next(a for a in sub.choices[command]._actions if flag in a.option_strings).choices)


def test_the_choice_lists_are_the_engines():
    assert names.RECIPES == tuple(recipes.RECIPES)
    assert names.METHODS == choices_of("train", "--method")
    assert names.DELTA_RULES == choices_of("segment", "--delta-rule")


def test_importing_the_names_never_imports_torch():
    code = "import sys, sgrs.method.names; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_a_gui_choice_becomes_the_train_arguments_the_engine_reads():
    """method_args (the GUIs' method / recipe / teacher lists → sgrs train); parsed by the real CLI."""
    import pytest

    from sgrs.training.config import TrainConfig

    def config(*choice):
        args = build_parser().parse_args(["train", "--cohort", "c", "--out", "o",
                                          *names.method_args(*choice)])
        return TrainConfig(cohort="c", out="o", method=args.method, recipe=args.recipe,
                           teacher_noise=args.teacher_noise)

    assert names.method_args("sgrs") == ["--method", "sgrs", "--recipe", "default"]
    paper = config("sgrs", "paper", "reference")
    assert (paper.recipe, paper.delta_rule, paper.teacher_noise) == ("paper", "intersection", True)
    released = config("sgrs", "released", "eval")
    assert (released.recipe, released.teacher_noise, released.ema) == ("released", False, "double")
    assert config("sgrs", "released", "recipe").teacher_noise is True           # the recipe's own teacher
    mt = config("mean-teacher", "paper", "reference")                           # the recipe is sgrs's only
    assert (mt.method, mt.recipe, mt.teacher_noise, mt.unsup_weight) == ("mean-teacher", "default", True, 0.1)
    assert names.method_args("supervised", "paper", "reference") == ["--method", "supervised"]
    for bad, message in ((("fixmatch",), "method must be one of"), (("sgrs", "best"), "recipe must be one of"),
                         (("mix", "default", "noisy"), "teacher must be one of")):
        with pytest.raises(ValueError, match=message):
            names.method_args(*bad)
    assert set(names.TEACHER_FLAGS) == set(names.TEACHERS) and names.DEFAULT_TEACHER in names.TEACHERS
