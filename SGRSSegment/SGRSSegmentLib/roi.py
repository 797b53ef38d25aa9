"""Markups ROI node → the engine's region of interest: physical LPS bounds in mm.

Slicer places an ROI in RAS, possibly rotated (its own orientation or a parent transform). The
engine takes an axis-aligned box in ITK's LPS frame (``sgrs segment --roi XMIN YMIN ZMIN XMAX YMAX
ZMAX``, ``SegmentOptions.roi``), so a rotated ROI becomes the box around it: its world bounds.
"""
from __future__ import annotations

from sgrs.util.errors import InputError


def roi_bounds_lps(roi_node) -> tuple:
    """(xmin, ymin, zmin, xmax, ymax, zmax) in LPS mm of a vtkMRMLMarkupsROINode's world bounds."""
    if roi_node is None:
        raise InputError("no ROI node selected")
    if roi_node.GetNumberOfControlPoints() == 0:
        raise InputError(f"ROI '{roi_node.GetName()}' is not placed yet")
    ras = [0.0] * 6  # xmin, xmax, ymin, ymax, zmin, zmax in world RAS, rotation and transforms included
    roi_node.GetRASBounds(ras)
    if any(ras[2 * i] >= ras[2 * i + 1] for i in range(3)):
        raise InputError(f"ROI '{roi_node.GetName()}' has zero size along an axis")
    # LPS = (−R, −A, S): x and y change sign, so their min and max swap
    return (-ras[1], -ras[3], ras[4], -ras[0], -ras[2], ras[5])
