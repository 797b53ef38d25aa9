"""SGRSSegment logic: a volume node in, segmentation, region map, entropy map and table nodes out.

Usage from the Python console or a script, without the GUI::

    from SGRSSegmentLib import SGRSSegmentLogic, SegmentParameters
    logic = SGRSSegmentLogic(slicer.mrmlScene)
    result = logic.process(SegmentParameters(volume=getNode("scan"), model="/path/to/bundle"))
    result.segmentation, result.regions, result.entropy, result.table
"""
from __future__ import annotations

from dataclasses import dataclass, field

import slicer

from sgrs.inference.segment import SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.util.errors import SGRSError

from . import result_nodes
from .volume_io import array_of, geometry_of


@dataclass
class SegmentParameters:
    volume: object = None                 # vtkMRMLScalarVolumeNode
    model: str = ""                       # bundle folder
    device: str = "auto"
    overlap: float = 0.5
    regions: bool = True
    tau: float | None = None
    delta_rule: str | None = None
    region_opacity: float = 0.5
    extra: dict = field(default_factory=dict)

    def is_valid(self) -> tuple[bool, str]:
        """(ok, reason): the same text the GUI shows and ``process`` raises."""
        if self.volume is None:
            return False, "Select an input volume."
        if not self.volume.IsA("vtkMRMLScalarVolumeNode") or self.volume.IsA("vtkMRMLLabelMapVolumeNode"):
            return False, f"'{self.volume.GetName()}' is not a scalar volume."
        if not self.model:
            return False, "Select a model."
        if not 0.0 <= self.overlap < 1.0:
            return False, "Overlap must be in [0, 1)."
        return True, ""


@dataclass
class SegmentResult:
    segmentation: object
    regions: object | None
    entropy: object
    table: object | None
    summary: dict


class SGRSSegmentLogic:
    """Scene and logics are passed in, so the same code runs in Slicer, in tests and in the Studio."""

    def __init__(self, scene=None, segmentations_logic=None):
        self.scene = scene or slicer.mrmlScene
        self.segmentations_logic = segmentations_logic or slicer.vtkSlicerSegmentationsModuleLogic()
        self.segmentations_logic.SetMRMLScene(self.scene)

    def process(self, params: SegmentParameters, progress=None) -> SegmentResult:
        """Segment ``params.volume`` in this process and add the result nodes to the scene.

        Raises ``SGRSError`` with a one-line reason for bad input (same text as ``is_valid``).
        """
        ok, reason = params.is_valid()
        if not ok:
            raise SGRSError(reason)
        image, geometry = array_of(params.volume), geometry_of(params.volume)
        bundle = load_bundle(params.model)
        options = SegmentOptions(overlap=params.overlap, regions=params.regions, delta_rule=params.delta_rule,
                                 tau=params.tau, device=params.device)
        seg = segment_array(image, geometry, bundle, options, progress)
        return self.add_result_nodes(params, seg, bundle.meta["classes"])

    def add_result_nodes(self, params: SegmentParameters, seg, classes) -> SegmentResult:
        base = params.volume.GetName()
        scene = self.scene
        segmentation = result_nodes.add_segmentation(scene, self.segmentations_logic, params.volume, seg.label,
                                                     classes, f"{base} SGRS segmentation")
        entropy, _ = result_nodes.add_entropy_map(scene, params.volume, seg.entropy, f"{base} SGRS uncertainty")
        regions = table = None
        if seg.regions is not None:
            regions, _ = result_nodes.add_region_map(scene, params.volume, seg.regions, f"{base} SGRS regions",
                                                     params.region_opacity)
            table = result_nodes.add_statistics_table(scene, seg.summary, f"{base} SGRS region statistics")
        result_nodes.place_in_study(scene, params.volume, [n for n in (segmentation, regions, entropy, table) if n])
        return SegmentResult(segmentation, regions, entropy, table, seg.summary)
