"""Laplace, Poisson, V-Laplace and V-Poisson on a :class:`DistributedGraph`.

The same front-ends as :mod:`graphvar.solvers` — the same signatures, the
same stopping rule (:func:`graphvar.engine.random_walk_stop_times`), the
same step kernel (:func:`graphvar.engine.iterate`) — run on a row-partitioned
graph with a row-partitioned iterate (:class:`~graphvar.distributed.scores.RowScores`):
no step formula is written here. The driver validates the labels, builds the
source (or the clamp) once and sends it to the blocks; every step then runs
on the workers, and only the ``(n, c)`` scores come back.

A lost worker is handled by Dask: the blocks it held are recomputed from
their lineage (the graph's blocks from the tasks that built them, the
iterate from the previous steps), so the answer is the same; when Dask gives
up (``distributed.worker.allowed-failures``) the solve raises its error.
"""

from __future__ import annotations

import numpy as np
import torch

from ..engine import Clamp, iterate, random_walk_stop_times
from ..solvers.labels import parse_labels
from ..solvers.methods import _check_finite, _informed, _warn_unconverged, poisson_source
from ..solvers.normalize import equalize_dispersion
from ..validation import check_bool, check_choice, check_dtype, check_float, check_int
from .graph import DistributedGraph

__all__ = ["laplace", "poisson", "vlaplace", "vpoisson", "solve"]


def _check_graph(graph, dtype) -> DistributedGraph:
    if not isinstance(graph, DistributedGraph):
        raise TypeError(f"graph must be a graphvar.distributed.DistributedGraph (build it with "
                        f"graphvar.distributed.knn_graph or DistributedGraph.from_scipy), got {type(graph).__name__}; "
                        "for a graph on one machine use graphvar.poisson etc.")
    if dtype is not None and check_dtype(dtype) != graph.dtype:
        raise ValueError(f"the distributed graph holds {graph.dtype} weights; build it with dtype={dtype} "
                         "instead of converting it.")
    return graph


def _one_set(graph: DistributedGraph, labels, b: int, kind: str, amplification: float, stop: int, progress: bool):
    """Start the iteration of labeled set ``b`` on the cluster; returns its RowScores (not gathered)."""
    Y = labels.onehot[b]
    if kind == "laplace":
        clamp = Clamp.rows(labels.mask[b][:, None], Y)
        clamp = Clamp(free=graph.distribute(clamp.free), fixed=graph.distribute(clamp.fixed))
        return iterate(graph, graph.distribute(Y), stop, clamp=clamp, amplification=amplification,
                       progress=progress)
    source = graph.distribute(graph.inv_degrees[:, None] * poisson_source(labels)[b])
    return iterate(graph, graph.distribute(torch.zeros_like(Y)), stop, source=source,
                   amplification=amplification, progress=progress)


def solve(graph, y, *, kind: str, method: str = "iterative", amplification: float = 0.0, normalize: bool = False,
          n_classes=None, dtype=None, min_iter: int = 50, max_iter: int = 1000, tol=None, progress: bool = False,
          return_info: bool = False):
    """Shared driver of the four distributed solvers; see :func:`poisson` for the parameters.

    ``kind`` is ``"laplace"`` (clamped labels) or ``"poisson"`` (source ``D⁻¹b``).
    """
    check_choice(kind, "kind", ("laplace", "poisson"))
    if method != "iterative":
        raise ValueError(f"method={method!r}: the distributed solvers are iterative only (method='iterative'); "
                         "solve on one machine (graphvar.poisson) for the exact CG solve.")
    if tol is not None:
        raise ValueError("tol applies to the exact solve only, which the distributed solvers do not offer.")
    amplification = check_float(amplification, "amplification", minimum=0.0)
    normalize, progress, return_info = (check_bool(normalize, "normalize"), check_bool(progress, "progress"),
                                        check_bool(return_info, "return_info"))
    min_iter = check_int(min_iter, "min_iter", minimum=0)
    max_iter = check_int(max_iter, "max_iter", minimum=max(min_iter, 1))
    g = _check_graph(graph, dtype)
    labels = parse_labels(y, g.n_nodes, n_classes, device="cpu", dtype=g.dtype)
    informed = _informed(g, labels)
    stops, rule = random_walk_stop_times(g, labels.mask, min_iter=min_iter, max_iter=max_iter, return_info=True)
    info = {"method": method, "amplification": amplification, "stop_times": stops.tolist(),
            "stop_rule_converged": rule["converged"], "stop_rule_residual": rule["residual"],
            "stop_rule_tol": rule["tol"], "n_blocks": g.n_blocks,
            "bytes_per_step": g.bytes_per_product(labels.n_classes)}
    _warn_unconverged(rule, max_iter)
    runs = [_one_set(g, labels, b, kind, amplification, int(stops[b]), progress) for b in range(labels.n_sets)]
    scores = torch.from_numpy(np.stack([r.to_numpy() for r in runs]))
    scores = scores * informed[:, :, None].to(scores.dtype)
    _check_finite(scores, amplification)
    if normalize:
        scores = equalize_dispersion(scores, informed & ~labels.mask)
    scores = scores.numpy() if labels.batched else scores[0].numpy()
    return (scores, info) if return_info else scores


