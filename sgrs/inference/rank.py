"""``sgrs rank``: which unlabelled cases to annotate next.

Each case is segmented with the model (label and region maps, as ``sgrs segment``) and scored; the
ranked list puts first the cases an annotation should teach the model most. The score is pluggable
(``SCORES``, ``--score``); the default is the mean entropy over the scan (chosen by
benchmarks/trust.py over the share of the predicted structure in Δ ∪ Θ, which is still reported).
A case whose segmentation is flagged ``likely failed`` (an empty prediction is) is listed after the
suggestions with its flag and is not suggested: annotating it teaches less than finding out why the
model failed on it (a wrong scan, a model from another world).

``rank_rows`` gives the rows every front end shows (``sgrs rank``, the Studio, SGRS Train's table):
rank, case, score in one format (``format_score``), case flag, and a note saying why a case is not
suggested.

Cases: image files, DICOM series folders, folders of image files, or a cohort manifest
(manifest.json / manifest.csv, or a folder holding one: its cases without a label).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data.cohort import find_manifest, read_manifest
from ..method.names import DEFAULT_RANK_SCORE
from ..util.errors import InputError
from .case_flag import FAILED
from .defaults import FAST_OVERLAP
from .region_codes import DELTA

IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def delta_theta_share(seg) -> float:
    """Δ ∪ Θ share of the predicted foreground (0 when nothing is predicted)."""
    regions = seg.summary["regions"]
    return float(regions["delta"]["share_of_foreground"] + regions["theta"]["share_of_foreground"])


def foreground_entropy(seg) -> float:
    """Mean normalised entropy (0 certain … 1 maximal) over the predicted foreground and Δ."""
    where = (seg.label > 0) | (seg.regions == DELTA if seg.regions is not None else False)
    return float(seg.entropy[where].mean() / 255.0) if where.any() else 0.0


def mean_entropy(seg) -> float:
    """Mean normalised entropy over the whole scan: what benchmarks/trust.py measured best (docs/trust.md)."""
    return float(seg.entropy.mean() / 255.0)


SCORES = {"mean-entropy": mean_entropy, "delta-theta": delta_theta_share, "entropy": foreground_entropy}  # names: sgrs.method.names.RANK_SCORES
DEFAULT_SCORE = DEFAULT_RANK_SCORE


@dataclass
class RankedCase:
    id: str
    image: str
    score: float              # what the list is sorted by (higher: annotate sooner)
    share: float              # Δ ∪ Θ share of the predicted foreground, whatever the score
    foreground_ml: float
    flag: str = ""            # the case flag of its segmentation: ok | review | likely failed
    flag_reasons: tuple = ()  # the flag's reasons ("nothing segmented", …)


def _is_image(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES)


def case_list(sources) -> list[tuple[str, Path]]:
    """(id, image path) of every case the arguments name, in order, without duplicates."""
    cases: list[tuple[str, Path]] = []
    for source in map(Path, sources):
        if not source.exists():
            raise InputError(f"{source}: no such file or folder")
        if source.is_dir() and not any((source / m).exists() for m in ("manifest.json", "manifest.csv")):
            images = sorted(p for p in source.iterdir() if _is_image(p))
            cases += [(p.name.split(".")[0], p) for p in images] or [(source.name, source)]  # else: DICOM
        elif _is_image(source):
            cases.append((source.name.split(".")[0], source))
        else:
            entries, _classes = read_manifest(find_manifest(source))
            cases += [(e.id, e.image) for e in entries if e.label is None]
    seen, unique = set(), []
    for cid, path in cases:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append((cid, path))
    if not unique:
        raise InputError("no case to rank: give image files, folders of them, or a manifest with unlabelled cases")
    return unique


def rank_cases(cases, model, score: str = DEFAULT_SCORE, device: str = "auto", overlap: float = FAST_OVERLAP,
               progress=None) -> list[RankedCase]:
    """``cases``: [(id, image path)]. ``progress(done, total)`` after each case. Sorted, best first."""
    from ..data.image_io import read_scan
    from ..models.bundle import load_bundle
    from .segment import SegmentOptions, segment_array
    if score not in SCORES:
        raise InputError(f"score must be one of {tuple(SCORES)}, not {score!r}")
    bundle = load_bundle(model)
    options = SegmentOptions(device=device, overlap=overlap, regions=True)
    ranked = []
    for i, (cid, path) in enumerate(cases):
        image, geometry, _source = read_scan(path)
        seg = segment_array(np.asarray(image, np.float32), geometry, bundle, options)
        ranked.append(RankedCase(cid, str(path), SCORES[score](seg), delta_theta_share(seg),
                                 float(seg.summary["foreground_ml"]), seg.summary.get("case_flag", ""),
                                 tuple(seg.summary.get("case_flag_reasons") or ())))
        if progress:
            progress(i + 1, len(cases))
    return sorted(ranked, key=lambda r: (not is_suggested(r), r.foreground_ml > 0, -r.score))


def is_suggested(ranked) -> bool:
    """Worth suggesting for annotation: anything but a segmentation flagged likely failed."""
    return ranked.flag != FAILED


NOT_SUGGESTED = f"not suggested: {FAILED}{{why}} — check the scan and the model first"
NO_RANK = "–"   # the rank column of a case that is not suggested


def format_score(score: float) -> str:
    """The score as every front end shows it (a mean entropy in 0..1, not a share: no per cent)."""
    return f"{score:.4f}"


@dataclass(frozen=True)
class RankRow:
    rank: str        # "1", "2", … among the suggestions; NO_RANK for a case left out of them
    case: str
    score: str       # format_score
    flag: str        # ok | review | likely failed ("" when the segmentation gave none)
    note: str        # the Δ∪Θ share of the prediction, or why the case is not suggested

    @property
    def suggested(self) -> bool:
        return self.rank != NO_RANK


def rank_rows(ranked, name=lambda r: r.id) -> list[RankRow]:
    """The rows of a ranked list (``RankedCase`` or anything with score, share, foreground_ml and flag),
    in its order (``rank_cases`` puts the cases flagged likely failed last): the suggestions numbered,
    the others not."""
    rows, n = [], 0
    for r in ranked:
        if is_suggested(r):
            n += 1
            rank, note = str(n), (f"Δ∪Θ {100 * r.share:.1f} % of {r.foreground_ml:.2f} mL" if r.foreground_ml > 0
                                  else "nothing predicted")
        else:
            reasons = "; ".join(getattr(r, "flag_reasons", ()) or ())
            rank, note = NO_RANK, NOT_SUGGESTED.format(why=f" ({reasons})" if reasons else "")
        rows.append(RankRow(rank, name(r), format_score(r.score), r.flag, note))
    return rows


def to_json(ranked: list[RankedCase], score: str) -> dict:
    return {"score": score, "cases": [{**asdict(r), "suggested": is_suggested(r)} for r in ranked]}


def describe(ranked: list[RankedCase], score: str) -> str:
    rows = rank_rows(ranked)
    left_out = sum(not r.suggested for r in rows)
    head = f"{len(rows)} cases, most worth annotating first (score: {score}, higher first)"
    if left_out:
        head += f"; {left_out} not suggested ({FAILED})"
    width = max([len("case")] + [len(r.case) for r in rows])
    lines = [head + ":", f"{'#':>3s}  {'case':<{width}s}  {'score':<6s}  {'case flag':<13s}  note"]
    for r in rows:
        lines.append(f"{r.rank:>3s}  {r.case:<{width}s}  {r.score:<6s}  {r.flag or '-':<13s}  {r.note}")
    return "\n".join(lines)
