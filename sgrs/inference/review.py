"""The review list: the regions of a segmentation a reader should look at, largest expected error first.

Per voxel, the probability that its label is wrong is read off the entropy map: for two classes
Ent(P_U) / log10 2 is the binary entropy H(q) of q = 1 − max_c p_c, inverted exactly here (one value
per entropy level; for more classes the same inversion is an estimate). A review map picks the
voxels (``REVIEW_MAPS``); its connected components are cut into blocks of at most ``block_mm`` so the
thin uncertain shell around a whole structure becomes local pieces a reader can check one at a time;
each piece is ranked by its expected number of wrong voxels, Σ q (in mL).

Which map is the default, and the entropy level of its threshold, is what ``benchmarks/trust/trust.py``
measured best at finding the model's errors (docs/trust.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..data.image_io import Geometry
from ..data.roi import box_bounds, index_to_lps
from .maps import DELTA, THETA

REVIEW_MAPS = ("entropy", "delta-theta", "delta", "theta", "entropy+theta")
DEFAULT_MAP = "entropy"
DEFAULT_Q_MIN = 0.2         # entropy map: voxels at least this likely to be wrong (benchmark-chosen)
BLOCK_MM = 15.0             # regions are cut into blocks of this size (mm), so each is one look
MIN_VOXELS = 3              # smaller pieces (at the block cuts, isolated voxels) are not listed
MAX_REGIONS = 50
EDGE_VOXELS = 2             # outside the segmentation and mostly this close to the scan's faces: an edge artefact
PADDING_SHARE = 0.005       # the image's minimum held exactly by at least this share of its voxels: padding


def error_probability_table(levels: int = 256) -> np.ndarray:
    """q(level): the probability of the wrong label for each uint8 entropy level (binary inversion)."""
    target = np.arange(levels) / (levels - 1)
    lo, hi = np.zeros(levels), np.full(levels, 0.5)
    for _ in range(40):  # bisection: H is increasing on [0, 0.5]
        mid = (lo + hi) / 2
        h = -(mid * np.log2(np.maximum(mid, 1e-300)) + (1 - mid) * np.log2(1 - mid))
        below = h < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return ((lo + hi) / 2).astype(np.float32)


Q_OF_LEVEL = error_probability_table()


def level_of_q(q: float) -> int:
    """The lowest entropy level whose error probability reaches ``q``."""
    return int(np.searchsorted(Q_OF_LEVEL, q - 1e-7))


def expected_errors(entropy: np.ndarray, q_min: float = 0.0) -> float:
    """Σ q over the voxels with q ≥ ``q_min`` (voxels expected to be wrong), without a float copy of
    the volume."""
    weights = np.where(np.arange(256) >= level_of_q(q_min), Q_OF_LEVEL, 0.0) if q_min > 0 else Q_OF_LEVEL
    return float(np.bincount(entropy.ravel(), minlength=256)[:256] @ weights.astype(np.float64))


def review_mask(entropy: np.ndarray, regions: np.ndarray | None, map_name: str = DEFAULT_MAP,
                q_min: float = DEFAULT_Q_MIN) -> np.ndarray:
    """The voxels the review map marks."""
    if map_name not in REVIEW_MAPS:
        raise ValueError(f"review map must be one of {REVIEW_MAPS}, not {map_name!r}")
    if map_name != "entropy" and regions is None:
        raise ValueError(f"review map {map_name!r} needs the region map (segment without --no-regions)")
    uncertain = entropy >= level_of_q(q_min)
    if map_name == "entropy":
        return uncertain
    if map_name == "entropy+theta":
        return uncertain | (regions == THETA)
    wanted = {"delta-theta": (DELTA, THETA), "delta": (DELTA,), "theta": (THETA,)}[map_name]
    return np.isin(regions, wanted)


@dataclass
class ReviewRegion:
    rank: int
    centre_lps: tuple          # a voxel of the region nearest its centroid (mm): where to look
    bounds_lps: tuple          # (xmin, ymin, zmin, xmax, ymax, zmax) of its voxel centres (mm)
    volume_ml: float
    expected_error_ml: float   # Σ q over the region: how much of it is likely wrong
    reason: str
    voxels: int

    def to_json(self) -> dict:
        d = asdict(self)
        d["centre_lps"] = [round(v, 2) for v in self.centre_lps]
        d["bounds_lps"] = [round(v, 2) for v in self.bounds_lps]
        return d


def _pieces(mask: np.ndarray, spacing, block_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the marked voxels and a piece id per voxel (component × block)."""
    # label only the marked box: a whole CT volume's int32 component map would cost 4 bytes a voxel
    box = tuple(slice(int(np.flatnonzero(a)[0]), int(np.flatnonzero(a)[-1]) + 1)
                for a in (mask.any((1, 2)), mask.any((0, 2)), mask.any((0, 1))))
    components, _ = ndimage.label(mask[box], structure=np.ones((3, 3, 3), bool))
    idx = np.argwhere(mask)  # C order, as components[mask[box]] below
    marked = components[mask[box]]
    cells = np.floor(idx * np.asarray(spacing) / block_mm).astype(np.int64)
    grid = cells.max(0) + 1 if len(cells) else np.ones(3, np.int64)
    cell = (cells[:, 0] * grid[1] + cells[:, 1]) * grid[2] + cells[:, 2]
    key = marked.astype(np.int64) * int(np.prod(grid)) + cell
    return idx, np.unique(key, return_inverse=True)[1].ravel()


def _ranked(piece: np.ndarray, q: np.ndarray, min_voxels: int, max_regions: int):
    """Voxels and Σ q per piece, and the listed pieces, largest Σ q first."""
    n = np.bincount(piece)
    err = np.bincount(piece, q)
    order = [p for p in np.argsort(-err, kind="stable") if n[p] >= min_voxels][:max_regions]
    return n, err, order


