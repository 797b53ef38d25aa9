"""The nodes a segmentation run leaves in the scene, named, coloured and placed in the input's study."""
from __future__ import annotations

import numpy as np
import slicer

from sgrs.inference.region_codes import DELTA, OMEGA, THETA
from sgrs.models.classes import ANATOMIC_CONTEXT, DICOM_MASTER_LIST

from .compat import set_terminology
from .labels import mark_generated
from .volume_io import set_array

REGION_COLORS = {OMEGA: ("Ω consistent", (0.35, 0.75, 0.35), 0.0),   # transparent: most of the volume
                 THETA: ("Θ inconsistent (fragile)", (0.89, 0.0, 0.49), 1.0),
                 DELTA: ("Δ uncertain", (0.0, 0.72, 1.0), 1.0)}
# Slicer's General Anatomy list lacks SCT 82471001 (Left atrium): codes without a context are the master list's
TERMINOLOGY_CONTEXT = DICOM_MASTER_LIST


SURFACE_RULE = "Binary labelmap to closed surface"


def has_surface_rule(factory) -> bool:
    """Whether the converter factory can make closed surfaces from a label map. ``GetConverterRules``
    returns a ``std::vector`` of smart pointers, whose wrapping by 5.8's VTK 9.2 snapshot is unconfirmed:
    without it, a converter (it copies the factory's rules when made) is asked for a conversion path:
    calls v5.8.1 has too (``vtkSegmentationConverter.h`` l. 86-87, ``vtkSegmentationConversionPath.h``
    l. 86 and 110)."""
    try:
        rules = factory.GetConverterRules()
        return any(rules[i].GetName() == SURFACE_RULE for i in range(len(rules)))
    except (AttributeError, TypeError):
        paths = slicer.vtkSegmentationConversionPaths()
        slicer.vtkSegmentationConverter().GetPossibleConversions("Binary labelmap", "Closed surface", paths)
        return paths.GetNumberOfPaths() > 0


def register_surface_rules(factory=None) -> None:
    """Once per process: Slicer's Segmentations module registers the rule, slicer-core does not."""
    factory = factory or slicer.vtkSegmentationConverterFactory.GetInstance()
    if not has_surface_rule(factory):
        factory.RegisterConverterRule(slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule())


def terminology_string(entry: dict | None) -> str | None:
    """Slicer's terminology tag: context~category~type~modifier~anatomic context~region~modifier."""
    if not entry:
        return None
    cat, typ, mod = entry["category"], entry["type"], entry.get("typeModifier") or ["", "", ""]
    context = entry.get("context") or TERMINOLOGY_CONTEXT
    return (f"{context}~{cat[0]}^{cat[1]}^{cat[2]}~{typ[0]}^{typ[1]}^{typ[2]}~{mod[0]}^{mod[1]}^{mod[2]}~"
            f"{ANATOMIC_CONTEXT}~^^~^^")


def color_table(scene, name: str, entries: dict[int, tuple[str, tuple, float]]):
    node = scene.AddNewNodeByClass("vtkMRMLColorTableNode", name)
    node.SetTypeToUser()
    node.SetNumberOfColors(max(entries) + 1)
    node.SetColor(0, "background", 0.0, 0.0, 0.0, 0.0)
    for value, (label, rgb, alpha) in entries.items():
        node.SetColor(value, label, *rgb, alpha)
    return node


def add_segmentation(scene, segmentations_logic, volume_node, label: np.ndarray, classes: list[dict], name: str):
    """Segments named and coloured from the bundle's classes, with terminology, closed surfaces."""
    entries = {c["value"]: (c["name"], tuple(v / 255.0 for v in c["color"]), 1.0) for c in classes if c["value"] > 0}
    colors = color_table(scene, f"{name} classes", entries)
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", f"{name} labelmap")
    set_array(labelmap, label, volume_node)
    labelmap.CreateDefaultDisplayNodes()
    labelmap.GetDisplayNode().SetAndObserveColorNodeID(colors.GetID())
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    segmentation.CreateDefaultDisplayNodes()
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
    if not segmentations_logic.ImportLabelmapToSegmentationNode(labelmap, segmentation):
        raise RuntimeError("Slicer could not import the label map into a segmentation")
    by_name = {c["name"]: c for c in classes}
    seg = segmentation.GetSegmentation()
    for i in range(seg.GetNumberOfSegments()):
        segment = seg.GetNthSegment(i)
        tag = terminology_string(by_name.get(segment.GetName(), {}).get("terminology"))
        if tag:
            set_terminology(segment, tag)  # SetTerminology is 5.10+
    register_surface_rules()
    segmentation.CreateClosedSurfaceRepresentation()
    scene.RemoveNode(labelmap)
    scene.RemoveNode(colors)
    mark_generated(segmentation)  # the model's own guess: a label only once edited or reviewed (item 14)
    return segmentation


def add_region_map(scene, volume_node, regions: np.ndarray, name: str, opacity: float = 0.5):
    colors = color_table(scene, f"{name} colours", REGION_COLORS)
    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", name)
    set_array(node, regions, volume_node)
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(colors.GetID())
    display.SetOpacity(opacity)
    return node, colors


def heat_colors(scene, name: str):
    node = scene.AddNewNodeByClass("vtkMRMLColorTableNode", name)
    node.SetTypeToUser()
    node.SetNumberOfColors(256)
    for i in range(256):
        t = i / 255.0  # black → yellow → white: never red, the colour of the segmentation (issue 18, item 9)
        node.SetColor(i, f"{i}", min(1.0, 1.5 * t), min(1.0, 1.5 * t), max(0.0, 3 * t - 2), 1.0)
    return node


def add_entropy_map(scene, volume_node, entropy: np.ndarray, name: str):
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    set_array(node, entropy, volume_node)
    node.CreateDefaultDisplayNodes()
    colors = heat_colors(scene, f"{name} heat")
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(colors.GetID())
    display.SetAutoWindowLevel(False)
    display.SetWindowLevelMinMax(0, 255)
    return node, colors


def add_statistics_table(scene, summary: dict, name: str):
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    columns = ["Region", "Label value", "Volume in segmentation (mL)", "Share of segmentation (%)", "Volume (mL)"]
    for title in columns:
        col = table.AddColumn()
        col.SetName(title)
    for key in ("omega", "theta", "delta"):
        r = summary["regions"][key]
        row = table.AddEmptyRow()
        values = [r["name"], r["label_value"], r["foreground_ml"], round(100 * r["share_of_foreground"], 2),
                  r["volume_ml"]]
        for c, v in enumerate(values):
            table.SetCellText(row, c, str(v))
    return table


def place_in_study(scene, volume_node, nodes) -> None:
    """Put the outputs beside the input in the subject hierarchy (same parent: its study)."""
    sh = scene.GetSubjectHierarchyNode()
    if sh is None:
        return
    volume_item = sh.GetItemByDataNode(volume_node)
    if not volume_item:
        volume_item = sh.CreateItem(sh.GetSceneItemID(), volume_node)
    parent = sh.GetItemParent(volume_item)
    for node in nodes:
        item = sh.GetItemByDataNode(node) or sh.CreateItem(parent, node)
        sh.SetItemParent(item, parent)
