"""Data: upload scans, open a folder below --data, the case list with each case's state
(SGRSTrainLib.case_state: no result, model result, being edited, reviewed).

"Labelled" means what SGRSTrain means by it (``SGRSTrainLib.collect_cases``): the case has a
segmentation of its own (an annotation), not only the model's output.
"""
from __future__ import annotations

import json
from pathlib import Path

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from sgrs.data.image_io import read_image
from sgrs.util.errors import InputError
from SGRSSegmentLib.scene_nodes import nodes_of_class

from . import scene_display, uploads
from .panel import Panel
from .upload_receiver import UploadReceiver

WWW = Path(__file__).with_name("www")
CHUNK_BYTES = 2 << 20   # a piece per websocket message (wslink's limit is 4 MB): progress every 2 MB


class DataPanel(Panel):
    key, title = "data", "Data"

    def __init__(self, studio):
        super().__init__(studio)
        from SGRSTrainLib.case_state import STATES, state_text
        colours = dict(zip(STATES, ("grey", "orange", "blue", "green")))
        self.state.update({"data_upload": None, "data_folder": "", "data_cases": [], "data_uploading": "",
                           "data_upload_progress": 0,
                           "state_colours": {state_text(k): v for k, v in colours.items()}})
        # the files and their progress stay in the browser; www/upload.js sends the bytes in pieces
        self.state.client_only("data_upload", "data_uploading", "data_upload_progress")
        self.receiver = UploadReceiver(studio.data_dir, studio.max_upload_bytes)
        studio.server.enable_module({"serve": {"sgrs-studio": str(WWW)}, "scripts": ["sgrs-studio/upload.js"]})
        for name, action in (("upload_begin", self.receiver.begin), ("upload_chunk", self.receiver.chunk),
                             ("upload_finish", self.finish_upload)):
            studio.ctrl.trigger(name)(lambda *args, action=action: studio.guard(action, *args))
        studio.ctrl.trigger("notify")(studio.notify)

    def build(self):
        html.Div("Upload NRRD, NIfTI, MHA or a zipped DICOM series "
                 f"(up to {self.studio.max_upload_bytes >> 20} MB).", classes="text-caption mb-1")
        # Checked in the browser first, so an oversized file is never sent; the server checks again.
        v3.VFileInput(
            v_model=("data_upload",), label="Upload scans", multiple=True, density="compact",
            prepend_icon="mdi-upload", id="data-upload", clearable=False, disabled=("!!data_uploading",),
            update_modelValue=f"window.sgrsUpload(trame, $event, {self.studio.max_upload_bytes}, {CHUNK_BYTES}); "
                              "data_upload = null;")
        v3.VProgressLinear(model_value=("data_upload_progress",), v_show="data_uploading", color="primary",
                           height=6, id="data-uploading-bar")
        html.Div("{{ data_uploading }}", v_show="data_uploading", classes="text-caption", id="data-uploading")
        with v3.VRow(dense=True, classes="align-center"):
            with v3.VCol(cols=8):
                v3.VTextField(v_model=("data_folder",), label="Folder below the data folder", density="compact",
                              hide_details=True, id="data-folder")
            with v3.VCol(cols=4):
                v3.VBtn("Open", click=self.open_folder_clicked, block=True, id="data-open-folder")
        html.Div(f"Data folder: {self.studio.data_dir}", classes="text-caption mb-2")
        self.studio.pacs.build_open()
        v3.VDivider()
        html.Div("Cases", classes="text-subtitle-2 mt-2")
        with v3.VList(density="compact", id="case-list"):
            with v3.VListItem(v_for="c in data_cases", key="c.id", title=("c.name",), active=("c.id === case_id",),
                              click="trigger('select_case', [c.id])"):
                with v3.Template(v_slot_append=True):
                    v3.VChip("{{ c.state }}", size="x-small", color=("state_colours[c.state]",),
                             classes="case-state")
        self.studio.ctrl.trigger("select_case")(self.select_case)

    # -- actions ------------------------------------------------------------------------------
    def finish_upload(self, token: str) -> str:
        """The last piece has arrived: validate, load and select the case; returns its name (the page
        waits for it before the next file; a node cannot travel to the browser)."""
        node = self.open_file(self.receiver.finish(token))
        self.studio.notify(f"Loaded {node.GetName()}", "success")
        return node.GetName()

    def upload_one(self, name: str, content: bytes, declared_size: int | None = None):
        if declared_size and declared_size > self.studio.max_upload_bytes:
            raise InputError(f"upload refused: '{name}' is {declared_size / 2**20:.0f} MB, above the "
                             f"{self.studio.max_upload_bytes >> 20} MB limit (--max-upload-mb)")
        path = uploads.store_upload(self.studio.data_dir, name, content, self.studio.max_upload_bytes)
        return self.open_file(path)

    def open_folder_clicked(self):
        self.studio.guard(self.open_folder, self.state.data_folder)

    def open_folder(self, relative: str):
        """Open every image of a folder below --data; a cohort folder's manifest brings its labels."""
        folder = uploads.inside(self.studio.data_dir, relative or ".")
        if not folder.is_dir():
            raise InputError(f"'{relative}' is not a folder below the data folder")
        manifest = folder / "manifest.json"
        opened, errors = [], []
        if manifest.exists():
            data = json.loads(manifest.read_text())
            classes = self._label_classes(data.get("classes"))
            for entry in data.get("cases", []):
                try:
                    image = uploads.inside(folder, entry["image"])
                    node = self.open_file(image, entry.get("id"), select=False)
                    if entry.get("label"):
                        self.add_label(node, uploads.inside(folder, entry["label"]), classes)
                    opened.append(node)
                except InputError as exc:
                    errors.append(str(exc))
        else:
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.name.lower().endswith(uploads.IMAGE_SUFFIXES[:-1]):
                    try:
                        opened.append(self.open_file(path, select=False))
                    except InputError as exc:
                        errors.append(str(exc))
        if opened:
            self.studio.set_case(opened[0])
        self.refresh()
        if errors:
            self.studio.notify(f"Opened {len(opened)} case(s); skipped {len(errors)}: {errors[0]}", "error")
        else:
            self.studio.notify(f"Opened {len(opened)} case(s) from {folder.name or 'the data folder'}", "success")
        return opened

    def open_file(self, path: Path, name: str | None = None, select: bool = True):
        path = uploads.validate_image(Path(path), self.studio.max_upload_bytes)   # a zip becomes a NRRD
        node = scene_display.load_volume(self.studio.slicer, path, name)
        self.studio.cases.add_case(node, path)   # the case list survives a server restart
        if select:
            self.studio.set_case(node)
            self.refresh()
        return node

    def reopen(self, path: Path, name: str | None = None):
        """Load a checked image as a volume node (no case-list bookkeeping: restore uses this)."""
        path = uploads.validate_image(Path(path), self.studio.max_upload_bytes)
        return scene_display.load_volume(self.studio.slicer, path, name)

    def _label_classes(self, named):
        """What the labels' values are: the manifest's classes, else the selected model's (a manifest that
        names none has the model's classes, as when fine-tuning), else unknown."""
        from sgrs.models.classes import class_entries
        from sgrs.models.meta import read_meta
        from sgrs.util.errors import SGRSError
        try:
            if named:
                return class_entries(named)
            path = self.state.tr_base or self.state.model_path
            return read_meta(path)["classes"] if path else None
        except (SGRSError, KeyError, TypeError):
            return None

    def add_label(self, volume, label_path: Path, classes=None):
        """A label map file becomes the case's segmentation (its annotation); its segments take the names,
        colours and terminology of ``classes`` (SGRSTrainLib.classes.name_segments)."""
        import numpy as np
        from SGRSTrainLib.classes import name_segments
        array, _ = read_image(label_path, "label")
        labelmap = self.studio.slicer.volumes_logic.AddArchetypeVolume(str(label_path), f"{volume.GetName()} label", 1)
        if labelmap is None:
            raise InputError(f"{label_path.name}: Slicer could not load the label map")
        seg = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{volume.GetName()} annotation")
        seg.CreateDefaultDisplayNodes()
        seg.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        try:
            if not self.studio.slicer.segmentations_logic.ImportLabelmapToSegmentationNode(labelmap, seg):
                raise InputError(f"{label_path.name}: the label map could not be imported")
        finally:
            self.scene.RemoveNode(labelmap)
        name_segments(seg, [int(v) for v in np.unique(array) if v], classes)
        seg.GetDisplayNode().SetVisibility(False)  # shown when its case is selected
        self.studio.cases.set_annotation(volume, seg)
        return seg

    def select_case(self, node_id: str):
        node = self.scene.GetNodeByID(node_id)
        if node is not None:
            self.studio.set_case(node)

    def refresh(self):
        from SGRSTrainLib import collect_cases

        from SGRSTrainLib.case_state import case_state, state_text, with_result

        cases = collect_cases(self.scene)
        annotate = getattr(self.studio, "annotate", None)   # made after this panel
        results, editing = with_result(self.scene), annotate.editing_volume() if annotate else None
        self.state.data_cases = [
            {"id": c.volume.GetID(), "name": c.volume.GetName(), "labelled": c.labelled,
             "state": state_text(case_state(c.labelled, c.volume.GetID() in results, c.volume is editing))}
            for c in cases]
        self.studio.train.show_cohort(cases)

    def on_case_changed(self, volume):
        """Show the segmentations of this case only (labels and results of other cases would overlap)."""
        self.state.case_name = volume.GetName() if volume else ""
        cases = {n.GetID() for n in nodes_of_class(self.scene, "vtkMRMLScalarVolumeNode")}
        for seg in nodes_of_class(self.scene, "vtkMRMLSegmentationNode"):   # no collection left to leak
            ref = seg.GetNodeReference("referenceImageGeometryRef")
            if ref is not None and ref.GetID() in cases and seg.GetDisplayNode() is not None \
                    and not ref.GetName().endswith(("SGRS regions", "SGRS uncertainty")):
                seg.GetDisplayNode().SetVisibility(ref is volume)
