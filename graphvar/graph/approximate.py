"""Approximate k-NN: k-means cells searched by the tiled GEMM kernel, exact distances, measured recall.

Chosen by measurement (``benchmarks/bench_knn.py``: FashionMNIST PCA-50 and
synthetic points up to 1M, one thread, in one process) over faiss HNSW, faiss
IVF-Flat and pynndescent: at recall@10 >= 0.99 the cell search of
:mod:`graphvar.graph.ivf` is the fastest, because its inner loop is BLAS; it
needs no index library (its k-means is a few torch GEMMs) and no JIT beyond
the tiled backend's cached kernels.

The neighbours found are re-scored exactly (float64, by differences) and
ordered by (distance, index), like every exact backend, so only *which* points
are found is approximate. With ``recall_sample`` rows checked against an
exhaustive float64 search, ``info["recall"]`` estimates recall@k (tie-aware: a
found point counts when its distance is at most the true k-th distance).
"""

from __future__ import annotations

import numpy as np
import torch

from . import exact, ivf, tiled

__all__ = ["available", "search", "recall_at_k", "METRICS", "DEFAULT_N_PROBE", "DEFAULT_RECALL_SAMPLE"]

METRICS = ("euclidean", "cosine", "angular")
#: Cells searched with each cell. Measured recall@10 (benchmarks/results/bench_knn*.md): FashionMNIST PCA-50
#: 70k: 12 → 0.976, 16 → 0.988, 24 → 0.996; synthetic 1M × 50: 16 → 0.977, 24 → 0.9998.
DEFAULT_N_PROBE = 24
DEFAULT_RECALL_SAMPLE = 1000


def available() -> bool:
    """Whether approximate search can run here (it uses the tiled kernel, hence numba)."""
    return tiled.available()


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def recall_at_k(prep: exact.Prepared, idx: torch.Tensor, score: torch.Tensor, rows: torch.Tensor) -> float:
    """Tie-aware recall@k of ``(idx, score)`` on ``rows``, against an exhaustive float64 search."""
    k = idx.shape[1]
    _, true_score = exact.exhaustive_rows(prep, rows, k)
    kth = true_score[:, k - 1:k]
    found = score[rows.to(score.device)] <= kth
    return float(found.double().mean())


def search(prep: exact.Prepared, k: int, *, n_probe: int = DEFAULT_N_PROBE, recall_sample: int | None = None,
           random_state: int | None = 0, progress: bool = False):
    """Approximate k-NN of every row: cell-pair candidates, exact scores, optional recall estimate.

    Returns ``(indices, scores, info)`` with scores in :mod:`graphvar.graph.exact` units.
    """
    n_probe = _check_int(n_probe, "n_probe", 1)
    m = DEFAULT_RECALL_SAMPLE if recall_sample is None else _check_int(recall_sample, "recall_sample", 0)
    n = prep.n
    kp = min(n - 1, k + max(8, k // 4))
    A = np.ascontiguousarray(prep.A.cpu().numpy(), dtype=np.float32)
    cand, info = ivf.ivf_candidates(A, k, kp, n_probe=n_probe, random_state=random_state, progress=progress)
    idx, score, _ = exact.refine(prep, torch.from_numpy(cand), None, k)
    short = torch.nonzero((idx < 0).any(dim=1)).flatten()  # fewer than k points in the searched cells
    if short.numel():
        idx[short], score[short] = exact.exhaustive_rows(prep, short, k)
    info = {"approximate": True, "method": "ivf-tiled", **info, "rows_rechecked": int(short.numel())}
    if m > 0:
        gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
        rows = torch.randperm(n, generator=gen)[:min(m, n)].to(prep.Y.device)
        info["recall"] = recall_at_k(prep, idx, score, rows)
        info["recall_sample"] = int(rows.numel())
    return idx, score, info
