"""Which class each segment of the scene's label segmentations trains, before anything is exported.

    plan = plan_classes(cases, base_classes, absent=())   # base_classes None: from scratch, binary
    plan.values[volume_id]   -> [(segment_id, class value)]  segments that match a class
    plan.unmatched           -> [(case name, segment name)]  left out, never merged into another class
    plan.missing             -> {case name: [class names]}   base classes a case has no segment for
    plan.problem()           -> one line in the GUI's words, or "" when the cohort can train
    plan.notes()             -> the segments left out, in the GUI's words ("" when none)

A segment meets a base class by its terminology (the coded type, e.g. SCT 82471001) first, then by its
name (case-insensitive): sgrs.models.classes.find_class, the rule the engine applies to a manifest.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import vtk
from SGRSSegmentLib.i18n import translate

from sgrs.models.classes import find_class


SLICER_PLACEHOLDER = ["SCT", "85756007"]   # Tissue


def segment_terminology(segment) -> dict | None:
    """The segment's terminology as model.json writes it ({context, category, type}, and typeModifier
    when the type has one, e.g. Kidney, Left); None if untagged or tagged with the placeholder every
    vtkSegment is made with (Tissue / Tissue: ``vtkSegment.cxx`` constructor, v5.8.1 l. 69, main l. 71),
    which says that nobody chose one."""
    tag = vtk.mutable("")
    if not segment.GetTag(segment.GetTerminologyEntryTagName(), tag) or not str(tag):
        return None
    term = parse_terminology(str(tag))
    if term and [term["category"][:2], term["type"][:2]] == [SLICER_PLACEHOLDER, SLICER_PLACEHOLDER] \
            and "typeModifier" not in term:
        return None
    return term


def parse_terminology(tag: str) -> dict | None:
    """Slicer's terminology string (context~category~type~type modifier~region context~region~region
    modifier, each code scheme^value^meaning) -> {context, category, type[, typeModifier]}; None when it
    names no type. The anatomic region is not kept: a class is one structure, not a place in one."""
    parts = (tag or "").split("~")
    if len(parts) < 3:
        return None
    category, kind = parts[1].split("^"), parts[2].split("^")
    if len(kind) < 3 or not kind[1]:
        return None
    out = {"context": parts[0], "category": category[:3], "type": kind[:3]}
    modifier = parts[3].split("^") if len(parts) > 3 else []
    if len(modifier) >= 3 and modifier[1]:
        out["typeModifier"] = modifier[:3]
    return out


def segments_of(case) -> list[tuple[str, str, dict | None]]:
    """(segment id, name, terminology) of a labelled case's segmentation."""
    seg = case.segmentation.GetSegmentation()
    out = []
    for i in range(seg.GetNumberOfSegments()):
        segment = seg.GetNthSegment(i)
        out.append((seg.GetNthSegmentID(i), segment.GetName(), segment_terminology(segment)))
    return out


@dataclass
class ClassPlan:
    classes: list[dict] | None
    values: dict = field(default_factory=dict)
    unmatched: list = field(default_factory=list)
    missing: dict = field(default_factory=dict)

    def problem(self) -> str:
        if not self.missing:
            return ""
        case, names = next(iter(self.missing.items()))
        more = len(self.missing) - 1
        text = translate("SGRSTrain", "'{case}' has no segment for {names} of the base model: add one, or name "
                                      "a segment so (or give it the class's terminology), or mark the class "
                                      "absent if the scan has none.").format(
            case=case, names=", ".join(f"'{n}'" for n in names))
        return text + (" " + translate("SGRSTrain", "({n} more cases like it.)").format(n=more) if more else "")

    def notes(self) -> str:
        if not self.unmatched:
            return ""
        listed = ", ".join(f"'{name}' ({case})" for case, name in self.unmatched[:4])
        more = f" … (+{len(self.unmatched) - 4})" if len(self.unmatched) > 4 else ""
        return translate("SGRSTrain", "Left out (no class of the base model): {segments}.").format(
            segments=listed + more)


def plan_classes(cases, base_classes: list[dict] | None, absent=()) -> ClassPlan:
    """Match every labelled case's segments to the base model's classes (see the module doc)."""
    plan = ClassPlan(base_classes)
    marked = {str(a).strip().lower() for a in absent}
    for case in cases:
        if not case.labelled:
            continue
        name, pairs = case.volume.GetName(), []
        for segment_id, segment_name, terminology in segments_of(case):
            if base_classes is None:   # from scratch: one foreground class, as the model is binary
                pairs.append((segment_id, 1))
                continue
            found = find_class(base_classes, segment_name, terminology)
            if found is None:
                plan.unmatched.append((name, segment_name))
            else:
                pairs.append((segment_id, found["value"]))
        plan.values[case.volume.GetID()] = pairs
        if base_classes is not None:
            covered = {v for _, v in pairs}
            missing = [c["name"] for c in base_classes if c["value"] > 0 and c["value"] not in covered
                       and c["name"].strip().lower() not in marked]
            if missing:
                plan.missing[name] = missing
    return plan


def add_class_segment(segmentation_node, classes: list[dict] | None) -> str:
    """An empty segment for a new annotation, named, coloured and coded as the model's first class, so
    that training meets it (a plain "foreground" when there is no model); returns its id."""
    from SGRSSegmentLib.compat import set_terminology
    from SGRSSegmentLib.result_nodes import register_surface_rules, terminology_string
    register_surface_rules()   # an empty segment needs the labelmap rules (the desktop registers them at start)
    first = next((c for c in classes or [] if c["value"] > 0), None)
    seg = segmentation_node.GetSegmentation()
    if first is None:
        return seg.AddEmptySegment("", "foreground")
    segment_id = seg.AddEmptySegment("", first["name"], [v / 255.0 for v in first.get("color", (216, 101, 79))])
    tag = terminology_string(first.get("terminology"))
    if tag:
        set_terminology(seg.GetSegment(segment_id), tag)
    return segment_id


def name_segments(segmentation_node, values, classes: list[dict] | None) -> None:
    """Segments imported from a label map (one per label value, in ascending order: ``values``) take
    their class's name, colour and terminology, so training meets them; None keeps Slicer's names."""
    from SGRSSegmentLib.compat import set_terminology
    from SGRSSegmentLib.result_nodes import terminology_string
    by_value = {int(c["value"]): c for c in classes or []}
    seg = segmentation_node.GetSegmentation()
    for i, value in enumerate(list(values)[:seg.GetNumberOfSegments()]):
        entry = by_value.get(int(value))
        if entry is None:
            continue
        segment = seg.GetNthSegment(i)
        segment.SetName(entry["name"])
        if entry.get("color"):
            segment.SetColor(*[v / 255.0 for v in entry["color"]])
        tag = terminology_string(entry.get("terminology"))
        if tag:
            set_terminology(segment, tag)
