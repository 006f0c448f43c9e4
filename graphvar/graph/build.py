"""Weighted graphs from features: :func:`knn_graph` and :func:`epsilon_ball` (GraphLearning's constructions)."""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
import torch

from .graph import Graph, csr_tensor
from .kernels import KERNELS, check_kernel, knn_weights, radius_weights, symmetrize_mode
from .knn import _search, knn_search
from ..validation import check_device
from .validation import check_features

__all__ = ["knn_graph", "knn_weights", "symmetric_graph", "directed_graph", "epsilon_ball", "KERNELS"]

GRAPH_DTYPES = (torch.float32, torch.float64)


def _check_dtype(dtype) -> torch.dtype:
    if dtype not in GRAPH_DTYPES:
        raise TypeError(f"dtype must be torch.float32 or torch.float64 (the precisions every solver supports), "
                        f"got {dtype!r}.")
    return dtype


def _cast_weights(vals: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Cast weights to the graph dtype, refusing overflow to inf and underflow to 0."""
    if not bool(torch.isfinite(vals).all()):
        raise ValueError("edge weights are not finite; check X's scale (rescale it, e.g. X / X.std()).")
    out = vals.to(dtype)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"edge weights up to {float(vals.abs().max()):.3g} overflow {dtype}; use "
                         "dtype=torch.float64 or rescale X (e.g. X / X.std()).")
    if bool(((out == 0) & (vals != 0)).any()):
        small = float(vals[vals != 0].abs().min())
        raise ValueError(f"edge weights down to {small:.3g} underflow to 0 in {dtype}; use "
                         "dtype=torch.float64 or rescale X (e.g. X / X.std()).")
    return out


def _csr_from_coo(rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, n: int, dtype: torch.dtype,
                  reduce: str, n_rows: int | None = None) -> torch.Tensor:
    """CSR matrix of the entries, duplicates combined by ``reduce`` ("sum" or "amax"), zeros dropped.

    ``(n, n)``, or ``(n_rows, n)`` for a row block (graphvar.distributed).
    """
    key = rows * n + cols
    uniq, inverse = torch.unique(key, sorted=True, return_inverse=True)
    combined = torch.zeros(uniq.numel(), dtype=vals.dtype, device=vals.device)
    combined.scatter_reduce_(0, inverse, vals, reduce=reduce, include_self=False)
    nz = combined != 0
    uniq, combined = uniq[nz], _cast_weights(combined[nz], dtype)
    r, c = uniq // n, uniq % n
    n_rows = n if n_rows is None else n_rows
    crow = torch.zeros(n_rows + 1, dtype=torch.long, device=vals.device)
    crow[1:] = torch.cumsum(torch.bincount(r, minlength=n_rows), 0)
    return csr_tensor(crow, c.contiguous(), combined.contiguous(), n_rows, n)


def _check_neighbours(indices: torch.Tensor, weights: torch.Tensor) -> None:
    n = indices.shape[0]
    if indices.ndim != 2 or weights.shape != indices.shape:
        raise ValueError(f"indices and weights must both have shape (n, k), got {tuple(indices.shape)} and "
                         f"{tuple(weights.shape)}.")
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n):
        raise ValueError(f"indices must lie in [0, n) = [0, {n}); got values in "
                         f"[{int(indices.min())}, {int(indices.max())}].")


def symmetric_graph(
    indices: torch.Tensor,
    weights: torch.Tensor,
    mode: str = "mean",
    dtype: torch.dtype = torch.float32,
    info: dict | None = None,
) -> Graph:
    """Symmetrise directed k-NN weights into a :class:`Graph`.

    ``mode="mean"`` gives ``(W + Wᵀ) / 2``; ``mode="max"`` the elementwise
    maximum of ``W`` and ``Wᵀ`` (GraphLearning's choice for the uniform,
    symgaussian, distance and singular kernels). The diagonal is zero (self
    excluded) and zero weights are dropped.
    """
    if mode not in ("mean", "max"):
        raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}.")
    dtype = _check_dtype(dtype)
    _check_neighbours(indices, weights)
    n, k = indices.shape
    rows = torch.arange(n, device=indices.device).repeat_interleave(k)
    cols = indices.reshape(-1).to(indices.device)
    vals = weights.reshape(-1).to(device=indices.device, dtype=torch.float64)
    if mode == "mean":
        vals = vals / 2
    W = _csr_from_coo(torch.cat([rows, cols]), torch.cat([cols, rows]), torch.cat([vals, vals]), n, dtype,
                      "sum" if mode == "mean" else "amax")
    return Graph(W, info=info)


def directed_graph(indices: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype = torch.float32,
                   info: dict | None = None) -> Graph:
    """A directed :class:`Graph` with ``W[i, indices[i, m]] = weights[i, m]`` (no symmetrisation)."""
    dtype = _check_dtype(dtype)
    _check_neighbours(indices, weights)
    n, k = indices.shape
    rows = torch.arange(n, device=indices.device).repeat_interleave(k)
    W = _csr_from_coo(rows, indices.reshape(-1), weights.reshape(-1).to(torch.float64), n, dtype, "sum")
    return Graph(W, info=info, directed=True)


def knn_graph(
    X,
    k: int = 10,
    kernel="gaussian",
    metric: str = "euclidean",
    backend: str = "auto",
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    *,
    symmetrize: bool = True,
    approximate: bool | str = "auto",
    n_probe: int | None = None,
    recall_sample: int | None = None,
    progress: bool = False,
) -> Graph:
    """Build the weighted k-NN graph of ``X`` (GraphLearning's construction).

    Parameters
    ----------
    X : array-like, torch.Tensor or scipy sparse of shape (n, d)
        Features (scipy sparse only with ``metric="cosine"``).
    k : int, default=10
        Neighbours per point, excluding the point itself.
    kernel : {"gaussian", "symgaussian", "uniform", "distance", "singular"} or callable
        Edge weights, see :mod:`graphvar.graph.kernels`; a callable ``eta`` gives
        ``eta(|x_i - x_j|² / d_k(x_i)²)``. Symmetrised as GraphLearning does:
        ``(W + Wᵀ)/2`` for ``gaussian`` and ``eta``, the elementwise max otherwise.
    metric : {"euclidean", "cosine", "angular", "manhattan", "hamming", "dot"}
        Distance for the search and the kernel; see :func:`knn_search`. ``dot``
        ranks by inner product, which is no distance: only ``kernel="uniform"``.
    backend : {"auto", "tiled", "torch", "keops", "faiss"}
        Exact k-NN backend; see :func:`graphvar.graph.knn_search`.
    device : str or torch.device, optional
        Device for the search and the resulting graph.
    dtype : {torch.float32, torch.float64}, default=torch.float32
        Dtype of the stored weights.
    symmetrize : bool, default=True
        ``False`` returns a directed graph (``Graph.directed``): row ``i`` holds
        the ``k`` weights of ``i``'s edges to its neighbours.
    approximate, n_probe, recall_sample, progress
        Approximate search and its recall; see :func:`knn_search`.

    Returns
    -------
    Graph
        ``info`` records k, kernel, metric, backend, whether the search was
        approximate (and its measured recall), and build seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from graphvar.graph import knn_graph
    >>> g = knn_graph(np.random.default_rng(0).normal(size=(100, 5)), k=5, backend="torch")
    >>> g.n_nodes
    100
    """
    kernel = check_kernel(kernel)
    dtype = _check_dtype(dtype)
    if metric == "dot" and kernel != "uniform":
        raise ValueError(f"metric='dot' ranks by inner product, which is not a distance, so kernel={kernel!r} "
                         "is undefined; use kernel='uniform', or metric='cosine'/'angular' for a weighted graph.")
    t0 = time.perf_counter()
    extra = {} if n_probe is None else {"n_probe": n_probe}
    idx, dist, sinfo = _search(X, k, metric=metric, backend=backend, device=device, approximate=approximate,
                               recall_sample=recall_sample, progress=progress, **extra)
    sinfo.pop("dtype", None)
    w = knn_weights(idx, dist, kernel)
    info = {"k": int(k), "kernel": kernel if isinstance(kernel, str) else getattr(kernel, "__name__", "eta"),
            "metric": metric, "backend": sinfo["backend"], "symmetrize": bool(symmetrize), **sinfo}
    if symmetrize:
        graph = symmetric_graph(idx, w, mode=symmetrize_mode(kernel), dtype=dtype, info=info)
    else:
        graph = directed_graph(idx, w, dtype=dtype, info=info)
    if not bool(torch.isfinite(graph.degrees).all()):
        raise ValueError(f"node degrees overflow {dtype}; use dtype=torch.float64 or rescale X.")
    graph.info["seconds"] = time.perf_counter() - t0
    return graph


def _radius_pairs(Y: torch.Tensor, epsilon: float, block: int):
    """All pairs ``i < j`` with ``|y_i - y_j| <= epsilon`` and their exact distances (float64)."""
    if Y.device.type == "cpu" and Y.shape[1] <= 16:
        from scipy.spatial import cKDTree

        P = cKDTree(Y.numpy()).query_pairs(epsilon * (1 + 1e-12), output_type="ndarray")
        P = torch.from_numpy(P.astype(np.int64)).reshape(-1, 2)
        rows, cols = P[:, 0], P[:, 1]
    else:
        C = Y - Y.mean(dim=0, keepdim=True)
        sq = (C * C).sum(dim=1)
        slack = 8.0 * (Y.shape[1] + 8) * 2.0 ** -53 * 2 * float(sq.max())
        rs, cs = [], []
        for s in range(0, Y.shape[0], block):
            S = torch.addmm(sq[None, :], C[s:s + block], C.T, alpha=-2.0) + sq[s:s + block, None]
            r, c = torch.nonzero(S <= epsilon * epsilon + slack, as_tuple=True)
            keep = c > r + s
            rs.append(r[keep] + s)
            cs.append(c[keep])
        rows, cols = torch.cat(rs), torch.cat(cs)
    d = ((Y[rows] - Y[cols]) ** 2).sum(dim=1).sqrt()
    keep = d <= epsilon
    return rows[keep], cols[keep], d[keep]


def epsilon_ball(
    X,
    epsilon: float,
    kernel="gaussian",
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Graph:
    """Graph joining every pair within Euclidean distance ``epsilon`` (GraphLearning's ``epsilon_ball``).

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n, d)
        Features.
    epsilon : float
        Connectivity radius, ``> 0``.
    kernel : {"gaussian", "uniform", "distance", "singular"} or callable
        ``exp(-4 d²/ε²)``, ``1``, ``d``, ``1/d``, or ``eta(d²/ε²)``.
    device, dtype
        Where to compute and the weights' precision (float32 or float64).

    Returns
    -------
    Graph
        Symmetric, zero diagonal; ``info`` records epsilon, kernel and seconds.
        Pairs are found with a k-d tree for ``d <= 16`` (CPU), else by blocked
        float64 products, and kept by their exact distance.
    """
    kernel = check_kernel(kernel, allowed=("gaussian", "uniform", "distance", "singular"))
    dtype = _check_dtype(dtype)
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(epsilon)) or epsilon <= 0:
        raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}.")
    t0 = time.perf_counter()
    X = check_features(X)
    dev = check_device(device) if device is not None else X.device
    Y = X.to(device=dev, dtype=torch.float64)
    n = Y.shape[0]
    rows, cols, d = _radius_pairs(Y, float(epsilon), max(1, (1 << 24) // max(n, 1)))
    w = radius_weights(d, float(epsilon), kernel).to(torch.float64)
    W = _csr_from_coo(torch.cat([rows, cols]), torch.cat([cols, rows]), torch.cat([w, w]), n, dtype, "sum")
    info = {"epsilon": float(epsilon), "kernel": kernel if isinstance(kernel, str) else "eta",
            "seconds": time.perf_counter() - t0}
    return Graph(W, info=info)
