"""Save: label map, region map and entropy map of the current case as NRRD, NIfTI or .seg.nrrd,
into a folder below --data. Images go through the engine's writer (atomic: temp file + rename),
segmentations through Slicer's segmentation storage node."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from trame.widgets import vuetify3 as v3

from sgrs.data.image_io import write_image
from sgrs.util.errors import InputError

from . import scene_display, uploads
from .cases import write_segmentation
from .panel import Panel

FORMATS = {"NRRD (.nrrd)": ".nrrd", "NIfTI (.nii.gz)": ".nii.gz", "Slicer segmentation (.seg.nrrd)": ".seg.nrrd"}


class SavePanel(Panel):
    key, title = "save", "Save"

    def __init__(self, studio):
        super().__init__(studio)
        self.state.update({"save_folder": "results", "save_format": "NRRD (.nrrd)", "save_label": True,
                           "save_regions": True, "save_entropy": True, "save_written": []})
        self.skipped: list[str] = []   # the last save's asked-for maps that were not written, and why

    def build(self):
        v3.VTextField(v_model=("save_folder",), label="Folder below the data folder", density="compact",
                      id="save-folder")
        v3.VSelect(v_model=("save_format",), items=("save_formats", list(FORMATS)), label="Format",
                   density="compact", id="save-format")
        v3.VCheckbox(v_model=("save_label",), label="Label map (the annotation if the case has one)",
                     density="compact", hide_details=True)
        v3.VCheckbox(v_model=("save_regions",), label="Region map (Δ/Ω/Θ)", density="compact", hide_details=True)
        v3.VCheckbox(v_model=("save_entropy",), label="Entropy map (NRRD / NIfTI only)", density="compact",
                     hide_details=True)
        v3.VBtn("Save", color="primary", block=True, click=self.save_clicked, id="save-run", disabled=("!case_id",))
        with v3.VList(density="compact", id="save-written"):
            with v3.VListItem(v_for="f in save_written", key="f", title=("f",)):
                with v3.Template(v_slot_append=True):
                    # the file goes to the user's own machine (through an SSH tunnel too)
                    v3.VBtn("Download", href=("'data-files/' + encodeURI(f)",), download=True,
                            __properties=[("download", "download")], size="x-small", variant="tonal",
                            prepend_icon="mdi-download", classes="save-download")
        self.studio.pacs.build_send()

    def poll(self):
        self.studio.pacs.refresh_send()

    def on_case_changed(self, volume):
        self.studio.pacs.refresh_send(volume)

    def save_clicked(self):
        written = self.studio.guard(self.save, self.state.save_folder, FORMATS[self.state.save_format],
                                    self.state.save_label, self.state.save_regions, self.state.save_entropy)
        if written:
            self.state.save_written = [str(p.relative_to(self.studio.data_dir)) for p in written]
            said = f"Saved {len(written)} file(s) to {self.state.save_folder}"
            if self.skipped:   # what was asked for but not written, said with what was
                self.studio.notify(f"{said}; not saved: {'; '.join(self.skipped)}", "warning")
            else:
                self.studio.notify(said, "success")

    def save(self, folder: str, suffix: str, label=True, regions=True, entropy=True) -> list[Path]:
        """Write the asked-for maps that exist; ``self.skipped`` says which were not and why. Nothing is
        written when none of them exists (InputError), so no file is ever written that the message denies."""
        from SGRSSegmentLib.volume_io import array_of, geometry_of

        volume = self.studio.case
        if volume is None:
            raise InputError("Select a case in the Data panel first.")
        result = self.studio.cases.result(volume)
        annotation = self.studio.cases.annotation(volume)
        segmentation = annotation if annotation is not None else (result.segmentation if result else None)
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", volume.GetName()).strip("_") or "case"
        plan, self.skipped = [], []   # (file name, writer) decided before anything is written
        if label:
            labelmap = None if segmentation is None else self._label_array(segmentation, volume)
            if labelmap is None or not labelmap.any():
                self.skipped.append("no label map (nothing segmented or painted)")
            elif suffix == ".seg.nrrd":
                plan.append((f"{base}_label.seg.nrrd", lambda p: self._write_segmentation(segmentation, p)))
            else:
                plan.append((f"{base}_label{suffix}",
                             lambda p, a=labelmap: write_image(a, geometry_of(volume), p)))
        for wanted, node, name in ((regions, result.regions if result else None, "regions"),
                                   (entropy, result.entropy if result else None, "entropy")):
            if not wanted or (suffix == ".seg.nrrd" and name == "entropy"):
                continue  # a continuous map is not a segmentation
            if node is None:
                self.skipped.append(f"no {name} map (segment the case with region maps on)")
            elif suffix == ".seg.nrrd":
                plan.append((f"{base}_regions.seg.nrrd",
                             lambda p: self._write_segmentation(self.studio.regions.surfaces, p)))
            else:
                plan.append((f"{base}_{name}{suffix}",
                             lambda p, n=node: write_image(array_of(n).astype(np.uint8), geometry_of(n), p)))
        if not plan:
            why = "; ".join(self.skipped) or "nothing was asked for"
            raise InputError(f"Nothing to save for '{volume.GetName()}' yet: {why}.")
        out = uploads.inside(self.studio.data_dir, folder or ".")
        out.mkdir(parents=True, exist_ok=True)   # only once there is something to put in it
        return [write(out / name) for name, write in plan]

    def _label_array(self, segmentation, volume) -> np.ndarray:
        from SGRSSegmentLib.volume_io import array_of
        labelmap = scene_display.export_labelmap(self.studio.slicer, segmentation, volume)
        try:
            return array_of(labelmap).astype(np.uint8)
        finally:
            self.scene.RemoveNode(labelmap)

    def _write_segmentation(self, segmentation, path: Path) -> Path:
        try:
            return write_segmentation(self.scene, segmentation, path)
        except OSError as exc:
            raise InputError(str(exc)) from None
