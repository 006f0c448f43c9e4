"""Validation of user-supplied features and adjacency matrices (no Graph import: no cycle)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["check_adjacency", "check_features", "check_weight_range"]


def check_features(X: Any, *, allow_sparse: bool = False, name: str = "X"):
    """Validate a feature matrix and return it as a float tensor or scipy CSR.

    Parameters
    ----------
    X : array-like, torch.Tensor or scipy sparse of shape (n, d)
    allow_sparse : bool
        Accept scipy sparse input (returned as ``float32`` CSR).

    Returns
    -------
    torch.Tensor (float32 or float64, on its original device) or scipy.sparse.csr_matrix
    """
    if sp.issparse(X):
        if not allow_sparse:
            raise TypeError(
                f"{name} is a scipy sparse matrix, which this operation does not support; "
                "use metric='cosine' for sparse TF-IDF features, or convert with X.toarray()."
            )
        X = sp.csr_matrix(X)
        if not np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_:
            X = X.astype(np.float32)
        if not np.all(np.isfinite(X.data)):
            raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first.")
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {X.shape}.")
        return X.astype(np.float32) if X.dtype not in (np.float32, np.float64) else X
    if isinstance(X, torch.Tensor):
        if X.is_sparse or X.layout != torch.strided:
            raise TypeError(f"{name} is a sparse torch tensor; pass a dense tensor (X.to_dense()).")
        if X.is_complex() or not (X.is_floating_point() or X.dtype in (torch.int8, torch.int16, torch.int32,
                                                                       torch.int64, torch.uint8)):
            raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}.")
        T = X if X.is_floating_point() else X.float()
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:  # pragma: no cover - numpy raises many kinds
            raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError(
                f"{name} must be numeric, got dtype {arr.dtype}; encode categorical or text "
                "features as numbers first."
            )
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}.")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float32)
        T = torch.from_numpy(np.ascontiguousarray(arr))
    if T.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {tuple(T.shape)}; "
            "reshape a single feature with X.reshape(-1, 1)."
        )
    if T.shape[0] == 0 or T.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(T.shape)}).")
    if not bool(torch.isfinite(T).all()):
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first.")
    return T


def check_adjacency(A: Any, *, validate: bool = True, symmetric: bool = True) -> sp.csr_matrix:
    """Validate a weight matrix given directly and return it as float64 CSR, zero diagonal.

    Raises ``ValueError`` for non-square, non-finite, negative or (with
    ``symmetric``) asymmetric weights.
    """
    if isinstance(A, torch.Tensor):
        A = A.to_dense().cpu().numpy() if A.layout != torch.strided else A.cpu().numpy()
    if not sp.issparse(A):
        A = np.asarray(A)
        if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == np.bool_):
            raise TypeError(f"adjacency must be numeric, got dtype {A.dtype}.")
    if A.dtype.kind == "c":
        raise TypeError(f"adjacency must hold real weights, got complex dtype {A.dtype}; pass W.real or abs(W).")
    A = sp.csr_matrix(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"adjacency must be square (n, n), got shape {A.shape}.")
    if A.shape[0] == 0:
        raise ValueError("adjacency is empty (0 nodes).")
    A.sum_duplicates()
    if validate:
        if not np.all(np.isfinite(A.data)):
            raise ValueError("adjacency contains NaN or infinite weights.")
        if A.nnz and A.data.min() < 0:
            bad = int((A.data < 0).sum())
            raise ValueError(
                f"adjacency has {bad} negative weight(s); graph Laplacian methods need "
                "non-negative weights."
            )
    if validate and symmetric:
        diff = abs(A - A.T)
        scale = max(1.0, float(abs(A).max()) if A.nnz else 1.0)
        if diff.nnz and diff.max() > 1e-6 * scale:
            raise ValueError(
                "adjacency is not symmetric (max |W - W^T| = "
                f"{diff.max():.3g}); symmetrise it, e.g. W = (W + W.T) / 2 or W.maximum(W.T)."
            )
    A.setdiag(0)
    A.eliminate_zeros()
    return A


def check_weight_range(A: sp.csr_matrix, dtype: torch.dtype) -> None:
    """Raise ``ValueError`` when the weights overflow ``dtype`` (total weight: a degree or the volume) or underflow it."""
    if not A.nnz:
        return
    total = float(np.sum(A.data, dtype=np.float64))
    limit = float(torch.finfo(dtype).max) / 16
    if not np.isfinite(total) or total > limit:
        raise ValueError(
            f"adjacency weights are too large for {dtype} (largest {A.data.max():.3g}, total {total:.3g}): "
            "degrees and the graph volume would overflow; rescale the weights, e.g. W / W.max()"
            + ("." if dtype == torch.float64 else ", or use dtype=torch.float64.")
        )
    positive = A.data[A.data > 0]
    if positive.size and positive.min() < float(torch.finfo(dtype).tiny):
        raise ValueError(
            f"adjacency weights as small as {positive.min():.3g} underflow {dtype} (smallest normal number "
            f"{torch.finfo(dtype).tiny:.3g}): edges would vanish or lose their precision; rescale the "
            "weights, e.g. W / W.max()" + ("." if dtype == torch.float64 else ", or use dtype=torch.float64.")
        )
