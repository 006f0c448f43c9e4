"""Sparse label propagation with top-k pruning: the engine behind the XMC teacher.

The solvers in :mod:`graphvar.solvers` propagate a dense ``(n, c)`` score
matrix. An XMC label matrix has ``L`` in the 10⁴–10⁶ range, so here the same
iterations run on a *sparse* score matrix that keeps only the ``topk`` best
labels of every row after every step: memory stays ``O(n · topk)`` and nothing
``n × L`` is ever formed.

Notation (DESIGN.md §3): ``W`` symmetric weights with zero diagonal, ``d = W1``,
``P = D⁻¹W``, source rows ``Γ`` (the rows whose labels are injected), ``Y`` the
binary ``(n, L)`` label matrix.

``poisson``
    Calder's iteration ``u ← D⁻¹b + P u`` with ``b = Σ_{j∈Γ} (y_j − ȳ) δ_j``.
    The centring term is dense, so it is carried exactly in factored form:
    ``u = V − c ȳᵀ − 1 rᵀ`` with ``V`` sparse (the propagated ``D⁻¹Y_Γ``),
    ``c`` a length-``n`` vector (the propagated ``D⁻¹1_Γ``) and ``r`` a
    length-``L`` vector (zero for Poisson). The linear recursion is exact;
    pruning ranks the stored entries of ``V`` by their full score ``u``.
``vpoisson``
    Adds the variance step ``α (u − ū)``, ``ū = Σ dᵢ uᵢ / vol`` (DESIGN.md §3,
    ``α = amplification / n_steps``). In factored form
    ``V ← D⁻¹Y_Γ + (P + αI) V``, ``c ← D⁻¹1_Γ + (P + αI) c − α (dᵀc/vol) 1``,
    ``r ← r + α dᵀV/vol``.
``laplace``
    ``u ← P u`` with the source rows clamped to ``y`` (Zhu et al.); rows outside
    ``Γ`` converge to the harmonic extension.

With ``u₀ = 0`` the Poisson iterations reach a row outside the sources after
two steps (step one only injects the source), so ``n_steps = T`` spreads labels
``T − 1`` hops; Laplace starts from ``y`` on the sources and spreads ``T`` hops.

Labels a row never received any mass for are *absent* (the top-k lists only
hold labels in the support of the propagated mass).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

__all__ = ["METHODS", "propagate_topk", "prune_topk", "transition_matrix"]

METHODS = ("poisson", "vpoisson", "laplace")


def transition_matrix(W: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Return ``P = D⁻¹W`` (float64 CSR, zero diagonal) and the degrees ``d``.

    Parameters
    ----------
    W : scipy sparse matrix of shape (n, n)
        Symmetric non-negative weights. The diagonal is dropped.

    Returns
    -------
    P : scipy.sparse.csr_matrix
    degrees : ndarray of shape (n,)
    """
    W = sp.csr_matrix(W, dtype=np.float64)
    W.setdiag(0)
    W.eliminate_zeros()
    d = np.asarray(W.sum(axis=1)).ravel()
    if np.any(d <= 0):
        bad = int(np.flatnonzero(d <= 0)[0])
        raise ValueError(
            f"node {bad} has no edges (degree 0); every training point needs at least one "
            "neighbour: remove duplicate-free isolated rows or increase k."
        )
    P = sp.diags(1.0 / d) @ W
    return sp.csr_matrix(P), d


