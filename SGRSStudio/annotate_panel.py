"""Annotate: trame-slicer's segment editor (paint, erase, scissors, draw, threshold, islands,
smoothing, logical operators, undo/redo) on the model's segmentation of the case, as in the desktop
app's Segment Editor.

What counts as a label is ``SGRSSegmentLib.labels``'s rule, shared with SGRS Train: the model's
untouched result does not; once edited, or marked reviewed here, it does. A case without a result
is annotated from its own label segmentation or from an empty one.
"""
from __future__ import annotations

import time

from trame.widgets import html
from trame.widgets import vuetify3 as v3
from trame_slicer.app.logic.segmentation import SegmentEditorLogic
from trame_slicer.app.ui.segmentation import SegmentEditorUI, SegmentEditorUndoRedoUI

from sgrs.util.errors import InputError

from . import scene_display
from .panel import Panel

RECHECK_S = 0.5


class AnnotatePanel(Panel):
    key, title = "annotate", "Annotate"

    def __init__(self, studio):
        super().__init__(studio)
        self.editor_logic = SegmentEditorLogic(studio.server, studio.slicer)
        self.editor = studio.slicer.segmentation_editor
        self.node = None
        self._dirty_since = None   # when the edited segmentation changed and was not re-checked yet
        self.editor.segmentation_modified.connect(self._mark_dirty)
        self.state.update({"ann_active": False, "ann_name": "", "ann_is_label": False, "ann_state": ""})

    def build(self):
        html.Div("Correct the model's segmentation (or draw one). Once edited, or marked reviewed, it counts "
                 "as a label for training.", classes="text-caption mb-1")
        with v3.VRow(dense=True):
            with v3.VCol(cols=7):
                v3.VBtn("Annotate this case", click=self.start_clicked, color="primary",
                        block=True, disabled=("!case_id",), id="annotate-start")
            with v3.VCol(cols=5):
                v3.VBtn("Mark reviewed", click=lambda: self.studio.guard(self.mark_reviewed), block=True,
                        disabled=("!ann_active",), id="annotate-reviewed")
        html.Div("Editing: {{ ann_name }} — {{ ann_state }}", v_if="ann_active", classes="text-caption",
                 id="annotate-name")
        with html.Div(v_show="ann_active", style="min-height: 520px; display: flex; flex-direction: column"):
            self.ui = SegmentEditorUI()
            with html.Div(classes="d-flex", id="annotate-undo-redo"):
                SegmentEditorUndoRedoUI(editor_ui=self.ui, row=True)
        self.editor_logic.set_ui(self.ui)

    def start_clicked(self):
        self.studio.guard(self.start)   # the handler returns nothing: trame cannot serialise a node

    def start(self):
        """Edit the case's annotation: the one it has, else the model's segmentation on screen, else a
        new empty one (which counts as a label only once something is painted)."""
        from SGRSTrainLib import collect_cases

        volume = self.studio.case
        if volume is None:
            raise InputError("Select a case in the Data panel first.")
        result = self.studio.cases.result(volume)
        existing = self.studio.cases.annotation(volume)
        case = next((c for c in collect_cases(self.scene) if c.volume is volume), None)
        if existing is not None and self.scene.IsNodePresent(existing):
            node = existing
        elif result is not None:
            node = result.segmentation
            self.state.reg_show_seg = True
        elif case is not None and case.labelled:
            node = case.segmentation
        else:
            node = self._new_annotation(volume)
        self.studio.cases.set_annotation(volume, node)
        node.GetDisplayNode().SetVisibility(True)
        self.editor.deactivate_effect()
        self.editor.show_3d(True)   # the editor keeps (or removes) the closed surface: the 3D view follows edits
        self.editor.set_active_segmentation(node, volume)
        self.node = node
        self.state.ann_active, self.state.ann_name = True, node.GetName()
        self._check_label()
        self.studio.data.refresh()
        scene_display.render(self.studio.slicer)
        return node

    def _new_annotation(self, volume):
        from SGRSTrainLib.classes import add_class_segment
        node = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{volume.GetName()} annotation")
        node.CreateDefaultDisplayNodes()
        node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        add_class_segment(node, self._model_classes())
        return node

    def _model_classes(self):
        """The classes of the model the annotation is for: Train's base model, else Segment's model."""
        from sgrs.models.meta import read_meta
        from sgrs.util.errors import SGRSError
        path = self.state.tr_base or self.state.model_path
        try:
            return read_meta(path)["classes"] if path else None
        except SGRSError:
            return None

    def editing_volume(self):
        """The case whose segmentation is open in the editor, or None."""
        return self.node.GetNodeReference("referenceImageGeometryRef") if self.node is not None else None

    def mark_reviewed(self):
        """The model's result is right as it is: it counts as a label from now on (same as desktop)."""
        from SGRSSegmentLib.labels import is_empty, mark_reviewed

        if is_empty(self.node):
            raise InputError("Nothing to mark reviewed: this case has no segmentation yet. Segment it, or paint it.")
        mark_reviewed(self.node)
        self.studio.cases.save_annotation(self.studio.case)
        self._check_label()
        self.studio.data.refresh()
        self.studio.notify(f"'{self.node.GetName()}' marked as reviewed: training uses it as a label.", "success")

    def _mark_dirty(self, *_):
        if self._dirty_since is None:
            self._dirty_since = time.monotonic()

    def poll(self):
        # the label rule hashes the segment's voxels: re-check after edits, at most twice a second
        if self.node is None or self._dirty_since is None or time.monotonic() - self._dirty_since < RECHECK_S:
            return
        self._dirty_since = None
        self._check_label()
        self.studio.cases.save_annotation(self.studio.case)   # every edit reaches the data folder

    def _check_label(self):
        from SGRSSegmentLib.labels import counts_as_label

        from SGRSTrainLib.case_state import EDITING, REVIEWED, state_text

        is_label = counts_as_label(self.node)
        self.state.ann_state = state_text(REVIEWED if is_label else EDITING)   # as the Data panel says it
        if is_label != self.state.ann_is_label:
            self.state.ann_is_label = is_label
            self.studio.data.refresh()

    def on_case_changed(self, volume):
        if self.node is not None and volume is not None \
                and self.node.GetNodeReference("referenceImageGeometryRef") is not volume:
            previous = self.node.GetNodeReference("referenceImageGeometryRef")
            if self._dirty_since is not None and previous is not None:
                self._dirty_since = None
                self.studio.cases.save_annotation(previous)   # an edit in the last half second
            self.editor.deactivate_effect()
            self.state.ann_active, self.node = False, None
            self.studio.data.refresh()   # the case left is no longer "being edited"
