"""The buttons beside each slice view. trame-slicer's own "show in 3D" toggle is the mdi-video-3d
glyph, which reads as "30" at that size and never shows whether the slice is in 3D: here it is the
word "3D", lit while the slice is shown in the 3D view (read from the slice node, so it follows every
change, the Studio's own included)."""
from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3
from trame_slicer.app.logic import connect_slice_view_slider_to_state
from trame_slicer.app.ui import Slider, create_vertical_view_gutter_ui
from vtkmodules.vtkCommonCore import vtkCommand


def slice_view_gutter(server, view_id: str, view) -> None:
    """``register_rca_factories``' slice_view_ui_f: reset-camera button, 3D toggle, slice slider."""
    key = f"{view_id}_in_3d"
    server.state[key] = bool(view.is_visible_in_3d())

    def follow(*_):
        server.state[key] = bool(view.is_visible_in_3d())

    view.get_view_node().AddObserver(vtkCommand.ModifiedEvent, follow)

    def buttons(*_):
        with v3.VBtn("3D", click=view.toggle_visible_in_3d, size="small", density="compact", min_width=0,
                     variant=(f"{key} ? 'tonal' : 'text'",), color=(f"{key} ? 'white' : 'grey'",),
                     classes="slice-in-3d mt-1 px-1", data_view=view_id, aria_pressed=(f"String({key})",),
                     style="font: bold 11px sans-serif; letter-spacing: 0; text-transform: none",
                     __properties=[("data_view", "data-view"), ("aria_pressed", "aria-pressed")]):
            v3.VTooltip("Show this slice in the 3D view (on / off)", activator="parent", location="right")

    create_vertical_view_gutter_ui(server, view_id, view, buttons)
    with html.Div(classes="slice-slider-gutter",
                  style="position: absolute; bottom: 0; left: 0; background-color: transparent; width: 100%"):
        Slider(classes="slice-slider", typed_state=connect_slice_view_slider_to_state(server, view),
               theme="dark", dense=True)
