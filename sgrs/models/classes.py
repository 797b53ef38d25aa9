"""A model's classes: names, colours and terminology codes, and how a cohort's classes meet a base model's.

    classes = class_entries(raw)                     # manifest / model.json form -> [{value, name, color, ...}]
    lut = match_to_base(cohort_classes, base_classes, where)   # cohort value -> base value; refuses extras
    missing = missing_classes(values, base_classes, absent)   # base classes a labelled case does not cover
    key = terminology_key(entry)                     # ("SCT", "82471001") of a class's type (+ modifier), or None

A class is matched by its terminology (the type's coding scheme and code) first, then by its name
(case-insensitive), so "Left atrium" coded SCT 82471001 meets "left atrium" of the demo model.
The default context is Slicer's "DICOM master list": the "3D Slicer General Anatomy list" lacks
SCT 82471001 (Left atrium), so a segment tagged with that context shows no terminology in Slicer.
No torch here: SGRS Train reads a base model's classes at set-up.
"""
from __future__ import annotations

from ..util.errors import InputError

DICOM_MASTER_LIST = "Segmentation category and type - DICOM master list"
ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"
LEFT_ATRIUM = {"context": DICOM_MASTER_LIST,
               "category": ["SCT", "123037004", "Anatomical Structure"],
               "type": ["SCT", "82471001", "Left atrium"]}
DEFAULT_COLORS = [[0, 0, 0], [216, 101, 79], [128, 174, 128], [241, 214, 145], [177, 122, 101]]


def default_classes(names: list[str]) -> list[dict]:
    """Class entries for plain names (a model trained from scratch on a manifest of names)."""
    return class_entries(list(names))


def class_entries(raw: list) -> list[dict]:
    """Names or dicts (``name``, optional ``color``, ``terminology``) -> full entries, value = position."""
    out = []
    for i, item in enumerate(raw):
        entry = dict(item) if isinstance(item, dict) else {"name": str(item)}
        if not str(entry.get("name") or "").strip():
            raise InputError(f"class {i} has no name")
        entry["value"] = i
        entry.setdefault("color", DEFAULT_COLORS[i % len(DEFAULT_COLORS)])
        if "terminology" not in entry and entry["name"].lower() in ("left atrium", "la"):
            entry["terminology"] = dict(LEFT_ATRIUM)
        out.append(with_context({"value": i, **{k: v for k, v in entry.items() if k != "value"}}))
    return out


def with_context(entry: dict) -> dict:
    """A copy whose terminology names its context; bundles written before schema 2 name none (they are
    codes of the DICOM master list, of which Slicer's General Anatomy list is a subset)."""
    entry = dict(entry)
    if isinstance(entry.get("terminology"), dict):
        entry["terminology"] = {"context": DICOM_MASTER_LIST, **entry["terminology"]}
    return entry


def terminology_key(entry: dict | None) -> tuple | None:
    """The coded type (scheme, code) of a class or a terminology entry, followed by its modifier's
    (scheme, code) when it has one (Kidney, Left is not Kidney, Right); None when uncoded."""
    term = (entry or {}).get("terminology", entry) or {}
    kind = term.get("type") if isinstance(term, dict) else None
    if not kind or len(kind) < 2 or not kind[1]:
        return None
    modifier = term.get("typeModifier") or []
    extra = (str(modifier[0]).upper(), str(modifier[1])) if len(modifier) >= 2 and modifier[1] else ()
    return (str(kind[0]).upper(), str(kind[1])) + extra


def find_class(base_classes: list[dict], name: str, terminology: dict | None = None) -> dict | None:
    """The base class that a (name, terminology) pair names: by terminology code, then by name."""
    key = terminology_key({"terminology": terminology}) if terminology else None
    foreground = [c for c in base_classes if c["value"] > 0]
    if key:
        for c in foreground:
            if terminology_key(c) == key:
                return c
    for c in foreground:
        if c["name"].strip().lower() == str(name).strip().lower():
            return c
    return None


def names(classes: list[dict]) -> str:
    return ", ".join(f"'{c['name']}'" for c in classes if c["value"] > 0)


def match_to_base(cohort_classes: list[dict], base_classes: list[dict], base_name: str = "the base model",
                  where: str = "the cohort") -> dict[int, int]:
    """Cohort label value -> base label value (0 -> 0). A class the base does not have is refused:
    adding classes to a model is not supported (yet)."""
    lut, extra = {0: 0}, []
    for c in cohort_classes:
        if c["value"] == 0:
            continue
        found = find_class(base_classes, c["name"], c.get("terminology"))
        if found is None:
            extra.append(c)
        else:
            lut[c["value"]] = found["value"]
    if extra:
        raise InputError(f"{where}: class(es) {names(extra)} are not classes of {base_name} ({names(base_classes)}); "
                         "fine-tuning keeps the base model's classes (adding a class is not supported yet): "
                         "rename them to the base model's classes or train from scratch")
    return lut


def missing_classes(values, base_classes: list[dict], absent=()) -> list[dict]:
    """Base classes (not background) that a labelled case's values do not contain and the user did not
    mark absent (by name, case-insensitive)."""
    present = {int(v) for v in values}
    marked = {str(a).strip().lower() for a in absent}
    return [c for c in base_classes if c["value"] > 0 and c["value"] not in present
            and c["name"].strip().lower() not in marked]


def unknown_absent(absent, base_classes: list[dict]) -> list[str]:
    """Names marked absent that are no class of the base model (a typo would silently do nothing)."""
    known = {c["name"].strip().lower() for c in base_classes}
    return [a for a in absent if str(a).strip().lower() not in known]
