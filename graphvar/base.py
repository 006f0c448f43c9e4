"""What every graphvar estimator shares: the label parser and the out-of-sample k-NN average.

:func:`encode_labels` turns a user's ``y`` (any class values, ``-1`` =
unlabeled, as in :mod:`sklearn.semi_supervised`) into ``classes_`` and
integer codes; :func:`knn_average` places new points by their ``k`` nearest
fitted points (the graph's kernel weights) and averages a per-node quantity
(class probabilities, XMC relevance estimates). Both are used by the
graph classifiers, V-GPN and the XMC teacher.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["encode_labels", "decode_labels", "unlabeled_mask", "cross_knn", "knn_average", "UNLABELED"]

#: The marker of an unlabeled sample in ``y``.
UNLABELED = -1


def _is_unlabeled(v) -> bool:
    return v is None or (isinstance(v, numbers.Number) and not isinstance(v, bool) and v == UNLABELED)


def _label_array(y) -> np.ndarray:
    """``y`` as a numpy array; a list mixing strings and numbers stays an object array (numpy would
    turn the number ``-1`` into the string ``"-1"``)."""
    if isinstance(y, torch.Tensor):
        return y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.dtype.kind in "US" and not isinstance(y, np.ndarray):
        obj = np.asarray(y, dtype=object)
        if obj.shape == arr.shape and any(not isinstance(v, str) for v in obj.ravel().tolist()):
            return obj
    return arr


def unlabeled_mask(y) -> np.ndarray:
    """Boolean mask of the unlabeled entries of ``y``: the number ``-1`` (or ``None`` in an object array)."""
    y = _label_array(y)
    if y.dtype.kind in "iubf":
        return y == UNLABELED
    return np.array([_is_unlabeled(v) for v in y.ravel().tolist()], dtype=bool).reshape(y.shape)


def encode_labels(y, n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``y`` into ``classes_`` and codes ``0..c-1`` (``-1`` where unlabeled).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of any sortable kind (ints, floats, strings); the number
        ``-1`` marks unlabeled samples (``None`` too, in an object array).
    n_samples : int, optional
        Expected length.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted distinct labels of the labeled samples.
    codes : ndarray of int64, shape (n_samples,)

    Raises
    ------
    ValueError
        Wrong shape, NaN/inf, no labeled sample, non-integer numbers (a
        continuous target), negative numeric labels other than ``-1``, or the
        *string* ``"-1"`` (ambiguous: use the number).
    TypeError
        Labels mixing strings and numbers.
    """
    y = _label_array(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}.")
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(f"y has shape {y.shape} but there are {n_samples} samples; pass one label per "
                         "sample (-1 = unlabeled).")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite values; mark unlabeled samples with -1.")
    if y.dtype.kind in "iubf":
        unlabeled = y == UNLABELED
    elif y.dtype.kind in "USO":
        unlabeled = unlabeled_mask(y)
        kinds = {type(v) for v, u in zip(y.tolist(), unlabeled) if not u}
        if any(issubclass(k, str) for k in kinds) and any(not issubclass(k, str) for k in kinds):
            raise TypeError(f"y mixes strings and numbers ({sorted(k.__name__ for k in kinds)}); "
                            "use one kind of label (e.g. all strings), with the number -1 for unlabeled.")
        if any(isinstance(v, str) and v.strip() == "-1" for v in y.tolist()):
            raise ValueError('y holds the string "-1": unlabeled samples are marked with the number -1. '
                             "Use an object array with -1 (or None) for unlabeled samples.")
    else:
        raise TypeError(f"y must hold class labels (numbers or strings), got dtype {y.dtype}.")
    if unlabeled.all():
        raise ValueError("no labeled sample: y is -1 everywhere; label at least one sample per class.")
    labeled = y[~unlabeled]
    if labeled.dtype.kind == "f" and not np.all(labeled == np.round(labeled)):
        bad = labeled[labeled != np.round(labeled)][:3].tolist()
        raise ValueError(f"Unknown label type: continuous. y holds non-integer numbers {bad}; a classifier needs "
                         "class labels (integers or strings, -1 = unlabeled), not a regression target.")
    from sklearn.utils.multiclass import check_classification_targets

    check_classification_targets(labeled)  # continuous or multi-output targets are not classes (a backstop for object arrays)
    if labeled.dtype.kind in "iuf" and (labeled < 0).any():
        bad = np.unique(labeled[labeled < 0])[:5].tolist()
        raise ValueError(f"y holds negative labels {bad}: only -1 (unlabeled) may be negative; "
                         "shift the class values or use strings.")
    try:
        classes = np.unique(labeled)
    except TypeError as exc:
        raise TypeError(f"y's labels cannot be sorted ({exc}); use numbers or strings.") from None
    codes = np.full(y.shape[0], -1, dtype=np.int64)
    codes[~unlabeled] = np.searchsorted(classes, labeled)
    return classes, codes