def region_members(entropy: np.ndarray, regions: np.ndarray | None, geometry: Geometry,
                   map_name: str = DEFAULT_MAP, q_min: float = DEFAULT_Q_MIN, block_mm: float = BLOCK_MM,
                   min_voxels: int = MIN_VOXELS, max_regions: int = MAX_REGIONS) -> list[np.ndarray]:
    """The voxel indices (N, 3) of each listed region, in the list's order (for measuring it)."""
    mask = review_mask(entropy, regions, map_name, q_min)
    if not mask.any():
        return []
    idx, piece = _pieces(mask, geometry.spacing, block_mm)
    _, _, order = _ranked(piece, Q_OF_LEVEL[entropy[mask]].astype(np.float64), min_voxels, max_regions)
    return [idx[piece == p] for p in order]


def padding_mask(image: np.ndarray | None) -> np.ndarray | None:
    """The voxels outside what was scanned: those holding exactly the image's minimum, where at least
    ``PADDING_SHARE`` of the volume does (zero- or −1024-filled padding, the outside of a CT's
    reconstruction circle, a masked MR background; measured tissue is never that flat). None: none."""
    if image is None or image.size == 0:
        return None
    pad = image == image.min()
    return pad if pad.mean() >= PADDING_SHARE else None


def _near_padding(idx: np.ndarray, padding: np.ndarray) -> np.ndarray:
    """Per voxel of ``idx`` (N, 3): within ``EDGE_VOXELS`` (city-block) of a padding voxel; only the
    listed voxels' box is looked at, so a large scan costs no more than its review list."""
    lo = np.maximum(idx.min(0) - EDGE_VOXELS, 0)
    hi = np.minimum(idx.max(0) + EDGE_VOXELS + 1, padding.shape)
    box = padding[tuple(slice(a, b) for a, b in zip(lo, hi))]
    near = ndimage.binary_dilation(box, iterations=EDGE_VOXELS) if EDGE_VOXELS else box
    return near[tuple((idx - lo).T)]


def _reason(delta: float, theta: float, inside: float, map_name: str, edge: float = 0.0) -> str:
    if theta >= 0.5:
        what = "fragile: confident but changes when the scan is perturbed (Θ)"
    elif delta >= 0.5:
        what = "uncertain (Δ)"
    else:
        what = "high entropy" if map_name.startswith("entropy") else "uncertain or fragile (Δ/Θ)"
    if inside >= 0.95:
        where = "inside the segmentation: possible false positive"
    elif inside <= 0.05 and edge >= 0.5:
        where = "at the scan's edge or its padding, outside the segmentation: likely a border or padding artefact"
    elif inside <= 0.05:
        where = "outside the segmentation: possible missed structure"
    else:
        where = "at the segmentation's border"
    return f"{what}, {where}"


def review_regions(label: np.ndarray, entropy: np.ndarray, regions: np.ndarray | None, geometry: Geometry,
                   map_name: str = DEFAULT_MAP, q_min: float = DEFAULT_Q_MIN, block_mm: float = BLOCK_MM,
                   min_voxels: int = MIN_VOXELS, max_regions: int = MAX_REGIONS,
                   padding: np.ndarray | None = None) -> list[ReviewRegion]:
    """The ranked review list of one segmentation (arrays (x, y, z) on ``geometry``'s grid). ``padding``
    (``padding_mask`` of the scan, same grid): next to it counts as the scan's edge."""
    mask = review_mask(entropy, regions, map_name, q_min)
    if not mask.any():
        return []
    idx, piece = _pieces(mask, geometry.spacing, block_mm)
    q = Q_OF_LEVEL[entropy[mask]].astype(np.float64)
    n, err, order = _ranked(piece, q, min_voxels, max_regions)
    inside = np.bincount(piece, (label[mask] > 0).astype(np.float64)) / n
    kinds = regions[mask] if regions is not None else np.zeros(len(q), np.uint8)
    delta = np.bincount(piece, (kinds == DELTA).astype(np.float64), len(n)) / n
    theta = np.bincount(piece, (kinds == THETA).astype(np.float64), len(n)) / n
    centroid = np.stack([np.bincount(piece, idx[:, a].astype(np.float64)) for a in range(3)], 1) / n[:, None]
    near_edge = ((idx < EDGE_VOXELS) | (idx >= np.asarray(label.shape) - EDGE_VOXELS)).any(1)
    if padding is not None and padding.shape == label.shape:
        near_edge |= _near_padding(idx, padding)
    edge = np.bincount(piece, near_edge.astype(np.float64), len(n)) / n
    # edge artefacts outside the segmentation go after every other region: they are rarely errors
    order = sorted(order, key=lambda p: bool(inside[p] <= 0.05 and edge[p] >= 0.5))
    voxel_ml = float(np.prod(geometry.spacing)) / 1000.0
    by_piece = np.argsort(piece, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n)])
    out = []
    for rank, p in enumerate(order, 1):
        members = idx[by_piece[starts[p]:starts[p + 1]]]
        nearest = members[np.argmin(((members - centroid[p]) ** 2).sum(1))]
        out.append(ReviewRegion(rank, index_to_lps(geometry, nearest),
                                box_bounds(geometry, members.min(0), members.max(0)),
                                round(n[p] * voxel_ml, 4), round(err[p] * voxel_ml, 4),
                                _reason(delta[p], theta[p], inside[p], map_name, edge[p]), int(n[p])))
    return out


def describe_q(q_min: float) -> str:
    """The threshold in words, for docs and GUIs."""
    return f"voxels at least {100 * q_min:.0f} % likely to be wrong (entropy ≥ {level_of_q(q_min)}/255)"
