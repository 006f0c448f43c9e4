"""Exact k-nearest-neighbour search with interchangeable backends.

Backends (all exact):

``torch``
    Blocked ``addmm`` + ``topk`` on any device (the reference implementation).
``keops``
    PyKeOps ``LazyTensor.argKmin``; fast on CUDA, slow on CPU (no SIMD there,
    see DESIGN.md §6), so ``auto`` only picks it on CUDA.
``faiss``
    ``IndexFlatL2`` / ``IndexFlatIP`` when ``faiss-cpu`` is installed: the
    fastest measured CPU backend.

``backend="auto"`` picks KeOps on CUDA (torch if KeOps is missing) and faiss,
else torch, on CPU. Every backend excludes the query point itself (also when
it has exact duplicates) and returns neighbours in ascending distance.
"""

from __future__ import annotations

import importlib.util
import math
import os
import warnings

import numpy as np
import scipy.sparse as sp
import torch

from .validation import check_device, check_features

__all__ = ["knn_search", "available_backends", "BACKENDS", "METRICS"]

BACKENDS = ("auto", "torch", "keops", "faiss")
METRICS = ("euclidean", "cosine")


def available_backends(device: str | torch.device | None = None) -> list[str]:
    """Return the k-NN backends usable on ``device`` in this environment."""
    found = ["torch"]
    if importlib.util.find_spec("pykeops") is not None:
        found.append("keops")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cpu" and importlib.util.find_spec("faiss") is not None:
        found.append("faiss")
    return found


def _resolve_backend(backend: str, device: torch.device, sparse: bool) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if sparse:
        if backend not in ("auto", "torch"):
            raise ValueError(
                f"backend={backend!r} does not support scipy sparse X; use backend='torch' "
                "(or 'auto'), which computes sparse cosine similarities in row blocks."
            )
        return "torch"
    avail = available_backends(device)
    if backend == "auto":
        if device.type == "cuda":
            return "keops" if "keops" in avail else "torch"
        return "faiss" if "faiss" in avail else "torch"
    if backend not in avail:
        hint = "pip install faiss-cpu" if backend == "faiss" else "pip install pykeops"
        where = " on CUDA (use faiss-gpu yourself or backend='torch')" if backend == "faiss" else ""
        raise ValueError(f"backend={backend!r} is not available{where}; install it ({hint}) or use 'torch'.")
    return backend


def _drop_self(idx: torch.Tensor, dist: torch.Tensor, start: int, k: int):
    """Remove each query's own index from ``k + 1`` candidates (or the farthest one)."""
    n_q = idx.shape[0]
    own = torch.arange(start, start + n_q, device=idx.device)[:, None]
    is_self = idx == own
    no_self = ~is_self.any(dim=1)
    is_self[no_self, -1] = True  # self not among the candidates: drop the farthest
    keep = ~is_self
    return idx[keep].view(n_q, k), dist[keep].view(n_q, k)


def _torch_dense(X: torch.Tensor, k: int, metric: str, block: int):
    n = X.shape[0]
    if metric == "cosine":
        X = X / X.norm(dim=1, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    else:
        sq = (X * X).sum(dim=1)
    idx_out = torch.empty(n, k, dtype=torch.long, device=X.device)
    for start in range(0, n, block):
        stop = min(start + block, n)
        Q = X[start:stop]
        if metric == "cosine":
            score = -(Q @ X.T)  # smaller is closer
        else:
            score = torch.addmm(sq[None, :], Q, X.T, beta=1.0, alpha=-2.0)
            score += sq[start:stop, None]
        rows = torch.arange(stop - start, device=X.device)
        score[rows, rows + start] = math.inf  # exclude self exactly
        idx_out[start:stop] = torch.topk(score, k, dim=1, largest=False, sorted=True).indices
    return idx_out


def _torch_sparse_cosine(X: sp.csr_matrix, k: int, block: int, device: torch.device):
    n = X.shape[0]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    Xn = sp.csr_matrix(sp.diags(1.0 / norms) @ X, dtype=np.float32)
    XT = Xn.T.tocsr()
    idx_out = np.empty((n, k), dtype=np.int64)
    sim_out = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        stop = min(start + block, n)
        S = torch.from_numpy((Xn[start:stop] @ XT).toarray()).to(device)
        rows = torch.arange(stop - start, device=device)
        S[rows, rows + start] = -math.inf
        top = torch.topk(S, k, dim=1, largest=True, sorted=True)
        idx_out[start:stop] = top.indices.cpu().numpy()
        sim_out[start:stop] = top.values.cpu().numpy()
    idx = torch.from_numpy(idx_out).to(device)
    dist = (1.0 - torch.from_numpy(sim_out).to(device)).clamp_min(0.0)
    return idx, dist


def _keops(X: torch.Tensor, k: int, metric: str, block: int):
    os.environ.setdefault("KEOPS_VERBOSE", "0")
    os.environ.setdefault("PYKEOPS_VERBOSE", "0")
    from pykeops.torch import LazyTensor

    if metric == "cosine":
        X = X / X.norm(dim=1, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    X = X.contiguous()
    x_j = LazyTensor(X[None, :, :])
    out = []
    for start in range(0, X.shape[0], block):
        Q = X[start:start + block]
        x_i = LazyTensor(Q[:, None, :])
        if metric == "cosine":
            D_ij = -(x_i * x_j).sum(-1)
        else:
            D_ij = ((x_i - x_j) ** 2).sum(-1)
        cand = D_ij.argKmin(k + 1, dim=1).long()
        out.append(_drop_self(cand, cand.to(X.dtype), start, k)[0])
    return torch.cat(out)


def _faiss(X: torch.Tensor, k: int, metric: str):
    import faiss

    A = np.ascontiguousarray(X.detach().cpu().numpy(), dtype=np.float32)
    if metric == "cosine":
        A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), np.finfo(np.float32).tiny)
        index = faiss.IndexFlatIP(A.shape[1])
    else:
        index = faiss.IndexFlatL2(A.shape[1])
    index.add(A)
    _, cand = index.search(A, k + 1)
    cand_t = torch.from_numpy(cand.astype(np.int64))
    return _drop_self(cand_t, cand_t.float(), 0, k)[0].to(X.device)


