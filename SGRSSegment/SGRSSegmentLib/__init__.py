"""SGRSSegment logic over an MRML scene: slicer + vtk + sgrs, never qt."""
from .logic import SegmentParameters, SGRSSegmentLogic, SegmentResult

__all__ = ["SegmentParameters", "SGRSSegmentLogic", "SegmentResult"]
