"""What "windows" means, once, for the estimate, the progress events and the summary. No torch: the
panels import it at set-up.

A run's windows are the plain view's (label, entropy, review list) plus, with region maps, the mixed
view's on its own grid (``--mixed-overlap``). With ``--mixed-view near`` the mixed view runs only the
windows near the structure, which are known once the plain view is done: until then the count is an
upper bound (the whole mixed grid) and every text says "up to".

    count = run_windows(size, patch, overlap, regions=True, mixed_view="near", mixed_overlap=0.25)
    count.text()          # "8 plain-view + up to 8 region-map windows"
    step = WindowProgress(done, count)   # what sliding_window reports; step.text(), step.to_json()
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PLAIN, MIXED = "plain view", "region maps"


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Evenly spread starts covering [0, size) with at least the requested overlap."""
    if size <= patch:
        return [0]
    stride = max(1, int(round(patch * (1.0 - overlap))))
    n = math.ceil((size - patch) / stride) + 1
    return sorted({int(round(i * (size - patch) / (n - 1))) for i in range(n)})


def count_windows(shape, patch, overlap: float) -> int:
    """Windows of one view's grid (a volume smaller than the patch is padded to it: one window)."""
    return math.prod(len(window_starts(max(int(s), int(p)), int(p), overlap)) for s, p in zip(shape, patch))


@dataclass(frozen=True)
class WindowCount:
    plain: int
    mixed: int = 0              # the mixed view's windows (region maps); 0 without them
    mixed_known: bool = True    # False: ``mixed`` is the whole grid, the run takes those near the structure

    @property
    def total(self) -> int:
        """Windows the run takes (at most this many while ``mixed_known`` is False)."""
        return self.plain + self.mixed

    def text(self) -> str:
        if not self.mixed:
            return f"{self.plain} windows"
        if not self.mixed_known:
            return f"{self.plain} plain-view + up to {self.mixed} region-map windows"
        return f"{self.total} windows ({self.plain} plain view + {self.mixed} region maps)"

    def to_json(self) -> dict:
        return {"plain": self.plain, "mixed": self.mixed, "mixed_known": self.mixed_known}


def run_windows(network_size, patch, overlap: float, regions: bool = True, mixed_view: str = "near",
                mixed_overlap: float | None = None) -> WindowCount:
    """The windows a run on a scan of ``network_size`` (the model-spacing grid) will take, before it
    starts. ``mixed_overlap``: the mixed view's own grid (None: the plain view's), never finer than
    the plain view's."""
    plain = count_windows(network_size, patch, overlap)
    if not regions:
        return WindowCount(plain)
    mixed = plain if mixed_overlap is None else count_windows(network_size, patch, min(overlap, mixed_overlap))
    return WindowCount(plain, mixed, mixed_known=mixed_view != "near")


@dataclass(frozen=True)
class WindowProgress:
    """One progress step: ``done`` windows of ``count``; the view being computed follows from them."""

    done: int
    count: WindowCount

    @property
    def view(self) -> str:
        c = self.count
        return PLAIN if self.done < c.plain or not c.mixed or not c.mixed_known else MIXED

    @property
    def total(self) -> int:
        return self.count.total

    def text(self) -> str:
        """"window 5 of 8 (plain view); then up to 8 region-map windows" / "window 12 of 16 (region maps)"."""
        c = self.count
        if self.view == PLAIN:
            line = f"window {self.done} of {c.plain} ({PLAIN})"
            if c.mixed:
                line += f"; then {'up to ' if not c.mixed_known else ''}{c.mixed} region-map windows"
            return line
        return f"window {self.done} of {c.total} ({MIXED}: {self.done - c.plain} of {c.mixed})"

    def to_json(self) -> dict:
        """The progress event's fields: ``done`` and ``total`` over the whole run (``total`` an upper
        bound while ``mixed_known`` is false), the view, and the count by view."""
        return {"done": self.done, "total": self.total, "view": self.view, "windows": self.count.to_json()}

    @classmethod
    def from_json(cls, event: dict) -> "WindowProgress":
        """From a progress event; one without the count by view (an older engine) reads as plain windows."""
        w = event.get("windows") or {"plain": int(event.get("total") or 0)}
        count = WindowCount(int(w.get("plain") or 0), int(w.get("mixed") or 0), bool(w.get("mixed_known", True)))
        return cls(int(event.get("done") or 0), count)
