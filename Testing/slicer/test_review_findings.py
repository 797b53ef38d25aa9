"""The independent review of the Slicer extension (issue 14, review findings 1-8), each on a real MRML
scene (slicer-core) and the Libs the widgets call: what failed before each fix."""
from types import SimpleNamespace

import numpy as np
import slicer
from SGRSSegmentLib import result_nodes
from SGRSSegmentLib.parameters import SegmentResult
from SGRSSegmentLib.segmentations import module_segmentations_logic
from SGRSSegmentLib.session import SegmentSession

CLASSES = [{"value": 0, "name": "background", "color": [0, 0, 0]},
           {"value": 1, "name": "left atrium", "color": [216, 101, 79]}]
SUMMARY = {"regions": {k: {"name": k, "label_value": v, "foreground_ml": 0.1, "share_of_foreground": 0.2,
                           "volume_ml": 0.3} for k, v in (("omega", 1), ("theta", 2), ("delta", 3))}}


def scan(scene):
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    slicer.util.updateVolumeFromArray(volume, np.random.default_rng(0).random((6, 10, 12)).astype(np.float32))
    return volume


def result_in(scene, volume):
    """The nodes a finished run leaves (as SGRSSegmentLogic.add_result_nodes makes them), without torch."""
    label = np.zeros((12, 10, 6), np.uint8)
    label[3:8, 3:7, 1:5] = 1
    regions = np.ones_like(label)
    regions[3:5] = 3
    seg = result_nodes.add_segmentation(scene, module_segmentations_logic(scene), volume, label, CLASSES, "seg")
    return SegmentResult(seg, result_nodes.add_region_map(scene, volume, regions, "regions")[0],
                         result_nodes.add_entropy_map(scene, volume, label * 200, "uncertainty")[0],
                         result_nodes.add_statistics_table(scene, SUMMARY, "statistics"), SUMMARY)


def settings(**kw):
    values = dict(regionOpacity=0.25, showDelta=False, showTheta=True, showOmega=False)
    values.update(kw)
    return SimpleNamespace(**values)


def test_finding_1_a_closed_scenes_result_is_absent_not_a_traceback(scene):
    from SGRSSegmentLib.display import apply_region_settings, show_result
    view = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    session = SegmentSession(scene)
    session.result, session.state = result_in(scene, scan(scene)), "done"
    show_result(scene, session.result)
    assert session.has_result and apply_region_settings(scene, session.result, settings())
    scene.RemoveNode(session.result.regions)  # the user deletes the region map by hand
    scene.RemoveNode(session.result.segmentation)
    assert not session.has_result  # "Use the result as a label" is disabled
    assert apply_region_settings(scene, session.result, settings()) is False  # was: ValueError
    scene.Clear(0)  # Close Scene
    assert apply_region_settings(scene, session.result, settings()) is False
    session.forget()  # the widget's StartCloseEvent observer
    assert session.result is None and session.state == "idle" and session.message == "Ready."
    assert view.GetScene() is None
