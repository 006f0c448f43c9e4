"""The k-NN graph of a (dask) array of rows, built on the cluster, equal to :func:`graphvar.knn_graph`.

Blockwise exact search: every row block against itself (``B`` tasks,
:func:`graphvar.graph.knn_search`) and every pair of blocks on their
off-diagonal tiles (``B(B−1)/2`` tasks, the same tiled kernel and exact
re-ranking), the lists merged per row by (distance, index), the weights are the single-machine kernels
(:func:`graphvar.graph.knn_weights`), and the symmetrisation sends each
block's transposed entries to the block that owns their row (``B²`` small
tasks) and reduces them with the same COO-to-CSR step as
:func:`graphvar.graph.symmetric_graph`. The result is a
:class:`~graphvar.distributed.graph.DistributedGraph` whose blocks are the
row blocks of ``X``; nothing of size ``n`` passes through the driver except
the column mean of ``X``.

Costs: one machine's ``n² d`` flops in all (each pair of points scored
once), ``B − 1`` copies of each block of ``X`` moved; memory per task is
two blocks of ``X`` (float64) and the tiled backend's candidate buffers.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..graph.build import _check_dtype
from ..graph.kernels import check_kernel, symmetrize_mode
from ..graph.validation import check_features
from ._cluster import get_client, worker_addresses
from . import _knn_blocks as kb
from .graph import DistributedGraph, row_bounds

__all__ = ["knn_graph"]

METRICS = ("euclidean", "cosine", "angular")


def _row_chunks(X, n_blocks: int | None, client, workers: list) -> tuple[np.ndarray, list]:
    """``(bounds, futures)``: the row blocks of ``X`` on the workers, each block made where it will be searched.

    A dask array keeps its row chunks (unless ``n_blocks``) and is computed on
    the cluster; an in-memory array (numpy, torch, scipy sparse) is cut into
    ``n_blocks`` (default: one per worker) blocks sent from the driver.
    """
    import dask.array as da

    if isinstance(X, da.Array):
        if X.ndim != 2 or X.shape[0] == 0 or not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"X must be a non-empty 2-D numeric dask array, got shape {X.shape} and dtype {X.dtype}.")
        X = X.rechunk({1: -1})
        if n_blocks is not None:
            X = X.rechunk({0: tuple(np.diff(row_bounds(X.shape[0], n_blocks)))})
        bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
        parts = client.compute(list(X.to_delayed()[:, 0]))
    else:
        X = check_features(X, allow_sparse=True)
        X = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else X
        bounds = row_bounds(X.shape[0], n_blocks or len(workers))
        parts = [X[bounds[b]:bounds[b + 1]] for b in range(len(bounds) - 1)]
    return bounds, [client.submit(kb.prepare_block, p, workers=[workers[b % len(workers)]], allow_other_workers=True)
                    for b, p in enumerate(parts)]


def knn_graph(X, k: int = 10, kernel="gaussian", metric: str = "euclidean", *, dtype: torch.dtype = torch.float32,
              n_blocks: int | None = None, client=None) -> DistributedGraph:
    """Build the weighted k-NN graph of ``X`` on a Dask cluster.

    Parameters
    ----------
    X : dask.array.Array, ndarray, torch.Tensor or scipy sparse of shape (n, d)
        Rows to connect. A dask array keeps its row chunks as the graph's
        blocks (unless ``n_blocks`` is given) and is never gathered; a scipy
        sparse matrix is searched densely block by block (memory ``2 n d / B``
        float64 per task).
    k : int, default=10
        Neighbours per point, self excluded.
    kernel : {"gaussian", "uniform", "distance", "singular"} or callable
        Edge weights and symmetrisation as :func:`graphvar.knn_graph`
        (``symgaussian`` needs every neighbour's ``d_k`` and is not distributed).
    metric : {"euclidean", "cosine", "angular"}, default="euclidean"
    dtype : {torch.float32, torch.float64}, default=torch.float32
        Dtype of the stored weights.
    n_blocks : int, optional
        Row blocks (default: the chunks of a dask ``X``, else one per worker).
    client : distributed.Client, optional
        Default: the current client, else a local cluster.

    Returns
    -------
    DistributedGraph
        Equal to ``graphvar.knn_graph(X, k, kernel, metric, dtype=dtype)``
        (same edges; weights to rounding). ``info`` has k, kernel, metric,
        ``backend="dask-blockwise"``, the blocks and build seconds.
    """
    t0 = time.perf_counter()
    kernel = check_kernel(kernel)
    if kernel == "symgaussian":
        raise ValueError("kernel='symgaussian' needs the k-th distance of every neighbour and is not distributed; "
                         "use 'gaussian' (GraphLearning's default) or build the graph on one machine.")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS} for the distributed k-NN graph, got {metric!r}.")
    dtype = _check_dtype(dtype)
    client = get_client(client)
    workers = worker_addresses(client)
    bounds, Y = _row_chunks(X, n_blocks, client, workers)
    n = int(bounds[-1])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n_samples = {n}, got {k!r}.")
    mode = symmetrize_mode(kernel)
    entries = [client.submit(kb.directed_entries, merged, int(bounds[i]), kernel, mode)
               for i, merged in enumerate(_search(client, Y, bounds, int(k), metric))]
    B = len(Y)
    blocks = []
    for j in range(B):
        parts = [entries[j]] + [client.submit(kb.transposed_part, entries[i], int(bounds[j]), int(bounds[j + 1]))
                                for i in range(B)]
        blocks.append(client.submit(kb.symmetric_block, bounds, j, mode, dtype, *parts))
    name = kernel if isinstance(kernel, str) else getattr(kernel, "__name__", "eta")
    graph = DistributedGraph(client, blocks, bounds, dtype,
                             info={"k": int(k), "kernel": name, "metric": metric, "backend": "dask-blockwise",
                                   "symmetrize": True, "approximate": False, "n_blocks": B})
    graph.info["seconds"] = time.perf_counter() - t0
    return graph


def _search(client, Y: list, bounds: np.ndarray, k: int, metric: str) -> list:
    """Futures of each row block's merged ``(idx, dist)``: its own search plus one cross search per other block."""
    B = len(Y)
    lists = [[client.submit(kb.self_search, Y[i], int(bounds[i]), k, metric)] for i in range(B)]
    for i in range(B):
        for j in range(i + 1, B):
            pair = client.submit(kb.cross_search, Y[i], Y[j], int(bounds[i]), int(bounds[j]), k, metric)
            lists[i].append(client.submit(_first, pair))
            lists[j].append(client.submit(_second, pair))
    return [client.submit(kb.merge_topk, k, *parts) for parts in lists]


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]
