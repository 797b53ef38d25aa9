"""Which series of a study (or a DICOM folder) is segmented, one rule for files and DICOMweb:
the largest 3D image series by voxel count, never a localizer, a derived series or a secondary capture.
``--series UID`` overrides it. The choice and the alternatives go in one line and in summary.json.
"""
from __future__ import annotations

from dataclasses import dataclass

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # and its multi-frame kinds (…7.1 … 7.4)


@dataclass
class Candidate:
    uid: str
    description: str
    modality: str
    size: tuple                       # (columns, rows, frames or slices)
    why_not: str | None = None        # a reason it is never chosen, or None

    @property
    def voxels(self) -> int:
        return int(self.size[0]) * int(self.size[1]) * int(self.size[2])

    def brief(self) -> str:
        size = "×".join(map(str, self.size))
        return f"{self.uid} ({self.modality or '?'} {size}{', ' + self.description if self.description else ''}" + (
            f"; {self.why_not})" if self.why_not else ")")

    def to_json(self) -> dict:
        return {"uid": self.uid, "description": self.description, "modality": self.modality,
                "size": list(self.size), "voxels": self.voxels, "not_used": self.why_not}


def why_not(image_types, sop_classes, frames: int) -> str | None:
    """Why a series with these ImageType values, SOP classes and frames is never segmented, or None."""
    words = {str(v).strip().upper() for t in image_types for v in (t or [])}
    if "LOCALIZER" in words or "SCOUT" in words:
        return "a localizer"
    if any(str(c).startswith(SECONDARY_CAPTURE) for c in sop_classes if c):
        return "a secondary capture"
    if any(t and str(t[0]).strip().upper() == "DERIVED" for t in image_types):
        return "a derived series"
    if frames < 2:
        return "a single slice"
    return None


def pick(candidates: list[Candidate]) -> tuple[Candidate | None, str]:
    """(the chosen series or None, one line naming it and the alternatives)."""
    usable = sorted((c for c in candidates if c.why_not is None), key=lambda c: (-c.voxels, c.uid))
    chosen = usable[0] if usable else None
    others = [c for c in sorted(candidates, key=lambda c: (-c.voxels, c.uid)) if c is not chosen]
    if chosen is None:
        return None, "no 3D image series: " + "; ".join(c.brief() for c in others)
    line = f"series {chosen.brief()} chosen: the largest 3D image series by voxel count"
    if others:
        line += f"; also in the study: {'; '.join(c.brief() for c in others[:6])}"
        line += f" and {len(others) - 6} more" if len(others) > 6 else ""
    else:
        line += ", the only image series"
    return chosen, line
