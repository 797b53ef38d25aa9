"""The Segment / Cancel state machine every GUI drives (the desktop widget and the browser Studio).

    session = SegmentSession(scene, logic=None, python=None)
    session.start(params)      # SegmentParameters; SGRSError with one clear line if invalid or busy
    session.poll()             # from a timer: -> state; imports the result nodes exactly once
    session.state              # "idle" | "running" | "done" | "failed" | "cancelled"
    session.progress           # (done, total) windows of both views, as sgrs.inference.windows counts them
    session.message            # one line for a status bar
    session.result             # SegmentResult once "done"
    session.review             # ReviewNavigator over the result's review list
    session.next_region()      # Next / Previous uncertain region: centres the slice views, status "3 of 12: …"
    session.previous_region()
    session.cancel()           # stops the engine's whole process tree
    session.close()            # cancel; for widget cleanup and scene close; never raises
    session.forget()           # close, and drop the result (its nodes left with the scene)
    session.has_result         # a result whose nodes are still in a scene
    session.action(params)     # Action(kind, label, enabled, reason, status): what the one main button
                               # does now: "cancel" | "install" (packages missing) | "segment"
    session.preview(params)    # Preview(warnings, estimate): how far the scan is from the model's world
                               # (the engine's words, as the run's summary will say them) and how long
                               # the run will take, before it starts
    session.severity           # "info" | "success" | "warning" | "error": the status line's colour
                               # (STATUS_STYLES), the engine's for a finished run's flag and warnings
    session.flag_tip           # the status line's tooltip: what a finished run's flag means and how often it
                               # has been right (sgrs.inference.flag_words.flag_tooltip); '' otherwise
    session.eta_s              # seconds left while running (from the windows done so far)

``python`` is the interpreter or launcher that runs the engine (Slicer: ``shutil.which("PythonSlicer")``;
None: this interpreter). Creating a session is cheap and never imports torch.
"""
from __future__ import annotations

import time
from typing import NamedTuple

from sgrs.util.errors import SGRSError

from .i18n import translate
from .review_navigation import ReviewNavigator

IDLE, RUNNING, DONE, FAILED, CANCELLED = "idle", "running", "done", "failed", "cancelled"


# how the status line looks at each severity (sgrs.inference.flag_words): never a success colour for
# a flag other than ok or a run with warnings; a widget applies it as a style sheet
STATUS_STYLES = {"error": "color: #c62828; font-weight: bold;", "warning": "color: #a15c00; font-weight: bold;",
                 "success": "color: #2e7d32;", "info": ""}


def done_message(summary: dict) -> str:
    """'Done in 3.2 s. Case flag: … Ω … %, Θ … %, Δ … %. Warning: … <scan steps>' (the flag's and the
    warnings' words are the engine's, sgrs.inference.flag_words)."""
    from sgrs.inference.flag_words import flag_text

    shares = ", ".join(f"{r['name']} {100 * r['share_of_foreground']:.2f} %"
                       for r in summary.get("regions", {}).values())
    text = f"Done in {summary.get('seconds', 0.0):.1f} s."
    if summary.get("case_flag"):
        text += f" {flag_text(summary)}."
    if shares:
        text += f" {shares}."
    for warning in summary.get("warnings") or []:   # the scan unlike the training data, an out-of-memory fallback
        text += f" Warning: {warning}."
    steps = "; ".join((summary.get("scan") or {}).get("steps") or [])
    return f"{text} {steps}." if steps else text


def done_severity(summary: dict | None) -> str:
    """"success", "warning" or "error" for a finished run: the engine's (flag and warnings)."""
    from sgrs.inference.flag_words import result_severity
    return result_severity(summary)


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "no details"


class Action(NamedTuple):
    kind: str       # cancel | install | segment
    label: str      # button text
    enabled: bool
    reason: str     # why it is disabled (tooltip)
    status: str     # status line


