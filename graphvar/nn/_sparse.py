"""Node-feature helpers: sparse bag-of-words features stay sparse (dropout and products)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["as_features", "feature_dropout", "feature_linear"]


def _csr(crow: Tensor, col: Tensor, val: Tensor, shape) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        return torch.sparse_csr_tensor(crow, col, val, size=shape)


def as_features(X, device=None, dtype=torch.float32, sparse: str | bool = "auto") -> Tensor:
    """Return node features as a torch tensor; sparse CSR when they are mostly zeros.

    Parameters
    ----------
    X : array-like, scipy sparse or torch.Tensor of shape (n, d)
    device, dtype : optional
        Target device and floating dtype.
    sparse : {"auto", True, False}
        ``"auto"`` stores features with under 10 % nonzeros as CSR (bag-of-words
        features such as Cora's: products and dropout then cost O(nnz)).
    """
    from ..graph import check_features

    if isinstance(X, torch.Tensor) and X.layout == torch.sparse_csr:
        if X.dim() != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
        return X.to(device=device, dtype=dtype) if sparse is not False else X.to_dense().to(device, dtype)
    X = check_features(X, allow_sparse=True)
    if sp.issparse(X):
        density = X.nnz / max(1, X.shape[0] * X.shape[1])
        if sparse is False or (sparse == "auto" and density >= 0.1):
            return torch.as_tensor(X.toarray(), dtype=dtype, device=device)
        X = sp.csr_matrix(X)
        X.sort_indices()
        return _csr(torch.as_tensor(X.indptr.astype(np.int64), device=device),
                    torch.as_tensor(X.indices.astype(np.int64), device=device),
                    torch.as_tensor(X.data, dtype=dtype, device=device), X.shape)
    X = X.to(device=device, dtype=dtype)
    if sparse is True or (sparse == "auto" and float((X != 0).float().mean()) < 0.1):
        return X.to_sparse_csr()
    return X


def feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout that keeps a sparse CSR tensor sparse (drops stored values only).

    For dense input this is ``F.dropout``; for CSR it equals dense dropout since
    the zeros it skips stay zero either way.
    """
    if not training or p == 0.0:
        return x
    if x.layout == torch.sparse_csr:
        return _csr(x.crow_indices(), x.col_indices(), F.dropout(x.values(), p, True), x.shape)
    return F.dropout(x, p, True)


def feature_linear(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight.T`` for dense or sparse CSR ``x`` (differentiable in ``weight``)."""
    if x.layout == torch.sparse_csr:
        return torch.sparse.mm(x, weight.t())
    return x @ weight.t()
