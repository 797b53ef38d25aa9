"""The segmentation defaults the engine, the CLI and both GUIs share. No torch: the panels import
them at set-up.

The region maps' mixed view is computed on a coarser window grid than the plain view (overlap 0.25
against 0.5): the label, the entropy map, the review list and the case flag come from the plain view
alone and stay as they were, while a real CT needs 0.7× the windows (1232 + 430 against 1232 + 1125
on real_ct.py's chest CT; benchmarks/speed/overlap_cost.py and docs/benchmarks.md measure what it costs
the Δ/Θ maps).
"""
DEFAULT_OVERLAP = 0.5
FAST_OVERLAP = 0.25       # sgrs segment --fast: both views
MIXED_OVERLAP = 0.25      # the mixed view's grid (never finer than the plain view's)
