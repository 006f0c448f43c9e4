"""Worker-side pieces of the distributed k-NN graph: block-pair search, merge, weights, symmetrisation.

The search of one row block against one column block is exact in the sense
of :mod:`graphvar.graph.exact`: a float64 GEMM pass keeps every column
within ``2 ε64`` of the row's k-th score (the rounding bound of
:func:`graphvar.graph.exact.prepare`), those few are scored exactly by
differences, and ties resolve to the smallest index. The streaming merge
over column blocks keeps, per row, the first ``k`` by (score, index), so
the result is the single-machine ``knn_search``'s. Weights and
symmetrisation call :func:`graphvar.graph.knn_weights` and the COO-to-CSR
reduction of :mod:`graphvar.graph.build` on each block.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
import torch

from ..graph import exact
from ..graph.build import _csr_from_coo
from ..graph.kernels import knn_weights
from . import _blocks

U64 = exact.U64


def prepare_block(X: np.ndarray, metric: str) -> np.ndarray:
    """float64 rows, normalised for ``cosine`` / ``angular`` (as :func:`graphvar.graph.exact.prepare`)."""
    Y = np.asarray(X, dtype=np.float64)
    if not np.isfinite(Y).all():
        raise ValueError("X contains NaN or infinite values; impute or drop them first.")
    if metric in ("cosine", "angular"):
        Y = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), np.finfo(np.float64).tiny)
    return Y


def _tile_topk(Q, C, Qc, Cc, sqQ, sqC, kk, self_offset):
    """Exact top-``kk`` (score, index) of each row of ``Q`` among the rows of ``C`` (local indices)."""
    S = sqQ[:, None] + sqC[None, :] - 2.0 * (Qc @ Cc.T)
    if self_offset is not None:
        r = np.arange(Q.shape[0])
        S[r, r + self_offset] = np.inf
    eps = 4.0 * (Q.shape[1] + 8) * U64 * (sqQ + sqC.max())
    kth = np.partition(S, kk - 1, axis=1)[:, kk - 1]
    pr, pc = np.nonzero(S <= (kth + 2.0 * eps)[:, None])
    score = ((Q[pr] - C[pc]) ** 2).sum(axis=1)
    order = np.lexsort((pc, score, pr))
    counts = np.bincount(pr, minlength=Q.shape[0])
    first = np.cumsum(counts) - counts
    pick = order[(first[:, None] + np.arange(kk)[None, :]).reshape(-1)]
    return pc[pick].reshape(-1, kk), score[pick].reshape(-1, kk)


def pair_topk(Q: np.ndarray, C: np.ndarray, q0: int, c0: int, k: int, centre: np.ndarray,
              max_entries: int = 1 << 22):
    """Per row of ``Q`` (global rows from ``q0``): its ``k`` nearest rows of ``C`` (from ``c0``), self excluded.

    Returns ``(idx, score)`` of shape ``(n_q, k)``: global indices (``-1`` pads
    when ``C`` has fewer than ``k`` candidates) and exact squared distances.
    """
    same = q0 == c0
    kk = min(k, C.shape[0] - (1 if same else 0))
    idx = np.full((Q.shape[0], k), -1, dtype=np.int64)
    score = np.full((Q.shape[0], k), np.inf)
    if kk <= 0:
        return idx, score
    Qc, Cc = Q - centre, C - centre
    sqQ, sqC = (Qc * Qc).sum(axis=1), (Cc * Cc).sum(axis=1)
    step = max(1, max_entries // max(C.shape[0], 1))
    for a in range(0, Q.shape[0], step):
        b = min(a + step, Q.shape[0])
        i, s = _tile_topk(Q[a:b], C, Qc[a:b], Cc, sqQ[a:b], sqC, kk, a if same else None)
        idx[a:b, :kk], score[a:b, :kk] = i + c0, s
    return idx, score


def merge_topk(k: int, *parts) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` by (score, index) of each row over the column blocks' lists."""
    idx = np.concatenate([p[0] for p in parts], axis=1)
    score = np.concatenate([p[1] for p in parts], axis=1)
    big = np.iinfo(np.int64).max
    key_idx = np.where(idx < 0, big, idx)
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    order = np.lexsort((key_idx.ravel(), score.ravel(), rows)).reshape(idx.shape)[:, :k]
    order = order - (np.arange(idx.shape[0]) * idx.shape[1])[:, None]
    return np.take_along_axis(idx, order, 1), np.take_along_axis(score, order, 1)


def directed_entries(merged, q0: int, metric: str, kernel, mode: str):
    """COO ``(rows, cols, float64 weights)`` of the block's directed k-NN edges (halved for ``mode="mean"``)."""
    idx, score = merged
    if (idx < 0).any():
        raise ValueError("a row has fewer than k neighbours; use a smaller k (k < n).")
    dist = exact.to_distance(torch.from_numpy(score), SimpleNamespace(scale=1.0, metric=metric))
    w = knn_weights(torch.from_numpy(idx), dist, kernel).numpy().astype(np.float64)
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
