"""Region visibility on a real region-map node: hiding Δ makes only Δ transparent, showing restores it."""
import numpy as np
import slicer
from SGRSSegmentLib import result_nodes
from SGRSSegmentLib.region_display import region_visibility, set_region_visible


def test_hide_and_show_one_region():
    scene = slicer.vtkMRMLScene()
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    slicer.util.updateVolumeFromArray(volume, np.zeros((4, 5, 6), np.float32))
    regions = np.zeros((6, 5, 4), np.uint8)
    regions[1:3, 1:3, 1:3] = 3
    node, _ = result_nodes.add_region_map(scene, volume, regions, "scan SGRS regions")
    assert region_visibility(node) == {"delta": True, "theta": True, "omega": False}
    set_region_visible(node, "delta", False)
    assert region_visibility(node) == {"delta": False, "theta": True, "omega": False}
    rgba = [0.0] * 4
    node.GetDisplayNode().GetColorNode().GetColor(3, rgba)
    assert np.allclose(rgba[:3], result_nodes.REGION_COLORS[3][1], atol=1 / 255)  # colour kept, alpha changed
    set_region_visible(node, "delta", True)
    set_region_visible(node, "omega", True)
    assert region_visibility(node) == {"delta": True, "theta": True, "omega": True}
    scene.Clear(1)
