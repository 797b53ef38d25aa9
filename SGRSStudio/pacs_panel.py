"""PACS (DICOMweb): *Open from PACS* in the Data panel lists the server's studies and loads a series;
*Send to PACS* in the Save panel stores what ``sgrs segment --push`` stores (the engine writes both): the case's
label as a DICOM SEG on the series it came from, with the SR beside it. The model's result goes with its case
flag's word and its Δ / Θ regions; a label a person drew or changed goes with the word ``edited`` instead.
The button is enabled only for a case opened from PACS with something to send; otherwise a line says why.
Credentials come from the Studio server's environment or netrc (:mod:`sgrs.data.credentials`): the browser never sees them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from sgrs.data import dicomweb
from sgrs.util.errors import InputError

from . import scene_display

URL_ENV = "SGRS_DICOMWEB_URL"    # the server the fields start with
DICOM_FOLDER, SOURCE_ROOT, SOURCE_SERIES = "SGRS.DicomFolder", "SGRS.DicomwebRoot", "SGRS.SeriesUID"
NOT_FROM_PACS = "Send to PACS: only for a case opened from PACS (Data panel, Open from PACS)."
NOTHING_YET = "Nothing to send yet: segment or annotate this case first."


class PacsSection:
    """Two small sections, built into the Data and Save panels."""

    def __init__(self, studio):
        self.studio, self.state, self.scene = studio, studio.state, studio.scene
        self.state.update({"pacs_url": os.environ.get(URL_ENV, ""), "pacs_studies": [], "pacs_study": "",
                           "pacs_series": [], "pacs_sent": "", "pacs_send_blocked": NOT_FROM_PACS})
        studio.ctrl.trigger("pacs_study")(lambda uid: studio.guard(self.list_series, uid))
        studio.ctrl.trigger("pacs_open")(lambda uid: studio.guard(self.open_series, self.state.pacs_study, uid))

    # -- UI -----------------------------------------------------------------------------------
    def build_open(self):
        v3.VDivider(classes="my-2")
        html.Div("Open from PACS (DICOMweb)", classes="text-subtitle-2")
        with v3.VRow(dense=True, classes="align-center"):
            with v3.VCol(cols=8):
                v3.VTextField(v_model=("pacs_url",), label="DICOMweb URL", density="compact", hide_details=True,
                              placeholder="https://pacs/dicom-web", id="pacs-url")
            with v3.VCol(cols=4):
                v3.VBtn("Studies", block=True, click=lambda: self.studio.guard(self.list_studies), id="pacs-list")
        with v3.VList(density="compact", id="pacs-studies", v_show="pacs_studies.length && !pacs_study"):
            v3.VListItem(v_for="s in pacs_studies", key="s.uid", click="trigger('pacs_study', [s.uid])",
                         title=("s.title",), subtitle=("s.uid",))
        with html.Div(v_show="pacs_study"):
            v3.VBtn("All studies", size="small", variant="text", click="pacs_study = ''", id="pacs-back")
            with v3.VList(density="compact", id="pacs-series"):
                v3.VListItem(v_for="s in pacs_series", key="s.uid", click="trigger('pacs_open', [s.uid])",
                             title=("s.title",), subtitle=("s.uid",), disabled=("!s.image",))

    def build_send(self):
        v3.VDivider(classes="my-2")
        v3.VBtn("Send to PACS", block=True, click=lambda: self.studio.guard(self.send), id="pacs-send",
                disabled=("!!pacs_send_blocked",))
        html.Div("{{ pacs_send_blocked }}", v_show="pacs_send_blocked", classes="text-caption",
                 id="pacs-send-blocked")
        html.Div("{{ pacs_sent }}", v_show="pacs_sent", classes="text-caption", id="pacs-sent")

    # -- actions ------------------------------------------------------------------------------
    def list_studies(self):
        root = dicomweb.Reference.parse(self.state.pacs_url.strip()).root
        studies = dicomweb.list_studies(root)
        self.state.pacs_study, self.state.pacs_series = "", []
        self.state.pacs_studies = [{"uid": s["uid"], "title": " · ".join(
            x for x in (s["patient"] or s["patient_id"], s["date"], ",".join(s["modalities"]), s["description"]) if x)
            or s["uid"]} for s in studies]
        self.studio.notify(f"{len(studies)} studies on {root}", "success")
        return studies

    def list_series(self, study: str):
        root = dicomweb.Reference.parse(self.state.pacs_url.strip()).root
        series = dicomweb.list_series(root, study)
        self.state.pacs_series = [{"uid": s["uid"], "image": str(s["modality"]).upper() not in dicomweb.NOT_IMAGES,
                                   "title": f"{s['modality']} · {s['instances']} instances · {s['description']}"}
                                  for s in series]
        self.state.pacs_study = study
        return series

    def open_series(self, study: str, series: str):
        """Pull the series below the data folder and load it as a case."""
        root = dicomweb.Reference.parse(self.state.pacs_url.strip()).root
        ref = dicomweb.Reference(root, study, series)
        folder = self.studio.data_dir / "pacs" / re.sub(r"[^0-9.]", "_", series)
        path, dicom, info = dicomweb.pull_volume(ref, folder)
        node = scene_display.load_volume(self.studio.slicer, path, info.get("description") or series)
        for key, value in ((DICOM_FOLDER, str(dicom)), (SOURCE_ROOT, root), (SOURCE_SERIES, info["uid"])):
            node.SetAttribute(key, value)
        self.studio.set_case(node)
        self.studio.data.refresh()
        self.studio.notify(f"Opened {node.GetName()} from {root}", "success")
        return node

    def send_blocked(self, volume) -> str:
        """Why Send to PACS cannot run for ``volume`` ("" when it can)."""
        if volume is None or not volume.GetAttribute(SOURCE_ROOT) or not volume.GetAttribute(DICOM_FOLDER):
            return NOT_FROM_PACS
        return "" if self._label_source(volume)[0] is not None else NOTHING_YET

    def refresh_send(self, volume=None) -> None:
        """Called on every case change and tick (the Save panel's): the button follows the case."""
        blocked = self.send_blocked(self.studio.case if volume is None else volume)
        if blocked != self.state.pacs_send_blocked:
            self.state.pacs_send_blocked = blocked

    def send(self):
        """The case's label as SEG + SR, through the engine's own writer (what ``sgrs segment --push`` sends)."""
        import numpy as np
        from SGRSSegmentLib.volume_io import array_of

        from sgrs.inference.dicom_outputs import edited_summary, send_seg_and_sr
        from sgrs.models.meta import read_meta

        volume = self.studio.case
        blocked = self.send_blocked(volume)
        if blocked:
            raise InputError(blocked)
        segmentation, result = self._label_source(volume)
        labelmap = scene_display.export_labelmap(self.studio.slicer, segmentation, volume)
        try:
            label = array_of(labelmap).astype(np.uint8)
        finally:
            self.scene.RemoveNode(labelmap)
        folder = Path(volume.GetAttribute(DICOM_FOLDER))
        meta = read_meta(self.state.model_path)
        if result is not None and segmentation is result.segmentation and not self._edited(segmentation):
            summary = result.summary or {}
            regions = array_of(result.regions).astype(np.uint8) if result.regions is not None else None
        else:  # the model's flag and Δ / Θ were about its result, not this label
            from SGRSSegmentLib.volume_io import geometry_of

            summary, regions = edited_summary(label, geometry_of(volume), meta), None
        info = send_seg_and_sr(volume.GetAttribute(SOURCE_ROOT), label, regions, summary, folder,
                               volume.GetAttribute(SOURCE_SERIES), meta, folder.parent)
        self.state.pacs_sent = f"Sent {', '.join(info['segments'])} as SEG {info['sop_uid']} with its SR"
        self.studio.notify(f"Sent the segmentation of {volume.GetName()} to {info['pushed_to']}", "success")
        return info

    @staticmethod
    def _edited(segmentation) -> bool:
        """Painted on since the model wrote it (a result only marked reviewed is still the model's voxels)."""
        from SGRSSegmentLib.labels import fingerprint, generated_fingerprint

        generated = generated_fingerprint(segmentation)
        return generated is None or fingerprint(segmentation) != generated

    def _label_source(self, volume):
        """(segmentation to send, the model's result of this case or None): the case's annotation (a label
        it was given, or the one being edited, which may be the result's own node), else the model's result."""
        result = self.studio.cases.result(volume)
        annotation = self.studio.cases.annotation(volume)
        if annotation is not None and not self.scene.IsNodePresent(annotation):
            annotation = None
        return annotation if annotation is not None else (result.segmentation if result else None), result
