"""MRML volume node ↔ engine array and geometry.

MRML stores RAS geometry and ``arrayFromVolume`` gives (k, j, i) = (z, y, x) arrays; the engine
uses (x, y, z) arrays with ITK's LPS geometry (see ``sgrs.io``). This module is the only place
that converts between them.
"""
from __future__ import annotations

import numpy as np
import slicer
import vtk

from sgrs.data.image_io import Geometry
from sgrs.util.errors import InputError

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


def geometry_of(volume_node) -> Geometry:
    image = volume_node.GetImageData()
    if image is None:
        raise InputError(f"volume '{volume_node.GetName()}' holds no image data")
    directions = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASDirectionMatrix(directions)
    ras_dir = np.array([[directions.GetElement(r, c) for c in range(3)] for r in range(3)])
    lps_dir = RAS_TO_LPS @ ras_dir
    origin = RAS_TO_LPS @ np.array(volume_node.GetOrigin())
    return Geometry(tuple(int(d) for d in image.GetDimensions()), tuple(float(s) for s in volume_node.GetSpacing()),
                    tuple(float(v) for v in origin), tuple(float(v) for v in lps_dir.ravel()))


def array_of(volume_node) -> np.ndarray:
    """(x, y, z) float32 array of a scalar volume; refuses multi-component and 2D volumes."""
    image = volume_node.GetImageData()
    if image is None:
        raise InputError(f"volume '{volume_node.GetName()}' holds no image data")
    if image.GetNumberOfScalarComponents() != 1:
        raise InputError(f"volume '{volume_node.GetName()}' has {image.GetNumberOfScalarComponents()} "
                         "components per voxel; a single-channel (scalar) volume is required")
    dims = image.GetDimensions()
    if min(dims) < 2:
        raise InputError(f"volume '{volume_node.GetName()}' is 2D ({dims[0]}×{dims[1]}×{dims[2]}); "
                         "a 3D volume is required")
    array = slicer.util.arrayFromVolume(volume_node).transpose(2, 1, 0).astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"volume '{volume_node.GetName()}' has NaN/Inf voxels")
    return np.ascontiguousarray(array)


def set_array(volume_node, array_xyz: np.ndarray, reference_node) -> None:
    """Fill ``volume_node`` with an (x, y, z) array on ``reference_node``'s grid."""
    slicer.util.updateVolumeFromArray(volume_node, np.ascontiguousarray(array_xyz.transpose(2, 1, 0)))
    matrix = vtk.vtkMatrix4x4()
    reference_node.GetIJKToRASMatrix(matrix)
    volume_node.SetIJKToRASMatrix(matrix)
