"""SGRSSegment logic over an MRML scene: slicer + vtk + sgrs, never qt."""
from .logic import SegmentParameters, SegmentResult, SGRSSegmentLogic

__all__ = ["SegmentParameters", "SGRSSegmentLogic", "SegmentResult"]
