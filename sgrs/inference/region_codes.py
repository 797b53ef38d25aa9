"""The region map's label values (``regions.nrrd``): pure data, no torch, so a GUI that shows or
hides a region imports it before torch is installed."""
OMEGA, THETA, DELTA = 1, 2, 3
REGION_NAMES = {OMEGA: "consistent (Ω)", THETA: "inconsistent (Θ)", DELTA: "uncertain (Δ)"}
REGION_KEYS = {OMEGA: "omega", THETA: "theta", DELTA: "delta"}
