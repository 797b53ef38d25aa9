"""Regions: Δ / Θ / Ω toggles, opacity, legend, entropy heat map, statistics, and the
segmentation as a surface in 3D with the Δ and Θ regions on it."""
from __future__ import annotations

from types import SimpleNamespace

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from . import scene_display
from .panel import Panel

EXPLAIN = ("Δ uncertain: the model is unsure (high entropy) in either prediction. Θ inconsistent: sure in both "
           "but they disagree, so the answer is fragile. Ω consistent: sure and in agreement (shown inside the "
           "segmentation; outside it Ω is confident background).")
REGIONS = (("delta", "Δ uncertain", "#00b8ff"), ("theta", "Θ inconsistent (fragile)", "#e3007d"),
           ("omega", "Ω consistent", "#59bf59"))


# what the list means; how well it finds errors is the model's own figure (``reg_trust``), never another's
MAPS_MEAN = ("Regions: where the entropy map says a voxel is ≥ 20 % likely wrong, largest expected error first. "
             "Δ: unsure (p 0.43–0.57); Θ: flips when the scan is perturbed.")


def model_meta(summary: dict) -> dict | None:
    """The model.json of the model that made the result (None: gone or unreadable)."""
    from sgrs.models.card import model_facts
    from sgrs.util.errors import SGRSError

    try:
        return model_facts(summary["model_path"]) if summary.get("model_path") else None
    except SGRSError:
        return None


