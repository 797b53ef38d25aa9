"""The names a GUI offers as fixed choices (combo boxes, Studio selects). Pure data, no torch: the
Slicer panels import it at set-up, before the user has installed torch."""
from __future__ import annotations

METHODS = ("sgrs", "mean-teacher", "mix", "supervised")   # sgrs train --method
RECIPES = ("default", "paper", "released")                # sgrs train --recipe (sgrs.method.recipes)
DELTA_RULES = ("union", "intersection")                   # how the two views' uncertainty makes Δ
DEVICES = ("auto", "cuda", "cpu", "mps")                  # --device
RANK_SCORES = ("delta-theta", "entropy")                  # sgrs rank --score (sgrs.inference.rank.SCORES)
DEFAULT_RANK_SCORE = "delta-theta"