def decode_labels(classes: np.ndarray, codes: np.ndarray, informed: np.ndarray | None = None) -> np.ndarray:
    """``classes[codes]``, with ``-1`` (numeric classes) or ``None`` (other classes) where not ``informed``.

    The one rule for samples that received no label information (a connected
    component without a labeled sample, or a new point whose neighbours are
    all such samples): they get the unlabeled marker, never a silent class.
    """
    labels = classes[codes]
    if informed is None or informed.all():
        return labels
    if classes.dtype.kind in "iuf":
        labels = labels.astype(np.float64 if classes.dtype.kind == "f" else np.int64)
        labels[~informed] = UNLABELED
    else:
        labels = labels.astype(object)
        labels[~informed] = None
    return labels


def cross_knn(Q: torch.Tensor, R: torch.Tensor, k: int, metric: str = "euclidean",
              block: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest rows of ``R`` for each row of ``Q``: ``(indices, distances)`` ascending.

    Blocked over ``Q`` so that one block of distances stays ~64 MB; runs on
    the tensors' device. ``metric`` is ``"euclidean"`` or ``"cosine"``
    (distance ``1 − cos``).
    """
    if metric == "cosine":
        Q = Q / Q.norm(dim=1, keepdim=True).clamp_min(torch.finfo(Q.dtype).tiny)
        R = R / R.norm(dim=1, keepdim=True).clamp_min(torch.finfo(R.dtype).tiny)
    elif metric != "euclidean":
        raise ValueError(f"scoring new points supports metric='euclidean' or 'cosine', not {metric!r}; use "
                         "transduction_ for the fitted points, or fit a graph that includes the new points.")
    block = block or max(1, (16 * 1024 * 1024) // max(R.shape[0], 1))
    idx, dist = [], []
    for start in range(0, Q.shape[0], block):
        q = Q[start:start + block]
        D = (1.0 - q @ R.T).clamp_min(0.0) if metric == "cosine" else torch.cdist(q, R)
        d, i = torch.topk(D, k, dim=1, largest=False, sorted=True)
        idx.append(i)
        dist.append(d)
    return torch.cat(idx), torch.cat(dist)


def knn_average(X_new, X_fit, values: np.ndarray, *, k: int, kernel: str = "gaussian",
                metric: str = "euclidean", device=None) -> np.ndarray:
    """Kernel-weighted average of ``values`` over each new point's ``k`` nearest fitted points.

    ``out_i = Σ_j w_ij values_j / Σ_j w_ij`` with the k-NN graph's weights
    ``w_ij = exp(-4 |x_i − x_j|² / d_k(x_i)²)`` (``uniform``: 1), ``d_k`` the
    distance to the k-th of them.

    Parameters
    ----------
    X_new : array-like (m, d)
    X_fit : array-like (n, d)
    values : ndarray (n, c)
    k : int
        Neighbours (capped at ``n``).
    kernel : str or callable
        A kernel of :func:`graphvar.graph.knn_weights`, applied to the new
        point's distances; ``symgaussian`` falls back to ``gaussian`` (a new
        point is no node of the graph, so ``d_k(x_j)`` of its neighbours' own
        lists does not apply).
    metric : {"euclidean", "cosine"}
    device : optional
        Where the search runs.

    Returns
    -------
    ndarray (m, c), float64
    """
    from .graph.kernels import knn_weights
    from .validation import check_device

    dev = check_device(device)
    fit = torch.as_tensor(np.ascontiguousarray(X_fit)).to(dev)
    new = torch.as_tensor(np.ascontiguousarray(X_new)).to(device=dev, dtype=fit.dtype)
    idx, dist = cross_knn(new, fit, min(int(k), fit.shape[0]), metric)
    if not bool(torch.isfinite(dist).all()):
        raise ValueError(f"distances between the new and the fitted points overflow {fit.dtype} "
                         "(features too large); rescale X, e.g. with sklearn's StandardScaler.")
    w = knn_weights(idx, dist, "gaussian" if kernel == "symgaussian" else kernel).double().cpu().numpy()
    w = np.where(w.sum(axis=1, keepdims=True) > 0, w, 1.0)  # e.g. the distance kernel at zero distance
    vals = np.asarray(values, dtype=np.float64)[idx.cpu().numpy()]
    return (w[:, :, None] * vals).sum(axis=1) / w.sum(axis=1, keepdims=True)
