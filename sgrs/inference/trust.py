"""One segmentation's review list and case flag, as the summary fields ``sgrs segment`` writes and
``sgrs review RESULT_DIR`` recomputes from a result folder (e.g. with another map or threshold).

Summary keys: ``case_flag`` (``ok`` | ``review`` | ``likely failed``), ``case_flag_reasons`` (short
strings), ``review_regions`` (the ranked list, ``ReviewRegion.to_json``) and ``review`` (the map,
its threshold and the flag's measures).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.image_io import Geometry, read_image
from ..util.atomic import write_text
from ..util.errors import InputError, SGRSError
from .case_flag import case_flag, case_measures, flag_line
from .flag_words import severity
from .review import DEFAULT_MAP, DEFAULT_Q_MIN, describe_q, expected_errors, review_regions


def review_fields(label: np.ndarray, entropy: np.ndarray, regions: np.ndarray | None, geometry: Geometry,
                  summary: dict, meta: dict | None, map_name: str = DEFAULT_MAP,
                  q_min: float = DEFAULT_Q_MIN, max_regions: int | None = None,
                  padding: np.ndarray | None = None) -> dict:
    """The review list and case flag of one segmentation (maps on ``geometry``'s grid; ``padding``: the
    scan's padding voxels, review.padding_mask, when the scan is at hand)."""
    if not 0.0 < q_min <= 0.5:
        raise SGRSError(f"q_min must be in (0, 0.5] (the error probability of a two-class voxel), got {q_min}")
    if map_name != "entropy" and regions is None:
        map_name = "entropy"  # --no-regions: entropy is the only map there is
    kwargs = {"padding": padding} if max_regions is None else {"max_regions": max_regions, "padding": padding}
    listed = review_regions(label, entropy, regions, geometry, map_name, q_min, **kwargs)
    training = ((meta or {}).get("provenance") or {}).get("label_volume_ml")
    flag = case_flag(case_measures(summary, expected_errors(entropy, q_min), training))
    return {"case_flag": flag.flag, "case_flag_reasons": flag.reasons, "case_flag_severity": severity(flag.flag),
            "review_regions": [r.to_json() for r in listed],
            "review": {"map": map_name, "q_min": q_min, "means": describe_q(q_min), "measures": flag.measures}}


def review_folder(result_dir, map_name: str = DEFAULT_MAP, q_min: float = DEFAULT_Q_MIN,
                  write: bool = True) -> dict:
    """Recompute the fields from a ``sgrs segment`` output folder; ``write`` stores them in its summary."""
    from ..models.meta import read_meta

    out = Path(result_dir)
    path = out / "summary.json"
    if not path.is_file():
        raise InputError(f"{out}: no summary.json: not a 'sgrs segment' output folder")
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(summary, dict):
        raise InputError(f"{path}: not a 'sgrs segment' summary (a JSON object)")
    label, geometry = read_image(out / "label.nrrd", "label")
    entropy, _ = read_image(out / "entropy.nrrd", "entropy")
    regions = read_image(out / "regions.nrrd", "regions")[0].astype(np.uint8) if (out / "regions.nrrd").exists() else None
    meta = None
    try:
        meta = read_meta(summary["model_path"]) if summary.get("model_path") else None
    except SGRSError:
        pass  # the model moved or is gone: the flag goes without the training volume range
    fields = review_fields(label.astype(np.uint8), entropy.astype(np.uint8), regions, geometry, summary, meta,
                           map_name, q_min)
    if write:
        write_text(path, json.dumps({**summary, **fields}, indent=1))
    return fields


def describe_review(fields: dict, top: int = 10) -> str:
    """The flag line and the first regions, for the command line."""
    lines = [flag_line(fields)]
    regions = fields["review_regions"]
    if regions:
        lines.append(f"  review list ({len(regions)} regions, {fields['review']['means']}), largest expected error first:")
    for r in regions[:top]:
        c = ", ".join(f"{v:.1f}" for v in r["centre_lps"])
        lines.append(f"  {r['rank']:3d}. at ({c}) mm LPS, {r['volume_ml']:.2f} mL, ~{r['expected_error_ml']:.2f} mL "
                     f"expected wrong: {r['reason']}")
    if len(regions) > top:
        lines.append(f"  ... {len(regions) - top} more in summary.json")
    return "\n".join(lines)
