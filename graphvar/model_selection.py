"""Model selection with few labels: score on held-out *labeled* samples only.

In semi-supervised data most targets are ``-1`` (unlabeled). scikit-learn's
default ``score`` counts every ``-1`` as a miss, so a grid search ranks
parameters by noise (all scores near the labeled fraction). Here:

* :func:`labeled_accuracy` / :func:`labeled_scorer` ignore ``-1`` targets
  (the graph estimators' ``score`` uses them), and
* :class:`LabeledKFold` splits only the labeled samples into folds,
  stratified by class, and keeps every unlabeled sample in every training
  fold, so each test fold is a set of held-out labels.

Use them together with :class:`sklearn.model_selection.GridSearchCV`;
``docs/model_selection.md`` has a worked example.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from .base import unlabeled_mask
from .validation import check_bool, check_int

__all__ = ["labeled_accuracy", "labeled_scorer", "LabeledKFold"]


def labeled_accuracy(y_true, y_pred, *, sample_weight=None) -> float:
    """Fraction of the labeled entries of ``y_true`` (not ``-1``) that ``y_pred`` gets right.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, ``-1`` (or ``None``) for unlabeled samples.
    y_pred : array-like of shape (n,)
        Predictions; ``-1`` / ``None`` predictions (uninformed samples) count as misses.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``y_true`` has no labeled entry, or the lengths differ.
    """
    y_true = np.asarray(y_true, dtype=object) if not isinstance(y_true, np.ndarray) else y_true
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"y_true and y_pred must be 1-D of the same length, got shapes {y_true.shape} "
                         f"and {y_pred.shape}.")
    labeled = ~unlabeled_mask(y_true)
    if not labeled.any():
        raise ValueError("y_true has no labeled sample (all -1) to score on; score on held-out labels, e.g. "
                         "with cv=graphvar.model_selection.LabeledKFold().")
    hit = np.array([a == b for a, b in zip(y_true[labeled].tolist(), y_pred[labeled].tolist())], dtype=float)
    if sample_weight is None:
        return float(hit.mean())
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != y_true.shape or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite, non-negative and of the length of y_true.")
    w = w[labeled]
    if w.sum() <= 0:
        raise ValueError("sample_weight is zero on every labeled sample.")
    return float((w * hit).sum() / w.sum())


def labeled_scorer(estimator, X, y) -> float:
    """A scorer for ``GridSearchCV(scoring=labeled_scorer)``: accuracy on the labeled samples of ``y``.

    Works with any classifier that has ``predict`` (e.g. scikit-learn's
    ``LabelSpreading``); ``-1`` targets are ignored.
    """
    return labeled_accuracy(y, estimator.predict(X))


class LabeledKFold(BaseCrossValidator):
    """K folds of the labeled samples, stratified by class; unlabeled samples always train.

    Each labeled sample is in exactly one test fold; within a class the
    labeled samples are dealt round-robin over the folds (after a shuffle), so
    every class keeps at least one training label in every fold as long as it
    has at least two labels.

    Parameters
    ----------
    n_splits : int, default=3
        Number of folds (at least 2).
    shuffle : bool, default=True
        Shuffle each class's labeled samples before dealing them out.
    random_state : int or None, default=0
        Seed of the shuffle.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1, -1, -1, -1])
    >>> [test.tolist() for _, test in LabeledKFold(n_splits=2, shuffle=False).split(np.zeros((7, 1)), y)]
    [[0, 2], [1, 3]]
    """

    def __init__(self, n_splits: int = 3, *, shuffle: bool = True, random_state=0):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of folds."""
        return check_int(self.n_splits, "n_splits", minimum=2)

    def _iter_test_indices(self, X=None, y=None, groups=None):
        n_splits = self.get_n_splits()
        check_bool(self.shuffle, "shuffle")
        if y is None:
            raise ValueError("LabeledKFold needs y (the labels, -1 = unlabeled) to find the labeled samples.")
        y = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
        labeled = np.flatnonzero(~unlabeled_mask(y))
        values = y[labeled].tolist()
        classes = sorted(set(values), key=repr)
        rng = np.random.default_rng(self.random_state)
        folds = [[] for _ in range(n_splits)]
        pos = 0  # one deal across the classes keeps the fold sizes within one of each other
        for c in classes:
            members = labeled[[v == c for v in values]]
            if members.size < 2:
                raise ValueError(
                    f"class {c!r} has a single labeled sample: holding it out would leave the model without "
                    "that class. Model selection by held-out labels needs at least 2 labels per class."
                )
            if self.shuffle:
                members = rng.permutation(members)
            for idx in members.tolist():
                folds[pos % n_splits].append(idx)
                pos += 1
        if labeled.size < n_splits:
            raise ValueError(f"n_splits={n_splits} folds need at least {n_splits} labeled samples, "
                             f"y has {labeled.size}; lower n_splits.")
        for fold in folds:
            yield np.sort(np.asarray(fold, dtype=np.int64))
