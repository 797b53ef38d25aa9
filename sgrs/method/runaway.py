"""Detect a region split that runs away: Δ + Θ staying above a share of the patch voxels.

A voxel uncertain in either view loses every restoring force under the union rule, so Δ can behave
as an absorbing state (observed: Δ at 28–30 % of the patch voxels late in a run). The detector reads
the shares the training loop logs; it ignores the warm-up, where an untrained network is uncertain
almost everywhere by nature, and warns once per episode (it re-arms when the share drops back).
Pure Python: the loop feeds it, and it can be replayed from a job's progress.jsonl.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

RUNAWAY_SHARE = 0.2     # Δ + Θ above this share of patch voxels ...
RUNAWAY_WINDOW = 20     # ... in each of the last N logged steps (after the warm-up) → warning


@dataclass
class RunawayDetector:
    threshold: float = RUNAWAY_SHARE
    window: int = RUNAWAY_WINDOW
    start: int = 0                     # iterations before this are ignored (the warm-up)
    recent: deque = field(default_factory=deque, repr=False)
    armed: bool = True

    def feed(self, iteration: int, share_delta: float, share_theta: float) -> dict | None:
        """One logged step; returns the warning's fields the first time the window is all above."""
        if iteration <= self.start:
            return None
        share = share_delta + share_theta
        self.recent.append(share)
        while len(self.recent) > self.window:
            self.recent.popleft()
        if share <= self.threshold:
            self.armed = True
            return None
        if not self.armed or len(self.recent) < self.window or min(self.recent) <= self.threshold:
            return None
        self.armed = False
        mean = sum(self.recent) / len(self.recent)
        return {"code": "region_runaway", "iteration": iteration, "share_delta_theta": round(mean, 4),
                "threshold": self.threshold, "window": self.window,
                "message": f"Δ + Θ stayed above {self.threshold:.0%} of the patch voxels for the last "
                           f"{self.window} logged steps (mean {mean:.1%}): the region split is running away; "
                           "consider --guard delta-ce / tau-quantile or --delta-rule intersection"}


def replay(events: list[dict], detector: RunawayDetector) -> list[dict]:
    """Feed a job's logged step events to ``detector``; return the warnings it would have given."""
    out = []
    for e in events:
        if e.get("event") == "step" and "share_delta" in e:
            w = detector.feed(e["iteration"], e["share_delta"], e["share_theta"])
            if w:
                out.append(w)
    return out
