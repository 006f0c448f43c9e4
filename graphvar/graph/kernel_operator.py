"""The Gaussian k-NN kernel graph as a matrix-free operator (KeOps reductions).

graphvar stores its k-NN graph as a sparse CSR matrix (:class:`Graph`).
:class:`KNNKernelOperator` is the same graph — the symmetrised Gaussian k-NN
weights of :func:`graphvar.graph.knn_graph` (``kernel="gaussian"``),
``W = (A + Aᵀ)/2`` with ``a_ij = exp(-4 |x_i - x_j|² / d_k(x_i)²)`` on the k
nearest neighbours of ``x_i`` — computed straight from the features by PyKeOps
``LazyTensor`` reductions, never materialising neighbour weights: ``W U``
costs ``O(n² d)`` per product and ``O(n d)`` memory. Every solver accepts it
in place of a :class:`Graph` (it is an :class:`~graphvar.graph.operator.Operator`).

It is an exact rewrite: ``j`` is among the k nearest neighbours of ``i``
exactly when ``|x_i - x_j|² <= d_k(x_i)²`` (a KeOps ``Kmin`` reduction gives
``d_k``; a ``step`` selects the neighbours), except that points tied at
distance ``d_k`` (to 8 ulp) are all counted where the graph keeps k of them.

Use it where memory, not time, is the limit (a GPU whose memory cannot hold
``n·k`` edges plus the iterate), or for a one-off product. On the CPU KeOps
runs without SIMD (docs/design.md §6) and is slow; each new formula
(dimension, number of columns, dtype) is compiled once, 8-10 s with
g++/nvrtc, then cached in ``$KEOPS_CACHE_FOLDER``.
"""

from __future__ import annotations

import os
from functools import cached_property

import numpy as np
import torch

from ..validation import check_int
from .operator import Operator

__all__ = ["KNNKernelOperator", "knn_bandwidths", "knn_kernel_matvec"]

# The neighbour test is |x_i - x_j|² <= d_k² (1 + 8 eps): the Kmin kernel and the sum kernel
# evaluate |x_i - x_j|² separately, and a compiler may contract them into different FMAs, so
# the k-th neighbour must not be lost to the last bit. Only ties to float precision are affected.
_SLACK = {torch.float32: 1.0 + 8 * torch.finfo(torch.float32).eps,
          torch.float64: 1.0 + 8 * torch.finfo(torch.float64).eps}


def _lazy():
    os.environ.setdefault("KEOPS_VERBOSE", "0")
    os.environ.setdefault("PYKEOPS_VERBOSE", "0")
    try:
        from pykeops.torch import LazyTensor
    except ImportError as exc:  # pragma: no cover - pykeops is a core dependency
        raise ImportError("graphvar.graph.keops_ops needs pykeops: pip install pykeops") from exc
    return LazyTensor


def _check_points(X, name: str) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n, d), got {type(X).__name__}.")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1, got {tuple(X.shape)}.")
    if X.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64 (KeOps kernels), got {X.dtype}.")
    return X.contiguous()


def _check_k(k, n: int, what: str) -> int:
    k = check_int(k, "k")
    if not 1 <= k <= n:
        raise ValueError(f"k must satisfy 1 <= k <= {n} ({what}), got k={k}.")
    return k


def _sqdist(LazyTensor, A: torch.Tensor, B: torch.Tensor):
    a_i = LazyTensor(A[:, None, :])
    b_j = LazyTensor(B[None, :, :])
    return ((a_i - b_j) ** 2).sum(-1)


