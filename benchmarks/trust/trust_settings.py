"""Settings benchmarks/trust/trust.py and its stages (trust_analysis.py, trust_report.py) share: a
module of their own, so the stages import it and not each other."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "Resources" / "Demo" / "model"
# the demo model's grid; the phantoms it was trained on are seeds 2026 (cohort) and 4242 (sample)
DEMO_GRID = {"size": (64, 64, 48), "spacing": (1.25, 1.25, 1.25)}
AL_GRID = {"size": (48, 48, 40), "spacing": (1.667, 1.667, 1.5)}
# CPU budget (2 shared cores): the active-learning runs are supervised (a third of an SGRS step's cost);
# one SGRS run of the same size is analysed as well
SHORT = {"patch": (32, 32, 32), "filters": 4, "batch": 4, "iterations": 200, "finetune": 100, "early": 15,
         "method": "supervised", "sgrs_iterations": 300}
COHORT_SEEDS = {"demo-default": 7701, "demo-hard": 7702, "al": 7703}
AL_ARMS = ("delta-theta", "entropy", "random")
POOL_SEEDS = 5  # the cohort's labelled pool holds 2 cases per seed for this many seeds (own_cases)
BUDGETS = (0.0025, 0.005, 0.01, 0.02, 0.05)      # share of the volume reviewed
TOP_K = (1, 3, 5, 10, 20, 50)
