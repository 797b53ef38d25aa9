"""The Studio application: one real MRML scene (trame-slicer's SlicerApp), four views, seven panels.

    studio = Studio(data_dir, models_dir, jobs_dir)      # scene, views, panels; sample + demo model loaded
    studio.server.start(port=8080)                       # or exec_mode="task" inside a test's event loop

Every panel binds its controls to a session object of the Libs and is polled by one timer
(``tick``), the way the desktop widgets poll from a QTimer.
"""
from __future__ import annotations

import asyncio
import logging
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

from . import ROOT, scene_display
from .annotate_panel import AnnotatePanel
from .data_panel import DataPanel
from .model_panel import ModelPanel
from .pacs_panel import PacsSection
from .regions_panel import RegionsPanel
from .save_panel import SavePanel
from .segment_panel import SegmentPanel
from .train_panel import TrainPanel

SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"
TICK_S = 0.25
log = logging.getLogger("sgrs.studio")


class Studio:
    def __init__(self, data_dir, models_dir=None, jobs_dir=None, server=None, python: str | None = None,
                 max_upload_mb: int = 1024, sample: Path | None = SAMPLE):
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.models_dir = Path(models_dir) if models_dir else None   # None: the registry's default folder
        self.jobs_dir = Path(jobs_dir) if jobs_dir else self.data_dir / "jobs"
        self.python = python
        self.max_upload_bytes = max_upload_mb << 20
        self.server = server or get_server(client_type="vue3")
        self.server.enable_module(trame_slicer_module)
        self.state, self.ctrl = self.server.state, self.server.controller

        self.slicer = SlicerApp()
        self.scene = self.slicer.scene
        register_rca_factories(self.slicer.view_manager, self.server)
        self.layout_manager = LayoutManager(self.scene, self.slicer.view_manager, self.server)
        self.layout_manager.register_layout_dict(LayoutManager.default_grid_configuration())

        self.state.update({"trame__title": "SGRS Studio", "message": "", "message_type": "info",
                           "panel": "data", "case_id": None})
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
        self.ctrl.on_server_ready.add(self._start_ticking)
        self._ticker = None

        self.model.refresh(select=str(DEMO_MODEL))
        if sample is not None and Path(sample).exists():
            self.data.open_file(Path(sample), "sample")
        self.data.refresh()

    # -- shared helpers the panels use --------------------------------------------------------
    def notify(self, text: str, kind: str = "info") -> None:
        """One visible line at the top of the panels: info | success | error."""
        if kind == "error":
            log.warning("%s", text)
        self.state.message, self.state.message_type = text, kind

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

    def set_case(self, volume) -> None:
        self.state.case_id = volume.GetID() if volume else None
        scene_display.show_case(self.slicer, volume)
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

    # -- layout -------------------------------------------------------------------------------
    def _build_ui(self):
        with VAppLayout(self.server, theme="dark") as self.ui:
            with v3.VAppBar(density="compact"):
                v3.VAppBarTitle("SGRS Studio")
                html.Div("{{ case_name }}", classes="text-caption mr-4", id="case-name")
            with v3.VNavigationDrawer(permanent=True, width=420, location="left"):
                v3.VAlert(v_show="message", text=("message",), type=("message_type",), density="compact",
                          closable=True, classes="ma-2", id="studio-message",
                          click_close="message = ''")
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
                with FlexContainer(row=True, fill_height=True, id="views"):
                    self.layout_manager.initialize_layout_grid(self.ui)
        self.state.case_name = ""
