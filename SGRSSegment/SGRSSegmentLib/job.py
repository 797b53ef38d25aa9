"""SGRSSegment in a background process: the GUI stays responsive and Cancel stops everything.

    job = SegmentJob(logic, params).start()
    while job.poll():          # called from a timer in the GUI
        job.progress           # (done, total) windows of both views (sgrs.inference.windows)
        job.step               # the last WindowProgress (its text names the view), or None
    result = job.result()      # nodes added to the scene, or SGRSError with the engine's reason

The work folder is the only channel (``sgrs.util.background``): the engine appends JSON lines to
``progress.jsonl`` and its output to ``segment.log``. ``result`` reads the whole progress file after
the process has exited, so the final ``finished`` event cannot be lost (issue 8, item 12).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from sgrs.util.errors import SGRSError

PROGRESS = "progress.jsonl"


def read_progress(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Complete JSON lines from ``offset`` on, and the offset after the last complete line."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
    events = []
    for line in data[:end].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            events.append(record)
    return events, offset + end


class SegmentJob:
    def __init__(self, logic, params, python=None, work=None):
        ok, reason = params.is_valid()
        if not ok:
            raise SGRSError(reason)
        self.logic, self.params, self.python = logic, params, python
        self.work = Path(work) if work else None  # a temporary folder, made by start()
        self.progress = (0, 0)
        self.step = None
        self.warnings = []   # the engine's warnings as they come (e.g. an out-of-memory fallback)
        self.summary: dict | None = None
        self.process = None
        self._offset = 0

    def arguments(self) -> list:
        """The engine's command line; the parameters are checked again here, where they become one, so
        nothing the panel could not show (an unknown device) reaches the engine."""
        p = self.params
        ok, reason = p.is_valid()
        if not ok:
            raise SGRSError(reason)
        args = ["segment", self.work / "input.nrrd", "--model", p.model, "--out", self.work / "out",
                "--progress-file", self.work / PROGRESS, "--overlap", p.overlap, "--device", p.device]
        if not p.regions:
            args.append("--no-regions")
        if p.delta_rule:
            args += ["--delta-rule", p.delta_rule]
        if p.tau is not None:
            args += ["--tau", p.tau]
        if p.roi is not None:
            from .roi import roi_bounds_lps  # LPS mm, the engine's convention
            args += ["--roi", *roi_bounds_lps(p.roi)]
        return args

    def start(self) -> SegmentJob:
        from sgrs.data.image_io import write_image
        from sgrs.util.background import BackgroundProcess

        from .volume_io import array_of, geometry_of
        try:  # an unplaced ROI, an unreadable volume or a launch failure leaves no folder (finding 6)
            self.work = self.work or Path(tempfile.mkdtemp(prefix="sgrs-segment-"))
            args = self.arguments()
            write_image(array_of(self.params.volume), geometry_of(self.params.volume), self.work / "input.nrrd")
            self.process = BackgroundProcess(args, self.work, self.python, name="segment").start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def poll(self) -> bool:
        """Read new progress; True while the engine runs."""
        events, self._offset = read_progress(self.work / PROGRESS, self._offset)
        for event in events:
            if event.get("event") == "progress":
                from sgrs.inference.windows import WindowProgress
                self.step = WindowProgress.from_json(event)
                self.progress = (event["done"], event["total"])
            elif event.get("event") == "finished":
                self.summary = event["summary"]
            elif event.get("event") == "warning":
                self.warnings.append(event["message"])
        return self.process.running

    def cancel(self) -> None:
        if self.process is not None:
            self.process.cancel(grace=0)  # nothing to save: no wait, on Windows neither
        self.cleanup()

    def result(self):
        """Import the finished outputs as nodes (same nodes as the in-process ``process``)."""
        from sgrs.data.image_io import read_image
        from sgrs.inference.outputs import OUTPUT_FILES, Segmentation  # torch-free, as the GUI needs
        from sgrs.models.meta import read_meta
        self.process.wait()
        self.poll()  # after exit: the file is complete
        try:
            if self.process.returncode != 0 or self.summary is None:
                raise SGRSError(self.process.error_message())
            out = self.work / "out"
            label, geometry = read_image(out / OUTPUT_FILES["label"])
            regions = read_image(out / OUTPUT_FILES["regions"])[0] if self.params.regions else None
            entropy = read_image(out / OUTPUT_FILES["entropy"])[0]
            classes = read_meta(self.params.model)["classes"]
            seg = Segmentation(label.astype("uint8"), None if regions is None else regions.astype("uint8"),
                               entropy.astype("uint8"), geometry, self.summary)
            return self.logic.add_result_nodes(self.params, seg, classes)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
