"""SGRSSegment logic: a volume node in, segmentation, region map, entropy map and table nodes out.

Usage from the Python console or a script, without the GUI::

    from SGRSSegmentLib import SGRSSegmentLogic, SegmentParameters
    logic = SGRSSegmentLogic(slicer.mrmlScene)
    result = logic.process(SegmentParameters(volume=getNode("scan"), model="/path/to/bundle"))
    result.segmentation, result.regions, result.entropy, result.table
"""
from __future__ import annotations

import slicer

from sgrs.util.errors import SGRSError

from . import result_nodes
from .parameters import SegmentParameters, SegmentResult
from .scene_nodes import node_ids, remove_added_since
from .segmentations import module_segmentations_logic
from .volume_io import array_of, geometry_of


class SGRSSegmentLogic:
    """Scene and logics are passed in, so the same code runs in Slicer, in tests and in the Studio."""

    def __init__(self, scene=None, segmentations_logic=None):
        self.scene = scene or slicer.mrmlScene
        self.segmentations_logic = segmentations_logic or module_segmentations_logic(self.scene)

    def process(self, params: SegmentParameters, progress=None) -> SegmentResult:
        """Segment ``params.volume`` in this process and add the result nodes to the scene.

        Raises ``SGRSError`` with a one-line reason for bad input (same text as ``is_valid``).
        """
        from sgrs.inference.segment import SegmentOptions, segment_array  # torch: only for this in-process run
        from sgrs.models.bundle import load_bundle
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
        """All the result nodes, or (when any step fails) none of them."""
        before = node_ids(self.scene)
        try:
            return self._add_result_nodes(params, seg, classes)
        except BaseException:
            remove_added_since(self.scene, before)
            raise

    def _add_result_nodes(self, params: SegmentParameters, seg, classes) -> SegmentResult:
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
