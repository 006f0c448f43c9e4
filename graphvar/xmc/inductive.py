"""Scoring unseen rows through their nearest training rows (the teacher's inductive step).

A new row ``x`` is no node of the training graph; it is scored as one more
propagation step would score a node outside the sources:

    ``s(x) = Σ_j w_j V_j / Σ_j w_j``,

the sum over the ``k`` nearest training rows ``j`` of ``x``
(:func:`graphvar.base.cross_knn`), ``w_j`` the graph's kernel weight
(:func:`graphvar.graph.knn_weights`, the same kernel as the training graph) and
``V`` a sparse ``(n, L)`` matrix of training-row values: for the teacher, the
ground truth plus the propagated p̂ of the labels a row does not carry
(:meth:`graphvar.xmc.teacher.Teacher.predict`). ``exclude`` scores training
rows as if unseen: each query's own row is dropped from its neighbours (used to
score a validation split carved from the teacher's own training rows).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..base import cross_knn
from ..validation import check_int

__all__ = ["knn_scores", "dense_rows"]


def dense_rows(X, rows=None) -> torch.Tensor:
    """Rows of ``X`` (scipy sparse or array) as a dense float32 tensor on the CPU."""
    M = X if rows is None else X[rows]
    M = M.toarray() if sp.issparse(M) else np.asarray(M)
    return torch.from_numpy(np.ascontiguousarray(M, dtype=np.float32))


def _drop_self(idx: torch.Tensor, dist: torch.Tensor, own: np.ndarray, k: int):
    """Remove each query's own row from its ``k + 1`` neighbours (else its farthest one)."""
    hit = idx == torch.from_numpy(np.asarray(own, dtype=np.int64))[:, None]
    drop = torch.where(hit.any(dim=1), hit.to(torch.int8).argmax(dim=1), torch.full_like(idx[:, 0], k))
    keep = torch.ones_like(idx, dtype=torch.bool)
    keep[torch.arange(idx.shape[0]), drop] = False
    return idx[keep].reshape(-1, k), dist[keep].reshape(-1, k)


def knn_scores(X_new, X_fit, V, *, k: int, kernel: str = "gaussian", metric: str = "euclidean",
               topk: int | None = None, exclude=None, block_rows: int = 2048, device=None) -> sp.csr_matrix:
    """Kernel-weighted average of the rows of ``V`` over each new row's ``k`` nearest fitted rows.

    Parameters
    ----------
    X_new : scipy sparse or array of shape (m, D)
    X_fit : scipy sparse, array or float32 tensor of shape (n, D)
        Training features (densified once; sparse inputs cost ``O(n·D)`` memory here).
    V : scipy sparse of shape (n, L)
        Values of the training rows.
    k : int
        Neighbours (capped at ``n``, or ``n − 1`` with ``exclude``).
    kernel : str, default="gaussian"
        Kernel of :func:`graphvar.graph.knn_weights` (``symgaussian`` falls back to ``gaussian``).
    metric : {"euclidean", "cosine"}, default="euclidean"
    topk : int, optional
        Keep the ``topk`` largest scores of every row.
    exclude : int array of shape (m,), optional
        Training row of each query (drop it from its neighbours).
    block_rows : int, default=2048
        Query rows densified and searched at a time.
    device : optional
        Where the search runs.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (m, L), float32
    """
    from ..graph.kernels import knn_weights

    R = X_fit if isinstance(X_fit, torch.Tensor) else dense_rows(X_fit)
    R = R.to(device) if device is not None else R
    n = R.shape[0]
    V = sp.csr_matrix(V, dtype=np.float32)
    if V.shape[0] != n:
        raise ValueError(f"V has {V.shape[0]} rows but X_fit has {n}; they must match.")
    if X_new.shape[1] != R.shape[1]:
        raise ValueError(f"X has {X_new.shape[1]} features but the model was fitted on {R.shape[1]}.")
    k = min(check_int(k, "k", minimum=1), n - (exclude is not None))
    out = []
    for a in range(0, X_new.shape[0], int(block_rows)):
        q = dense_rows(X_new, slice(a, a + int(block_rows))).to(R.device)
        idx, dist = cross_knn(q, R, k + (exclude is not None), metric)
        if exclude is not None:
            idx, dist = _drop_self(idx, dist, exclude[a:a + q.shape[0]], k)
        w = knn_weights(idx, dist, "gaussian" if kernel == "symgaussian" else kernel).double().cpu().numpy()
        w = np.where(w.sum(axis=1, keepdims=True) > 0, w, 1.0)
        w /= w.sum(axis=1, keepdims=True)
        m = q.shape[0]
        Wq = sp.csr_matrix((w.ravel(), idx.cpu().numpy().ravel(), np.arange(0, m * k + 1, k)), shape=(m, n))
        out.append(sp.csr_matrix(Wq @ V, dtype=np.float32))
    S = sp.vstack(out, format="csr") if out else sp.csr_matrix((0, V.shape[1]), dtype=np.float32)
    if topk is not None:
        from .teacher import _keep_largest

        S = _keep_largest(S, int(topk))
    S.sort_indices()
    return S
