"""k-nearest-neighbour search: exact backends, approximate search, one exact re-ranking.

Exact backends (all give the *same* neighbours: every backend searches in
float32 and :mod:`graphvar.graph.exact` re-ranks in float64, breaking tied
distances by the smallest index and re-searching any row whose candidate
list cannot be proved complete):

``tiled``
    float32 GEMM in cache-sized tiles with a fused threshold filter (numba),
    using the symmetry of distances to compute each pair once; the fastest
    measured CPU backend (``benchmarks/bench_knn.py``).
``torch``
    Blocked ``addmm`` + ``topk`` on any device (the reference implementation).
``keops``
    PyKeOps ``Kmin_argKmin``; fast on CUDA, slow on CPU (no SIMD there,
    docs/design.md §6), so ``auto`` only picks it on CUDA.
``faiss``
    ``IndexFlatL2`` / ``IndexFlatIP`` when ``faiss-cpu`` is installed.

``backend="auto"`` picks KeOps on CUDA (torch if KeOps is missing), and on CPU
``tiled``, else faiss, else torch; ``manhattan`` and ``hamming`` always use
torch. Approximate search (``approximate=True``, or ``"auto"`` above
:data:`APPROXIMATE_MIN_SAMPLES` points on CPU) is in :mod:`graphvar.graph.approximate`.
Every backend excludes the query point itself (also when it has exact
duplicates) and returns neighbours in ascending distance.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp
import torch

from . import approximate as _approx
from . import exact, tiled
from ..validation import check_device
from .validation import check_features

__all__ = ["knn_search", "available_backends", "BACKENDS", "METRICS", "APPROXIMATE_MIN_SAMPLES"]

BACKENDS = ("auto", "torch", "keops", "faiss", "tiled")
METRICS = ("euclidean", "cosine", "angular", "manhattan", "hamming", "dot")
GEMM_METRICS = ("euclidean", "cosine", "angular", "dot")
#: ``approximate="auto"`` searches approximately from this many points on (CPU, dense X):
#: where the measured exact tiled search costs several times the approximate one at recall@10 >= 0.99.
APPROXIMATE_MIN_SAMPLES = 200_000


def available_backends(device: str | torch.device | None = None) -> list[str]:
    """Return the exact k-NN backends usable on ``device`` in this environment."""
    found = ["torch"]
    if importlib.util.find_spec("pykeops") is not None:
        found.append("keops")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cpu" and importlib.util.find_spec("faiss") is not None:
        found.append("faiss")
    if dev.type == "cpu" and tiled.available():
        found.append("tiled")
    return found


def _resolve_backend(backend: str, device: torch.device, sparse: bool, metric: str = "euclidean") -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if sparse:
        if backend not in ("auto", "torch"):
            raise ValueError(
                f"backend={backend!r} does not support scipy sparse X; use backend='torch' "
                "(or 'auto'), which computes sparse cosine similarities in row blocks."
            )
        return "torch"
    if metric not in GEMM_METRICS:
        if backend not in ("auto", "torch"):
            raise ValueError(f"metric={metric!r} is computed by backend='torch' only (or 'auto'), "
                             f"got backend={backend!r}.")
        return "torch"
    avail = available_backends(device)
    if backend == "auto":
        if device.type == "cuda":
            return "keops" if "keops" in avail else "torch"
        for name in ("tiled", "faiss"):
            if name in avail:
                return name
        return "torch"
    if backend not in avail:
        hint = {"faiss": "pip install faiss-cpu", "keops": "pip install pykeops", "tiled": "pip install numba"}
        where = " on CUDA (use backend='torch' or 'keops')" if device.type == "cuda" else ""
        raise ValueError(f"backend={backend!r} is not available{where}; install it ({hint[backend]}) "
                         "or use 'torch'.")
    return backend


def n_candidates(k: int, n: int) -> int:
    """Candidates kept per row before the exact re-ranking: ``k`` plus a margin for ties."""
    return min(n - 1, k + max(8, k // 4))


# --------------------------------------------------------------------------- candidate generators
def _torch_candidates(prep: exact.Prepared, kp: int, block: int):
    A = prep.A
    n = A.shape[0]
    if prep.family == "l2":
        sq = (A * A).sum(dim=1)
    cand = torch.empty(n, kp, dtype=torch.long, device=A.device)
    bound = torch.empty(n, dtype=A.dtype, device=A.device)
    for start in range(0, n, block):
        stop = min(start + block, n)
        Q = A[start:stop]
        if prep.family == "l2":
            S = torch.addmm(sq[None, :], Q, A.T, beta=1.0, alpha=-2.0)
            S += sq[start:stop, None]
        elif prep.family == "dot":
            S = -(Q @ A.T)
        else:
            S = torch.cdist(Q, A, p=1.0 if prep.family == "l1" else 0.0)
        rows = torch.arange(stop - start, device=A.device)
        S[rows, rows + start] = math.inf  # exclude self exactly
        top = torch.topk(S, min(kp + 1, n), dim=1, largest=False, sorted=True)
        cand[start:stop] = top.indices[:, :kp]
        bound[start:stop] = top.values[:, kp] if kp + 1 < n else math.inf
    return cand, bound


def _drop_self(cand: torch.Tensor, values: torch.Tensor, kp: int):
    """From ``kp + 1`` ascending candidates drop the row's own index (else the last)."""
    n_q = cand.shape[0]
    own = torch.arange(n_q, device=cand.device)[:, None]
    is_self = cand == own
    is_self[~is_self.any(dim=1), -1] = True
    keep = ~is_self
    return cand[keep].view(n_q, kp), values[:, -1]


