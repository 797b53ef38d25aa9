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


def test_desktop_region_switches_apply_to_a_result_and_tolerate_none():
    from types import SimpleNamespace

    from SGRSSegmentLib.display import show_regions
    scene = slicer.vtkMRMLScene()
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    slicer.util.updateVolumeFromArray(volume, np.zeros((4, 5, 6), np.float32))
    node, _ = result_nodes.add_region_map(scene, volume, np.full((6, 5, 4), 2, np.uint8), "scan SGRS regions")
    show_regions(None, False, False, True)  # no result yet: nothing to do, no error
    show_regions(SimpleNamespace(regions=None), False, False, True)  # --no-regions result
    show_regions(SimpleNamespace(regions=node), False, True, True)
    assert region_visibility(node) == {"delta": False, "theta": True, "omega": True}
    scene.Clear(1)
