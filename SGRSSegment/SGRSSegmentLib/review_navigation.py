"""Next / Previous uncertain region: walk a segmentation's review list (``summary["review_regions"]``,
made by the engine, largest expected error first) and centre every slice view on each region.

Shared by the desktop widget and the Studio; the widgets only bind buttons to ``next``/``previous``
and show ``position`` ("3 of 12") and ``detail``.

    nav = ReviewNavigator(scene, summary)
    nav.next()        # -> the region dict now shown (None when the list is empty)
    nav.position      # "3 of 12" | "no regions to review"
"""
from __future__ import annotations


def lps_to_ras(point) -> tuple:
    x, y, z = (float(v) for v in point)
    return -x, -y, z


def centre_slice_views(scene, point_lps) -> None:
    """Every slice view of the scene jumps to ``point_lps`` (mm) and centres on it."""
    import slicer

    r, a, s = lps_to_ras(point_lps)
    slicer.vtkMRMLSliceNode.JumpAllSlices(scene, r, a, s, slicer.vtkMRMLSliceNode.CenteredJumpSlice)


class ReviewNavigator:
    def __init__(self, scene, summary: dict | None = None):
        self.scene = scene
        self.regions = list((summary or {}).get("review_regions") or [])
        self.index = -1

    @property
    def count(self) -> int:
        return len(self.regions)

    @property
    def current(self) -> dict | None:
        return self.regions[self.index] if 0 <= self.index < self.count else None

    @property
    def position(self) -> str:
        if not self.count:
            return "no regions to review"
        return f"{self.index + 1} of {self.count}" if self.current else f"{self.count} regions to review"

    @property
    def detail(self) -> str:
        """One line about the region shown: its reason, volume and expected error."""
        r = self.current
        if r is None:
            return ""
        return f"{r['reason']}; {r['volume_ml']:.2f} mL, ~{r['expected_error_ml']:.2f} mL likely wrong"

    @property
    def label(self) -> str:
        """Position and detail in one line, for a status label."""
        return f"{self.position}: {self.detail}" if self.current else self.position

    def next(self) -> dict | None:
        return self.step(+1)

    def previous(self) -> dict | None:
        return self.step(-1)

    def step(self, step: int) -> dict | None:
        """Move ``step`` regions on (wrapping around) and centre the slice views; 0 stays."""
        if not self.count or step == 0:
            return self.current
        self.index = (self.index + step) % self.count if self.index >= 0 else (0 if step > 0 else self.count - 1)
        centre_slice_views(self.scene, self.current["centre_lps"])
        return self.current