def prune_topk(M: sp.csr_matrix, scores: np.ndarray, k: int) -> sp.csr_matrix:
    """Keep, in every row of ``M``, the ``k`` stored entries with the largest ``scores``.

    Parameters
    ----------
    M : scipy.sparse.csr_matrix
        Canonical CSR (sorted, no duplicates).
    scores : ndarray of shape (M.nnz,)
        Ranking key of each stored entry (``M.data`` itself for plain top-k).
    k : int
        Entries kept per row (rows with fewer keep all).

    Returns
    -------
    scipy.sparse.csr_matrix
        Same shape, at most ``k`` entries per row, indices sorted.
    """
    counts = np.diff(M.indptr)
    if counts.size == 0 or counts.max(initial=0) <= k:
        return M
    keep = np.ones(M.nnz, dtype=bool)
    long_rows = np.flatnonzero(counts > k)
    # Process the long rows in chunks so the padded score block stays ~32 MB.
    width = int(counts.max())
    step = max(1, (8 * 1024 * 1024) // width)
    for a in range(0, long_rows.size, step):
        rows = long_rows[a : a + step]
        c = counts[rows]
        starts = M.indptr[rows]
        total = int(c.sum())
        rel = np.repeat(np.arange(rows.size), c)
        pos = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
        src = np.repeat(starts, c) + pos
        pad = np.full((rows.size, int(c.max())), -np.inf, dtype=np.float64)
        pad[rel, pos] = scores[src]
        top = torch.topk(torch.from_numpy(pad), k, dim=1).indices.numpy()
        mask = np.zeros(pad.shape, dtype=bool)
        np.put_along_axis(mask, top, True, axis=1)
        keep[src] = mask[rel, pos]
    rows_all = np.repeat(np.arange(M.shape[0]), counts)
    out = sp.csr_matrix((M.data[keep], (rows_all[keep], M.indices[keep])), shape=M.shape)
    out.sort_indices()
    return out


def _check_inputs(W, Y, source):
    if not sp.issparse(W):
        raise TypeError(f"W must be a scipy sparse matrix, got {type(W).__name__}.")
    if not sp.issparse(Y):
        raise TypeError(f"Y must be a scipy sparse (n, L) label matrix, got {type(Y).__name__}.")
    n = W.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must be square, got shape {W.shape}.")
    if Y.shape[0] != n:
        raise ValueError(f"Y has {Y.shape[0]} rows but the graph has {n} nodes; they must match.")
    source = np.ones(n, dtype=bool) if source is None else np.asarray(source, dtype=bool)
    if source.shape != (n,):
        raise ValueError(f"source must be a boolean mask of shape ({n},), got {source.shape}.")
    if not source.any():
        raise ValueError("source selects no rows: at least one row must inject its labels.")
    return source


def propagate_topk(
    W: sp.spmatrix,
    Y: sp.spmatrix,
    *,
    source: np.ndarray | None = None,
    method: str = "poisson",
    n_steps: int = 10,
    topk: int = 50,
    amplification: float = 1.0,
    block_size: int = 8192,
    P: sp.csr_matrix | None = None,
    degrees: np.ndarray | None = None,
    verbose: bool = False,
    desc: str = "propagate",
) -> sp.csr_matrix:
    """Propagate a sparse label matrix over a graph, keeping the top-k labels per row.

    Parameters
    ----------
    W : scipy sparse matrix of shape (n, n)
        Symmetric non-negative graph weights (the diagonal is ignored).
    Y : scipy sparse matrix of shape (n, L)
        Binary (or non-negative) labels. Only rows in ``source`` are injected.
    source : bool array of shape (n,), optional
        Rows whose labels are sources (default: all). A row outside ``source``
        receives an estimate from its neighbours only.
    method : {"poisson", "vpoisson", "laplace"}
        Iteration; see the module docstring.
    n_steps : int, default=10
        Number of iterations ``T``.
    topk : int, default=50
        Labels kept per row after every step.
    amplification : float, default=1.0
        Total variance amplification ``a = αT`` (``vpoisson`` only).
    block_size : int, default=8192
        Rows of ``P`` multiplied at a time (bounds the unpruned product).
    P, degrees : optional
        Precomputed :func:`transition_matrix` of ``W`` (saves work across calls).
    verbose : bool, default=False
        Show a tqdm progress bar over the steps.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, L), float32
        Final scores ``u`` restricted to each row's top-k labels (entries with a
        score of exactly zero are dropped; Poisson scores may be negative).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)) or topk < 1:
        raise ValueError(f"topk must be a positive integer, got {topk!r}.")
    source = _check_inputs(W, Y, source)
    if P is None or degrees is None:
        P, degrees = transition_matrix(W)
    n, L = Y.shape
    vol = float(degrees.sum())
    Ys = sp.diags(source.astype(np.float64)) @ sp.csr_matrix(Y, dtype=np.float64)
    Ys = sp.csr_matrix(Ys)
    Ys.eliminate_zeros()
    alpha = float(amplification) / int(n_steps) if method == "vpoisson" else 0.0

    if method == "laplace":
        V = Ys.copy()
        free = ~source
        c = np.zeros(n)
        ybar = np.zeros(L)
    else:
        S = sp.csr_matrix(sp.diags(1.0 / degrees) @ Ys)  # D⁻¹ Y_Γ
        cs = source / degrees  # D⁻¹ 1_Γ
        ybar = np.asarray(Ys.sum(axis=0)).ravel() / source.sum()
        V = sp.csr_matrix((n, L), dtype=np.float64)
        c = np.zeros(n)
    r = np.zeros(L)

    for _ in tqdm(range(int(n_steps)), desc=desc, disable=not verbose, leave=False):
        if method == "laplace":
            blocks = []
            for a in range(0, n, block_size):
                b = min(n, a + block_size)
                M = sp.csr_matrix(P[a:b] @ V)
                # clamp: source rows keep their labels
                M = sp.csr_matrix(sp.diags(free[a:b].astype(np.float64)) @ M) + Ys[a:b]
                M.sum_duplicates()
                M.eliminate_zeros()
                blocks.append(prune_topk(M, M.data, topk))
            V = sp.vstack(blocks, format="csr")
            continue
        gamma = float(degrees @ c) / vol
        v = np.asarray(V.T @ degrees).ravel() / vol if alpha else None
        c_new = cs + P @ c + alpha * c - alpha * gamma
        r_new = r + alpha * v if alpha else r
        blocks = []
        for a in range(0, n, block_size):
            b = min(n, a + block_size)
            M = sp.csr_matrix(P[a:b] @ V) + S[a:b]
            if alpha:
                M = M + alpha * V[a:b]
            M = sp.csr_matrix(M)
            M.sum_duplicates()
            M.eliminate_zeros()
            rows = np.repeat(np.arange(a, b), np.diff(M.indptr))
            score = M.data - c_new[rows] * ybar[M.indices] - r_new[M.indices]
            blocks.append(prune_topk(M, score, topk))
        V, c, r = sp.vstack(blocks, format="csr"), c_new, r_new

    V = sp.csr_matrix(V)
    rows = np.repeat(np.arange(n), np.diff(V.indptr))
    data = V.data - c[rows] * ybar[V.indices] - r[V.indices]
    U = sp.csr_matrix((data.astype(np.float32), V.indices.copy(), V.indptr.copy()), shape=(n, L))
    U.eliminate_zeros()
    return U