def _exact_distances(X, idx: torch.Tensor, metric: str, block: int) -> torch.Tensor:
    """Recompute neighbour distances directly (no ``|x|²+|y|²-2xy`` cancellation)."""
    n, k = idx.shape
    dist = torch.empty(n, k, dtype=X.dtype, device=X.device)
    if metric == "cosine":
        Xn = X / X.norm(dim=1, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    for start in range(0, n, block):
        stop = min(start + block, n)
        nb = idx[start:stop]
        if metric == "cosine":
            cos = (Xn[start:stop, None, :] * Xn[nb]).sum(-1)
            dist[start:stop] = (1.0 - cos).clamp_min(0.0)
        else:
            dist[start:stop] = (X[start:stop, None, :] - X[nb]).norm(dim=-1)
    return dist


def knn_search(
    X,
    k: int,
    metric: str = "euclidean",
    backend: str = "auto",
    device: str | torch.device | None = None,
    block_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours of every row of ``X`` among the other rows.

    Parameters
    ----------
    X : array-like, torch.Tensor or scipy sparse of shape (n, d)
        Features. Scipy sparse input is supported with ``metric="cosine"``.
    k : int
        Neighbours per point, ``1 <= k < n``. The point itself is excluded.
    metric : {"euclidean", "cosine"}
        Euclidean distances are returned unsquared; cosine distance is ``1 - cos``.
    backend : {"auto", "torch", "keops", "faiss"}
        See the module docstring.
    device : str or torch.device, optional
        Where to compute (default: ``X``'s device for tensors, else CPU).
    block_size : int, optional
        Query rows per block (bounds memory at ``block_size * n`` scores).

    Returns
    -------
    indices : LongTensor of shape (n, k)
    distances : Tensor of shape (n, k), ascending in each row
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    X = check_features(X, allow_sparse=(metric == "cosine"))
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {type(k).__name__}.")
    if k < 1 or k >= n:
        raise ValueError(f"k must satisfy 1 <= k < n_samples = {n}, got k={k}; use a smaller k.")
    k = int(k)
    if device is None:
        dev = X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
    else:
        dev = check_device(device)
    if block_size is None:
        # about 64 MB of float32 scores per block
        block_size = max(1, min(n, (16 * 1024 * 1024) // max(n, 1)))
    if sp.issparse(X):
        _resolve_backend(backend, dev, sparse=True)
        return _torch_sparse_cosine(X, k, block_size, dev)
    X = X.to(dev)
    name = _resolve_backend(backend, dev, sparse=False)
    if name == "torch":
        idx = _torch_dense(X, k, metric, block_size)
    elif name == "keops":
        try:
            idx = _keops(X, k, metric, max(block_size, 65536))
        except Exception as exc:  # KeOps compiles at run time; a broken toolchain must not stop "auto"
            if backend != "auto":
                raise
            warnings.warn(f"KeOps k-NN failed ({type(exc).__name__}: {exc}); falling back to the torch backend.",
                          RuntimeWarning, stacklevel=2)
            idx = _torch_dense(X, k, metric, block_size)
    else:
        idx = _faiss(X, k, metric)
    dist = _exact_distances(X, idx, metric, max(1, 4_000_000 // (k * X.shape[1])))
    # Re-sort by the exact distances (ties in float32 scores may come out of order).
    dist, order = torch.sort(dist, dim=1, stable=True)
    return torch.gather(idx, 1, order), dist
