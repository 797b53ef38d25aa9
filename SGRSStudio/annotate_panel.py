"""Annotate: trame-slicer's segment editor (paint, erase, scissors, draw, threshold, islands,
smoothing, logical operators, undo/redo) on an annotation that starts from the model's segmentation.

The annotation is its own segmentation node ("<case> annotation") referencing the case, which is
exactly what ``SGRSTrainLib.collect_cases`` counts as a label: the corrected case joins the cohort.
"""
from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3
from trame_slicer.app.logic.segmentation import SegmentEditorLogic
from trame_slicer.app.ui.segmentation import SegmentEditorUI, SegmentEditorUndoRedoUI

from sgrs.util.errors import InputError

from . import scene_display
from .panel import Panel


class AnnotatePanel(Panel):
    key, title = "annotate", "Annotate"

    def __init__(self, studio):
        super().__init__(studio)
        self.editor_logic = SegmentEditorLogic(studio.server, studio.slicer)
        self.editor = studio.slicer.segmentation_editor
        self.node = None
        self.state.update({"ann_active": False, "ann_name": ""})

    def build(self):
        html.Div("Corrections start from the model's segmentation (or are empty). An annotated case counts "
                 "as labelled for training.", classes="text-caption mb-1")
        v3.VBtn("Annotate this case", click=lambda: self.studio.guard(self.start), color="primary", block=True,
                disabled=("!case_id",), id="annotate-start", classes="mb-1")
        html.Div("Editing: {{ ann_name }}", v_if="ann_active", classes="text-caption", id="annotate-name")
        with html.Div(v_show="ann_active", style="min-height: 520px; display: flex; flex-direction: column"):
            self.ui = SegmentEditorUI()
            with html.Div(classes="d-flex", id="annotate-undo-redo"):
                SegmentEditorUndoRedoUI(editor_ui=self.ui, row=True)
        self.editor_logic.set_ui(self.ui)

    def start(self):
        """Edit the case's annotation; create it from the model's segmentation if there is none."""
        from SGRSTrainLib import collect_cases

        volume = self.studio.case
        if volume is None:
            raise InputError("Select a case in the Data panel first.")
        case = next((c for c in collect_cases(self.scene) if c.volume is volume), None)
        node = case.segmentation if case is not None and case.labelled else self._new_annotation(volume)
        node.GetDisplayNode().SetVisibility(True)
        result = self.studio.regions.result
        if result is not None and result.segmentation.GetDisplayNode() is not None:
            self.studio.state.reg_show_seg = False   # the annotation replaces the model's outline on screen
        self.editor.deactivate_effect()
        self.editor.set_active_segmentation(node, volume)
        self.node = node
        self.state.ann_active, self.state.ann_name = True, node.GetName()
        self.studio.data.refresh()
        scene_display.render(self.studio.slicer)
        return node

    def _new_annotation(self, volume):
        node = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{volume.GetName()} annotation")
        node.CreateDefaultDisplayNodes()
        node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        result = self.studio.regions.result
        source = result.segmentation if result is not None else None
        if source is not None and source.GetNodeReference("referenceImageGeometryRef") is volume:
            node.GetSegmentation().DeepCopy(source.GetSegmentation())
        else:
            node.GetSegmentation().AddEmptySegment("", "foreground")
        return node

    def on_case_changed(self, volume):
        if self.node is not None and volume is not None \
                and self.node.GetNodeReference("referenceImageGeometryRef") is not volume:
            self.editor.deactivate_effect()
            self.state.ann_active, self.node = False, None
