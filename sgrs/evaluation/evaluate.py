"""``sgrs evaluate``: per-case metrics of predicted label maps against ground truth."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..data.image_io import read_image, read_label
from ..util.errors import InputError
from .metrics import METRICS, all_metrics, largest_component

IMAGE_SUFFIXES = (".nii.gz", ".nrrd", ".nii", ".mha", ".mhd", ".nhdr")
COLUMNS = ["case"] + [f"{m}_mm" if m not in ("dice", "jaccard") else m for m in METRICS] + \
    [f"{m}_vox" for m in METRICS[2:]]


def case_id(path: Path) -> str:
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def find_cases(folder: Path) -> dict[str, Path]:
    """``ID.nrrd`` files, or ``ID/label.nrrd`` as ``sgrs segment`` writes them."""
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    cases = {case_id(p): p for p in sorted(folder.iterdir())
             if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = sub / "label.nrrd"
        if label.exists():
            cases.setdefault(sub.name, label)
    return cases


def evaluate_folders(pred_dir, truth_dir, lcc: bool = False) -> list[dict]:
    preds, truths = find_cases(Path(pred_dir)), find_cases(Path(truth_dir))
    common = sorted(set(preds) & set(truths))
    if not common:
        raise InputError(f"{pred_dir}: no case matches a ground truth in {truth_dir} by name")
    rows = []
    for cid in common:
        truth_img, geom = read_image(truths[cid], "ground truth")
        pred = read_label(preds[cid], 256, geom, truths[cid]) > 0
        truth = truth_img > 0
        if lcc:
            pred = largest_component(pred)
        mm = all_metrics(pred, truth, geom.spacing)
        vox = all_metrics(pred, truth, None)
        row = {"case": cid, "dice": mm["dice"], "jaccard": mm["jaccard"]}
        row.update({f"{m}_mm": mm[m] for m in METRICS[2:]})
        row.update({f"{m}_vox": vox[m] for m in METRICS[2:]})
        rows.append(row)
    return rows


def summary_rows(rows: list[dict]) -> dict[str, tuple[float, float, int]]:
    """column → (mean, sd, number of NaN skipped)."""
    out = {}
    for col in COLUMNS[1:]:
        values = np.array([r[col] for r in rows], dtype=float)
        finite = values[~np.isnan(values)]
        out[col] = (float(finite.mean()) if finite.size else math.nan,
                    float(finite.std()) if finite.size else math.nan, int(values.size - finite.size))
    return out


def write_csv(rows: list[dict], path) -> Path:
    from ..util.atomic import atomic_path
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
        stats = summary_rows(rows)
        writer.writerow({"case": "mean", **{c: f"{m:.6f}" for c, (m, _, _) in stats.items()}})
        writer.writerow({"case": "sd", **{c: f"{s:.6f}" for c, (_, s, _) in stats.items()}})
    return path


def format_table(rows: list[dict]) -> str:
    stats = summary_rows(rows)
    lines = [f"{len(rows)} cases (mean ± sd; distances in mm, [voxels])"]
    for m in METRICS:
        if m in ("dice", "jaccard"):
            mean, sd, _ = stats[m]
            lines.append(f"  {m:8s} {100 * mean:6.2f} ± {100 * sd:5.2f} %")
        else:
            mean, sd, nan = stats[f"{m}_mm"]
            vmean, vsd, _ = stats[f"{m}_vox"]
            skipped = f"  ({nan} undefined, skipped)" if nan else ""
            lines.append(f"  {m:8s} {mean:6.2f} ± {sd:5.2f}   [{vmean:6.2f} ± {vsd:5.2f}]{skipped}")
    return "\n".join(lines)
