"""Prediction agreement between two score matrices, tie-aware (parity with GraphLearning).

Two solvers agree on a node when the class one predicts is among the other's
best classes — those within ``rtol`` (relative to the largest |score|) of
its top score. Exact ties (hop distances on an unweighted graph, the AMLE's
midrange values, nodes no label reaches in a few steps) have no preferred
class and each package breaks them its own way; they count as agreement only
when the other side's choice is one of the tied classes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["best_classes", "agreement"]


def best_classes(scores: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Bool ``(n, c)``: the classes within ``rtol · max|scores|`` of each row's top score."""
    scores = np.asarray(scores, dtype=np.float64)
    tol = rtol * max(float(np.abs(scores).max()), np.finfo(np.float64).tiny)
    return scores >= scores.max(axis=1, keepdims=True) - tol


def agreement(a: np.ndarray, b: np.ndarray, unlabeled: np.ndarray, rtol: float = 1e-6) -> tuple[float, float]:
    """``(agreement, tie fraction)`` of the score matrices ``a`` and ``b`` (larger = better) over ``unlabeled``.

    Parameters
    ----------
    a, b : array of shape (n, c)
    unlabeled : bool array of shape (n,)
        The nodes to compare (typically the unlabeled ones).
    rtol : float
        Relative tolerance of a tie.

    Returns
    -------
    (float, float)
        The fraction of ``unlabeled`` nodes where ``argmax a`` is among ``b``'s
        best classes or ``argmax b`` among ``a``'s, and the fraction where either side ties.
    """
    best_a, best_b = best_classes(a, rtol), best_classes(b, rtol)
    rows = np.arange(best_a.shape[0])
    ok = best_b[rows, np.argmax(a, axis=1)] | best_a[rows, np.argmax(b, axis=1)]
    tie = (best_a.sum(axis=1) > 1) | (best_b.sum(axis=1) > 1)
    unlabeled = np.asarray(unlabeled, dtype=bool)
    return float(ok[unlabeled].mean()), float(tie[unlabeled].mean())