class RegionsPanel(Panel):
    key, title = "regions", "Regions"

    def __init__(self, studio):
        super().__init__(studio)
        # volume ID -> (result, its Δ/Θ/Ω surfaces (3D only), its region map as shown)
        self._surfaces = {}
        self.review = None     # the Lib's ReviewNavigator over the current result's review list
        self.state.update({"reg_delta": True, "reg_theta": True, "reg_omega": False, "reg_opacity": 0.5,
                           "reg_heat": True, "reg_heat_opacity": 0.3, "reg_stats": [], "reg_available": False,
                           "reg_show_seg": True, "reg_review_position": "", "reg_review_detail": "",
                           "reg_review_count": 0, "reg_case_flag": "", "reg_case_flag_type": "info",
                           "reg_case_flag_tip": "", "reg_trust": ""})
        for region, *_ in REGIONS:
            self.state.change(f"reg_{region}")(self._make_toggle(region))
        self.state.change("reg_opacity", "reg_heat", "reg_heat_opacity")(self._on_layers)
        self.state.change("reg_show_seg")(self._on_show_seg)

    @property
    def result(self):
        """The current case's result (every case keeps its own, see ``CaseStore``)."""
        return self.studio.result

    @property
    def surfaces(self):
        entry = self._surfaces.get(self.studio.state.case_id)
        return entry[1] if entry else None

    @property
    def shown_regions(self):
        """The region map on screen: the engine's, with Ω kept inside the segmentation only (outside it
        Ω is confident background, which would paint the whole image green)."""
        entry = self._surfaces.get(self.studio.state.case_id)
        return entry[2] if entry else None

    def build(self):
        html.Div("Segment this case first (Segment panel).", v_if="!reg_available", classes="text-caption",
                 id="regions-empty")
        with html.Div(v_if="reg_available"):
            html.Div("Each voxel is compared in two predictions: on the scan, and on the scan mixed with a "
                     "labelled example the model knows.", classes="text-caption mb-1", id="regions-help")
            html.Div(EXPLAIN, classes="text-caption mb-2")
            for region, label, colour in REGIONS:
                with v3.VRow(dense=True, classes="align-center"):
                    with v3.VCol(cols=1):
                        html.Div(style=f"width:14px;height:14px;background:{colour};border-radius:3px")
                    with v3.VCol(cols=11):
                        v3.VSwitch(v_model=(f"reg_{region}",), label=label, density="compact", hide_details=True,
                                   color="primary", id=f"region-{region}")
            v3.VSlider(v_model=("reg_opacity",), min=0, max=1, step=0.05, label="Region opacity",
                       density="compact", hide_details=True, id="region-opacity")
            v3.VSwitch(v_model=("reg_show_seg",), label="Segmentation (2D + 3D surface)", density="compact",
                       hide_details=True, color="primary", id="region-segmentation")
            v3.VSwitch(v_model=("reg_heat",), label="Entropy heat map", density="compact", hide_details=True,
                       color="primary", id="region-heat")
            v3.VSlider(v_model=("reg_heat_opacity",), min=0, max=1, step=0.05, label="Heat map opacity",
                       density="compact", hide_details=True, disabled=("!reg_heat",))
            html.Div("Heat map: black → yellow → white = certain → maximal entropy (uncertainty)",
                     classes="text-caption mb-2", id="regions-heat-legend")
            self._build_review()
            v3.VDataTable(headers=("reg_headers", [
                {"title": "Region", "key": "name"}, {"title": "in seg. (mL)", "key": "foreground_ml"},
                {"title": "share (%)", "key": "share"}, {"title": "volume (mL)", "key": "volume_ml"}]),
                items=("reg_stats",), density="compact", hide_default_footer=True, id="region-stats")
            html.Div("in seg.: the region's volume inside the segmentation; share: that volume as a percentage "
                     "of the segmentation; volume: the region in the whole image (Ω there is mostly "
                     "confident background).", classes="text-caption", id="regions-columns")

    def _build_review(self):
        # the engine's words and severity: ok success, review warning, likely failed error
        # its tooltip (what the flag means, how often it has been right) on a box: VAlert's title is a heading
        with html.Div(title=("reg_case_flag_tip",), id="region-case-flag-box"):
            v3.VAlert(text=("reg_case_flag",), type=("reg_case_flag_type",), v_show="reg_case_flag",
                      density="compact", variant="tonal", classes="mt-2", id="region-case-flag")
        with v3.VRow(dense=True, classes="align-center"):
            v3.VBtn("Previous", size="small", click=lambda: self.step_review(-1), id="region-previous",
                    disabled=("!reg_review_count",))
            v3.VBtn("Next uncertain region", size="small", click=lambda: self.step_review(1), id="region-next",
                    disabled=("!reg_review_count",), classes="ml-2")
            html.Span("{{ reg_review_position }}", classes="text-caption ml-2", id="region-position")
        html.Div("{{ reg_review_detail }}", classes="text-caption", id="region-detail")
        html.Div(MAPS_MEAN, classes="text-caption")
        html.Div("{{ reg_trust }}", classes="text-caption mb-2", id="region-trust")

    def step_review(self, step: int) -> None:
        """Next / Previous uncertain region: the navigator centres every slice view on it."""
        if self.review is None:
            return
        self.review.step(step)
        self._show_review()
        scene_display.render(self.studio.slicer)

    def _show_review(self):
        from sgrs.inference.flag_words import flag_text, flag_tooltip, severity, trust_text

        summary = (self.result.summary if self.result is not None else None) or {}
        self.state.reg_case_flag = flag_text(summary)
        self.state.reg_case_flag_type = severity(summary.get("case_flag"))
        self.state.reg_case_flag_tip = flag_tooltip(summary.get("case_flag"))
        self.state.reg_trust = trust_text(model_meta(summary), summary) if summary else ""
        self.state.reg_review_count = self.review.count if self.review else 0
        self.state.reg_review_position = self.review.position if self.review else ""
        self.state.reg_review_detail = self.review.detail if self.review else ""

    def show_result(self, result) -> None:
        """Put the current case's segmentation on screen: region map, heat map, 2D segmentation, 3D surfaces."""
        entry = self._surfaces.get(self.studio.state.case_id)
        if entry is None or entry[0] is not result:
            self._build_surfaces(result)
        for region, *_ in REGIONS:
            self._apply_toggle(region, self.state[f"reg_{region}"])
        self._on_layers()
        self._on_show_seg(self.state.reg_show_seg)
        regions = (result.summary or {}).get("regions") or {}
        self.state.reg_stats = [{"name": r["name"], "foreground_ml": r["foreground_ml"],
                                 "share": round(100 * r["share_of_foreground"], 2), "volume_ml": r["volume_ml"]}
                                for r in (regions.get(k) for k in ("delta", "theta", "omega")) if r]
        self.state.reg_available = result.regions is not None
        from SGRSSegmentLib.review_navigation import ReviewNavigator

        self.review = ReviewNavigator(self.scene, result.summary)
        self._show_review()

    def _build_surfaces(self, result):
        old = self._surfaces.pop(self.studio.state.case_id, None)
        for node in (old or ())[1:]:
            if node is not None and self.scene.IsNodePresent(node):
                colors = node.GetDisplayNode().GetColorNode() if node.IsA("vtkMRMLLabelMapVolumeNode") else None
                self.scene.RemoveNode(node)
                if colors is not None:
                    self.scene.RemoveNode(colors)
        if result.regions is None:
            return
        shown = self._omega_in_segmentation(result)
        seg = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{result.regions.GetName()} surfaces")
        seg.CreateDefaultDisplayNodes()
        seg.SetReferenceImageGeometryParameterFromVolumeNode(shown)
        self.studio.slicer.segmentations_logic.ImportLabelmapToSegmentationNode(shown, seg)
        seg.CreateClosedSurfaceRepresentation()
        display = seg.GetDisplayNode()
        display.SetVisibility2D(False)   # the label layer already shows them in the slice views
        display.SetOpacity3D(0.6)
        self._surfaces[self.studio.state.case_id] = (result, seg, shown)

    def _omega_in_segmentation(self, result):
        import slicer
        from SGRSSegmentLib.result_nodes import add_region_map

        from sgrs.inference.maps import OMEGA
        volume = result.segmentation.GetNodeReference("referenceImageGeometryRef")
        labelmap = scene_display.export_labelmap(self.studio.slicer, result.segmentation, volume)
        try:   # an empty segmentation ("nothing segmented") exports no voxels at all: everything is outside
            image = labelmap.GetImageData()
            empty = image is None or image.GetPointData().GetScalars() is None
            outside = True if empty else slicer.util.arrayFromVolume(labelmap) == 0
        finally:
            self.scene.RemoveNode(labelmap)
        regions = slicer.util.arrayFromVolume(result.regions).copy()   # (z, y, x)
        regions[(regions == OMEGA) & outside] = 0
        node, _ = add_region_map(self.scene, volume, regions.transpose(2, 1, 0),
                                 f"{result.regions.GetName()} (Ω in the segmentation)")
        return node

    def _segment_ids(self, region: str):
        """IDs of the surface segments of one region (named from the region map's colour table)."""
        if self.surfaces is None:
            return []
        wanted = {"delta": "Δ", "theta": "Θ", "omega": "Ω"}[region]
        s = self.surfaces.GetSegmentation()
        return [s.GetNthSegmentID(i) for i in range(s.GetNumberOfSegments())
                if s.GetNthSegment(i).GetName().startswith(wanted)]

    def _make_toggle(self, region):
        def on_change(**kwargs):
            self._apply_toggle(region, kwargs[f"reg_{region}"])
        return on_change

    def _apply_toggle(self, region: str, visible: bool):
        if self.result is None or self.result.regions is None:
            return
        from SGRSSegmentLib.region_display import set_region_visible

        for node in (self.result.regions, self.shown_regions):
            if node is not None:
                set_region_visible(node, region, bool(visible))
        for sid in self._segment_ids(region):
            self.surfaces.GetDisplayNode().SetSegmentVisibility(sid, bool(visible))
        scene_display.render(self.studio.slicer)

    def _on_layers(self, **_):
        if self.result is None:
            return
        from SGRSSegmentLib.display import show_result

        shown = SimpleNamespace(regions=self.shown_regions or self.result.regions, entropy=self.result.entropy)
        show_result(self.scene, shown, float(self.state.reg_opacity),
                    float(self.state.reg_heat_opacity) if self.state.reg_heat else 0.0)
        scene_display.render(self.studio.slicer)

    def _on_show_seg(self, reg_show_seg=True, **_):
        if self.result is None:
            return
        display = self.result.segmentation.GetDisplayNode()
        if display is not None:
            display.SetVisibility(bool(reg_show_seg))
        if reg_show_seg:   # an editor may have dropped the surface while another case was edited
            self.result.segmentation.CreateClosedSurfaceRepresentation()
        scene_display.render(self.studio.slicer)

    def on_case_changed(self, volume):
        """Show this case's own result (or none); other cases' 3D surfaces are hidden, not removed."""
        for vid, (_, seg, _shown) in self._surfaces.items():
            if seg.GetDisplayNode() is not None:
                seg.GetDisplayNode().SetVisibility(volume is not None and vid == volume.GetID())
        if self.result is not None:
            self.show_result(self.result)   # its own review list too
        else:
            self.state.reg_available, self.state.reg_stats = False, []
            self.review = None
            self._show_review()
