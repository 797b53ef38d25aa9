"""What the views show: the current case in every slice view and the slice planes in 3D, never
volume rendering (about 20 s a frame on a CPU). The SGRS outputs on top of it are placed by
``SGRSSegmentLib.display``, the code the desktop module uses."""
from __future__ import annotations

from pathlib import Path

from trame_slicer.core import SlicerApp


def load_volume(app: SlicerApp, path: Path, name: str | None = None):
    """A scalar volume node read by Slicer's own archetype reader (the file was already validated)."""
    name = name or Path(path).name.split(".")[0]
    node = app.volumes_logic.AddArchetypeVolume(str(path), name, 0)
    if node is None:
        raise RuntimeError(f"{Path(path).name}: Slicer could not load the volume")
    return node


# Window / level presets (Hounsfield units for CT); "auto" is Slicer's automatic window.
WINDOW_LEVEL = {"auto": None, "CT soft tissue": (400.0, 40.0), "CT bone": (1800.0, 400.0),
                "CT lung": (1500.0, -600.0), "CT brain": (80.0, 40.0)}
# Where "Quad View" puts each view (the app's layout): the overlay labels them in the same places.
QUAD = {"Coronal": "left:0;top:0", "Sagittal": "left:0;top:50%", "3D": "left:50%;top:0", "Axial": "left:50%;top:50%"}
_LETTERS = ("L", "R"), ("P", "A"), ("I", "S")   # RAS axis: (negative, positive)


def _letter(direction) -> str:
    axis = max(range(3), key=lambda i: abs(direction[i]))
    return _LETTERS[axis][1 if direction[axis] > 0 else 0]


def orientation_labels(scene) -> list[dict]:
    """Each slice view's name and the patient direction at its left, right, top and bottom edges,
    read from the slice node's SliceToRAS (so they stay right if the orientation changes)."""
    labels = []
    for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
        node = scene.GetNthNodeByClass(i, "vtkMRMLSliceNode")
        m = node.GetSliceToRAS()
        x, y = [m.GetElement(r, 0) for r in range(3)], [m.GetElement(r, 1) for r in range(3)]
        title = node.GetOrientationString()
        if title in QUAD:
            labels.append({"title": title, "place": QUAD[title], "right": _letter(x),
                           "left": _letter([-v for v in x]), "top": _letter(y), "bottom": _letter([-v for v in y])})
    return labels + [{"title": "3D", "place": QUAD["3D"], "right": "", "left": "", "top": "", "bottom": ""}]


def set_window_level(volume, preset: str) -> None:
    display = volume.GetDisplayNode() if volume is not None else None
    if display is None or not volume.IsA("vtkMRMLScalarVolumeNode"):
        return
    window_level = WINDOW_LEVEL.get(preset)
    if window_level is None:
        display.SetAutoWindowLevel(1)
    else:
        display.SetAutoWindowLevel(0)
        display.SetWindowLevel(*window_level)


def show_case(app: SlicerApp, volume) -> None:
    """Put ``volume`` in every slice view's background, clear the overlays and fit the views."""
    from SGRSSegmentLib.display import composite_nodes

    for comp in composite_nodes(app.scene):
        comp.SetBackgroundVolumeID(volume.GetID() if volume else None)
        comp.SetForegroundVolumeID(None)
        comp.SetLabelVolumeID(None)
    for view in app.view_manager.get_slice_views():
        view.set_visible_in_3d(True)
    app.display_manager.reset_views()
    for view in app.view_manager.get_threed_views():
        view.reset_focal_point()   # the 3D camera centres on the new case, not on the last one
        view.reset_camera()


def export_labelmap(app: SlicerApp, segmentation, volume):
    """A segmentation as a new label map node on ``volume``'s grid (segment i → value i + 1); the
    caller removes it. InputError when Slicer cannot export it."""
    import vtk

    from sgrs.util.errors import InputError
    ids = vtk.vtkStringArray()
    seg = segmentation.GetSegmentation()
    for i in range(seg.GetNumberOfSegments()):
        ids.InsertNextValue(seg.GetNthSegmentID(i))
    labelmap = app.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    if not app.segmentations_logic.ExportSegmentsToLabelmapNode(segmentation, ids, labelmap, volume):
        app.scene.RemoveNode(labelmap)
        raise InputError(f"'{segmentation.GetName()}' could not be exported as a label map")
    return labelmap


def render(app: SlicerApp) -> None:
    for view in app.view_manager.get_views():
        view.schedule_render()
