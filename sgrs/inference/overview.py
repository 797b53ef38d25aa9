"""The ``--png`` overview: three orthogonal slices through the structure, label contour, Δ and Θ
overlays and a legend, drawn off-screen with matplotlib."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..util.atomic import atomic_path
from .maps import DELTA, THETA

COLORS = {"label": "#ffd400", "theta": "#e4007c", "delta": "#00b7ff"}


def _centre(label: np.ndarray) -> tuple[int, int, int]:
    fg = np.argwhere(label > 0)
    if len(fg) == 0:
        return tuple(s // 2 for s in label.shape)
    return tuple(int(v) for v in np.median(fg, axis=0))


def draw_overview(image: np.ndarray, seg, path, title: str | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch


    cx, cy, cz = _centre(seg.label)
    sx, sy, sz = seg.geometry.spacing
    views = [("axial", (slice(None), slice(None), cz), sy / sx),
             ("coronal", (slice(None), cy, slice(None)), sz / sx),
             ("sagittal", (cx, slice(None), slice(None)), sz / sy)]
    lo, hi = np.percentile(image, [1, 99])
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.6))
    for ax, (name, index, aspect) in zip(axes, views):
        ax.imshow(image[index].T, cmap="gray", vmin=lo, vmax=hi, origin="lower", aspect=aspect)
        if seg.regions is not None:
            for value, key in ((THETA, "theta"), (DELTA, "delta")):
                mask = np.ma.masked_where(seg.regions[index].T != value, np.ones_like(seg.regions[index].T))
                ax.imshow(mask, cmap=ListedColormap([COLORS[key]]), alpha=0.55, origin="lower", aspect=aspect,
                          interpolation="nearest")
        if seg.label[index].any():
            ax.contour(seg.label[index].T > 0, levels=[0.5], colors=COLORS["label"], linewidths=1.2)
        ax.set_title(name)
        ax.axis("off")
    handles = [Patch(color=COLORS["label"], label="segmentation (contour)")]
    if seg.regions is not None:
        handles += [Patch(color=COLORS["theta"], label="Θ inconsistent: fragile under perturbation"),
                    Patch(color=COLORS["delta"], label="Δ uncertain: high entropy")]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
