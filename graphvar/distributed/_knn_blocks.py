"""Worker-side pieces of the distributed k-NN graph: pair searches, merge, weights, symmetrisation.

Each pair of row blocks ``(i, j)``, ``i < j``, is searched by the
single-machine exact backend (:func:`graphvar.graph.knn_search`: the tiled
float32 GEMM, the float64 re-ranking and its completeness proof) on the rows
of both blocks, so every row gets its ``k`` nearest within ``X_i ∪ X_j``;
the union over ``j`` holds its global ``k`` nearest. The merge keeps, per
row, the first ``k`` distinct neighbours by (distance, index): distances are
computed from the rows themselves (scaled by powers of two only), so the
same pair has the same distance in every search, and the result is the
single-machine ``knn_search``'s. Weights and symmetrisation call
:func:`graphvar.graph.knn_weights` and the COO-to-CSR reduction of
:mod:`graphvar.graph.build` on each block.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..graph.build import _csr_from_coo
from ..graph.kernels import knn_weights
from ..graph.knn import knn_search
from . import _blocks


def prepare_block(X) -> np.ndarray:
    """A block of rows as float64 (dense if sparse), refusing NaN and infinity."""
    Y = X.toarray() if sp.issparse(X) else X
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if not np.isfinite(Y).all():
        raise ValueError("X contains NaN or infinite values; impute or drop them first.")
    return Y


def pair_search(Xi: np.ndarray, Xj: np.ndarray | None, i0: int, j0: int, k: int, metric: str):
    """The single-machine exact search (:func:`graphvar.graph.knn_search`) on the rows of two blocks.

    Every row of ``Xi`` (global rows from ``i0``) and of ``Xj`` (from ``j0``;
    ``None``: one block alone) gets its ``k`` nearest among both blocks, with
    float64 distances and global indices: ``((idx_i, dist_i), (idx_j, dist_j))``.
    """
    Z = Xi if Xj is None else np.vstack([Xi, Xj])
    kk = min(k, Z.shape[0] - 1)
    idx, dist = knn_search(torch.from_numpy(Z), kk, metric=metric, approximate=False)
    idx, dist = idx.numpy(), dist.numpy()
    ni = Xi.shape[0]
    glob = np.where(idx < ni, idx + i0, idx - ni + j0)
    return (glob[:ni], dist[:ni]), (glob[ni:], dist[ni:])


def merge_topk(k: int, *parts) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` distinct neighbours by (distance, index) of each row over the pair searches' lists."""
    idx = np.concatenate([p[0] for p in parts], axis=1)
    dist = np.concatenate([p[1] for p in parts], axis=1)
    n, m = idx.shape
    rows = np.repeat(np.arange(n), m)
    order = np.lexsort((idx.ravel(), dist.ravel(), rows))
    r, i, d = rows[order], idx.ravel()[order], dist.ravel()[order]
    # a neighbour found by several pairs has the same distance in each: adjacent after the sort
    first = np.ones(r.size, dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (i[1:] != i[:-1])
    r, i, d = r[first], i[first], d[first]
    counts = np.bincount(r, minlength=n)
    if counts.min() < k:
        raise ValueError("a row has fewer than k neighbours; use a smaller k (k < n).")
    start = np.cumsum(counts) - counts
    pick = (start[:, None] + np.arange(k)[None, :]).ravel()
    return i[pick].reshape(n, k), d[pick].reshape(n, k)


def directed_entries(merged, q0: int, kernel, mode: str):
    """COO ``(rows, cols, float64 weights)`` of the block's directed k-NN edges (halved for ``mode="mean"``)."""
    idx, dist = merged
    w = knn_weights(torch.from_numpy(idx), torch.from_numpy(dist), kernel).numpy().astype(np.float64)
    rows = np.repeat(np.arange(q0, q0 + idx.shape[0]), idx.shape[1])
    vals = w.ravel() / 2 if mode == "mean" else w.ravel()
    return rows, idx.ravel(), vals


def transposed_part(entries, lo: int, hi: int):
    """The transposed entries ``(j, i, w)`` whose new row ``j`` lies in ``[lo, hi)``."""
    rows, cols, vals = entries
    sel = (cols >= lo) & (cols < hi)
    return cols[sel], rows[sel], vals[sel]


def symmetric_block(bounds: np.ndarray, b: int, mode: str, dtype, *parts) -> _blocks.RowBlock:
    """Row block ``b`` of the symmetrised ``W``: own entries plus transposed ones, reduced as ``knn_graph`` does."""
    lo, hi, n = int(bounds[b]), int(bounds[b + 1]), int(bounds[-1])
    rows = torch.from_numpy(np.concatenate([p[0] for p in parts]) - lo)
    cols = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    vals = torch.from_numpy(np.concatenate([p[2] for p in parts]))
    W = _csr_from_coo(rows, cols, vals, n, dtype, "sum" if mode == "mean" else "amax", n_rows=hi - lo)
    G = sp.csr_matrix((W.values().numpy(), W.col_indices().numpy(), W.crow_indices().numpy()), shape=(hi - lo, n))
    if not np.isfinite(G.sum(axis=1)).all():
        raise ValueError(f"node degrees overflow {dtype}; use dtype=torch.float64 or rescale X.")
    return _blocks.make_row_block(G, bounds, b)
