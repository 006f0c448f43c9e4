"""Worker-side pieces of the distributed k-NN graph: pair searches, merge, weights, symmetrisation.

Each row block is searched against itself by the single-machine exact
backend (:func:`graphvar.graph.knn_search`: tiled float32 GEMM, float64
re-ranking, completeness proof), and each pair of blocks ``i < j`` by the
same pieces on the one off-diagonal tile range (:func:`cross_search`), so
the search costs one machine's ``n² d / 2`` in all; every row's lists then
hold its global ``k`` nearest. The merge keeps, per
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
from ..graph import exact, tiled
from ..graph.knn import knn_search, tiled_factors
from . import _blocks


def prepare_block(X) -> np.ndarray:
    """A block of rows as float64 (dense if sparse), refusing NaN and infinity."""
    Y = X.toarray() if sp.issparse(X) else X
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if not np.isfinite(Y).all():
        raise ValueError("X contains NaN or infinite values; impute or drop them first.")
    return Y


def self_search(X: np.ndarray, i0: int, k: int, metric: str):
    """The single-machine exact search (:func:`graphvar.graph.knn_search`) within one block (global indices)."""
    kk = min(k, X.shape[0] - 1)
    if kk < 1:
        return np.zeros((X.shape[0], 0), dtype=np.int64), np.zeros((X.shape[0], 0))
    idx, dist = knn_search(torch.from_numpy(X), kk, metric=metric, approximate=False)
    return idx.numpy() + i0, dist.numpy()


def cross_search(Xi: np.ndarray, Xj: np.ndarray, i0: int, j0: int, k: int, metric: str):
    """Each row of ``Xi`` against the rows of ``Xj`` and back: the tiled kernel on one off-diagonal tile range.

    The single-machine pieces in their single-machine roles: float32 tiles
    (:func:`graphvar.graph.tiled.run_tiles`, each score used for both rows),
    float64 re-ranking with the completeness check (:func:`graphvar.graph.exact.refine`)
    and an exhaustive float64 search of the rows it cannot prove. Returns
    ``((idx_i, dist_i), (idx_j, dist_j))`` with global indices.
    """
    ni, nj = Xi.shape[0], Xj.shape[0]
    kk = min(k, ni, nj)
    prep = exact.prepare(torch.from_numpy(np.vstack([Xi, Xj])), metric)
    L, R, margin = tiled_factors(prep)
    kp = min(ni, nj, kk + max(8, kk // 4))
    bi, bv, cnt, thr = tiled.run_tiles(L, R, kk, kp, margin, [[((0, ni), (ni, ni + nj))]])
    bound = np.minimum(thr, np.where(cnt == kp, bv[:, -1], tiled.BIG)).astype(np.float64)
    bound[cnt == np.r_[np.full(ni, nj), np.full(nj, ni)]] = np.inf  # the whole other block is listed
    idx, score, unsure = exact.refine(prep, torch.from_numpy(bi), torch.from_numpy(bound), kk)
    if unsure.numel():  # searched against both blocks: a superset, harmless for the merge
        idx[unsure], score[unsure] = exact.exhaustive_rows(prep, unsure, kk)
    idx, dist = idx.numpy(), exact.to_distance(score, prep).numpy()
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
