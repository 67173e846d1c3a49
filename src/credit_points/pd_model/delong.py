"""DeLong's test for two correlated ROC AUCs on the same cases (the promotion gate's "no significant drop").

Reference: DeLong, DeLong & Clarke-Pearson (1988), with the fast midrank algorithm of Sun & Xu (2014).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class DeLongResult:
    """AUCs of two scores on the same cases and the test of their difference."""

    auc_a: float
    auc_b: float
    diff: float
    se_diff: float
    z: float
    p_value_two_sided: float
    p_value_a_worse: float


def _midranks(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def _structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = scores[:, y == 1]
    neg = scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    k = scores.shape[0]
    aucs = np.empty(k)
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    for r in range(k):
        tx = _midranks(pos[r])
        ty = _midranks(neg[r])
        tz = _midranks(np.concatenate([pos[r], neg[r]]))
        aucs[r] = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
        v10[r] = (tz[:m] - tx) / n
        v01[r] = 1.0 - (tz[m:] - ty) / m
    return aucs, v10, v01


def delong_test(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> DeLongResult:
    """Paired DeLong test of AUC(a) − AUC(b); higher scores mean higher risk.

    Examples:
        >>> y = np.array([0, 0, 1, 1, 0, 1])
        >>> r = delong_test(y, np.array([0.1, 0.2, 0.8, 0.7, 0.3, 0.9]), np.array([0.5, 0.1, 0.4, 0.9, 0.6, 0.2]))
        >>> round(r.auc_a, 4), round(r.auc_b, 4)
        (1.0, 0.5556)
    """
    y = np.asarray(y_true).astype(int)
    if y.min() == y.max():
        raise ValueError("delong_test needs both outcomes; got only one class")
    scores = np.vstack([np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)])
    aucs, v10, v01 = _structural_components(y, scores)
    m, n = v10.shape[1], v01.shape[1]
    cov = np.cov(v10) / m + np.cov(v01) / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    se = float(np.sqrt(max(var, 0.0)))
    degenerate = 0.0 if diff == 0.0 else float(np.sign(diff) * np.inf)  # identical scores: no variance
    z = diff / se if se > 0.0 else degenerate
    return DeLongResult(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        diff=diff,
        se_diff=se,
        z=float(z),
        p_value_two_sided=float(2 * stats.norm.sf(abs(z))),
        p_value_a_worse=float(stats.norm.cdf(z)),
    )
