"""``sgrs evaluate``: per-case metrics of predicted label maps against ground truth."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
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


NAMES_SHOWN = 10   # a line names this many cases, then says how many more


def _names(ids: list[str]) -> str:
    more = f" and {len(ids) - NAMES_SHOWN} more" if len(ids) > NAMES_SHOWN else ""
    return ", ".join(ids[:NAMES_SHOWN]) + more


def _cases(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


@dataclass
class CaseMatch:
    """Predictions and ground truths paired by case name, and what was left without a partner."""

    pairs: dict = field(default_factory=dict)          # case → (prediction, ground truth)
    no_truth: list = field(default_factory=list)       # predictions without a ground truth
    no_prediction: list = field(default_factory=list)  # ground truths without a prediction

    def lines(self, pred_dir, truth_dir) -> list[str]:
        """One line for each side left without a partner (none when every case pairs)."""
        lines = []
        if self.no_truth:
            lines.append(f"{_cases(len(self.no_truth), 'prediction')} in {pred_dir} without a ground truth in "
                         f"{truth_dir}, not evaluated: {_names(self.no_truth)}")
        if self.no_prediction:
            lines.append(f"{_cases(len(self.no_prediction), 'ground truth')} in {truth_dir} without a prediction "
                         f"in {pred_dir}, not evaluated: {_names(self.no_prediction)}")
        return lines


def match_cases(pred_dir, truth_dir) -> CaseMatch:
    """Pair by case name; ``InputError`` naming both sides when no case pairs (nothing to evaluate)."""
    preds, truths = find_cases(Path(pred_dir)), find_cases(Path(truth_dir))
    common = sorted(set(preds) & set(truths))
    if not common:
        sides = f"predictions: {_names(sorted(preds)) or 'none'}; ground truths: {_names(sorted(truths)) or 'none'}"
        raise InputError(f"{pred_dir}: no prediction matches a ground truth in {truth_dir} by name, so nothing "
                         f"was evaluated ({sides})")
    return CaseMatch({cid: (preds[cid], truths[cid]) for cid in common}, sorted(set(preds) - set(truths)),
                     sorted(set(truths) - set(preds)))


def evaluate_folders(pred_dir, truth_dir, lcc: bool = False, match: CaseMatch | None = None) -> list[dict]:
    """Metrics of every case that pairs (``match``: already paired by :func:`match_cases`)."""
    match = match or match_cases(pred_dir, truth_dir)
    rows = []
    for cid, (pred_path, truth_path) in match.pairs.items():
        truth_img, geom = read_image(truth_path, "ground truth")
        pred = read_label(pred_path, 256, geom, truth_path) > 0
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
    lines = [f"{_cases(len(rows), 'case')} (mean ± sd; distances in mm, [voxels])"]
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
