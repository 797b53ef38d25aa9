"""The cohort in the scene: every single-valued 3D scalar volume is a case (a colour or vector one, or a single
slice, is skipped); it is labelled when a label segmentation (see ``collect_cases``)
uses it as its reference geometry. Export writes the files ``sgrs train`` reads."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import slicer
import vtk
from SGRSSegmentLib.i18n import translate
from SGRSSegmentLib.labels import counts_as_label, is_generated
from SGRSSegmentLib.scene_nodes import nodes_of_class
from SGRSSegmentLib.volume_io import array_of, geometry_of

from sgrs.data.image_io import write_image
from sgrs.util.errors import InputError

REFERENCE_ROLE = "referenceImageGeometryRef"


@dataclass
class SceneCase:
    volume: object
    segmentation: object | None

    @property
    def labelled(self) -> bool:
        return self.segmentation is not None


def collect_cases(scene) -> list[SceneCase]:
    """Scalar volumes (not label maps, not SGRS outputs) with their label segmentation, if any.

    A segmentation is a label when made by hand, or when SGRSSegment made it and the user then edited
    it or marked it reviewed; an untouched SGRSSegment result is not (issue 8, item 14).
    """
    segmentations = {}
    for seg in nodes_of_class(scene, "vtkMRMLSegmentationNode"):
        ref = seg.GetNodeReference(REFERENCE_ROLE)
        if ref is None or not counts_as_label(seg):
            continue
        current = segmentations.get(ref.GetID())
        if current is None or (is_generated(current) and not is_generated(seg)):  # hand-made first
            segmentations[ref.GetID()] = seg
    cases = []
    for vol in nodes_of_class(scene, "vtkMRMLScalarVolumeNode"):
        if vol.IsA("vtkMRMLLabelMapVolumeNode") or vol.GetName().endswith(("SGRS uncertainty", "SGRS regions")):
            continue
        if left_out(vol):
            continue   # a colour or vector image, a single slice: skipped_volumes names it
        cases.append(SceneCase(vol, segmentations.get(vol.GetID())))
    return cases


def single_valued(volume) -> bool:
    """One value per voxel: what training and segmentation read (an RGB or vector volume is not)."""
    if volume.IsA("vtkMRMLVectorVolumeNode") or volume.IsA("vtkMRMLTensorVolumeNode"):
        return False
    image = volume.GetImageData()
    return image is None or image.GetNumberOfScalarComponents() == 1


def left_out(volume) -> str:
    """Why a scalar volume is no case ("" when it is one), in the GUI's words: export reads one value per
    voxel of a 3D image (``volume_io.array_of``), so a single slice (a DICOM localizer) would fail the export
    of every case."""
    image = volume.GetImageData()
    if not single_valued(volume):
        return translate("SGRSTrain", "a colour or vector image; training needs one value per voxel")
    if image is not None and min(image.GetDimensions()) < 2:
        return translate("SGRSTrain", "a single slice; training needs a 3D scan")
    return ""


def skipped_volumes(scene) -> dict[str, list[str]]:
    """The scene's volumes left out of the cases, by why: {reason: [names]}."""
    skipped: dict[str, list[str]] = {}
    for v in nodes_of_class(scene, "vtkMRMLScalarVolumeNode"):
        if not v.IsA("vtkMRMLLabelMapVolumeNode") and left_out(v):
            skipped.setdefault(left_out(v), []).append(v.GetName())
    return skipped


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "case"


def segmentation_labelmap(scene, segmentations_logic, case: SceneCase, values: list) -> np.ndarray:
    """The case's segments as an (x, y, z) label map on the volume's grid: each (segment id, class
    value) of ``values`` (ClassPlan.values) gets its value; segments not listed are left out."""
    label = None
    for segment_id, value in values:
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
        try:
            if not segmentations_logic.ExportSegmentsToLabelmapNode(case.segmentation, ids, node, case.volume):
                raise InputError(f"segmentation '{case.segmentation.GetName()}' could not be exported")
            mask = slicer.util.arrayFromVolume(node).transpose(2, 1, 0) > 0
        finally:
            scene.RemoveNode(node)
        label = np.zeros(mask.shape, np.uint8) if label is None else label
        label[mask] = value
    if label is None or not label.any():
        raise InputError(f"segmentation '{case.segmentation.GetName()}' of '{case.volume.GetName()}' is empty")
    return label


def case_ids(cases: list[SceneCase]) -> dict:
    """Volume node id → the case id the exported manifest gives it (its name, made safe and unique)."""
    ids, used = {}, set()
    for case in cases:
        cid = _safe(case.volume.GetName())
        while cid in used:
            cid += "_"
        used.add(cid)
        ids[case.volume.GetID()] = cid
    return ids


def export_cohort(scene, segmentations_logic, cases: list[SceneCase], out_dir, classes=("background", "foreground"),
                  val: int = 0, absent=(), hold_out=()) -> Path:
    """Write images, labels and ``manifest.json``; the last ``val`` labelled cases become ``val`` (never one of the
    ``hold_out`` volume ids: the engine holds those out by case id, see ``case_ids``).
    ``classes``: names (two: every segment is the foreground, a model trained from scratch; the default
    ("background", "foreground") names, colours and codes that class as its segments do:
    SGRSTrainLib.terminology.scratch_class) or
    the base model's class entries, which each segment meets by terminology, then name (SGRSTrainLib.classes);
    a segment that meets none is left out, and a case that lacks a class not marked ``absent`` is refused."""
    from sgrs.models.classes import class_entries

    from .classes import plan_classes
    from .terminology import scratch_class
    binary = len(classes) == 2 and not any(isinstance(c, dict) for c in classes)
    named_by_segments = binary and str(classes[1]) == "foreground"   # the default: no name given
    entries_of = class_entries([classes[0], scratch_class(cases)] if named_by_segments else list(classes))
    plan = plan_classes(cases, None if binary else entries_of, absent)
    if plan.problem():
        raise InputError(plan.problem())
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    labelled = [c for c in cases if c.labelled and c.volume.GetID() not in set(hold_out)]
    val_ids = {c.volume.GetID() for c in labelled[len(labelled) - val:]} if val else set()
    entries, ids = [], case_ids(cases)
    for case in cases:
        cid = ids[case.volume.GetID()]
        entry = {"id": cid, "image": f"images/{cid}.nrrd",
                 "split": "val" if case.volume.GetID() in val_ids else "train"}
        write_image(array_of(case.volume), geometry_of(case.volume), out / entry["image"])
        if case.labelled:
            label = segmentation_labelmap(scene, segmentations_logic, case, plan.values[case.volume.GetID()])
            entry["label"] = f"labels/{cid}.nrrd"
            write_image(label, geometry_of(case.volume), out / entry["label"])
            lacking = [] if binary else \
                [c["name"] for c in entries_of if c["value"] > 0 and not (label == c["value"]).any()]
            unmarked = [n for n in lacking if n.strip().lower() not in {a.strip().lower() for a in absent}]
            if unmarked:   # its segment is there but empty
                raise InputError(f"'{case.volume.GetName()}': the segment of {', '.join(map(repr, unmarked))} "
                                 "is empty: paint it, or mark the class absent if the scan has none.")
            if lacking:
                entry["absent"] = lacking   # marked absent by the user
        entries.append(entry)
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps({"name": "scene cohort", "classes": entries_of, "cases": entries}, indent=1))
    return manifest