def knn_bandwidths(X: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance of every point to its k-th nearest other point, by a KeOps ``Kmin``.

    Parameters
    ----------
    X : Tensor (n, d), float32 or float64
    k : int
        ``1 <= k < n``; the point itself is not counted (a duplicate is).

    Returns
    -------
    Tensor (n,)
        ``d_k(x_i)²`` as KeOps computes ``|x_i - x_j|²`` (so that the
        neighbour test in :func:`knn_kernel_matvec` is exact).
    """
    LazyTensor = _lazy()
    X = _check_points(X, "X")
    k = _check_k(k, X.shape[0] - 1, "neighbours excluding the point itself")
    D = _sqdist(LazyTensor, X, X)
    return D.Kmin(k + 1, dim=1)[:, k]  # the point itself sits at index 0 with distance 0


def knn_kernel_matvec(X: torch.Tensor, U: torch.Tensor, k: int, eps2: torch.Tensor | None = None) -> torch.Tensor:
    """``W @ U`` for graphvar's symmetrised Gaussian k-NN graph of ``X``, matrix-free.

    ``(W U)_i = Σ_{j≠i} ½ (a_ij + a_ji) U_j`` with
    ``a_ij = 1[|x_i-x_j|² <= d_k(x_i)²] exp(-4 |x_i-x_j|² / d_k(x_i)²)``.

    Parameters
    ----------
    X : Tensor (n, d)
        Features (float32 or float64; KeOps runs on ``X``'s device).
    U : Tensor (n, c) or (n,)
        Right-hand side, same device and dtype as ``X``.
    k : int
        Neighbours per point, as in :func:`graphvar.graph.knn_graph`.
    eps2 : Tensor (n,), optional
        Precomputed :func:`knn_bandwidths` (reuse across products).

    Returns
    -------
    Tensor of the shape of ``U``
    """
    LazyTensor = _lazy()
    X = _check_points(X, "X")
    n = X.shape[0]
    if not isinstance(U, torch.Tensor) or U.shape[0] != n or U.ndim not in (1, 2):
        raise ValueError(f"U must be a tensor of shape ({n},) or ({n}, c), got "
                         f"{tuple(U.shape) if isinstance(U, torch.Tensor) else type(U).__name__}.")
    if U.device != X.device or U.dtype != X.dtype:
        raise ValueError(f"U ({U.dtype}, {U.device}) must have X's dtype and device ({X.dtype}, {X.device}).")
    vec = U.ndim == 1
    U2 = (U[:, None] if vec else U).contiguous()
    if eps2 is None:
        eps2 = knn_bandwidths(X, k)
    elif eps2.shape != (n,):
        raise ValueError(f"eps2 must have shape ({n},), got {tuple(eps2.shape)}.")
    e = eps2.to(X.dtype).clamp_min(torch.finfo(X.dtype).tiny)  # duplicates: d_k = 0
    t = e * _SLACK[X.dtype]
    D = _sqdist(LazyTensor, X, X)
    e_i, e_j = LazyTensor(e[:, None, None]), LazyTensor(e[None, :, None])
    t_i, t_j = LazyTensor(t[:, None, None]), LazyTensor(t[None, :, None])
    a_ij = (t_i - D).step() * (-4.0 * D / e_i).exp()
    a_ji = (t_j - D).step() * (-4.0 * D / e_j).exp()
    out = (0.5 * (a_ij + a_ji) * LazyTensor(U2[None, :, :])).sum(dim=1)
    out = out - U2  # the j = i term: ½ (1 + 1) U_i
    return out[:, 0] if vec else out


class KNNKernelOperator(Operator):
    """The symmetrised Gaussian k-NN graph of ``X`` as a matrix-free :class:`Operator`.

    Parameters
    ----------
    X : Tensor (n, d), float32 or float64
        Features; the products run on ``X``'s device (CUDA: KeOps GPU kernels).
    k : int, default=10
        Neighbours per point, as in :func:`graphvar.graph.knn_graph`.

    Notes
    -----
    ``components`` needs the neighbour lists: it runs one KeOps ``argKmin``
    (``n·k`` indices, no weights) and scipy's connected components.
    """

    def __init__(self, X: torch.Tensor, k: int = 10):
        self.X = _check_points(X, "X")
        self.k = _check_k(k, self.X.shape[0] - 1, "neighbours excluding the point itself")

    @property
    def n_nodes(self) -> int:
        return int(self.X.shape[0])

    @property
    def device(self) -> torch.device:
        return self.X.device

    @property
    def dtype(self) -> torch.dtype:
        return self.X.dtype

    @cached_property
    def bandwidths(self) -> torch.Tensor:
        """``d_k(x_i)²`` of every point (one KeOps ``Kmin``)."""
        return knn_bandwidths(self.X, self.k)

    def matmul(self, U: torch.Tensor) -> torch.Tensor:
        """``W @ U`` matrix-free (:func:`knn_kernel_matvec`)."""
        return knn_kernel_matvec(self.X, U.to(self.dtype), self.k, self.bandwidths)

    @cached_property
    def components(self) -> tuple[int, np.ndarray]:
        """``(n_components, component id of every node)`` of the k-NN graph."""
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        LazyTensor = _lazy()
        nbrs = _sqdist(LazyTensor, self.X, self.X).argKmin(self.k + 1, dim=1)[:, 1:].cpu().numpy()
        rows = np.repeat(np.arange(self.n_nodes), self.k)
        A = sp.csr_matrix((np.ones(rows.size), (rows, nbrs.ravel())), shape=(self.n_nodes, self.n_nodes))
        n_comp, comp = connected_components(A, directed=False)
        return int(n_comp), comp

    def __repr__(self) -> str:
        return f"KNNKernelOperator(n_nodes={self.n_nodes}, k={self.k}, dtype={self.dtype}, device={self.device})"
