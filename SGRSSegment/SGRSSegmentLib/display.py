"""Show a result in the slice views through their composite nodes (what ``setSliceViewerLayers``
does, here without the application so the Studio and the tests use the same code).

The region map is the label layer: its opacity is the slice composite node's label opacity. A label
map volume's display-node opacity is ignored by slice views (issue 8, item 8).
"""
from __future__ import annotations

from .scene_nodes import nodes_of_class


def shown_regions(result):
    """The result's region map while it is still in a scene, else None: Close Scene or a user's Delete
    leaves the Python object with no scene and no display node (review finding 1)."""
    regions = result.regions if result is not None else None
    return regions if regions is not None and regions.GetScene() is not None else None


def composite_nodes(scene) -> list:
    return nodes_of_class(scene, "vtkMRMLSliceCompositeNode")


def show_result(scene, result, region_opacity: float = 0.5, entropy_opacity: float = 0.3) -> None:
    """Entropy heat map as foreground, regions as label layer, in every slice view."""
    for node in composite_nodes(scene):
        if result.entropy is not None:
            node.SetForegroundVolumeID(result.entropy.GetID())
            node.SetForegroundOpacity(entropy_opacity)
        node.SetLabelVolumeID(result.regions.GetID() if result.regions is not None else None)
        node.SetLabelOpacity(float(region_opacity))


def show_regions(result, delta: bool, theta: bool, omega: bool) -> None:
    """Apply the Δ / Θ / Ω switches to a result's region map (no-op without one)."""
    regions = shown_regions(result)
    if regions is None:
        return
    from .region_display import set_region_visible
    for region, visible in (("delta", delta), ("theta", theta), ("omega", omega)):
        set_region_visible(regions, region, visible)


def apply_region_settings(scene, result, settings) -> bool:
    """The panel's region settings (``settings``: the parameter node or the Studio's state, with
    regionOpacity, showDelta, showTheta, showOmega) on the shown result. Only slice views whose label
    layer is this result's region map change; without a result nothing does (the label layer may be
    the user's own); a result no longer in the scene is none. Returns whether anything was applied.
    Never imports torch."""
    regions = shown_regions(result)
    if regions is None:
        return False
    for node in composite_nodes(scene):
        if node.GetLabelVolumeID() == regions.GetID():
            node.SetLabelOpacity(float(settings.regionOpacity))
    show_regions(result, settings.showDelta, settings.showTheta, settings.showOmega)
    return True
