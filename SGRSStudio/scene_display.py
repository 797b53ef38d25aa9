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


def render(app: SlicerApp) -> None:
    for view in app.view_manager.get_views():
        view.schedule_render()
