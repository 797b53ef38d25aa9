"""The names a GUI offers as fixed choices (combo boxes, Studio selects). Pure data, no torch: the
Slicer panels import it at set-up, before the user has installed torch."""
from __future__ import annotations

METHODS = ("sgrs", "mean-teacher", "mix", "supervised")   # sgrs train --method
RECIPES = ("default", "paper", "released")                # sgrs train --recipe (sgrs.method.recipes)
DELTA_RULES = ("union", "intersection")                   # how the two views' uncertainty makes Δ
DEVICES = ("auto", "cuda", "cpu", "mps")                  # --device
RANK_SCORES = ("mean-entropy", "delta-theta", "entropy")  # sgrs rank --score (sgrs.inference.rank.SCORES)
# benchmarks/trust.py (docs/trust.md, 8 paired seeds): the 2 cases of highest mean entropy taught more
# (+0.032 test Dice [−0.005, +0.069] over 2 random ones) than the 2 of largest Δ∪Θ share (−0.057 [−0.183, +0.070])
DEFAULT_RANK_SCORE = "mean-entropy"
