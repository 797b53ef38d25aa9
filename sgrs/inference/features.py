"""Feature distance: how unlike the model's training cases a scan looks to the network itself.

A scan's features are the V-Net bottleneck (the encoder's last stage), averaged over space, of the
whole normalised scan on the network's grid resized to one window: one encoder pass, a fixed cost of
about 1.3 sliding windows — under 1 % of a CT, but about a tenth of a scan of a few windows, so
``sgrs segment`` makes it only when asked or when the case flag reads it (segment.wants_features).
(Statistics stored before this also hold the centre window's features, ``inputs`` ("centre",
"whole"); such a bundle is scored as it was stored. The centre window cost a second pass and ranked
the failures worse: docs/trust.md.)
The training cases' features give a mean, a PCA basis and its variances; a scan's score is its
Mahalanobis distance in that basis divided by the training cases' own 95th percentile (so about 1
at the edge of the training data). Beside it, the k-nearest-neighbour distance in the same whitened
PCA basis (the mean distance to the ``KNN_K`` nearest training cases, in units of the training cases'
own leave-one-out 95th percentile): it does not assume one Gaussian cloud, so a scan between two
groups of training cases is not called typical. Neither rests on softmax confidence, which is what
a shift fools (González et al. 2022; Woodland et al. 2024).

Bundle storage (additive, see docs/bundle.md): ``feature_stats.safetensors`` (mean, scale, basis,
variances, and ``points``: the training cases' whitened PCA coordinates) and the ``feature_stats`` entry
of ``model.json`` (file, sha256, cases, components, distance_q95, knn_q95, knn_k, inputs, source). Statistics written
before ``points`` existed still give the Mahalanobis distance; their kNN distance is None.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

STATS_FILE = "feature_stats.safetensors"
INPUTS = ("whole",)                       # what a new scan's features are made of
OLD_INPUTS = ("centre", "whole")          # statistics stored without "inputs" in their entry
INPUT_WORDS = {"centre": "centre window", "whole": "whole scan resized"}
MAX_COMPONENTS = 8
RIDGE = 1e-3   # added to each variance (relative to the largest), so a flat direction cannot explode
KNN_K = 3      # neighbours averaged by the kNN distance (fewer when there are fewer other cases)


def _centre_window(x: np.ndarray, patch) -> np.ndarray:
    """The centre ``patch`` of ``x``, padded with its minimum where ``x`` is smaller."""
    out = np.full(tuple(patch), float(x.min()), np.float32)
    src, dst = [], []
    for n, p in zip(x.shape, patch):
        if n >= p:
            a = (n - p) // 2
            src.append(slice(a, a + p))
            dst.append(slice(0, p))
        else:
            a = (p - n) // 2
            src.append(slice(0, n))
            dst.append(slice(a, a + n))
    out[tuple(dst)] = x[tuple(src)]
    return out


@torch.no_grad()
def pooled_features(model: torch.nn.Module, image: np.ndarray, patch, device="cpu", inputs=INPUTS) -> np.ndarray:
    """The feature vector of a normalised (x, y, z) array on the model's grid (float64): the pooled
    bottleneck of each of ``inputs`` ("whole": the scan resized to one window; "centre": its centre
    window), one after the other."""
    encoder = model.encoder
    was_training = encoder.training
    encoder.eval()
    parts = []
    for name in inputs:
        if name == "whole":
            t = torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None]
            parts.append(F.interpolate(t, size=tuple(int(p) for p in patch), mode="trilinear", align_corners=False))
        elif name == "centre":
            parts.append(torch.from_numpy(_centre_window(image, patch))[None, None])
        else:
            raise ValueError(f"unknown feature input {name!r}")
    batch = torch.cat(parts).to(device)
    dtype = next(encoder.parameters()).dtype
    bottleneck = encoder(batch.to(dtype))[-1].float()
    encoder.train(was_training)
    return bottleneck.mean(dim=(2, 3, 4)).reshape(-1).cpu().double().numpy()


@dataclass
class FeatureStats:
    mean: np.ndarray          # (d,)
    scale: np.ndarray         # (d,) per-feature standard deviation (features standardised first)
    basis: np.ndarray         # (k, d) principal directions
    variances: np.ndarray     # (k,) their variances
    distance_q95: float       # 95th percentile of the training cases' own distances
    cases: int
    source: str = "training"
    inputs: tuple = INPUTS             # what the features were made of (pooled_features)
    points: np.ndarray | None = None   # (n, k) the fitted cases' whitened PCA coordinates (kNN)
    knn_q95: float | None = None       # 95th percentile of their leave-one-out kNN distances

    @classmethod
    def fit(cls, features: np.ndarray, source: str = "training", inputs=INPUTS) -> "FeatureStats":
        f = np.asarray(features, np.float64)
        if f.ndim != 2 or f.shape[0] < 3:
            raise ValueError("feature statistics need at least 3 cases")
        mean = f.mean(0)
        scale = f.std(0)
        scale = np.where(scale > 1e-8 * max(float(scale.max()), 1e-12), scale, 1.0)
        z = (f - mean) / scale
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        k = min(MAX_COMPONENTS, f.shape[0] - 1, vt.shape[0])
        variances = s[:k] ** 2 / (f.shape[0] - 1)
        stats = cls(mean, scale, vt[:k], variances, 1.0, f.shape[0], source, tuple(inputs))
        stats.distance_q95 = float(np.quantile(stats.raw_distance(f), 0.95)) or 1.0
        stats.points = stats.whitened(f)
        own = np.sqrt(((stats.points[:, None] - stats.points[None]) ** 2).sum(-1))
        np.fill_diagonal(own, np.inf)   # leave one out: a case is not its own neighbour
        stats.knn_q95 = float(np.quantile(_knn_mean(own, stats.knn_k), 0.95)) or 1.0
        return stats

    def _ridge(self) -> float:
        return RIDGE * float(self.variances.max()) if self.variances.size else RIDGE

    def whitened(self, features: np.ndarray) -> np.ndarray:
        """(n, k) coordinates in the PCA basis, each divided by its standard deviation."""
        z = (np.atleast_2d(features) - self.mean) / self.scale
        return (z @ self.basis.T) / np.sqrt(self.variances + self._ridge())

    def raw_distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance in the PCA basis, plus the residual outside it (per case)."""
        z = (np.atleast_2d(features) - self.mean) / self.scale
        proj = z @ self.basis.T
        ridge = self._ridge()
        inside = (proj ** 2 / (self.variances + ridge)).sum(1)
        residual = ((z - proj @ self.basis) ** 2).sum(1) / (float(self.variances.min()) + ridge) \
            if self.variances.size else 0.0
        return np.sqrt(inside + residual)

    def distance(self, features: np.ndarray) -> float:
        """The scan's distance in units of the training cases' 95th percentile (≈ 1 at their edge)."""
        return float(self.raw_distance(features)[0] / self.distance_q95)

    def knn_distance(self, features: np.ndarray) -> float | None:
        """Mean distance to the ``KNN_K`` nearest fitted cases (whitened PCA coordinates), in units of
        their own leave-one-out 95th percentile; None for statistics stored without their points."""
        if self.points is None or not self.knn_q95:
            return None
        d = np.sqrt(((self.whitened(features)[:1] - self.points) ** 2).sum(-1))
        return float(_knn_mean(d[None], self.knn_k)[0] / self.knn_q95)

    @property
    def knn_k(self) -> int:
        """Neighbours averaged: ``KNN_K``, or every other case where there are fewer (same for the
        leave-one-out percentile and a new scan, so the units agree)."""
        n = len(self.points) if self.points is not None else self.cases
        return max(1, min(KNN_K, n - 1))

    def tensors(self) -> dict[str, torch.Tensor]:
        keys = ("mean", "scale", "basis", "variances") + (("points",) if self.points is not None else ())
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in keys}

    def entry(self, sha256: str) -> dict:
        return {"file": STATS_FILE, "sha256": sha256, "cases": self.cases, "components": int(self.basis.shape[0]),
                "distance_q95": self.distance_q95, "source": self.source,
                **({"knn_q95": self.knn_q95, "knn_k": self.knn_k} if self.points is not None else {}),
                "inputs": list(self.inputs), "features": "V-Net bottleneck, mean over space, "
                + " + ".join(INPUT_WORDS[i] for i in self.inputs)}


