"""When a segmentation made by SGRSSegment becomes a label (issue 8, item 14).

The natural way to annotate is to correct the model's result in the Segment Editor. A result the user
edited, or explicitly marked reviewed, is a label; an untouched one is the model's own guess and must
not be trained on. At creation SGRSSegment stores a fingerprint of the segments' voxels as a node
attribute (saved in the .mrml) and as a tag of every segment (saved in the .seg.nrrd header, so it
survives loading the file alone). A label is a result whose voxels no longer match the fingerprint,
that was marked reviewed (our button), or whose segment status the user set to completed in the
Segment Editor's segment list. The fingerprint hashes voxel centres in world coordinates, so it
survives a save and reload that crops or re-grids the stored extent.
"""
from __future__ import annotations

import hashlib

import numpy as np
import slicer
import vtk
from vtk.util.numpy_support import vtk_to_numpy

GENERATED = "SGRS.generatedFingerprint"
REVIEWED = "SGRS.reviewed"


def fingerprint(segmentation_node) -> str:
    seg = segmentation_node.GetSegmentation()
    ids = vtk.vtkStringArray()
    seg.GetSegmentIDs(ids)
    digest = hashlib.sha1()
    name = slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName()
    for segment_id in sorted(ids.GetValue(i) for i in range(ids.GetNumberOfValues())):
        segment = seg.GetSegment(segment_id)
        digest.update(segment_id.encode())
        image = segment.GetRepresentation(name)
        if image is None or image.GetPointData().GetScalars() is None:
            continue
        ext = image.GetExtent()
        dims = [ext[1] - ext[0] + 1, ext[3] - ext[2] + 1, ext[5] - ext[4] + 1]
        if min(dims) < 1:
            continue
        voxels = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[2], dims[1], dims[0])
        kji = np.argwhere(voxels == segment.GetLabelValue())
        ijk = kji[:, ::-1] + np.array([ext[0], ext[2], ext[4]])
        matrix = vtk.vtkMatrix4x4()
        image.GetImageToWorldMatrix(matrix)
        m = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(3)])
        world = np.round(ijk @ m[:, :3].T + m[:, 3], 2) + 0.0  # + 0.0: no -0.0
        digest.update(np.ascontiguousarray(world[np.lexsort(world.T[::-1])]).tobytes())
    return digest.hexdigest()


def _segments(segmentation_node) -> list:
    seg = segmentation_node.GetSegmentation()
    return [seg.GetNthSegment(i) for i in range(seg.GetNumberOfSegments())]


def mark_generated(segmentation_node) -> None:
    value = fingerprint(segmentation_node)
    segmentation_node.SetAttribute(GENERATED, value)
    for segment in _segments(segmentation_node):
        segment.SetTag(GENERATED, value)


def generated_fingerprint(segmentation_node) -> str | None:
    value = segmentation_node.GetAttribute(GENERATED)
    for segment in _segments(segmentation_node) if value is None else []:
        tag = vtk.mutable("")
        if segment.GetTag(GENERATED, tag):
            return str(tag)
    return value


def _completed(segmentation_node) -> bool:
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    done = logic.GetSegmentStatusAsMachineReadableString(logic.Completed)
    for segment in _segments(segmentation_node):
        status = vtk.mutable("")
        if segment.GetTag(logic.GetStatusTagName(), status) and str(status) == done:
            return True
    return False


def mark_reviewed(segmentation_node, reviewed: bool = True) -> None:
    """The user accepts the model's result as it is: it counts as a label from now on."""
    segmentation_node.SetAttribute(REVIEWED, "1" if reviewed else "0")


def is_generated(segmentation_node) -> bool:
    return generated_fingerprint(segmentation_node) is not None


def is_empty(segmentation_node) -> bool:
    """No segment holds a single voxel (a freshly created annotation, or one erased to nothing)."""
    name = slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName()
    seg = segmentation_node.GetSegmentation()
    source = getattr(seg, "GetSourceRepresentationName", None) or seg.GetMasterRepresentationName
    if source() != name:
        return False   # drawn as surfaces (or other): not judged here
    for segment in _segments(segmentation_node):
        image = segment.GetRepresentation(name)
        scalars = None if image is None else image.GetPointData().GetScalars()
        if scalars is not None and scalars.GetNumberOfTuples() and \
                (vtk_to_numpy(scalars) == segment.GetLabelValue()).any():
            return False
    return True


def counts_as_label(segmentation_node) -> bool:
    """A hand-made segmentation, or an SGRSSegment result that was edited or marked reviewed; never an
    empty one (it would teach "nothing here" and fail the cohort export)."""
    if segmentation_node.GetSegmentation().GetNumberOfSegments() == 0 or is_empty(segmentation_node):
        return False
    generated = generated_fingerprint(segmentation_node)
    if generated is None:
        return True
    return segmentation_node.GetAttribute(REVIEWED) == "1" or _completed(segmentation_node) \
        or fingerprint(segmentation_node) != generated