class Preview(NamedTuple):
    warnings: list   # one line each: another modality, intensity range, spacing, size
    estimate: str    # sgrs.models.card.estimate_text: the windows progress will count × seconds measured here


def timings_folder(registry=None):
    """Where measured seconds per window are kept: the model registry's folder."""
    from sgrs.models.registry import registry_folder
    return registry_folder(registry)


class SegmentSession:
    def __init__(self, scene, logic=None, python=None, registry=None, on_change=None):
        self.scene, self._logic, self.python, self.registry = scene, logic, python, registry
        self.on_change = on_change
        self.state, self.progress, self.message = IDLE, (0, 0), translate("SGRSSegment", "Ready.")
        self.result = None
        self.job = None
        self.params = None
        self.expected = ""   # the run-time estimate of the last preview
        self._started = None
        self.review = ReviewNavigator(scene)

    @property
    def logic(self):
        if self._logic is None:
            from .logic import SGRSSegmentLogic
            self._logic = SGRSSegmentLogic(self.scene)
        return self._logic

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def flag_tip(self) -> str:
        from sgrs.inference.flag_words import flag_tooltip
        done = self.state == DONE and self.result is not None
        return flag_tooltip((self.result.summary or {}).get("case_flag")) if done else ""

    @property
    def severity(self) -> str:
        """How the status line is shown (``STATUS_STYLES``): the result's flag and warnings once done,
        "error" once failed, "warning" while a run reports warnings, else "info"."""
        if self.state == DONE and self.result is not None:
            return done_severity(self.result.summary)
        if self.state == FAILED:
            return "error"
        if self.running and self.job is not None and self.job.warnings:
            return "warning"
        return "info"

    def next_region(self) -> None:
        """Next uncertain region of the review list: every slice view centres on it; the status line
        says "3 of 12: <reason>"; ``on_change`` (the widget's refresh) is called."""
        self._step_review(1)

    def previous_region(self) -> None:
        self._step_review(-1)

    def _step_review(self, step: int) -> None:
        if not self.running and self.review.step(step) is not None:
            self.message = self.review.label
        if self.on_change:
            self.on_change()

    def action(self, params) -> Action:
        from .dependencies import missing_packages
        if self.running:
            return Action("cancel", translate("SGRSSegment", "Cancel"), True, "", self.message)
        missing = missing_packages()
        if missing:
            return Action("install", translate("SGRSSegment", "Install dependencies…"), True, "",
                          translate("SGRSSegment", "SGRS needs: {packages}").format(packages=", ".join(missing)))
        ok, reason = params.is_valid() if params is not None else (False, translate("SGRSSegment", "No settings yet."))
        return Action("segment", translate("SGRSSegment", "Segment"), ok, reason, reason or self.message)

    def start(self, params) -> None:
        if self.running:
            raise SGRSError("A segmentation is already running: cancel it first.")
        ok, reason = params.is_valid()
        if not ok:
            raise SGRSError(reason)
        from .job import SegmentJob
        job = SegmentJob(self.logic, params, python=self.python)
        try:
            job.start()
        except OSError as exc:  # the launcher cannot be run, or the temporary folder cannot be made
            raise SGRSError(f"Cannot start the engine: {exc.strerror or exc} ({exc.filename or self.python})") from None
        self.job, self.result, self.progress, self.params = job, None, (0, 0), params
        self._started = time.monotonic()
        self.state = RUNNING
        self.message = translate("SGRSSegment", "Segmenting '{name}'…").format(name=params.volume.GetName())
        if self.expected:
            self.message += " " + translate("SGRSSegment", "Expected: {estimate}.").format(estimate=self.expected)

    def preview(self, params) -> Preview:
        """The model card's check of this scan and the expected run time (windows × seconds per window
        measured on this machine)."""
        import slicer

        from sgrs.models.meta import read_meta
        from sgrs.models.card import approx_windows, estimate_text, seconds_per_window, world_warnings

        from .volume_io import geometry_of
        meta = read_meta(params.model)
        geometry = geometry_of(params.volume)
        windows = approx_windows(meta, geometry, params.overlap, params.regions)  # what progress will count
        per = seconds_per_window(timings_folder(self.registry), meta, params.device)
        voxels = slicer.util.arrayFromVolume(params.volume)   # a view: a large CT is not copied
        step = max(1, round((voxels.size / 2e6) ** (1 / 3)))  # ~2 M voxels are enough for percentiles
        return Preview(world_warnings(meta, voxels[::step, ::step, ::step], geometry), estimate_text(windows, per))

    @staticmethod
    def model_card(path: str) -> str:
        """The model card as rich text for where the model is chosen (plain JSON: no torch at set-up)."""
        from .models import model_card_text
        return model_card_text(path)

    def preview_question(self, params) -> str | None:
        """For a confirmation dialog: why this scan is far from the model's world and how long the run
        takes; None when the scan looks like the model's data. The estimate goes into the next status."""
        preview = self.preview(params)
        self.expected = preview.estimate
        if not preview.warnings:
            return None
        return ("This scan is outside the model's world (the engine will say so in its result too):\n• "
                + "\n• ".join(preview.warnings)
                + f"\n\nExpected run time: {preview.estimate}\nSegment anyway?")

    @property
    def eta_s(self) -> float | None:
        done, total = self.progress
        if not self.running or not done or not total or self._started is None:
            return None
        return (time.monotonic() - self._started) / done * (total - done)

    def poll(self) -> str:
        if not self.running:
            return self.state
        if self.job.poll():
            self.progress = self.job.progress
            done, total = self.progress
            if total and self.job.step is not None:
                from sgrs.util.progress import format_seconds
                eta = self.eta_s
                left = f" about {format_seconds(eta)} left" if eta is not None else ""
                self.message = translate("SGRSSegment", "Segmenting: {progress}…").format(
                    progress=self.job.step.text()) + left
                if self.job.warnings:
                    self.message += f" Warning: {self.job.warnings[-1]}"
            return self.state
        try:
            self.result = self.job.result()
        except SGRSError as exc:
            self.state, self.message = FAILED, f"Failed: {exc}"
        except Exception as exc:  # noqa: BLE001  importing the result: one line, and the job is over
            self.state, self.message = FAILED, f"Failed to import the result: {type(exc).__name__}: {one_line(exc)}"
        else:
            self.progress = self.job.progress
            self.state, self.message = DONE, done_message(self.result.summary)
            self._record_timing(self.result.summary)
            self.review = ReviewNavigator(self.scene, self.result.summary)
        self.job = None
        return self.state

    def _record_timing(self, summary: dict) -> None:
        from sgrs.models.meta import read_meta
        from sgrs.models.card import record_timing
        try:
            meta = read_meta(self.params.model)
        except SGRSError:
            return
        for device in {self.params.device, str(summary.get("device", ""))} - {""}:
            record_timing(timings_folder(self.registry), meta, device, summary.get("windows") or 0,
                          float(summary.get("seconds") or 0))

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self.job = None
            self.state, self.message = CANCELLED, translate("SGRSSegment", "Cancelled.")

    @property
    def has_result(self) -> bool:
        """The user may delete the result nodes by hand: a node removed from its scene has none."""
        return self.result is not None and self.result.segmentation.GetScene() is not None

    def close(self) -> None:
        try:
            self.cancel()
        except Exception:  # noqa: BLE001  cleanup must never raise
            self.job, self.state = None, CANCELLED

    def forget(self) -> None:
        """Scene close: stop the job and drop the result, whose nodes are gone (review finding 1)."""
        self.close()
        self.result, self.review = None, ReviewNavigator(self.scene)  # its regions were the result's
        if self.state == DONE:
            self.state, self.message = IDLE, translate("SGRSSegment", "Ready.")
