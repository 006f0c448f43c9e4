"""The trials protocol: seeded, stratified labeled sets shared by every method.

A benchmark compares methods on *identical* labeled sets. Each labeled set is
drawn from its own random generator, seeded by ``(seed, key, rate, trial)``,
so trial ``t`` at a given rate is the same whatever the number of trials
requested, whichever methods run, and in whatever order (docs/design.md §5).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..validation import check_int

__all__ = ["TrialTask", "labeled_sets", "trial_rng", "evaluation_mask"]


@dataclass
class TrialTask:
    """One trial of one benchmark: a graph, its nodes' labels and a labeled set.

    A benchmark method is a callable ``method(task) -> np.ndarray`` returning
    the predicted label of every node (shape ``(n,)``). Accuracy is measured on
    nodes outside ``train_idx`` and ``val_idx``.

    Attributes
    ----------
    graph : graphvar.graph.Graph
        Graph used by graph methods (citation graph or k-NN graph).
    features : numpy.ndarray of shape (n, d) or None
        Node features for GNNs and feature-based methods.
    labels : numpy.ndarray of shape (n,)
        True labels ``0..c-1`` of every node.
    train_idx : numpy.ndarray of int
        Labeled nodes of this trial.
    val_idx : numpy.ndarray of int or None
        Validation nodes (GNN early stopping), disjoint from ``train_idx``.
    seed : int
        Seed of this trial, for methods with their own randomness.
    """

    graph: Any
    features: np.ndarray | None
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray | None
    seed: int

    @property
    def n_classes(self) -> int:
        """Number of classes (``labels.max() + 1``)."""
        return int(self.labels.max()) + 1

    def y_masked(self) -> np.ndarray:
        """Labels with every node outside ``train_idx`` set to ``-1``."""
        y = np.full(self.labels.shape[0], -1, dtype=np.int64)
        y[self.train_idx] = self.labels[self.train_idx]
        return y


def _check_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class ids, got shape {labels.shape}")
    if labels.size == 0:
        raise ValueError("labels is empty: pass the class id of every node")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"labels must hold integers 0..c-1, got dtype {labels.dtype}; "
            "encode classes with sklearn.preprocessing.LabelEncoder first"
        )
    if labels.min() < 0:
        raise ValueError("labels must be >= 0 (every node needs its true class for a benchmark)")
    return labels.astype(np.int64, copy=False)


def trial_rng(seed: int, key: str, rate: int, trial: int) -> np.random.Generator:
    """Return the generator of one ``(key, rate, trial)`` cell.

    Parameters
    ----------
    seed : int
        Benchmark seed (non-negative).
    key : str
        Name of the dataset (mixed in through CRC-32, stable across runs).
    rate : int
        Labels per class.
    trial : int
        Trial number.

    Returns
    -------
    numpy.random.Generator
    """
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8")), int(rate), int(trial)])


def labeled_sets(labels, rate: int, trials: int, seed: int = 0, key: str = "") -> np.ndarray:
    """Draw ``trials`` stratified labeled sets with exactly ``rate`` nodes per class.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        True class ``0..c-1`` of every node.
    rate : int
        Labeled nodes per class (at least 1).
    trials : int
        Number of labeled sets.
    seed : int, default=0
        Benchmark seed. The same ``(seed, key, rate, trial)`` always gives the
        same set, so every method sees identical labeled nodes.
    key : str, default=""
        Dataset name, so that two datasets with the same seed get unrelated sets.

    Returns
    -------
    numpy.ndarray of int64, shape (trials, rate * c)
        Row ``t`` holds the sorted node indices of trial ``t``.
    """
    labels = _check_labels(labels)
    rate = check_int(rate, "rate", minimum=1)  # labels per class
    trials = check_int(trials, "trials", minimum=1)
    n_classes = int(labels.max()) + 1
    members = [np.flatnonzero(labels == c) for c in range(n_classes)]
    for c, idx in enumerate(members):
        if idx.size <= rate:
            raise ValueError(
                f"class {c} has {idx.size} nodes: cannot label {rate} of them and keep one "
                "unlabeled; lower the rate or drop the class"
            )
    out = np.empty((trials, rate * n_classes), dtype=np.int64)
    for t in range(trials):
        rng = trial_rng(seed, key, rate, t)
        picked = [rng.choice(idx, size=rate, replace=False) for idx in members]
        out[t] = np.sort(np.concatenate(picked))
    return out


def evaluation_mask(n: int, train_idx, val_idx=None) -> np.ndarray:
    """Boolean mask of the nodes an accuracy is measured on.

    Parameters
    ----------
    n : int
        Number of nodes.
    train_idx : array-like of int
        Labeled nodes (excluded).
    val_idx : array-like of int or None
        Validation nodes (excluded).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    mask = np.ones(n, dtype=bool)
    mask[np.asarray(train_idx, dtype=np.int64)] = False
    if val_idx is not None:
        mask[np.asarray(val_idx, dtype=np.int64)] = False
    return mask