def _knn_mean(distances: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of its ``k`` smallest distances."""
    return np.sort(distances, axis=1)[:, :k].mean(1)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_feature_stats(bundle_dir, stats: FeatureStats) -> dict:
    """Store the statistics in the bundle folder and their entry in its model.json (the other
    fields are kept as they are; each file goes to a temp name first)."""
    from safetensors.torch import save_file

    from ..util.atomic import write_text

    root = Path(bundle_dir)
    mode = (root / "model.json").stat().st_mode & 0o777  # a shared registry stays readable
    tmp = root / f".{STATS_FILE}.tmp"
    save_file(stats.tensors(), tmp)
    tmp.chmod(mode)
    tmp.replace(root / STATS_FILE)
    meta = json.loads((root / "model.json").read_text())
    meta["feature_stats"] = stats.entry(_sha256(root / STATS_FILE))
    write_text(root / "model.json", json.dumps(meta, indent=1) + "\n")
    (root / "model.json").chmod(mode)
    return meta["feature_stats"]


def read_feature_stats(bundle_dir, meta: dict) -> FeatureStats | None:
    """The bundle's statistics, or None when it has none or they do not check out (then the flag
    goes without the feature distance; nothing is unpickled)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    entry = meta.get("feature_stats")
    if not entry:
        return None
    path = Path(bundle_dir) / entry.get("file", STATS_FILE)
    if not path.is_file() or _sha256(path) != entry.get("sha256"):
        return None
    try:
        t = load_file(path)
        arrays = {k: t[k].double().numpy() for k in ("mean", "scale", "basis", "variances")}
        points = t["points"].double().numpy() if "points" in t and entry.get("knn_q95") else None
    except (SafetensorError, OSError, KeyError):
        return None
    return FeatureStats(**arrays, distance_q95=float(entry["distance_q95"]), cases=int(entry["cases"]),
                        source=entry.get("source", "training"), inputs=tuple(entry.get("inputs") or OLD_INPUTS),
                        points=points,
                        knn_q95=float(entry["knn_q95"]) if points is not None else None)