def _faiss_candidates(prep: exact.Prepared, kp: int):
    import faiss

    A = np.ascontiguousarray(prep.A.cpu().numpy(), dtype=np.float32)
    index = faiss.IndexFlatL2(A.shape[1]) if prep.family == "l2" else faiss.IndexFlatIP(A.shape[1])
    index.add(A)
    D, cand = index.search(A, kp + 1)
    score = torch.from_numpy(D if prep.family == "l2" else -D)
    cand, bound = _drop_self(torch.from_numpy(cand.astype(np.int64)), score, kp)
    return cand, bound if kp + 1 < A.shape[0] else torch.full_like(bound, math.inf)


def _keops_candidates(prep: exact.Prepared, kp: int, block: int):
    os.environ.setdefault("KEOPS_VERBOSE", "0")
    os.environ.setdefault("PYKEOPS_VERBOSE", "0")
    from pykeops.torch import LazyTensor

    A = prep.A.contiguous()
    x_j = LazyTensor(A[None, :, :])
    cands, bounds = [], []
    for start in range(0, A.shape[0], block):
        x_i = LazyTensor(A[start:start + block, None, :])
        D_ij = -(x_i * x_j).sum(-1) if prep.family == "dot" else ((x_i - x_j) ** 2).sum(-1)
        vals, cand = D_ij.Kmin_argKmin(kp + 1, dim=1)
        c, b = _drop_self(cand.long() - start, vals, kp)
        cands.append(c + start)
        bounds.append(b)
    bound = torch.cat(bounds)
    return torch.cat(cands), bound if kp + 1 < A.shape[0] else torch.full_like(bound, math.inf)


def tiled_factors(prep: exact.Prepared):
    """``(L, R, margin)``: the tiled kernel's score factors ``S = L Rᵀ`` and admission slack for ``prep``."""
    A = prep.A.cpu().numpy()
    n, d = A.shape
    if prep.family == "l2":
        sq = (A.astype(np.float64) ** 2).sum(axis=1)
        L = np.empty((n, d + 2), np.float32)
        R = np.empty((n, d + 2), np.float32)
        L[:, :d], L[:, d], L[:, d + 1] = A, sq, 1.0
        R[:, :d], R[:, d], R[:, d + 1] = -2.0 * A, 1.0, sq
    else:
        L, R = np.ascontiguousarray(A), np.ascontiguousarray(-A)
    return L, R, (2.0 * prep.eps32.cpu().numpy()).astype(np.float32)


