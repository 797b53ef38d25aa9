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

    def save_clicked(self):
        written = self.studio.guard(self.save, self.state.save_folder, FORMATS[self.state.save_format],
                                    self.state.save_label, self.state.save_regions, self.state.save_entropy)
        if written:
            self.state.save_written = [str(p.relative_to(self.studio.data_dir)) for p in written]
            self.studio.notify(f"Saved {len(written)} file(s) to {self.state.save_folder}", "success")

    def save(self, folder: str, suffix: str, label=True, regions=True, entropy=True) -> list[Path]:
        from SGRSSegmentLib.volume_io import array_of, geometry_of

        volume = self.studio.case
        if volume is None:
            raise InputError("Select a case in the Data panel first.")
        result = self.studio.cases.result(volume)
        annotation = self.studio.cases.annotation(volume)
        segmentation = annotation if annotation is not None else (result.segmentation if result else None)
        if segmentation is None and (label or result is None):
            raise InputError(f"Nothing to save for '{volume.GetName()}' yet: segment or annotate it first.")
        out = uploads.inside(self.studio.data_dir, folder or ".")
        out.mkdir(parents=True, exist_ok=True)   # only once there is something to put in it
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", volume.GetName()).strip("_") or "case"
        written = []
        if label:
            if suffix == ".seg.nrrd":
                written.append(self._write_segmentation(segmentation, out / f"{base}_label.seg.nrrd"))
            else:
                labelmap = scene_display.export_labelmap(self.studio.slicer, segmentation, volume)
                try:
                    written.append(write_image(array_of(labelmap).astype(np.uint8), geometry_of(volume),
                                               out / f"{base}_label{suffix}"))
                finally:
                    self.scene.RemoveNode(labelmap)
        for wanted, node, name in ((regions, result.regions if result else None, "regions"),
                                   (entropy, result.entropy if result else None, "entropy")):
            if not wanted:
                continue
            if node is None:
                raise InputError(f"No {name} map for this case: segment it with region maps on first.")
            if suffix == ".seg.nrrd":
                if name == "entropy":
                    continue  # a continuous map is not a segmentation
                written.append(self._write_segmentation(self.studio.regions.surfaces, out / f"{base}_regions.seg.nrrd"))
            else:
                written.append(write_image(array_of(node).astype(np.uint8), geometry_of(node), out / f"{base}_{name}{suffix}"))
        return written

    def _write_segmentation(self, segmentation, path: Path) -> Path:
        try:
            return write_segmentation(self.scene, segmentation, path)
        except OSError as exc:
            raise InputError(str(exc)) from None
