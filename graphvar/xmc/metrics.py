"""Ranking metrics for extreme multi-label classification (pyxclib conventions).

Every metric ranks the labels of each row by score and returns an array over
``k = 1..K`` (entry ``j`` is the metric at ``k = j + 1``), averaged over *all*
test rows (rows without test labels count as 0, as in pyxclib's default).

Ranking rules (shared by all functions):

* dense scores (N, L): every label is a candidate;
* sparse scores (N, L): only *stored* entries are candidates (whatever their
  value); a row with fewer than k candidates ranks nothing at the remaining
  positions, which count as misses;
* ties: among equal scores the **lower label id ranks first**;
* ``filter``: (row, label) pairs removed from the scores before ranking (e.g.
  the reciprocal pairs of the XC Repository's ``filter_labels_test.txt``);
  the test labels are left unchanged.

Normalisation (pyxclib ``xc_metrics``, napkinXC ``normalize=True``):

* nDCG@k of a row divides by the ideal DCG over ``min(k, #true labels)`` slots;
* PSP@k = (sum over rows of the propensity-weighted precision) divided by the
  same sum for the best achievable ranking (true labels sorted by inverse
  propensity), i.e. a ratio of totals, not a mean of ratios;
* PSnDCG@k likewise, each row's PS-DCG divided by its ideal (unweighted) DCG;
* coverage@k = distinct test labels correctly predicted in some row's top k,
  divided by the distinct labels present in the test set.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphvar.validation import check_int
from graphvar.xmc.propensity import inverse_propensity, propensity_presets  # re-exported

__all__ = [
    "inverse_propensity",
    "propensity_presets",
    "top_k",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "psprecision_at_k",
    "psndcg_at_k",
    "coverage_at_k",
    "evaluate",
]

_BLOCK = 1 << 22  # scores processed per block (dense entries or sparse nonzeros)


# --------------------------------------------------------------------------- validation
def _as_scores(scores):
    """Return scores as float CSR or a 2-D float ndarray; reject non-finite values."""
    if type(scores).__module__.startswith("torch"):
        import torch

        if scores.layout != torch.strided:  # any sparse torch layout
            coo = scores.detach().cpu().to_sparse_coo().coalesce()
            r, c = coo.indices().numpy()
            scores = sp.csr_matrix((coo.values().numpy(), (r, c)), shape=tuple(coo.shape))
        else:
            scores = scores.detach().cpu().numpy()
    if sp.issparse(scores):
        S = sp.csr_matrix(scores)
        if not S.has_canonical_format:
            S = S.copy()
            S.sum_duplicates()
        data = S.data
    else:
        S = np.asarray(scores)
        if S.ndim != 2:
            raise ValueError(f"scores must be a 2-D (N, L) matrix, got shape {S.shape}.")
        data = S
    if not (np.issubdtype(S.dtype, np.floating) or np.issubdtype(S.dtype, np.integer) or S.dtype == np.bool_):
        raise TypeError(f"scores must be real numbers, got dtype {S.dtype}.")
    if np.issubdtype(S.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise ValueError("scores contain NaN or infinite values; replace them (e.g. np.nan_to_num) first.")
    return S


def _as_labels(Y_true, shape=None, name: str = "Y_true") -> sp.csr_matrix:
    """Binary canonical CSR (float64 ones) of the test labels."""
    Y = sp.csr_matrix(Y_true) if sp.issparse(Y_true) else sp.csr_matrix(np.asarray(Y_true))
    if shape is not None and Y.shape != tuple(shape):
        raise ValueError(f"{name} has shape {Y.shape} but the scores have shape {tuple(shape)}; they must match.")
    Y = Y.copy()
    Y.sum_duplicates()
    Y.eliminate_zeros()
    Y.data = np.ones_like(Y.data, dtype=np.float64)
    return Y


def _filter_pairs(filter, shape) -> tuple[np.ndarray, np.ndarray]:
    n, L = shape
    if sp.issparse(filter):
        if filter.shape != tuple(shape):
            raise ValueError(f"filter has shape {filter.shape} but the scores have shape {tuple(shape)}.")
        F = sp.coo_matrix(filter)
        rows, cols = F.row.astype(np.int64), F.col.astype(np.int64)
    else:
        pairs = np.asarray(filter)
        if pairs.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
            raise ValueError(
                "filter must be a sparse (N, L) matrix or an integer array of (row, label) pairs "
                f"with shape (M, 2); got {pairs.dtype} array of shape {pairs.shape}."
            )
        rows, cols = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        if rows.min() < 0 or rows.max() >= n or cols.min() < 0 or cols.max() >= L:
            raise ValueError(f"filter pairs must satisfy 0 <= row < {n} and 0 <= label < {L}.")
    return rows, cols


# --------------------------------------------------------------------------- top-k
def _topk_rows(V: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of the ``kk`` largest entries of each row of ``V``, best first.

    Among equal values the lower column wins: the threshold ties are taken in
    column order and the final sort is stable.
    """
    kth = np.partition(V, V.shape[1] - kk, axis=1)[:, V.shape[1] - kk, None]
    greater = V > kth
    equal = V == kth
    take = greater | equal
    need = kk - greater.sum(axis=1)
    excess = np.flatnonzero(equal.sum(axis=1) > need)  # rows with more ties than free slots
    if excess.size:
        eq = equal[excess]
        take[excess] = greater[excess] | (eq & (np.cumsum(eq, axis=1) <= need[excess, None]))
    r, c = np.nonzero(take)  # row-major, kk per row, columns ascending
    c = c.reshape(V.shape[0], kk)
    vals = V[r, c.ravel()].reshape(V.shape[0], kk)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(c, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _dense_topk(S: np.ndarray, k: int, frows: np.ndarray, fcols: np.ndarray) -> np.ndarray:
    n, L = S.shape
    kk = min(k, L)
    out = np.full((n, k), -1, dtype=np.int64)
    if kk == 0 or n == 0:
        return out
    block = max(1, _BLOCK // max(L, 1))
    order = np.argsort(frows, kind="stable")
    frows, fcols = frows[order], fcols[order]
    for a in range(0, n, block):
        b = min(a + block, n)
        lo, hi = np.searchsorted(frows, [a, b])
        B = S[a:b] if np.issubdtype(S.dtype, np.floating) else S[a:b].astype(np.float64)
        if hi > lo:
            B = B.copy()
            B[frows[lo:hi] - a, fcols[lo:hi]] = -np.inf  # filtered: never ranked (scores are finite)
        idx, vals = _topk_rows(B, kk)
        idx[vals == -np.inf] = -1
        out[a:b, :kk] = idx
    return out


def _sparse_topk(S: sp.csr_matrix, k: int, frows: np.ndarray, fcols: np.ndarray) -> np.ndarray:
    """Top-k of the stored entries; rows are grouped by length and padded with -inf per block."""
    n, L = S.shape
    out = np.full((n, k), -1, dtype=np.int64)
    indptr, indices, data = S.indptr.astype(np.int64), S.indices, S.data
    if frows.size:
        rows_all = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        keep = ~np.isin(rows_all * L + indices, frows * L + fcols)
        indptr = np.r_[0, np.cumsum(np.bincount(rows_all[keep], minlength=n))].astype(np.int64)
        indices, data = indices[keep], data[keep]
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    lengths = np.diff(indptr)
    order = np.argsort(lengths, kind="stable")
    sorted_len = lengths[order]
    a = int(np.searchsorted(sorted_len, 1))  # skip empty rows
    while a < n:
        b = min(n, a + max(1, _BLOCK // int(sorted_len[a])))
        while b > a + 1 and (b - a) * int(sorted_len[b - 1]) > _BLOCK:
            b = a + (b - a) // 2
        rows = order[a:b]
        m = int(sorted_len[b - 1])
        pos = indptr[rows, None] + np.arange(m)
        valid = np.arange(m) < lengths[rows, None]
        pos = np.where(valid, pos, 0)
        V = np.where(valid, data[pos], -np.inf)
        col, vals = _topk_rows(V, min(k, m))
        labels = np.take_along_axis(np.asarray(indices)[pos], col, axis=1)
        labels[vals == -np.inf] = -1
        out[rows, : labels.shape[1]] = labels
        a = b
    return out


def top_k(scores, k: int = 5, *, filter=None) -> np.ndarray:
    """Indices of the ``k`` best-scored labels of every row, best first.

    Parameters
    ----------
    scores : scipy sparse, numpy array or torch tensor of shape (N, L)
        Finite scores. For sparse input only stored entries are candidates.
    k : int, default=5
    filter : scipy sparse of shape (N, L) or int array of shape (M, 2), optional
        (row, label) pairs removed before ranking.

    Returns
    -------
    numpy.ndarray of shape (N, k), int64
        Label ids; ``-1`` where a row has fewer than ``k`` candidates. Ties are
        broken towards the lower label id.
    """
    k = _check_k(k)
    S = _as_scores(scores)
    frows, fcols = (np.empty(0, np.int64),) * 2 if filter is None else _filter_pairs(filter, S.shape)
    if sp.issparse(S):
        return _sparse_topk(S, int(k), frows, fcols)
    return _dense_topk(S, int(k), frows, fcols)


# --------------------------------------------------------------------------- ranked hits
class _Ranked:
    """Top-K predictions of every row and which of them are true labels."""

    def __init__(self, scores, Y_true, K: int, filter=None) -> None:
        S = _as_scores(scores)
        self.Y = _as_labels(Y_true, S.shape)
        self.K = K
        frows, fcols = (np.empty(0, np.int64),) * 2 if filter is None else _filter_pairs(filter, S.shape)
        self.idx = _sparse_topk(S, K, frows, fcols) if sp.issparse(S) else _dense_topk(S, K, frows, fcols)
        n, L = self.Y.shape
        true_keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.Y.indptr)) * L + self.Y.indices
        query = np.arange(n, dtype=np.int64)[:, None] * L + self.idx
        pos = np.minimum(np.searchsorted(true_keys, query), max(true_keys.size - 1, 0))
        self.hits = (self.idx >= 0) & (true_keys[pos] == query) if true_keys.size else np.zeros_like(self.idx, bool)
        self.n_pos = np.diff(self.Y.indptr).astype(np.int64)
        self.discount = 1.0 / np.log2(np.arange(2, K + 2))
        self._weights: tuple | None = None

    def ideal_dcg(self) -> np.ndarray:
        """(N, K): ideal DCG over ``min(k, n_pos)`` slots; 1 for rows without labels (their DCG is 0)."""
        cum = np.cumsum(self.discount)
        slots = np.minimum(np.arange(1, self.K + 1)[None, :], self.n_pos[:, None])
        return np.where(slots > 0, cum[np.maximum(slots, 1) - 1], 1.0)

    def weights(self, inv_propensity) -> tuple[np.ndarray, np.ndarray]:
        """Weighted hits (N, K) and the best achievable weighted ranking (N, K)."""
        if self._weights is not None and self._weights[0] is inv_propensity:
            return self._weights[1]
        w = np.asarray(inv_propensity, dtype=np.float64).ravel()
        L = self.Y.shape[1]
        if w.shape != (L,):
            raise ValueError(f"inv_propensity must have one entry per label ({L}), got shape {w.shape}.")
        if not np.all(np.isfinite(w)):
            raise ValueError("inv_propensity contains NaN or infinite values.")
        if (w < 0).any():
            raise ValueError(f"inv_propensity must be non-negative (inverse propensities are >= 1), got "
                             f"minimum {w.min():g}; compute it with graphvar.xmc.inverse_propensity.")
        gained = np.where(self.hits, w[np.maximum(self.idx, 0)], 0.0)
        Yw = sp.csr_matrix((w[self.Y.indices], self.Y.indices, self.Y.indptr), shape=self.Y.shape)
        best_idx = _sparse_topk(Yw, self.K, np.empty(0, np.int64), np.empty(0, np.int64))
        best = np.where(best_idx >= 0, w[np.maximum(best_idx, 0)], 0.0)
        self._weights = (inv_propensity, (gained, best))
        return gained, best


def _check_k(k) -> int:
    return check_int(k, "k", minimum=1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


# --------------------------------------------------------------------------- metrics
def _precision(R: _Ranked) -> np.ndarray:
    return (np.cumsum(R.hits, axis=1) / np.arange(1, R.K + 1)).mean(axis=0)


def _recall(R: _Ranked) -> np.ndarray:
    return (np.cumsum(R.hits, axis=1) / np.maximum(R.n_pos, 1)[:, None]).mean(axis=0)


def _ndcg(R: _Ranked) -> np.ndarray:
    return (np.cumsum(R.hits * R.discount, axis=1) / R.ideal_dcg()).mean(axis=0)


def _psprecision(R: _Ranked, inv_propensity) -> np.ndarray:
    gained, best = R.weights(inv_propensity)
    ranks = np.arange(1, R.K + 1)
    return _ratio((np.cumsum(gained, axis=1) / ranks).sum(0), (np.cumsum(best, axis=1) / ranks).sum(0))


def _psndcg(R: _Ranked, inv_propensity) -> np.ndarray:
    gained, best = R.weights(inv_propensity)
    ideal = R.ideal_dcg()
    num = (np.cumsum(gained * R.discount, axis=1) / ideal).sum(0)
    den = (np.cumsum(best * R.discount, axis=1) / ideal).sum(0)
    return _ratio(num, den)


def _coverage(R: _Ranked) -> np.ndarray:
    L = R.Y.shape[1]
    n_present = np.unique(R.Y.indices).size
    first = np.full(L, R.K + 1, dtype=np.int64)
    ranks = np.broadcast_to(np.arange(1, R.K + 1), R.idx.shape)
    np.minimum.at(first, R.idx[R.hits], ranks[R.hits])
    hit_at = np.bincount(first, minlength=R.K + 2)[1 : R.K + 1]
    return _ratio(np.cumsum(hit_at).astype(np.float64), np.full(R.K, float(n_present)))


_DOC = """
    Parameters
    ----------
    scores : scipy sparse, numpy array or torch tensor of shape (N, L)
        Predicted scores (see the module docstring for the ranking rules).
    Y_true : scipy sparse or array-like of shape (N, L)
        Test labels (binarised: every nonzero is a true label).{extra}
    k : int, default=5
        Largest cut-off.
    filter : scipy sparse (N, L) or int array (M, 2), optional
        (row, label) pairs whose scores are removed before ranking.

    Returns
    -------
    numpy.ndarray of shape (k,)
        The metric at ``k = 1..k``{nan}.
"""
_PS = """
    inv_propensity : array-like of shape (L,)
        Inverse propensities, e.g. from :func:`inverse_propensity`."""
_NAN = " (NaN if the test set has no positive label)"


def precision_at_k(scores, Y_true, k: int = 5, *, filter=None) -> np.ndarray:
    return _precision(_Ranked(scores, Y_true, _check_k(k), filter))


def recall_at_k(scores, Y_true, k: int = 5, *, filter=None) -> np.ndarray:
    return _recall(_Ranked(scores, Y_true, _check_k(k), filter))


def ndcg_at_k(scores, Y_true, k: int = 5, *, filter=None) -> np.ndarray:
    return _ndcg(_Ranked(scores, Y_true, _check_k(k), filter))


def psprecision_at_k(scores, Y_true, inv_propensity, k: int = 5, *, filter=None) -> np.ndarray:
    return _psprecision(_Ranked(scores, Y_true, _check_k(k), filter), inv_propensity)


def psndcg_at_k(scores, Y_true, inv_propensity, k: int = 5, *, filter=None) -> np.ndarray:
    return _psndcg(_Ranked(scores, Y_true, _check_k(k), filter), inv_propensity)


def coverage_at_k(scores, Y_true, k: int = 5, *, filter=None) -> np.ndarray:
    return _coverage(_Ranked(scores, Y_true, _check_k(k), filter))


def _document(func, summary: str, ps: bool = False, nan: bool = False) -> None:
    func.__doc__ = summary + "\n" + _DOC.format(extra=_PS if ps else "", nan=_NAN if nan else "")


_document(precision_at_k, "Precision@k: correct labels among the top k, divided by k.")
_document(recall_at_k, "Recall@k: correct labels in the top k over the row's true labels (0 without labels).")
_document(ndcg_at_k, "nDCG@k with the ideal DCG over ``min(k, #true labels)`` slots.")
_document(psprecision_at_k, "Propensity-scored precision@k, normalised by the best achievable.", ps=True, nan=True)
_document(psndcg_at_k, "Propensity-scored nDCG@k, normalised by the best achievable.", ps=True, nan=True)
_document(coverage_at_k, "Coverage@k: distinct test labels hit in some top k over distinct test labels.", nan=True)


def evaluate(scores, Y_true, inv_propensity=None, ks=(1, 3, 5), *, filter=None) -> dict[str, float]:
    """All metrics at the cut-offs ``ks`` from a single ranking pass.

    Parameters
    ----------
    scores : scipy sparse, numpy array or torch tensor of shape (N, L)
    Y_true : scipy sparse or array-like of shape (N, L)
    inv_propensity : array-like of shape (L,), optional
        Inverse propensities (:func:`inverse_propensity` on the *training*
        labels); without it the PS metrics are omitted.
    ks : sequence of int, default=(1, 3, 5)
    filter : scipy sparse (N, L) or int array (M, 2), optional
        (row, label) pairs removed before ranking.

    Returns
    -------
    dict
        Fractions in [0, 1] keyed ``P@k``, ``nDCG@k``, ``R@k``, ``coverage@k``
        and, with propensities, ``PSP@k`` and ``PSnDCG@k``.
    """
    ks = [_check_k(k) for k in np.atleast_1d(ks).tolist()]
    R = _Ranked(scores, Y_true, max(ks), filter)
    table = {"P": _precision(R), "nDCG": _ndcg(R), "R": _recall(R), "coverage": _coverage(R)}
    if inv_propensity is not None:
        table["PSP"] = _psprecision(R, inv_propensity)
        table["PSnDCG"] = _psndcg(R, inv_propensity)
    return {f"{name}@{k}": float(table[name][k - 1]) for name in table for k in ks}