def laplace(graph, y, *, method="iterative", amplification=0.0, normalize=False, n_classes=None, dtype=None,
            min_iter=50, max_iter=1000, tol=None, progress=False, return_info=False):
    """Laplace learning on a distributed graph: :func:`graphvar.laplace` on the cluster.

    Parameters
    ----------
    graph : DistributedGraph
        The row-partitioned graph (:func:`graphvar.distributed.knn_graph`).
    y : array-like of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. Each labeled set of a
        batch runs its own iteration, all of them concurrently on the cluster.
    method : {"iterative"}, default="iterative"
        Only the iterative solve is distributed (``"exact"`` raises).
    amplification : float, default=0.0
        Total variance amplification ``a`` (``α = a / T``, ``T`` the stop time).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype, optional
        Must be the graph's dtype if given (build the graph in the precision wanted).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule (its walk runs on the cluster).
    tol : None
        Kept for the signature of the single-machine solver; must be ``None``.
    progress : bool, default=False
        A progress bar over the submitted steps.
    return_info : bool, default=False
        Also return a dict: stop times, the stopping rule's convergence, the
        number of blocks and ``bytes_per_step`` (bytes of ``U`` exchanged
        between blocks by one step).

    Returns
    -------
    scores : ndarray of shape (n, c) or (B, n, c)
        The single-machine solver's scores (up to rounding), gathered on the driver.
    """
    return solve(graph, y, kind="laplace", method=method, amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter, tol=tol,
                 progress=progress, return_info=return_info)


def poisson(graph, y, *, method="iterative", amplification=0.0, normalize=False, n_classes=None, dtype=None,
            min_iter=50, max_iter=1000, tol=None, progress=False, return_info=False):
    """Poisson learning on a distributed graph: :func:`graphvar.poisson` on the cluster.

    Parameters
    ----------
    graph : DistributedGraph
        The row-partitioned graph (:func:`graphvar.distributed.knn_graph`).
    y : array-like of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. Each labeled set of a
        batch runs its own iteration, all of them concurrently on the cluster.
    method : {"iterative"}, default="iterative"
        Only the iterative solve is distributed (``"exact"`` raises).
    amplification : float, default=0.0
        Total variance amplification ``a`` (``α = a / T``, ``T`` the stop time).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype, optional
        Must be the graph's dtype if given (build the graph in the precision wanted).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule (its walk runs on the cluster).
    tol : None
        Kept for the signature of the single-machine solver; must be ``None``.
    progress : bool, default=False
        A progress bar over the submitted steps.
    return_info : bool, default=False
        Also return a dict: stop times, the stopping rule's convergence, the
        number of blocks and ``bytes_per_step`` (bytes of ``U`` exchanged
        between blocks by one step).

    Returns
    -------
    scores : ndarray of shape (n, c) or (B, n, c)
        The single-machine solver's scores (up to rounding), gathered on the driver.
    """
    return solve(graph, y, kind="poisson", method=method, amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter, tol=tol,
                 progress=progress, return_info=return_info)


def vlaplace(graph, y, *, amplification=1.0, normalize=False, n_classes=None, dtype=None, min_iter=50,
             max_iter=1000, progress=False, return_info=False):
    """V-Laplace on a distributed graph: :func:`graphvar.vlaplace` on the cluster.

    Parameters
    ----------
    graph : DistributedGraph
        The row-partitioned graph (:func:`graphvar.distributed.knn_graph`).
    y : array-like of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. Each labeled set of a
        batch runs its own iteration, all of them concurrently on the cluster.
    amplification : float, default=1.0
        Total variance amplification ``a`` (``α = a / T``, ``T`` the stop time).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype, optional
        Must be the graph's dtype if given (build the graph in the precision wanted).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule (its walk runs on the cluster).
    progress : bool, default=False
        A progress bar over the submitted steps.
    return_info : bool, default=False
        Also return a dict: stop times, the stopping rule's convergence, the
        number of blocks and ``bytes_per_step`` (bytes of ``U`` exchanged
        between blocks by one step).

    Returns
    -------
    scores : ndarray of shape (n, c) or (B, n, c)
        The single-machine solver's scores (up to rounding), gathered on the driver.
    """
    return solve(graph, y, kind="laplace", amplification=amplification, normalize=normalize, n_classes=n_classes,
                 dtype=dtype, min_iter=min_iter, max_iter=max_iter, progress=progress, return_info=return_info)


def vpoisson(graph, y, *, amplification=1.0, normalize=False, n_classes=None, dtype=None, min_iter=50,
             max_iter=1000, progress=False, return_info=False):
    """V-Poisson on a distributed graph: :func:`graphvar.vpoisson` on the cluster.

    Parameters
    ----------
    graph : DistributedGraph
        The row-partitioned graph (:func:`graphvar.distributed.knn_graph`).
    y : array-like of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. Each labeled set of a
        batch runs its own iteration, all of them concurrently on the cluster.
    amplification : float, default=1.0
        Total variance amplification ``a`` (``α = a / T``, ``T`` the stop time).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype, optional
        Must be the graph's dtype if given (build the graph in the precision wanted).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule (its walk runs on the cluster).
    progress : bool, default=False
        A progress bar over the submitted steps.
    return_info : bool, default=False
        Also return a dict: stop times, the stopping rule's convergence, the
        number of blocks and ``bytes_per_step`` (bytes of ``U`` exchanged
        between blocks by one step).

    Returns
    -------
    scores : ndarray of shape (n, c) or (B, n, c)
        The single-machine solver's scores (up to rounding), gathered on the driver.
    """
    return solve(graph, y, kind="poisson", amplification=amplification, normalize=normalize, n_classes=n_classes,
                 dtype=dtype, min_iter=min_iter, max_iter=max_iter, progress=progress, return_info=return_info)
