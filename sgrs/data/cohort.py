"""A cohort: labelled cases, unlabelled images, a validation split and a test split.

Sources:
- a manifest (``manifest.json`` or ``.csv``) of NRRD / NIfTI / MHA files, or a folder holding one:
  JSON ``{"classes": [...], "cases": [{"id", "image", "label"?, "split"?, "roi"?, "absent"?}]}``; CSV
  columns ``id,image,label,split,roi``. Paths are relative to the manifest. ``classes``: names, or
  entries ``{"name", "color"?, "terminology"?}``, in label-value order (0 = background); a manifest that
  names none has background / foreground, or, when fine-tuning, the base model's classes. When
  fine-tuning, the cohort's classes are matched to the base model's (``sgrs.models.classes``: by
  terminology, then name) and the labels renumbered to the base's values; a class the base lacks is
  refused, and so is a labelled case that lacks one of the base's classes unless it is marked absent
  (``absent``: class names, per case, or ``absent=`` for every case). ``split`` is train (default), val or
  test. ``roi`` (optional) is ``[xmin, ymin, zmin, xmax, ymax, zmax]`` in the image's LPS mm (CSV: six
  numbers separated by spaces or semicolons): the case is cropped to it at load, before the
  normalisation, exactly as ``sgrs segment --roi`` crops a scan, so fine-tuning sees the same crops.
  Cases are reoriented (permutation and flips only) to one orientation: the base model's when
  fine-tuning, else the most common one of the cohort; the bundle records it.
- the official UA-MT / SGRS-Net h5 layout: a folder with ``train.list`` and ``test.list`` whose ids
  name h5 files (``image``, ``label`` datasets, already (x, y, z)), found as ``<id>.h5`` or
  ``<id>/*.h5`` anywhere under the folder.

The labelled cases are the first N train cases with a label (the published protocol); the other
train cases are unlabelled (their labels unused). Validation cases are the manifest's ``val``
cases or, when there are none, the last ``val`` train cases; the test split is never used in training.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..models.classes import class_entries, match_to_base, missing_classes, names, unknown_absent, with_context
from ..util.errors import InputError
from .image_io import Geometry, read_image, read_label
from .normalize import Normalization
from .orientation import orientation_code, reorientation
from .roi import check_bounds, roi_crop


@dataclass
class Case:
    id: str
    image: np.ndarray                 # normalised, float32, (x, y, z)
    label: np.ndarray | None          # uint8, (x, y, z)
    geometry: Geometry | None
    source: str


@dataclass
class Cohort:
    labelled: list[Case]
    unlabelled: list[Case]
    val: list[Case]
    classes: list[str]
    source: str
    test_ids: list[str] = field(default_factory=list)
    orientation: str | None = None    # the code every case was reoriented to (None: h5, file order)
    class_entries: list[dict] = field(default_factory=list)   # name, colour, terminology per value
    held_out: list[str] = field(default_factory=list)         # labelled ids never trained on (hold_out)
    check_ids: list[str] = field(default_factory=list)        # what a model check measures: held out, else val
    read_check: Callable[[], list[Case]] | None = None        # those cases as Segment reads them (see load_cohort)

    def describe(self) -> dict:
        return {"source": self.source, "labelled": [c.id for c in self.labelled],
                "unlabelled": [c.id for c in self.unlabelled], "val": [c.id for c in self.val],
                "test": self.test_ids, "classes": self.classes,
                **({"held_out": list(self.held_out)} if self.held_out else {})}


@dataclass
class _Entry:
    id: str
    image: Path
    label: Path | None
    split: str
    roi: tuple | None = None
    absent: tuple = ()


def load_cohort(source, labelled: int | None = None, val: int | None = None,
                normalization: Normalization = Normalization(), n_classes: int | None = None,
                need_unlabelled: bool = True, orientation: str | None = None,
                base_classes: list[dict] | None = None, base_name: str = "the base model",
                absent=(), hold_out=()) -> Cohort:
    """Read and check every case. ``labelled=None`` uses every train case that has a label.
    ``orientation``: reorient every case to this code (default: the cohort's most common one).
    ``base_classes``: the classes of the model being fine-tuned (see the module doc); ``absent``: class
    names every labelled case may lack. ``hold_out``: ids of labelled cases never trained on (nor validated
    on). The check cases are these, else the validation cases; ``cohort.read_check()`` reads them as Segment
    reads a scan (raw intensities, the file's own grid, cropped to the case's roi, labels in the base's values)."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: cohort not found")
    if source.is_dir() and (source / "train.list").exists():
        cohort = _load_h5(source, labelled, val, n_classes or (len(base_classes) if base_classes else 2),
                          need_unlabelled)
        cohort.class_entries = [with_context(c) for c in base_classes] if base_classes else \
            class_entries(cohort.classes)
        cohort.classes = [c["name"] for c in cohort.class_entries]
        return cohort
    if hold_out and source.is_dir() and (source / "train.list").exists():
        raise InputError(f"{source}: holding a case out needs a manifest cohort (an h5 cohort has none)")
    manifest = find_manifest(source)
    entries, named = read_manifest(manifest)
    held = _held_out_entries(entries, hold_out, manifest)
    entries = [e for e in entries if e not in held]
    lut = None
    if base_classes:
        wrong = unknown_absent(absent, base_classes) + \
            [a for e in entries for a in unknown_absent(e.absent, base_classes)]
        if wrong:
            raise InputError(f"{manifest}: marked absent: {', '.join(map(repr, dict.fromkeys(wrong)))} "
                             f"{'is' if len(set(wrong)) == 1 else 'are'} not a class of {base_name} "
                             f"({names(base_classes)})")
        entries_of = class_entries(named) if named else [with_context(c) for c in base_classes]
        lut = match_to_base(entries_of, base_classes, base_name, str(manifest)) if named else None
        n_classes, class_list = len(entries_of), [with_context(c) for c in base_classes]
    else:
        class_list = class_entries(named or ["background", "foreground"])
        n_classes = n_classes or len(class_list)
    train = [e for e in entries if e.split == "train"]
    val_entries = [e for e in entries if e.split == "val"]
    with_label = [e for e in train if e.label is not None]
    if not val_entries and val:
        val_entries, with_label = with_label[-val:], with_label[:-val]
        train = [e for e in train if e not in val_entries]
    n_lab = len(with_label) if labelled is None else labelled
    lab_entries = with_label[:n_lab]
    if held and not lab_entries:
        raise InputError(f"{manifest}: holding out {', '.join(e.id for e in held)} leaves no labelled case to "
                         "train on")
    _check_counts(manifest, len(train) + len(val_entries), len(lab_entries), n_lab,
                  len(train) - len(lab_entries), need_unlabelled)

    def load(e: _Entry, with_lab: bool, raw: bool = False) -> Case:
        image, geom = read_image(e.image)
        lab = read_label(e.label, n_classes, geom, e.image) if with_lab else None
        if lab is not None and lut is not None:
            table = np.zeros(256, np.uint8)
            table[list(lut)] = list(lut.values())
            lab = table[lab]
        if lab is not None and base_classes and not raw:   # a check case measures what it has
            missing = missing_classes(np.unique(lab), base_classes, tuple(absent) + e.absent)
            if missing:
                raise InputError(f"case {e.id}: its label lacks {names(missing)} of {base_name}'s classes; "
                                 "training would teach that they are absent: add them, or mark them absent "
                                 "if the scan truly has none")
        if e.roi is not None:
            crop = roi_crop(geom, e.roi, f"{manifest}: case {e.id}")
            image, geom = crop.crop(image), crop.geometry()
            lab = None if lab is None else np.ascontiguousarray(crop.crop(lab))
        return Case(e.id, image if raw else normalization(image), lab, geom, str(e.image))

    check = held or [e for e in val_entries if e.label is not None]
    cohort = Cohort(labelled=[load(e, True) for e in lab_entries],
                    unlabelled=[load(e, False) for e in train if e not in lab_entries],
                    val=[load(e, True) for e in val_entries if e.label is not None],
                    classes=[c["name"] for c in class_list], source=str(manifest),
                    test_ids=[e.id for e in entries if e.split == "test"], class_entries=class_list,
                    held_out=[e.id for e in held], check_ids=[e.id for e in check],
                    read_check=lambda: [load(e, True, raw=True) for e in check])
    _reorient(cohort, orientation)
    return cohort


def _held_out_entries(entries: list[_Entry], ids, manifest: Path) -> list[_Entry]:
    """The entries of ``ids``: each must be a case of the manifest with a label."""
    by_id = {e.id: e for e in entries}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InputError(f"{manifest}: held-out case {', '.join(map(repr, unknown))} is not in the cohort "
                         f"(its cases: {', '.join(list(by_id)[:10])}{' …' if len(by_id) > 10 else ''})")
    unlabelled = [i for i in ids if by_id[i].label is None]
    if unlabelled:
        raise InputError(f"{manifest}: held-out case {', '.join(map(repr, unlabelled))} has no label: the "
                         "check compares a model's result with the case's label")
    return [by_id[i] for i in dict.fromkeys(ids)]


def _reorient(cohort: Cohort, orientation: str | None) -> None:
    """Bring every case to one orientation by permutation and flips (lossless)."""
    cases = cohort.labelled + cohort.unlabelled + cohort.val
    codes = [orientation_code(c.geometry.direction) for c in cases]
    target = orientation or max(sorted(set(codes)), key=codes.count)
    for case in cases:
        r = reorientation(case.geometry, target)
        if not r.identity:
            case.image = np.ascontiguousarray(r.apply(case.image))
            case.label = None if case.label is None else np.ascontiguousarray(r.apply(case.label))
            case.geometry = r.geometry(case.geometry)
    cohort.orientation = target


def _check_counts(where, total, n_lab, asked, n_unlab, need_unlabelled) -> None:
    if total == 0:
        raise InputError(f"{where}: empty cohort: no train cases")
    if n_lab == 0:
        raise InputError(f"{where}: no labelled case: at least one train case needs a label")
    if n_lab < asked:
        raise InputError(f"{where}: asked for {asked} labelled cases but only {n_lab} train cases have a label")
    if need_unlabelled and n_unlab == 0:
        raise InputError(f"{where}: no unlabelled case left for semi-supervised training "
                         "(use fewer --labelled or --method supervised)")


def find_manifest(source: Path) -> Path:
    if source.is_file():
        return source
    for name in ("manifest.json", "manifest.csv"):
        if (source / name).exists():
            return source / name
    raise InputError(f"{source}: no manifest.json, manifest.csv or train.list in this folder")


def read_manifest(path: Path) -> tuple[list[_Entry], list | None]:
    """The entries and the classes the manifest names (None: it names none)."""
    root = path.parent
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            classes = None
        else:
            data = json.loads(path.read_text())
            rows, classes = data["cases"], data.get("classes") or None
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a valid manifest ({type(exc).__name__}: {exc})") from None
    entries = []
    for i, row in enumerate(rows):
        if not row.get("image"):
            raise InputError(f"{path}: case {i + 1} has no 'image'")
        split = (row.get("split") or "train").strip().lower()
        if split not in ("train", "val", "test"):
            raise InputError(f"{path}: case {i + 1} has split {split!r}; use train, val or test")
        label = row.get("label") or None
        cid = str(row.get("id") or Path(row["image"]).name.split(".")[0])
        roi = row.get("roi") or None
        if isinstance(roi, str):
            roi = roi.replace(";", " ").replace(",", " ").split()
        roi = None if roi is None else check_bounds(roi, f"{path}: case {cid}")
        absent = row.get("absent") or ()
        absent = tuple(absent.replace(";", ",").split(",") if isinstance(absent, str) else absent)
        entries.append(_Entry(cid, root / row["image"], root / label if label else None, split, roi,
                              tuple(a.strip() for a in absent if str(a).strip())))
    if classes is not None and (not isinstance(classes, list) or len(classes) < 2):
        raise InputError(f"{path}: 'classes' must list at least background and one class")
    return entries, classes


def _load_h5(root: Path, labelled, val, n_classes, need_unlabelled) -> Cohort:
    import h5py

    ids = [s.strip() for s in (root / "train.list").read_text().splitlines() if s.strip()]
    test_ids = [s.strip() for s in (root / "test.list").read_text().splitlines() if s.strip()] \
        if (root / "test.list").exists() else []
    val_ids = ids[-val:] if val else []
    train_ids = ids[:-val] if val else ids
    n_lab = len(train_ids) if labelled is None else labelled
    _check_counts(root / "train.list", len(ids), min(n_lab, len(train_ids)), n_lab,
                  len(train_ids) - n_lab, need_unlabelled)

    def load(cid: str, with_lab: bool) -> Case:
        path = _find_h5(root, cid)
        try:
            with h5py.File(path, "r") as f:
                image = np.asarray(f["image"], dtype=np.float32)
                label = np.asarray(f["label"]) if with_lab else None
        except (OSError, KeyError) as exc:
            raise InputError(f"{path}: not a readable h5 case with 'image' and 'label' ({exc})") from None
        if image.ndim != 3:
            raise InputError(f"{path}: image is {image.ndim}D; a 3D volume is required")
        if not np.isfinite(image).all():
            raise InputError(f"{path}: image has NaN/Inf voxels")
        if label is not None and (label.shape != image.shape or label.min() < 0 or label.max() >= n_classes):
            raise InputError(f"{path}: label shape {label.shape} or values do not fit the image and classes")
        # The official h5 images are already z-scored; the z-score is idempotent, so it is repeated.
        image = (image - image.mean()) / max(float(image.std()), 1e-6)
        return Case(cid, image, None if label is None else label.astype(np.uint8), None, str(path))

    return Cohort(labelled=[load(c, True) for c in train_ids[:n_lab]],
                  unlabelled=[load(c, False) for c in train_ids[n_lab:]],
                  val=[load(c, True) for c in val_ids], classes=["background", "foreground"][:n_classes]
                  if n_classes == 2 else [f"class{i}" for i in range(n_classes)],
                  source=str(root), test_ids=test_ids)


def _find_h5(root: Path, cid: str) -> Path:
    for candidate in (root / f"{cid}.h5", root / cid / "mri_norm2.h5"):
        if candidate.exists():
            return candidate
    found = sorted(root.rglob(f"{cid}.h5")) or sorted(root.rglob(f"{cid}/*.h5"))
    if not found:
        raise InputError(f"{root}: no h5 file for case {cid!r} (looked for {cid}.h5 and {cid}/*.h5)")
    return found[0]
