"""Intensity normalisation, stored in the model bundle so inference repeats it exactly."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Normalization:
    """Per-volume z-score, optionally after clipping to a CT window [low, high] (e.g. −125, 275)."""

    mode: str = "zscore"
    window: tuple[float, float] | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = np.array(image, dtype=np.float32, order="C")  # a contiguous copy, also of a cropped or flipped view
        if self.window is not None:
            np.clip(x, self.window[0], self.window[1], out=x)
        mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
        x -= mean
        x /= max(std, 1e-6)
        return x

    def to_json(self) -> dict:
        d = asdict(self)
        d["window"] = list(self.window) if self.window else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Normalization":
        if d.get("mode", "zscore") != "zscore":
            raise ValueError(f"unknown normalisation mode {d.get('mode')!r}")
        return cls("zscore", tuple(d["window"]) if d.get("window") else None)

    @classmethod
    def parse_window(cls, text: str | None) -> "Normalization":
        """From the CLI's ``--ct-window LOW,HIGH`` (None: plain z-score)."""
        if not text:
            return cls()
        low, high = (float(v) for v in text.split(","))
        if not low < high:
            raise ValueError(f"CT window needs LOW < HIGH, got {text}")
        return cls("zscore", (low, high))
