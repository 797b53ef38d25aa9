"""Show or hide one region (Δ, Θ, Ω) of a region map, in every view, through its colour table.

Shared by the desktop widget and the Studio: hiding a region makes its colour fully transparent,
showing it restores the opaque colour, so the label layer's opacity keeps applying on top.
"""
from __future__ import annotations

from sgrs.inference.region_codes import DELTA, OMEGA, THETA

REGION_VALUES = {"delta": DELTA, "theta": THETA, "omega": OMEGA}


def _colors(regions_node):
    display = regions_node.GetDisplayNode() if regions_node is not None else None
    colors = display.GetColorNode() if display is not None else None
    if colors is None:
        raise ValueError("the region map has no colour table")
    return colors


def set_region_visible(regions_node, region: str, visible: bool) -> None:
    """``region`` is 'delta', 'theta' or 'omega'."""
    colors, value = _colors(regions_node), REGION_VALUES[region]
    rgba = [0.0, 0.0, 0.0, 0.0]
    colors.GetColor(value, rgba)
    colors.SetColor(value, colors.GetColorName(value), rgba[0], rgba[1], rgba[2], 1.0 if visible else 0.0)
    colors.Modified()
    regions_node.GetDisplayNode().Modified()


def region_visibility(regions_node) -> dict[str, bool]:
    colors = _colors(regions_node)
    out = {}
    for region, value in REGION_VALUES.items():
        rgba = [0.0, 0.0, 0.0, 0.0]
        colors.GetColor(value, rgba)
        out[region] = rgba[3] > 0.0
    return out
