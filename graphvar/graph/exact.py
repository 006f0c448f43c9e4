"""Exact re-ranking shared by every k-NN backend: float64 scores, index tie-break, proofs of completeness.

Every backend searches in float32 (fast) and returns, per row, a list of
``n_candidates > k`` candidates plus a *bound*: every point not in the list has
a float32 score at least that large. This module then

1. computes the exact score of each candidate in float64 from the data itself
   (``Σ (y_i - y_j)²`` by differences, never ``|y|² + |y'|² - 2 y·y'``),
2. orders candidates by (exact score, index), so tied distances resolve to the
   smallest index whatever the backend, and
3. proves the list complete: with ``ε_i`` a bound on the float32 rounding error
   of row ``i``'s scores, no left-out point can reach the k-th exact score
   when ``bound_i - ε_i > score_ik``. Rows where that fails (exact ties across
   the candidate boundary, duplicates) are searched again exhaustively in
   float64 (:func:`exhaustive_rows`).

Scores are in *score units*: squared Euclidean distance of the prepared data
(``euclidean``, ``cosine``, ``angular``: rows normalised first), the negated
inner product (``dot``), the L1 distance (``manhattan``) or the number of
differing coordinates (``hamming``). :func:`to_distance` turns them back into
the distances :func:`graphvar.graph.knn_search` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; torch below is the fallback
    numba = None

__all__ = ["Prepared", "prepare", "refine", "exhaustive_rows", "pair_scores", "to_distance", "FAMILY"]

U32 = 2.0 ** -24
U64 = 2.0 ** -53
FAMILY = {
    "euclidean": "l2",
    "cosine": "l2",
    "angular": "l2",
    "dot": "dot",
    "manhattan": "l1",
    "hamming": "hamming",
}


@dataclass
class Prepared:
    """Data ready for search: exact float64 copy ``Y``, float32 search copy ``A`` and error bounds."""

    Y: torch.Tensor  # float64, scaled by ``scale`` (and normalised for cosine/angular)
    A: torch.Tensor  # float32 search copy (centred for the l2 family); float64 for l1/hamming
    family: str
    metric: str
    scale: float  # Y = X * scale, a power of two
    eps32: torch.Tensor  # (n,) float64: |float32 score - exact score| <= eps32 for every pair of the row
    eps64: torch.Tensor  # (n,) float64: the same bound for float64 expanded scores

    @property
    def n(self) -> int:
        return int(self.Y.shape[0])


def _pow2_scale(X64: torch.Tensor) -> float:
    """A power of two bringing ``max |x|`` into ``[1, 2)``: exact, and keeps every square finite."""
    top = float(X64.abs().max()) if X64.numel() else 0.0
    if top == 0.0 or not math.isfinite(top):
        return 1.0
    return 2.0 ** (-math.floor(math.log2(top)))


def prepare(X: torch.Tensor, metric: str) -> Prepared:
    """Scale (exactly, by a power of two), normalise or centre ``X`` for ``metric``."""
    family = FAMILY[metric]
    X64 = X.detach().to(torch.float64)
    n, d = X64.shape
    scale = 1.0 if family == "hamming" else _pow2_scale(X64)
    Y = X64 * scale if scale != 1.0 else X64.clone()
    if metric in ("cosine", "angular"):
        norms = Y.norm(dim=1, keepdim=True)
        Y = Y / norms.clamp_min(torch.finfo(torch.float64).tiny)
        zero = norms[:, 0] == 0
        if bool(zero.any()):
            # An all-zero row has no direction: it is orthogonal to every non-zero row (cos = 0, cosine
            # distance 1, as scikit-learn), not at |x̂ - 0|² = 1 (cos = 1/2), which made it every sparse row's
            # nearest neighbour. Its own axis puts it at |x̂ - ẑ|² = 2 from every unit row; zero rows are
            # identical to each other (distance 0; scikit-learn says 1 there).
            Y = torch.cat([Y, zero.to(Y.dtype)[:, None]], dim=1)
            d += 1
    c = 4.0 * (d + 8)
    if family == "l2":
        C = Y - Y.mean(dim=0, keepdim=True)  # translation leaves distances alone, shrinks cancellation
        A = C.to(torch.float32)
        sq = (A.double() ** 2).sum(dim=1)
        eps32 = c * U32 * (sq + sq.max())
        eps64 = c * U64 * (sq + sq.max())
    elif family == "dot":
        A = Y.to(torch.float32)
        nrm = A.double().norm(dim=1)
        eps32 = c * U32 * nrm * nrm.max() + c * U32 * nrm * nrm  # product and rounding of a itself
        eps64 = c * U64 * nrm * (nrm.max() + nrm)
    else:  # l1 and hamming are searched in float64 by differences
        A = Y
        l1 = Y.abs().sum(dim=1)
        eps32 = c * U64 * (l1 + l1.max()) if family == "l1" else torch.zeros(n, dtype=torch.float64, device=Y.device)
        eps64 = eps32
    return Prepared(Y=Y, A=A.contiguous(), family=family, metric=metric, scale=scale, eps32=eps32, eps64=eps64)


_CODES = {"l2": 0, "dot": 1, "l1": 2, "hamming": 3}

if numba is not None:
    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def _score(Y, i, j, code):
        s = 0.0
        d = Y.shape[1]
        if code == 0:
            for q in range(d):
                t = Y[i, q] - Y[j, q]
                s += t * t
        elif code == 1:
            for q in range(d):
                s -= Y[i, q] * Y[j, q]
        elif code == 2:
            for q in range(d):
                s += abs(Y[i, q] - Y[j, q])
        else:
            for q in range(d):
                s += Y[i, q] != Y[j, q]
        return s

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def _pair_kernel(Y, rows, cols, code, out):
        for m in range(rows.shape[0]):
            out[m] = _score(Y, rows[m], cols[m], code)

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def _refine_kernel(Y, cand, code, k, out_idx, out_score):
        """Exact scores of each row's candidates, the first k by (score, index); -1 slots sort last."""
        n, m = cand.shape
        sc = np.empty(m, np.float64)
        ix = np.empty(m, np.int64)
        big = np.iinfo(np.int64).max
        for i in range(n):
            for p in range(m):
                j = cand[i, p]
                s = np.inf if j < 0 else _score(Y, i, j, code)
                j = big if j < 0 else j
                q = p
                while q > 0 and (sc[q - 1] > s or (sc[q - 1] == s and ix[q - 1] > j)):
                    sc[q] = sc[q - 1]
                    ix[q] = ix[q - 1]
                    q -= 1
                sc[q] = s
                ix[q] = j
            for p in range(k):
                out_idx[i, p] = ix[p] if ix[p] != big else -1
                out_score[i, p] = sc[p]


