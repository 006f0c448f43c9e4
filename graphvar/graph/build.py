"""Weighted k-NN graphs: kernels, symmetrisation and the :func:`knn_graph` builder."""

from __future__ import annotations

import time

import torch

from .graph import Graph, csr_tensor
from .knn import knn_search

__all__ = ["knn_graph", "knn_weights", "symmetric_graph", "KERNELS"]

KERNELS = ("gaussian", "symgaussian", "uniform")


def knn_weights(indices: torch.Tensor, distances: torch.Tensor, kernel: str = "gaussian") -> torch.Tensor:
    """Directed k-NN edge weights ``w_ij`` for ``j = indices[i, m]`` (DESIGN.md §2).

    ``gaussian``: ``exp(-4 |x_i - x_j|² / d_k(x_i)²)``;
    ``symgaussian``: ``exp(-4 |x_i - x_j|² / (d_k(x_i) d_k(x_j)))``;
    ``uniform``: 1. ``d_k`` is the distance to the k-th neighbour. Duplicate
    points (``d_k = 0``) cannot produce NaN: the squared bandwidth is floored at
    the smallest positive float, and zero distances give weight 1.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    if kernel == "uniform":
        return torch.ones_like(distances)
    tiny = torch.finfo(distances.dtype).tiny
    eps = distances[:, -1]
    d2 = distances * distances
    if kernel == "gaussian":
        scale = (eps * eps)[:, None]
    else:
        scale = eps[:, None] * eps[indices]
    return torch.exp(-4.0 * d2 / scale.clamp_min(tiny))


def symmetric_graph(
    indices: torch.Tensor,
    weights: torch.Tensor,
    mode: str = "mean",
    dtype: torch.dtype = torch.float32,
    info: dict | None = None,
) -> Graph:
    """Symmetrise directed k-NN weights into a :class:`Graph`.

    ``mode="mean"`` gives ``(W + Wᵀ) / 2``; ``mode="max"`` the elementwise max
    (for unit weights). The diagonal is zero by construction (self excluded).
    """
    n, k = indices.shape
    device = indices.device
    rows = torch.arange(n, device=device).repeat_interleave(k)
    cols = indices.reshape(-1)
    vals = weights.reshape(-1).to(dtype)
    if mode == "mean":
        vals = vals / 2
    elif mode != "max":
        raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}.")
    r = torch.cat([rows, cols])
    c = torch.cat([cols, rows])
    v = torch.cat([vals, vals])
    W = torch.sparse_coo_tensor(torch.stack([r, c]), v, (n, n), check_invariants=False).coalesce()
    vals_c = W.values()
    if mode == "max":
        # duplicates were summed by coalesce; unit weights summed twice mean a mutual edge
        vals_c = vals_c.clamp_max(1.0) if bool((v == 1).all()) else vals_c
    ij = W.indices()
    crow = torch.zeros(n + 1, dtype=torch.long, device=device)
    crow[1:] = torch.cumsum(torch.bincount(ij[0], minlength=n), 0)
    return Graph(csr_tensor(crow, ij[1].contiguous(), vals_c.contiguous(), n), info=info)


def knn_graph(
    X,
    k: int = 10,
    kernel: str = "gaussian",
    metric: str = "euclidean",
    backend: str = "auto",
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Graph:
    """Build the symmetric weighted k-NN graph of ``X`` (GraphLearning's construction).

    Parameters
    ----------
    X : array-like, torch.Tensor or scipy sparse of shape (n, d)
        Features (scipy sparse only with ``metric="cosine"``).
    k : int, default=10
        Neighbours per point, excluding the point itself.
    kernel : {"gaussian", "symgaussian", "uniform"}
        Edge weights; see :func:`knn_weights`. Gaussian kernels are symmetrised
        by ``(W + Wᵀ)/2``, uniform by the elementwise maximum.
    metric : {"euclidean", "cosine"}
        Distance used for the search and the kernel (cosine distance ``1 - cos``).
    backend : {"auto", "torch", "keops", "faiss"}
        Exact k-NN backend; see :func:`graphvar.graph.knn_search`.
    device : str or torch.device, optional
        Device for the search and the resulting graph.
    dtype : torch.dtype, default=torch.float32
        Dtype of the stored weights.

    Returns
    -------
    Graph
        With ``info`` recording k, kernel, metric, backend and build seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from graphvar.graph import knn_graph
    >>> g = knn_graph(np.random.default_rng(0).normal(size=(100, 5)), k=5, backend="torch")
    >>> g.n_nodes
    100
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    t0 = time.perf_counter()
    idx, dist = knn_search(X, k, metric=metric, backend=backend, device=device)
    t_search = time.perf_counter() - t0
    w = knn_weights(idx, dist, kernel)
    mode = "max" if kernel == "uniform" else "mean"
    from .knn import _resolve_backend  # the backend actually used, for the record
    import scipy.sparse as sp

    used = _resolve_backend(backend, idx.device, sparse=sp.issparse(X))
    info = {
        "k": int(k),
        "kernel": kernel,
        "metric": metric,
        "backend": used,
        "search_seconds": t_search,
    }
    graph = symmetric_graph(idx, w, mode=mode, dtype=dtype, info=info)
    graph.info["seconds"] = time.perf_counter() - t0
    return graph
