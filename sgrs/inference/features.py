"""Feature distance: how unlike the model's training cases a scan looks to the network itself.

A scan's features are the V-Net bottleneck (the encoder's last stage), averaged over space, for two
inputs: the centre window of the normalised scan on the network's grid, and the whole scan resized
to one window (what the field of view holds). Two encoder passes: a few per cent of a segmentation.
The training cases' features give a mean, a PCA basis and its variances; a scan's score is its
Mahalanobis distance in that basis divided by the training cases' own 95th percentile (so about 1
at the edge of the training data). This does not rest on softmax confidence, which is what a shift
fools (González et al. 2022; Woodland et al. 2024).

Bundle storage (additive, see docs/bundle.md): ``feature_stats.safetensors`` (mean, scale, basis,
variances) and the ``feature_stats`` entry of ``model.json`` (file, sha256, cases, components,
distance_q95, source).
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
MAX_COMPONENTS = 8
RIDGE = 1e-3   # added to each variance (relative to the largest), so a flat direction cannot explode


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
def pooled_features(model: torch.nn.Module, image: np.ndarray, patch, device="cpu") -> np.ndarray:
    """The feature vector of a normalised (x, y, z) array on the model's grid (float64)."""
    encoder = model.encoder
    was_training = encoder.training
    encoder.eval()
    t = torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None]
    whole = F.interpolate(t, size=tuple(int(p) for p in patch), mode="trilinear", align_corners=False)
    centre = torch.from_numpy(_centre_window(image, patch))[None, None]
    batch = torch.cat([centre, whole]).to(device)
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

    @classmethod
    def fit(cls, features: np.ndarray, source: str = "training") -> "FeatureStats":
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
        stats = cls(mean, scale, vt[:k], variances, 1.0, f.shape[0], source)
        stats.distance_q95 = float(np.quantile(stats.raw_distance(f), 0.95)) or 1.0
        return stats

    def raw_distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance in the PCA basis, plus the residual outside it (per case)."""
        z = (np.atleast_2d(features) - self.mean) / self.scale
        proj = z @ self.basis.T
        ridge = RIDGE * float(self.variances.max()) if self.variances.size else RIDGE
        inside = (proj ** 2 / (self.variances + ridge)).sum(1)
        residual = ((z - proj @ self.basis) ** 2).sum(1) / (float(self.variances.min()) + ridge) \
            if self.variances.size else 0.0
        return np.sqrt(inside + residual)

    def distance(self, features: np.ndarray) -> float:
        """The scan's distance in units of the training cases' 95th percentile (≈ 1 at their edge)."""
        return float(self.raw_distance(features)[0] / self.distance_q95)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in
                ("mean", "scale", "basis", "variances")}

    def entry(self, sha256: str) -> dict:
        return {"file": STATS_FILE, "sha256": sha256, "cases": self.cases, "components": int(self.basis.shape[0]),
                "distance_q95": self.distance_q95, "source": self.source,
                "features": "V-Net bottleneck, mean over space, centre window + whole scan resized"}


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
    except (SafetensorError, OSError, KeyError):
        return None
    return FeatureStats(**arrays, distance_q95=float(entry["distance_q95"]), cases=int(entry["cases"]),
                        source=entry.get("source", "training"))
