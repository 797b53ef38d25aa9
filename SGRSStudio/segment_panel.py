"""Segment: device, overlap, region maps, τ and Δ rule; Segment / Cancel with a progress bar.

All decisions (validation, job folder, what a progress event means, which nodes come out) are the
``SegmentSession``'s, the same object the SGRSSegment desktop widget drives.
"""
from __future__ import annotations

import time

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from sgrs.util.errors import InputError

from .panel import Panel

ACTIVE = ("running",)


class SegmentPanel(Panel):
    key, title = "segment", "Segment"

    def __init__(self, studio):
        super().__init__(studio)
        from SGRSSegmentLib import SGRSSegmentLogic

        self.logic = SGRSSegmentLogic(self.scene, studio.slicer.segmentations_logic)
        self.session = None
        self.started_at = None
        self.last_engine_seconds = None
        self.state.update({"seg_device": "auto", "seg_overlap": 0.5, "seg_regions": True, "seg_tau": "",
                           "seg_delta_rule": "model", "seg_state": "idle", "seg_progress": 0,
                           "seg_status": "", "seg_running": False})

    def build(self):
        html.Div("Model: {{ (models.find(m => m.value === model_path) || {title: 'none: pick one in Model'}).title }}",
                 classes="text-body-2 mb-2", id="segment-model")
        v3.VSelect(v_model=("seg_device",), items=("['auto', 'cpu', 'cuda', 'mps']",), label="Device",
                   density="compact", id="seg-device")
        v3.VSlider(v_model=("seg_overlap",), min=0, max=0.9, step=0.05, label="Overlap", thumb_label=True,
                   density="compact", id="seg-overlap")
        v3.VSwitch(v_model=("seg_regions",), label="Region maps (Δ/Ω/Θ)", density="compact", color="primary",
                   id="seg-regions")
        with v3.VRow(dense=True):
            with v3.VCol(cols=6):
                v3.VTextField(v_model=("seg_tau",), label="τ (blank: model's)", density="compact", id="seg-tau")
            with v3.VCol(cols=6):
                v3.VSelect(v_model=("seg_delta_rule",), items=("['model', 'union', 'intersection']",),
                           label="Δ rule", density="compact", id="seg-delta-rule")
        with v3.VRow(dense=True, classes="my-1"):
            with v3.VCol(cols=6):
                v3.VBtn("Segment", color="primary", block=True, click=self.segment_clicked, id="segment-run",
                        disabled=("seg_running || !case_id",))
            with v3.VCol(cols=6):
                v3.VBtn("Cancel", block=True, click=self.cancel, id="segment-cancel", disabled=("!seg_running",))
        v3.VProgressLinear(model_value=("seg_progress",), height=8, color="primary", id="segment-progress")
        html.Div("{{ seg_status }}", classes="text-caption mt-1", id="segment-status")

    # -- actions ------------------------------------------------------------------------------
    def parameters(self):
        from SGRSSegmentLib import SegmentParameters

        tau = None
        if str(self.state.seg_tau or "").strip():
            try:
                tau = float(self.state.seg_tau)
            except ValueError:
                raise InputError(f"τ must be a number, not '{self.state.seg_tau}'") from None
        rule = None if self.state.seg_delta_rule == "model" else self.state.seg_delta_rule
        return SegmentParameters(volume=self.studio.case, model=self.state.model_path or "",
                                 device=self.state.seg_device, overlap=float(self.state.seg_overlap),
                                 regions=bool(self.state.seg_regions), tau=tau, delta_rule=rule)

    def segment_clicked(self):
        self.studio.guard(self.start)

    def start(self):
        from SGRSSegmentLib.session import SegmentSession

        params = self.parameters()
        if self.session is not None:
            self.session.close()
        self.session = SegmentSession(self.scene, self.logic, self.studio.python)
        self.started_at = time.monotonic()
        self.session.start(params)
        self._show_session()

    def cancel(self):
        if self.session is not None:
            self.session.cancel()
            self._show_session()

    def poll(self):
        if self.session is None or self.session.state not in ACTIVE:
            return
        self.session.poll()
        self._show_session()
        if self.session.state == "done":
            result = self.session.result
            self.last_engine_seconds = (result.summary or {}).get("seconds")
            self.studio.regions.show_result(result)
            self.studio.data.refresh()
            self.studio.notify(self.session.message or "Segmentation done", "success")
        elif self.session.state == "failed":
            self.studio.notify(self.session.message, "error")

    def _show_session(self):
        s = self.session
        done, total = s.progress if s.progress else (0, 0)
        self.state.seg_state = s.state
        self.state.seg_running = s.state in ACTIVE
        self.state.seg_progress = 100.0 * done / total if total else (100.0 if s.state == "done" else 0.0)
        self.state.seg_status = s.message or s.state
