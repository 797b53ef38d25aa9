"""The Studio application: one real MRML scene (trame-slicer's SlicerApp), four views, seven panels.

    studio = Studio(data_dir, models_dir, jobs_dir)      # scene, views, panels; sample + demo model loaded
    studio.server.start(port=8080)                       # or exec_mode="task" inside a test's event loop
    studio.access.url("127.0.0.1", 8080)                 # the address with the token the server asks for

Every panel binds its controls to a session object of the Libs and is polled by one timer
(``tick``), the way the desktop widgets poll from a QTimer.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from trame.app import get_server
from trame.ui.vuetify3 import VAppLayout
from trame.widgets import html
from trame.widgets import vuetify3 as v3
from trame_slicer import module as trame_slicer_module
from trame_slicer.app.ui.flex_container import FlexContainer
from trame_slicer.core import LayoutManager, SlicerApp
from trame_slicer.rca_view import register_rca_factories

from sgrs.models.registry import DEMO_MODEL
from sgrs.util.errors import SGRSError

from . import ROOT, messages, page, scene_display
from .access import Access
from .view_gutter import slice_view_gutter
from .annotate_panel import AnnotatePanel
from .cases import CaseStore
from .data_panel import DataPanel
from .model_panel import ModelPanel
from .pacs_panel import PacsSection
from .quiet_views import register_slice_views
from .regions_panel import RegionsPanel
from .save_panel import SavePanel
from .segment_panel import SegmentPanel
from .train_panel import TrainPanel

SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"
TICK_S = 0.25
log = logging.getLogger("sgrs.studio")


class Studio:
    def __init__(self, data_dir, models_dir=None, jobs_dir=None, server=None, python: str | None = None,
                 max_upload_mb: int = 1024, sample: Path | None = SAMPLE, access: Access | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.models_dir = Path(models_dir) if models_dir else None   # None: the registry's default folder
        self.jobs_dir = Path(jobs_dir) if jobs_dir else self.data_dir / "jobs"
        self.python = python
        self.max_upload_bytes = max_upload_mb << 20
        self.server = server or get_server(client_type="vue3")
        self.access = access or Access.random()   # never open by accident: no token only when asked
        self.server.controller.on_server_bind.add(self.access.install)
        self.server.enable_module(trame_slicer_module)
        # saved results and model bundles download from here (the browser may be on another machine)
        self.server.enable_module({"serve": {"data-files": str(self.data_dir)}})
        self.server.controller.on_server_bind.add(page.serve_index)
        self.state, self.ctrl = self.server.state, self.server.controller

        self.slicer = SlicerApp()
        self.scene = self.slicer.scene
        register_slice_views(self.slicer.view_manager, self.server, slice_view_gutter)   # before the others
        register_rca_factories(self.slicer.view_manager, self.server, slice_view_ui_f=slice_view_gutter)
        self.layout_manager = LayoutManager(self.scene, self.slicer.view_manager, self.server)
        self.layout_manager.register_layout_dict(LayoutManager.default_grid_configuration())

        self.state.update({"trame__title": "SGRS Studio", "message": "", "message_type": "info", "message_tip": "",
                           "message_open": False, "messages": [], "log_open": False,
                           "panel": "data", "case_id": None})
        self.cases = CaseStore(self.scene, self.slicer.segmentations_logic, self.data_dir / "workspace")
        self.data = DataPanel(self)
        self.model = ModelPanel(self)
        self.segment = SegmentPanel(self)
        self.regions = RegionsPanel(self)
        self.annotate = AnnotatePanel(self)
        self.train = TrainPanel(self)
        self.save = SavePanel(self)
        self.pacs = PacsSection(self)  # sections of the Data and Save panels
        self.panels = [self.data, self.model, self.segment, self.regions, self.annotate, self.train, self.save]
        self._build_ui()
        self.layout_manager.set_layout("Quad View")
        self.state.update({"view_labels": scene_display.orientation_labels(self.scene), "view_wl": "auto"})
        self.state.change("view_wl")(self._on_window_level)
        self.ctrl.on_server_ready.add(self._start_ticking)
        self._ticker = None

        self.model.refresh(select=str(DEMO_MODEL))
        restored = self.cases.restore(self.data.reopen)   # the scene as the last server left it
        if restored:
            self.set_case(restored[0])
            self.notify(f"Reopened {len(restored)} case(s) with their results and annotations from "
                        "the data folder.", "info")
        elif sample is not None and Path(sample).exists():
            self.data.open_file(Path(sample), "sample")
        self.data.refresh()

    # -- shared helpers the panels use --------------------------------------------------------
    def notify(self, text: str, kind: str = "info", tip: str = "") -> None:
        """A line at the top of the panels (info | success | error | warning), kept in the message log
        the user can reopen; a dismissed banner opens again for the next message. ``tip``: the banner's
        tooltip (a finished run's: what its case flag means), '' for none."""
        if kind == "error":
            log.warning("%s", text)
        text = messages.tidy(text, self.data_dir)
        self.state.message, self.state.message_type, self.state.message_open = text, kind, True
        self.state.message_tip = tip
        self.state.messages = messages.append(self.state.messages, text, kind, time.strftime("%H:%M:%S"))

    def guard(self, action, *args):
        """Run a panel action; an SGRSError or bad input becomes a visible message, never a traceback."""
        try:
            return action(*args)
        except SGRSError as exc:
            self.notify(str(exc), "error")
        except (OSError, ValueError, RuntimeError) as exc:
            log.exception("panel action failed")
            self.notify(f"{type(exc).__name__}: {exc}", "error")
        return None

    @property
    def case(self):
        """The volume node the panels work on (selected in the Data panel)."""
        return self.scene.GetNodeByID(self.state.case_id) if self.state.case_id else None

    @property
    def result(self):
        """The current case's segmentation result (each case keeps its own)."""
        return self.cases.result(self.case)

    def set_case(self, volume) -> None:
        self.state.case_id = volume.GetID() if volume else None
        scene_display.show_case(self.slicer, volume)
        scene_display.set_window_level(volume, self.state.view_wl or "auto")
        for panel in self.panels:
            panel.on_case_changed(volume)

    # -- polling ------------------------------------------------------------------------------
    def _start_ticking(self, **_):
        if self._ticker is None:
            self._ticker = asyncio.get_event_loop().create_task(self._tick_forever())

    async def _tick_forever(self):
        while True:
            await asyncio.sleep(TICK_S)
            with self.state:
                self.tick()

    def tick(self) -> None:
        for panel in self.panels:
            self.guard(panel.poll)

    def _on_window_level(self, view_wl="auto", **_):
        scene_display.set_window_level(self.case, view_wl)
        scene_display.render(self.slicer)

    def _build_view_labels(self):
        """Each view's name and the patient directions at its edges (R/L, A/P, S/I), over the views."""
        edge = "position:absolute;color:#ddd;font:12px sans-serif;text-shadow:0 0 3px #000;"
        with html.Div(v_for="v in view_labels", key="v.title", classes="view-label",
                      style=("`position:absolute;width:50%;height:50%;pointer-events:none;${v.place}`",)):
            html.Div("{{ v.title }}", style=edge + "left:34px;top:4px;font-weight:bold")   # beside the view's own button
            html.Div("{{ v.left }}", style=edge + "left:4px;top:50%")
            html.Div("{{ v.right }}", style=edge + "right:4px;top:50%")
            html.Div("{{ v.top }}", style=edge + "left:50%;top:4px")
            html.Div("{{ v.bottom }}", style=edge + "left:50%;bottom:4px")

    # -- layout -------------------------------------------------------------------------------
    def _build_ui(self):
        with VAppLayout(self.server, theme="dark") as self.ui:
            with v3.VAppBar(density="compact"):
                v3.VAppBarTitle("SGRS Studio")
                html.Div("{{ case_name }}", classes="text-caption mr-4", id="case-name")
                v3.VSelect(v_model=("view_wl",), items=("view_wl_presets", list(scene_display.WINDOW_LEVEL)),
                           label="Window / level", density="compact", hide_details=True, max_width=200,
                           classes="mr-2", id="view-window-level")
                messages.build_log_button()
            with v3.VNavigationDrawer(permanent=True, width=420, location="left"):
                messages.build()
                with v3.VTabs(v_model=("panel",), density="compact", grow=True):
                    for panel in self.panels:
                        v3.VTab(panel.title, value=panel.key, id=f"tab-{panel.key}", min_width=0,
                                classes="px-1 text-caption")
                with v3.VWindow(v_model=("panel",)):
                    for panel in self.panels:
                        with v3.VWindowItem(value=panel.key, classes="pa-2", id=f"panel-{panel.key}",
                                            transition=False, reverse_transition=False):
                            panel.build()
            with v3.VMain():
                with html.Div(style="position: relative; height: 100%"):
                    with FlexContainer(row=True, fill_height=True, id="views"):
                        self.layout_manager.initialize_layout_grid(self.ui)
                    self._build_view_labels()
        self.state.case_name = ""
