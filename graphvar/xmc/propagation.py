"""Label-matrix propagation with top-k pruning: the XMC teacher's front-end of the engine.

The iteration is the engine's step kernel (:func:`graphvar.engine.iterate`)
on a :class:`~graphvar.engine.TopKScores` iterate: a sparse ``(n, L)``
matrix that keeps the ``topk`` best labels of every row after every step,
plus an exact rank-one dense part for Poisson's centring and the variance
step's mean (``docs/design.md`` §4, §9). Memory stays ``O(n · topk)``;
nothing ``n × L`` is formed unless ``n · L`` is small enough to hold densely
(``dense_limit``), in which case the same algebra runs on dense tensors.

Solvers (``Y`` the binary label matrix, Γ the source rows):

``poisson``
    Calder's iteration ``u ← D⁻¹b + P u`` with ``b = Σ_{j∈Γ} (y_j − ȳ) δ_j``;
``vpoisson``
    plus the variance step ``α (u − ū)``, ``α = amplification / n_steps``;
``laplace``
    ``u ← P u`` with the source rows clamped to ``y`` (Zhu et al.).

With ``u₀ = 0`` the Poisson iterations reach a row outside the sources after
two steps, so ``n_steps = T`` spreads labels ``T − 1`` hops; Laplace starts
from ``y`` on the sources and spreads ``T`` hops. Rows in connected
components without a source row score 0, as in the dense solvers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..engine import Clamp, TopKScores, iterate
from ..graph import as_graph
from ..graph.graph import csr_tensor
from ..validation import check_choice, check_dtype, check_float, check_int

__all__ = ["SOLVERS", "propagate_topk"]

SOLVERS = ("poisson", "vpoisson", "laplace")


def _check_inputs(n: int, Y, sources):
    if not sp.issparse(Y):
        raise TypeError(f"Y must be a scipy sparse (n, L) label matrix, got {type(Y).__name__}.")
    if Y.shape[0] != n:
        raise ValueError(f"Y has {Y.shape[0]} rows but the graph has {n} nodes; they must match.")
    sources = np.ones(n, dtype=bool) if sources is None else np.asarray(sources, dtype=bool)
    if sources.shape != (n,):
        raise ValueError(f"sources must be a boolean mask of shape ({n},), got {sources.shape}.")
    if not sources.any():
        raise ValueError("sources selects no rows: at least one row must inject its labels.")
    return sources


def _label_csr(Y: sp.spmatrix, rows_scale: np.ndarray, dtype, device) -> torch.Tensor:
    """``diag(rows_scale) Y`` as a torch CSR tensor on ``device``."""
    M = sp.csr_matrix(sp.diags(rows_scale) @ sp.csr_matrix(Y, dtype=np.float64))
    M.eliminate_zeros()
    M.sort_indices()
    return csr_tensor(torch.from_numpy(M.indptr.astype(np.int64)).to(device),
                      torch.from_numpy(M.indices.astype(np.int64)).to(device),
                      torch.from_numpy(M.data).to(device=device, dtype=dtype), M.shape[0], M.shape[1])


def _initial(op, Y, sources, solver: str, dense: bool):
    """``(U0, source, clamp)`` as TopKScores for the chosen solver."""
    n, L = Y.shape
    dev, dt = op.device, op.dtype
    src = torch.from_numpy(sources).to(dev)
    e = op.connected.to(dt)
    zeros_A, zeros_r = torch.zeros(n, 1, dtype=dt, device=dev), torch.zeros(L, dtype=dt, device=dev)
    ybar = torch.from_numpy(np.asarray(Y[sources].sum(axis=0)).ravel() / sources.sum()).to(device=dev, dtype=dt)
    B = ybar[:, None]

    def scores(row_scale, A):
        V = _label_csr(Y, row_scale, dt, dev)
        return TopKScores(V.to_dense() if dense else V, A, B, zeros_r, e)

    if solver == "laplace":
        Y_src = scores(sources.astype(np.float64), zeros_A)
        clamp = Clamp(free=(~src).to(dt)[:, None], fixed=Y_src.V)
        return Y_src, None, clamp
    dinv = op.inv_degrees.double().cpu().numpy()
    U0 = scores(np.zeros(n), zeros_A)
    S = scores(sources * dinv, -(src.to(dt) * op.inv_degrees)[:, None])
    return U0, S, None


def propagate_topk(
    graph,
    Y: sp.spmatrix,
    *,
    sources: np.ndarray | None = None,
    solver: str = "poisson",
    n_steps: int = 10,
    topk: int = 50,
    amplification: float = 1.0,
    block_rows: int = 8192,
    dense_limit: int = 2**24,
    device=None,
    dtype=None,
    progress: bool = False,
    desc: str = "propagate",
) -> sp.csr_matrix:
    """Propagate a sparse label matrix over a graph, keeping the top-k labels per row.

    Parameters
    ----------
    graph : Graph, Operator or anything :func:`graphvar.graph.as_graph` accepts
        Symmetric non-negative weights ``(n, n)``.
    Y : scipy sparse matrix of shape (n, L)
        Binary (or non-negative) labels. Only rows in ``sources`` are injected.
    sources : bool array of shape (n,), optional
        Rows whose labels are sources (default: all). A row outside
        ``sources`` receives an estimate from its neighbours only.
    solver : {"poisson", "vpoisson", "laplace"}, default="poisson"
        Iteration; see the module docstring.
    n_steps : int, default=10
        Number of iterations ``T``.
    topk : int, default=50
        Labels kept per row after every step.
    amplification : float, default=1.0
        Total variance amplification ``a = αT`` (``vpoisson`` only).
    block_rows : int, default=8192
        Rows computed at a time on the sparse path (bounds the unpruned product).
    dense_limit : int, default=2**24
        Hold the iterate densely when ``n · L`` is at most this (faster for small ``L``).
    device, dtype : optional
        Where and in which precision to propagate (default: the graph's; float32).
    progress : bool, default=False
        Show a tqdm progress bar over the steps.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, L), float32
        Final scores ``u`` restricted to each row's top-k labels (entries with
        a score of exactly zero are dropped; Poisson scores may be negative).
    """
    check_choice(solver, "solver", SOLVERS)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    topk = check_int(topk, "topk", minimum=1)
    amplification = check_float(amplification, "amplification", minimum=0.0)
    op = graph if hasattr(graph, "transition_rows") and not sp.issparse(graph) else as_graph(graph)
    if device is not None or dtype is not None:
        op = op.to(device=device, dtype=None if dtype is None else check_dtype(dtype))
    sources = _check_inputs(op.n_nodes, Y, sources)
    dense = op.n_nodes * Y.shape[1] <= dense_limit
    U0, S, clamp = _initial(op, Y, sources, solver, dense)
    partitioned = hasattr(op, "partition")  # a row-partitioned graph (graphvar.distributed): split the iterate
    if partitioned:
        U0, S, clamp = op.partition(U0), op.partition(S), op.partition(clamp)
    U = iterate(op, U0, n_steps, source=S, clamp=clamp,
                amplification=amplification if solver == "vpoisson" else 0.0,
                post_step=lambda t, V: V.pruned(topk), block_rows=None if dense or partitioned else block_rows,
                progress=progress, desc=desc)
    out = U.to_scipy()
    informed = op.informed(sources) if hasattr(op, "informed") else np.ones(op.n_nodes, dtype=bool)
    if not informed.all():
        out = sp.csr_matrix(sp.diags(informed.astype(np.float32)) @ out)
        out.eliminate_zeros()
    return out
