"""Failure-detection metrics in the literature's terms (Zenk et al. 2025), numpy only.

A score is "higher = more likely failed"; risk = 1 − Dice; a failure is Dice < ``FAIL_DICE``.
"""
from __future__ import annotations

import numpy as np

FAIL_DICE = 0.7


def aurc(score: np.ndarray, risk: np.ndarray) -> float:
    """Area under the risk–coverage curve: cases kept from the lowest score up; at each coverage the
    mean risk of the cases kept; the mean over all coverages (lower is better)."""
    order = np.argsort(score, kind="stable")
    r = np.asarray(risk, float)[order]
    return float(np.mean(np.cumsum(r) / np.arange(1, r.size + 1)))


def auroc(score: np.ndarray, failed: np.ndarray) -> float | None:
    """P(score of a failed case > score of a good one), ties half; None unless both outcomes occur."""
    s, f = np.asarray(score, float), np.asarray(failed, bool)
    pos, neg = s[f], s[~f]
    if pos.size == 0 or neg.size == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(x.size)
    for v in np.unique(x):  # ties: mean rank
        same = x == v
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def sens_spec(flagged: np.ndarray, failed: np.ndarray) -> tuple[float | None, float | None]:
    flagged, failed = np.asarray(flagged, bool), np.asarray(failed, bool)
    sens = float(flagged[failed].mean()) if failed.any() else None
    spec = float((~flagged[~failed]).mean()) if (~failed).any() else None
    return sens, spec


def bootstrap(stat, *arrays, n: int = 1000, seed: int = 0) -> tuple[float | None, float | None]:
    """95 % percentile interval of ``stat(*arrays)`` over case resamples (None where undefined)."""
    rng = np.random.default_rng(seed)
    size = len(arrays[0])
    values = []
    for _ in range(n):
        idx = rng.integers(0, size, size)
        v = stat(*[np.asarray(a)[idx] for a in arrays])
        if v is not None:
            values.append(v)
    if len(values) < n // 2:
        return None, None
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def threshold_at_specificity(score: np.ndarray, failed: np.ndarray, spec: float = 0.9) -> float:
    """The lowest threshold (flag: score > t) that leaves at least ``spec`` of the good cases unflagged."""
    good = np.sort(np.asarray(score, float)[~np.asarray(failed, bool)])
    if good.size == 0:
        return float(np.max(score))
    k = int(np.ceil(spec * good.size)) - 1
    return float(good[min(max(k, 0), good.size - 1)])


class Logistic:
    """L2-regularised logistic regression (Newton steps) on standardised features."""

    def __init__(self, l2: float = 1.0):
        self.l2 = l2

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Logistic":
        x = np.asarray(x, float)
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-9
        z = np.c_[np.ones(len(x)), (x - self.mu) / self.sd]
        w = np.zeros(z.shape[1])
        reg = self.l2 * np.eye(z.shape[1])
        reg[0, 0] = 0.0
        for _ in range(50):
            p = 1 / (1 + np.exp(-z @ w))
            grad = z.T @ (p - y) + reg @ w
            hess = (z * (p * (1 - p))[:, None]).T @ z + reg + 1e-9 * np.eye(z.shape[1])
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        self.w = w
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        z = np.c_[np.ones(len(x)), (np.asarray(x, float) - self.mu) / self.sd]
        return z @ self.w
