"""Class balancing: volume-constrained prediction with known class priors.

Graph-based scores at very low label rates tend to flood the graph with one
or two classes. When the class proportions are known (or estimated), the
prediction can be constrained to respect them. This module validates priors
and is the public entry point of the projection, which lives in
:mod:`graphvar.solvers.volume`: by default the exact solution (labels with
``round(n · priors)`` nodes per class, optimal for GraphLearning's
multiplicative class weights), or GraphLearning 1.7.5's weight loop
(``method="gl"``, ``ssl.volume_label_projection`` + ``predict``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_class_priors", "check_priors_cover_labels", "class_priors_from_labels", "volume_label_projection"]


def check_class_priors(class_priors, n_classes: int) -> np.ndarray:
    """Validate class priors and return them normalised to sum to one.

    Parameters
    ----------
    class_priors : array-like of shape (n_classes,)
        Non-negative class proportions (any positive total).
    n_classes : int
        Expected number of classes.

    Returns
    -------
    numpy.ndarray of float64, shape (n_classes,)
    """
    if isinstance(class_priors, torch.Tensor):
        class_priors = class_priors.detach().cpu().numpy()
    p = np.asarray(class_priors, dtype=np.float64)
    if p.ndim != 1 or p.shape[0] != n_classes:
        raise ValueError(
            f"class_priors must have one entry per class ({n_classes}), got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("class_priors must be finite, non-negative and not all zero")
    return p / p.sum()


def class_priors_from_labels(labels, n_classes: int | None = None) -> np.ndarray:
    """Class proportions of a label vector (``-1`` entries ignored).

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Class ids; ``-1`` marks unlabeled nodes and is skipped.
    n_classes : int, optional
        Number of classes (default ``max(labels) + 1``).

    Returns
    -------
    numpy.ndarray of float64, shape (n_classes,)
    """
    labels = np.asarray(labels).ravel()
    labels = labels[labels >= 0]
    if labels.size == 0:
        raise ValueError("labels holds no labeled node (all -1): cannot estimate class priors")
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(labels.astype(np.int64), minlength=n_classes).astype(np.float64)
    return counts / counts.sum()


def check_priors_cover_labels(priors: np.ndarray, labels) -> None:
    """Refuse priors that are zero for a class with labeled nodes (labels ``(n,)`` or ``(B, n)``, ``-1`` = none)."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels).ravel()
    present = np.unique(labels[labels >= 0])
    empty = [int(k) for k in present if k < priors.size and priors[k] <= 0]
    if empty:
        raise ValueError(
            f"class_priors is zero for class(es) {empty}, which have labeled nodes: the volume constraint "
            "would have to relabel them. Give every labeled class a positive prior.")


def volume_label_projection(
    scores,
    class_priors,
    *,
    method: str = "exact",
    dt: float = 0.1,
    tol: float = 1e-3,
    max_iter: int = 10_000,
    return_weights: bool = False,
    return_info: bool = False,
):
    """Predict labels whose class fractions match ``class_priors``.

    The one class-prior projection of graphvar: :func:`graphvar.solvers.volume.volume_projection`
    (its docstring and docs/mbo.md §1 have the maths).

    Parameters
    ----------
    scores : torch.Tensor or numpy.ndarray, shape (n, c) or (B, n, c)
        Similarity scores (larger = more likely), e.g. Poisson's ``u``.
    class_priors : array-like of shape (c,)
        Target class fractions (normalised internally).
    method : {"exact", "gl"}, default="exact"
        ``"exact"``: the optimal labels with ``round(n · priors)`` nodes per
        class. ``"gl"``: GraphLearning 1.7.5's weight loop (``dt``, ``tol``,
        ``max_iter`` are its settings), which can stop short of the priors.
    dt : float, default=0.1
        Step of the ``"gl"`` weight update.
    tol : float, default=1e-3
        Class-fraction tolerance (``"gl"`` stops there; both warn above it).
    max_iter : int, default=10000
        ``"gl"``: weight updates; ``"exact"``: bound on passes and moves.
    return_weights : bool, default=False
        Also return the class weights ``(c,)`` or ``(B, c)``.
    return_info : bool, default=False
        Also return a dict: ``n_iter``, ``fractions``, ``fraction_error`` and
        ``converged`` (and ``n_passes`` / ``n_moves`` for ``"exact"``).
        A warning names the labeled sets whose fractions miss by more than ``tol``.

    Returns
    -------
    labels : torch.LongTensor of shape (n,) or (B, n)
        Balanced predictions (on the device of ``scores``).
    weights : torch.Tensor of shape (c,) or (B, c)
        Only if ``return_weights``: the final class weights (float64).
    info : dict
        Only if ``return_info`` (after ``weights`` when both are asked for).
    """
    from .volume import volume_projection

    return volume_projection(scores, class_priors, method=method, dt=dt, tol=tol, max_iter=max_iter,
                             return_weights=return_weights, return_info=return_info)
