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