def _tiled_candidates(prep: exact.Prepared, k: int, kp: int, progress: bool):
    L, R, margin = tiled_factors(prep)
    cand, bound = tiled.tiled_candidates(L, R, k, kp, margin, progress=progress)
    return torch.from_numpy(cand), torch.from_numpy(bound)


def _torch_sparse_cosine(X: sp.csr_matrix, k: int, block: int, device: torch.device):
    n = X.shape[0]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    zero = norms == 0  # all-zero rows: orthogonal to every other row, identical to each other (as the dense path)
    norms[zero] = 1.0
    Xn = sp.csr_matrix(sp.diags(1.0 / norms) @ X, dtype=np.float32)
    if zero.any():
        Xn = sp.hstack([Xn, sp.csr_matrix(zero.astype(np.float32)[:, None])], format="csr")
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


# --------------------------------------------------------------------------- public entry point
def _check_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {type(k).__name__}.")
    if k < 1 or k >= n:
        raise ValueError(f"k must satisfy 1 <= k < n_samples = {n}, got k={k}; use a smaller k.")
    return int(k)


def _use_approximate(approximate, name: str, dev: torch.device, n: int, metric: str) -> bool:
    if approximate not in (True, False, "auto"):
        raise ValueError(f"approximate must be True, False or 'auto', got {approximate!r}.")
    if approximate is True:
        if dev.type != "cpu" or metric not in _approx.METRICS:
            raise ValueError(f"approximate=True supports metric in {_approx.METRICS} on CPU, got "
                             f"metric={metric!r} on {dev}; use approximate=False.")
        if not _approx.available():
            raise ValueError("approximate=True needs numba; install it (pip install numba).")
        return True
    return (approximate == "auto" and dev.type == "cpu" and n >= APPROXIMATE_MIN_SAMPLES
            and metric in _approx.METRICS and _approx.available())


def _exact_candidates(prep, name: str, k: int, kp: int, block: int, progress: bool, backend: str):
    if name == "tiled":
        return _tiled_candidates(prep, k, kp, progress)
    if name == "faiss":
        return _faiss_candidates(prep, kp)
    if name == "keops":
        try:
            return _keops_candidates(prep, kp, max(block, 65536))
        except Exception as exc:  # KeOps compiles at run time; a broken toolchain must not stop "auto"
            if backend != "auto":
                raise
            warnings.warn(f"KeOps k-NN failed ({type(exc).__name__}: {exc}); falling back to the torch backend.",
                          RuntimeWarning, stacklevel=3)
    return _torch_candidates(prep, kp, block)


