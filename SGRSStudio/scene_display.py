"""What the views show: the current case, the SGRS outputs on top of it. MRML-level, no UI.

Slice layers are set on the slice composite nodes (as ``slicer.util.setSliceViewerLayers`` does in
the desktop app) and the 3D view shows the slice planes plus segmentation surfaces, never volume
rendering (about 20 s a frame on a CPU).
"""
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


def composite_nodes(scene):
    return [scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode")
            for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode"))]


def show_case(app: SlicerApp, volume) -> None:
    """Put ``volume`` in every slice view's background, clear the overlays and fit the views."""
    for comp in composite_nodes(app.scene):
        comp.SetBackgroundVolumeID(volume.GetID() if volume else None)
        comp.SetForegroundVolumeID(None)
        comp.SetLabelVolumeID(None)
    for view in app.view_manager.get_slice_views():
        view.set_visible_in_3d(True)
    app.display_manager.reset_views()


def show_overlays(app: SlicerApp, regions=None, entropy=None, label_opacity: float = 1.0,
                  entropy_opacity: float = 0.0) -> None:
    """Region map in the label layer, entropy heat map in the foreground layer."""
    for comp in composite_nodes(app.scene):
        comp.SetLabelVolumeID(regions.GetID() if regions else None)
        comp.SetLabelOpacity(label_opacity)
        comp.SetForegroundVolumeID(entropy.GetID() if entropy else None)
        comp.SetForegroundOpacity(entropy_opacity)
    render(app)


def render(app: SlicerApp) -> None:
    for view in app.view_manager.get_views():
        view.schedule_render()
