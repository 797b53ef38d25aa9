"""Segment: device, overlap, region maps, τ and Δ rule; Segment / Cancel with a progress bar.

All decisions (validation, job folder, what a progress event means, which nodes come out) are the
``SegmentSession``'s, the same object the SGRSSegment desktop widget drives.
"""
from __future__ import annotations

import time

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from sgrs.inference.defaults import DEFAULT_OVERLAP
from sgrs.inference.flag_words import flag_tooltip
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
        self.volume = None   # the case the running (or last) segmentation is for
        self.state.update({"seg_device": "auto", "seg_overlap": DEFAULT_OVERLAP, "seg_regions": True, "seg_tau": "",
                           "seg_delta_rule": "model", "seg_state": "idle", "seg_progress": 0,
                           "seg_status": "", "seg_running": False, "seg_preview": "", "seg_warnings": [],
                           "seg_severity": "info"})
        self.state.change("model_path", "seg_overlap", "seg_device")(
            lambda **_: self.studio.guard(self.show_preview) if self.studio.case is not None else None)

    def build(self):
        html.Div("Model: {{ (models.find(m => m.value === model_path) || {title: 'none: pick one in Model'}).title }}",
                 classes="text-body-2 mb-2", id="segment-model")
        v3.VSelect(v_model=("seg_device",), items=("['auto', 'cpu', 'cuda', 'mps']",), label="Device",
                   density="compact", id="seg-device")
        with v3.VSlider(v_model=("seg_overlap",), min=0, max=0.9, step=0.05, label="Overlap", thumb_label=True,
                        density="compact", id="seg-overlap"):
            with v3.Template(v_slot_append=True):   # the value stays in sight, not only while dragging
                html.Span("{{ Number(seg_overlap).toFixed(2) }}", classes="text-body-2", id="seg-overlap-value")
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
        html.Div("{{ seg_status }}", id="segment-status",   # coloured by the engine's severity, never green
                 classes=("'text-caption mt-1' + (seg_severity === 'error' ? ' text-error font-weight-bold' : "
                          "seg_severity === 'warning' ? ' text-warning font-weight-bold' : '')",))
        html.Div("Expected run time: {{ seg_preview }}", v_show="seg_preview", classes="text-caption",
                 id="segment-estimate")
        with v3.VAlert(v_show="seg_warnings.length", type="warning", density="compact", variant="tonal",
                       classes="mt-2", id="segment-world-warning"):
            html.Div("This scan is outside the model's world; its result may be wrong (the engine's check):",
                     classes="text-body-2")
            html.Div("• {{ w }}", v_for="w in seg_warnings", key="w", classes="text-caption")

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
        self.session = SegmentSession(self.scene, self.logic, self.studio.python, registry=self.studio.models_dir)
        ok, reason = params.is_valid()
        if not ok:
            raise InputError(reason)
        self.show_preview(params)   # announced before the long run starts
        if self.state.seg_warnings:
            self.studio.notify(f"'{params.volume.GetName()}' is outside the model's world: "
                               + "; ".join(self.state.seg_warnings) + ". Segmenting anyway; check the result.",
                               "warning")
        self.volume = params.volume
        self.started_at = time.monotonic()
        self.session.start(params)
        self._show_session()

    def show_preview(self, params=None):
        """The model card's check and the run-time estimate for the current case and model."""
        from SGRSSegmentLib.session import SegmentSession

        params = params or self.parameters()
        if params.volume is None or not params.model:
            self.state.seg_preview, self.state.seg_warnings = "", []
            return
        preview = (self.session or SegmentSession(self.scene, self.logic, registry=self.studio.models_dir)) \
            .preview(params)
        self.state.seg_preview, self.state.seg_warnings = preview.estimate, preview.warnings

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
            # the banner's colour is the engine's: ok → success, review or a warning → warning, likely failed →
            # error; said first, so the verdict is heard even if showing the result fails
            self.studio.notify(f"{self.volume.GetName()}: {self.session.message or 'segmentation done'}",
                               self.session.severity, flag_tooltip((result.summary or {}).get("case_flag")))
            self.studio.cases.set_result(self.volume, result)   # kept per case, saved in the data folder
            if self.volume is self.studio.case:
                self.studio.regions.show_result(result)
            self.studio.data.refresh()
            self.studio.guard(self.show_preview)   # the estimate now uses the speed this run measured
        elif self.session.state == "failed":
            self.studio.notify(self.session.message, "error")

    def on_case_changed(self, volume):
        """Each case shows its own last status; a run for another case goes on in the background."""
        if self.session is not None and self.session.running:
            return
        self.state.seg_status = self.studio.cases.status.get(volume.GetID(), "") if volume is not None else ""
        result = self.studio.cases.result(volume) if volume is not None else None
        from SGRSSegmentLib.session import done_severity
        self.state.seg_severity = done_severity(result.summary) if result is not None else "info"
        self.state.seg_progress = 100.0 if self.studio.cases.result(volume) is not None else 0.0
        self.state.seg_state = "done" if self.studio.cases.result(volume) is not None else "idle"
        self.studio.guard(self.show_preview)

    def _show_session(self):
        s = self.session
        done, total = s.progress if s.progress else (0, 0)
        self.state.seg_state = s.state
        self.state.seg_running = s.state in ACTIVE
        self.state.seg_progress = 100.0 * done / total if total else (100.0 if s.state == "done" else 0.0)
        self.state.seg_status = s.message or s.state
        self.state.seg_severity = s.severity
        if s.running and self.volume is not None and self.volume is not self.studio.case:
            self.state.seg_status = f"{self.volume.GetName()}: {self.state.seg_status}"
        if self.volume is not None and s.state != "running":
            self.studio.cases.status[self.volume.GetID()] = self.state.seg_status