def knn_search(
    X,
    k: int,
    metric: str = "euclidean",
    backend: str = "auto",
    device: str | torch.device | None = None,
    block_size: int | None = None,
    *,
    approximate: bool | str = "auto",
    n_probe: int = _approx.DEFAULT_N_PROBE,
    recall_sample: int | None = None,
    random_state: int | None = 0,
    progress: bool = False,
    return_info: bool = False,
):
    """k nearest neighbours of every row of ``X`` among the other rows.

    Parameters
    ----------
    X : array-like, torch.Tensor or scipy sparse of shape (n, d)
        Features. Scipy sparse input is supported with ``metric="cosine"``.
    k : int
        Neighbours per point, ``1 <= k < n``. The point itself is excluded.
    metric : {"euclidean", "cosine", "angular", "manhattan", "hamming", "dot"}
        ``euclidean`` distances are unsquared; ``cosine`` is ``1 - cos``;
        ``angular`` is ``|x/|x| - y/|y||`` (GraphLearning's angular); ``manhattan``
        the L1 distance; ``hamming`` the number of coordinates that differ;
        ``dot`` ranks by the largest inner product and returns ``-x·y``.
    backend : {"auto", "tiled", "torch", "keops", "faiss"}
        Exact backend (see the module docstring); all give the same neighbours.
    device : str or torch.device, optional
        Where to compute (default: ``X``'s device for tensors, else CPU).
    block_size : int, optional
        Query rows per block of the ``torch`` backend (bounds memory at
        ``block_size * n`` scores).
    approximate : bool or "auto", default="auto"
        ``True``: approximate search (:mod:`graphvar.graph.approximate`: k-means
        cells, each searched against its ``n_probe`` nearest cells by the tiled
        GEMM kernel), then exact distances of what it found. ``"auto"``:
        approximate only on CPU for ``euclidean``/``cosine``/``angular`` from
        :data:`APPROXIMATE_MIN_SAMPLES` points on, where it is measured faster
        than exact search at recall@10 >= 0.99. ``False``: always exact.
    n_probe : int, default=24
        Approximate search only: how many nearest k-means cells are searched
        with each cell — the one knob trading recall for time (time grows about
        linearly in it; measured recall@10 on FashionMNIST PCA-50 70k: 12 → 0.976,
        16 → 0.988, 24 → 0.996; on 1M synthetic points: 16 → 0.977, 24 → 0.9998;
        see ``benchmarks/bench_knn.py``).
    recall_sample : int, optional
        Approximate search only: rows whose neighbours are checked exactly to
        estimate recall@k (default 1000; 0 disables).
    random_state : int, optional
        Seed of the recall sample.
    progress : bool, default=False
        Show a tqdm progress bar (tiled backend).
    return_info : bool, default=False
        Also return a dict (backend, approximate, recall, seconds, ...).

    Returns
    -------
    indices : LongTensor of shape (n, k)
    distances : Tensor of shape (n, k), ascending in each row, ``X``'s float dtype
    info : dict, only with ``return_info=True``
    """
    idx, dist, info = _search(X, k, metric=metric, backend=backend, device=device, block_size=block_size,
                              approximate=approximate, n_probe=n_probe, recall_sample=recall_sample,
                              random_state=random_state, progress=progress)
    out_dtype = info.pop("dtype")
    dist = dist.to(out_dtype)
    if not bool(torch.isfinite(dist).all()):
        raise ValueError(
            f"k-NN distances up to {float(torch.nan_to_num(dist, posinf=0).max()):.3g} overflow {out_dtype}; "
            "rescale X (e.g. X / X.std()) or pass it as float64."
        )
    return (idx, dist, info) if return_info else (idx, dist)


def _search(X, k, *, metric="euclidean", backend="auto", device=None, block_size=None, approximate="auto",
            n_probe=_approx.DEFAULT_N_PROBE, recall_sample=None, random_state=0, progress=False):
    """:func:`knn_search` returning float64 distances and ``info`` (with the caller's ``dtype``)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    t0 = time.perf_counter()
    X = check_features(X, allow_sparse=(metric == "cosine"))
    n = X.shape[0]
    k = _check_k(k, n)
    dev = check_device(device) if device is not None else (X.device if isinstance(X, torch.Tensor)
                                                           else torch.device("cpu"))
    if block_size is None:
        block_size = max(1, min(n, (16 * 1024 * 1024) // max(n, 1)))  # about 64 MB of float32 scores
    name = _resolve_backend(backend, dev, sparse=sp.issparse(X), metric=metric)
    info = {"backend": name, "approximate": False, "metric": metric, "dtype": torch.float32}
    if sp.issparse(X):
        idx, dist = _torch_sparse_cosine(X, k, block_size, dev)
        info["search_seconds"] = time.perf_counter() - t0
        return idx, dist.double(), info
    info["dtype"] = X.dtype
    prep = exact.prepare(X.to(dev), metric)
    if _use_approximate(approximate, name, dev, n, metric):
        idx, score, extra = _approx.search(prep, k, n_probe=n_probe, recall_sample=recall_sample,
                                           random_state=random_state, progress=progress)
        info.update(extra, backend="ivf-tiled")
    else:
        kp = n_candidates(k, n)
        cand, bound = _exact_candidates(prep, name, k, kp, block_size, progress, backend)
        idx, score, unsure = exact.refine(prep, cand, bound, k)
        if unsure.numel():
            idx[unsure], score[unsure] = exact.exhaustive_rows(prep, unsure, k)
        info.update(n_candidates=kp, rows_rechecked=int(unsure.numel()))
    info["search_seconds"] = time.perf_counter() - t0
    return idx, exact.to_distance(score, prep), info
