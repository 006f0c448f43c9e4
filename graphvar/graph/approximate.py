"""Approximate k-NN: a faiss HNSW graph, exact distances of what it finds, and a measured recall.

Chosen by measurement (``benchmarks/bench_knn.py``, FashionMNIST PCA-50 and
synthetic 200k / 1M points, one thread) over faiss IVF-Flat and pynndescent:
HNSW reaches recall@10 >= 0.99 at the lowest time, needs no JIT compilation
(pynndescent spends 30-54 s compiling per fresh process, DESIGN.md §6) and
faiss is already the ``faiss`` extra.

The neighbours HNSW returns are re-scored exactly (float64, by differences)
and ordered by (distance, index), like every exact backend, so only *which*
points are found is approximate. With ``recall_sample`` rows checked against
an exhaustive float64 search, ``info["recall"]`` estimates recall@k (tie-aware:
a found point counts when its distance is at most the true k-th distance).
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import torch

from . import exact

__all__ = ["available", "search", "recall_at_k", "METRICS", "DEFAULT_EF_SEARCH", "HNSW_M",
           "HNSW_EF_CONSTRUCTION"]

METRICS = ("euclidean", "cosine", "angular", "dot")
DEFAULT_EF_SEARCH = 64
HNSW_M = 32  # graph degree of the HNSW layers
HNSW_EF_CONSTRUCTION = 64  # candidate list while inserting points
DEFAULT_RECALL_SAMPLE = 1000


def available() -> bool:
    """Whether approximate search can run here (it needs faiss)."""
    return importlib.util.find_spec("faiss") is not None


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def hnsw_candidates(A: np.ndarray, n_query: int, *, inner_product: bool, ef_search: int,
                    m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION):
    """Build a faiss HNSW index on ``A`` and query every row of ``A`` for ``n_query`` neighbours.

    Returns ``(indices, seconds_build, seconds_query)``; indices may hold ``-1``.
    """
    import faiss

    d = A.shape[1]
    t0 = time.perf_counter()
    if inner_product:
        index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWFlat(d, m)
    index.hnsw.efConstruction = ef_construction
    index.add(A)
    t1 = time.perf_counter()
    index.hnsw.efSearch = max(ef_search, n_query)
    _, cand = index.search(A, n_query)
    return cand.astype(np.int64), t1 - t0, time.perf_counter() - t1


def recall_at_k(prep: exact.Prepared, idx: torch.Tensor, score: torch.Tensor, rows: torch.Tensor) -> float:
    """Tie-aware recall@k of ``(idx, score)`` on ``rows``, against an exhaustive float64 search."""
    k = idx.shape[1]
    _, true_score = exact.exhaustive_rows(prep, rows, k)
    kth = true_score[:, k - 1:k]
    found = score[rows.to(score.device)] <= kth
    return float(found.double().mean())


def search(prep: exact.Prepared, k: int, *, ef_search: int = DEFAULT_EF_SEARCH,
           recall_sample: int | None = None, random_state: int | None = 0):
    """Approximate k-NN of every row: HNSW candidates, exact scores, optional recall estimate.

    Returns ``(indices, scores, info)`` with scores in :mod:`graphvar.graph.exact` units.
    """
    ef_search = _check_int(ef_search, "ef_search", 1)
    n = prep.n
    m = DEFAULT_RECALL_SAMPLE if recall_sample is None else _check_int(recall_sample, "recall_sample", 0)
    A = np.ascontiguousarray(prep.A.cpu().numpy(), dtype=np.float32)
    cand, t_build, t_query = hnsw_candidates(A, min(n, k + 1), inner_product=prep.family == "dot",
                                             ef_search=ef_search)
    cand_t = torch.from_numpy(cand)
    own = torch.arange(n)[:, None]
    is_self = cand_t == own
    is_self[~is_self.any(dim=1), -1] = True  # self not found (duplicates): drop the last instead
    cand_t = cand_t[~is_self].view(n, k)
    missing = (cand_t < 0).any(dim=1)
    cand_t[cand_t < 0] = 0  # placeholder, those rows are searched exhaustively below
    idx, score, _ = exact.refine(prep, cand_t, None, k)
    bad = torch.nonzero(missing).flatten()
    if bad.numel():
        idx[bad], score[bad] = exact.exhaustive_rows(prep, bad, k)
    info = {"approximate": True, "method": "hnsw", "ef_search": ef_search, "hnsw_m": HNSW_M,
            "hnsw_ef_construction": HNSW_EF_CONSTRUCTION, "index_seconds": t_build, "query_seconds": t_query,
            "rows_rechecked": int(bad.numel())}
    if m > 0:
        gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
        rows = torch.randperm(n, generator=gen)[:min(m, n)].to(prep.Y.device)
        info["recall"] = recall_at_k(prep, idx, score, rows)
        info["recall_sample"] = int(rows.numel())
    return idx, score, info
