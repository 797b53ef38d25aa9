"""SGRSSegment in a background process: the GUI stays responsive and Cancel stops everything.

    job = SegmentJob(logic, params).start()
    while job.poll():          # called from a QTimer in the GUI
        job.progress           # (done, total) windows
    result = job.result()      # nodes added to the scene, or SGRSError with the child's reason
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from sgrs.data.image_io import read_image, write_image
from sgrs.inference.segment import OUTPUT_FILES, Segmentation
from sgrs.util.background import BackgroundProcess
from sgrs.util.errors import SGRSError

from .volume_io import array_of, geometry_of


class SegmentJob:
    def __init__(self, logic, params, python: str | None = None):
        ok, reason = params.is_valid()
        if not ok:
            raise SGRSError(reason)
        self.logic, self.params, self.python = logic, params, python
        self.work = Path(tempfile.mkdtemp(prefix="sgrs-segment-"))
        self.progress = (0, 0)
        self.summary: dict | None = None
        self.process: BackgroundProcess | None = None

    def start(self) -> "SegmentJob":
        image = self.work / "input.nrrd"
        write_image(array_of(self.params.volume), geometry_of(self.params.volume), image)
        args = ["segment", image, "--model", self.params.model, "--out", self.work / "out", "--json-progress",
                "--overlap", self.params.overlap, "--device", self.params.device]
        if not self.params.regions:
            args.append("--no-regions")
        if self.params.delta_rule:
            args += ["--delta-rule", self.params.delta_rule]
        if self.params.tau is not None:
            args += ["--tau", self.params.tau]
        self.process = BackgroundProcess(args, self.python).start()
        return self

    def poll(self) -> bool:
        """Read new progress; True while the child runs."""
        for event in self.process.events():
            if event.get("event") == "progress":
                self.progress = (event["done"], event["total"])
            elif event.get("event") == "finished":
                self.summary = event["summary"]
        return self.process.running

    def cancel(self) -> None:
        self.process.cancel(grace=5.0)
        self.cleanup()

    def result(self):
        """Import the finished outputs as nodes (same nodes as the in-process ``process``)."""
        self.process.wait()
        self.poll()
        if self.process.returncode != 0 or self.summary is None:
            message = self.process.error_message()
            self.cleanup()
            raise SGRSError(message)
        out = self.work / "out"
        try:
            label, geometry = read_image(out / OUTPUT_FILES["label"])
            regions = read_image(out / OUTPUT_FILES["regions"])[0] if self.params.regions else None
            entropy = read_image(out / OUTPUT_FILES["entropy"])[0]
            classes = json.loads((Path(self.params.model) / "model.json").read_text())["classes"]
            seg = Segmentation(label.astype("uint8"), None if regions is None else regions.astype("uint8"),
                               entropy.astype("uint8"), geometry, self.summary)
            return self.logic.add_result_nodes(self.params, seg, classes)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