def pair_scores(Y: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, family: str,
                chunk: int = 1 << 22) -> torch.Tensor:
    """Exact float64 scores of the pairs ``(rows[m], cols[m])``, computed by differences."""
    if numba is not None and Y.device.type == "cpu":
        out = np.empty(rows.shape[0], np.float64)
        _pair_kernel(np.ascontiguousarray(Y.numpy()), rows.numpy().astype(np.int64, copy=False),
                     cols.numpy().astype(np.int64, copy=False), _CODES[family], out)
        return torch.from_numpy(out)
    out = torch.empty(rows.shape[0], dtype=torch.float64, device=Y.device)
    step = max(1, chunk // max(1, Y.shape[1]))
    for s in range(0, rows.shape[0], step):
        a, b = Y[rows[s:s + step]], Y[cols[s:s + step]]
        if family == "l2":
            out[s:s + step] = ((a - b) ** 2).sum(dim=1)
        elif family == "dot":
            out[s:s + step] = -(a * b).sum(dim=1)
        elif family == "l1":
            out[s:s + step] = (a - b).abs().sum(dim=1)
        else:
            out[s:s + step] = (a != b).sum(dim=1).to(torch.float64)
    return out


def _lex_order(cand: torch.Tensor, score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row by (score, index): index first, then a stable sort by score."""
    cand, o1 = torch.sort(cand, dim=1)
    score = torch.gather(score, 1, o1)
    score, o2 = torch.sort(score, dim=1, stable=True)
    return torch.gather(cand, 1, o2), score


def refine(prep: Prepared, cand: torch.Tensor, bound: torch.Tensor | None, k: int):
    """Exact top-k of each row among its candidates, and the rows whose list may be incomplete.

    Parameters
    ----------
    cand : LongTensor (n, m), m >= k
        Candidate indices (no self, no repeats); ``-1`` marks an empty slot.
    bound : Tensor (n,) or None
        Lower bound on the float32 score of every point left out of a row's
        list; ``None`` (approximate search) skips the completeness check.

    Returns
    -------
    idx : LongTensor (n, k)
    score : float64 Tensor (n, k), ascending
    unsure : LongTensor of the rows that need :func:`exhaustive_rows`
    """
    n, m = cand.shape
    dev = prep.Y.device
    cand = cand.to(dev)
    if numba is not None and dev.type == "cpu":
        idx_np, sc_np = np.empty((n, k), np.int64), np.empty((n, k), np.float64)
        _refine_kernel(np.ascontiguousarray(prep.Y.numpy()), np.ascontiguousarray(cand.numpy(), dtype=np.int64),
                       _CODES[prep.family], k, idx_np, sc_np)
        idx, score = torch.from_numpy(idx_np), torch.from_numpy(sc_np)
    else:
        rows = torch.arange(n, device=dev).repeat_interleave(m)
        empty = cand < 0
        score = pair_scores(prep.Y, rows, cand.clamp_min(0).reshape(-1), prep.family).view(n, m)
        score[empty] = math.inf
        cand, score = _lex_order(cand, score)
        idx, score = cand[:, :k].contiguous(), score[:, :k].contiguous()
    if bound is None:
        return idx, score, torch.empty(0, dtype=torch.long, device=dev)
    b = bound.to(device=dev, dtype=torch.float64)
    unsure = torch.nonzero(~(b - prep.eps32 > score[:, k - 1])).flatten()
    return idx, score, unsure


def _expanded_scores(prep: Prepared, rows: torch.Tensor) -> torch.Tensor:
    """float64 scores of ``rows`` against every point (GEMM expansion or cdist)."""
    Y = prep.Y
    Q = Y[rows]
    if prep.family == "l2":
        C = Y - Y.mean(dim=0, keepdim=True)
        sq = (C * C).sum(dim=1)
        return torch.addmm(sq[None, :], C[rows], C.T, alpha=-2.0) + sq[rows, None]
    if prep.family == "dot":
        return -(Q @ Y.T)
    return torch.cdist(Q, Y, p=1.0 if prep.family == "l1" else 0.0)


def exhaustive_rows(prep: Prepared, rows: torch.Tensor, k: int, block: int | None = None):
    """Exact top-k (ties by smallest index) of the given rows against all points, in float64.

    A float64 pass over all points keeps every point within ``2 ε64`` of the
    k-th score; those few are scored exactly by differences and ordered
    lexicographically.
    """
    dev = prep.Y.device
    rows = rows.to(dev)
    n = prep.n
    block = block or max(1, min(1024, (1 << 24) // max(n, 1)))
    idx_out = torch.empty(rows.shape[0], k, dtype=torch.long, device=dev)
    sc_out = torch.empty(rows.shape[0], k, dtype=torch.float64, device=dev)
    for s in range(0, rows.shape[0], block):
        r = rows[s:s + block]
        S = _expanded_scores(prep, r)
        S[torch.arange(r.shape[0], device=dev), r] = math.inf
        kth = torch.kthvalue(S, k, dim=1).values
        keep = S <= (kth + 2.0 * prep.eps64[r])[:, None]
        pr, pc = torch.nonzero(keep, as_tuple=True)  # row-major, columns ascending
        exact = pair_scores(prep.Y, r[pr], pc, prep.family)
        order = torch.sort(exact, stable=True).indices
        order = order[torch.sort(pr[order], stable=True).indices]  # by row, then score, then index
        counts = torch.bincount(pr, minlength=r.shape[0])
        first = torch.cumsum(counts, 0) - counts
        pick = (first[:, None] + torch.arange(k, device=dev)[None, :]).reshape(-1)
        idx_out[s:s + block] = pc[order[pick]].view(-1, k)
        sc_out[s:s + block] = exact[order[pick]].view(-1, k)
    return idx_out, sc_out


def to_distance(score: torch.Tensor, prep: Prepared) -> torch.Tensor:
    """Exact scores (float64) → distances in the units of the original ``X`` (float64)."""
    s = prep.scale
    if prep.metric == "euclidean":
        return score.clamp_min(0.0).sqrt() / s
    if prep.metric == "cosine":
        return score.clamp_min(0.0) / 2.0  # |x̂ - ŷ|² / 2 = 1 - cos, without the cancellation
    if prep.metric == "angular":
        return score.clamp_min(0.0).sqrt()
    if prep.metric == "dot":
        return score / (s * s)
    if prep.metric == "manhattan":
        return score / s
    return score.clone()
