"""Which unlabelled case to annotate next: the scene's side of ``sgrs rank`` (the ranking itself is
the engine's, ``sgrs.inference.rank``). This module only writes the cases' volumes for the engine and
maps its ranked list back to the scene's cases; ``RankSession`` (rank_session.py) runs the engine in a
detached background process with progress and cancel."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sgrs.util.errors import SGRSError


@dataclass
class Ranked:
    case: object              # SceneCase
    share: float              # Δ ∪ Θ share of the predicted foreground
    foreground_ml: float
    score: float = 0.0        # what the engine sorted by (--score; default mean entropy, 0..1): higher first
    flag: str = ""            # the engine's case flag: ok | review | likely failed
    flag_reasons: tuple = ()  # why it has that flag ("nothing segmented", …)


def case_id(case) -> str:
    """A file name the engine gives back as the case id: the volume's node ID (unique in the scene)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", case.volume.GetID())


def export_unlabelled(cases, folder) -> list[Path]:
    """Write every unlabelled case's volume as ``folder/<node id>.nrrd``; SGRSError when there is none."""
    from SGRSSegmentLib.volume_io import array_of, geometry_of

    from sgrs.data.image_io import write_image
    todo = [c for c in cases if not c.labelled]
    if not todo:
        raise SGRSError("There are no unlabelled cases to rank.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in todo:
        paths.append(folder / f"{case_id(case)}.nrrd")
        write_image(array_of(case.volume), geometry_of(case.volume), paths[-1])
    return paths


def read_ranking(ranking: dict, cases) -> list[Ranked]:
    """The engine's ranked list (``sgrs rank --out`` JSON) as the scene's cases, in its order."""
    by_id = {case_id(c): c for c in cases}
    return [Ranked(by_id[r["id"]], float(r["share"]), float(r["foreground_ml"]), float(r["score"]), r.get("flag", ""),
                   tuple(r.get("flag_reasons") or ())) for r in ranking["cases"] if r["id"] in by_id]


def rank_unlabelled(cases, model: str, device: str = "auto", overlap: float = 0.25, score: str | None = None,
                    progress=None) -> list[Ranked]:
    """In this process (scripts and notebooks); GUIs use ``RankSession``."""
    import tempfile

    from sgrs.inference.rank import DEFAULT_SCORE, rank_cases, to_json
    with tempfile.TemporaryDirectory(prefix="sgrs-rank-") as work:
        paths = export_unlabelled(cases, work)
        ranked = rank_cases([(p.stem, p) for p in paths], model, score or DEFAULT_SCORE, device, overlap, progress)
        return read_ranking(to_json(ranked, score or DEFAULT_SCORE), cases)
