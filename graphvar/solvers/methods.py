"""Public solvers: Laplace, Poisson, V-Laplace and V-Poisson (DESIGN.md §3).

All four share :func:`~graphvar.solvers.propagation.propagate`; Laplace and
Poisson also have an exact conjugate-gradient solve (``method="exact"``).
Every solver accepts one label vector ``(n,)`` or a batch ``(B, n)`` of
labeled sets on the same graph (``-1`` = unlabeled) and returns class scores
``(n, c)`` or ``(B, n, c)``; predictions are ``scores.argmax(-1)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.sparse.csgraph import connected_components

from ..graph import Graph, as_graph
from .exact import batched_cg
from .labels import LabelBatch, parse_labels
from .normalize import equalize_dispersion
from .propagation import propagate
from .stopping import random_walk_stop_times

__all__ = ["laplace", "poisson", "vlaplace", "vpoisson", "solve"]

METHODS = ("iterative", "exact")


def _components(graph: Graph) -> tuple[int, np.ndarray]:
    cached = getattr(graph, "_components", None)
    if cached is None:
        cached = connected_components(graph.to_scipy(), directed=False)
        graph._components = cached
    return cached


def _informed(graph: Graph, labels: LabelBatch) -> torch.Tensor:
    """BoolTensor (B, n): nodes in a connected component holding a labeled node."""
    n_comp, comp = _components(graph)
    mask = labels.mask.cpu().numpy()
    if n_comp == 1:
        return torch.ones_like(labels.mask)
    informed = np.stack([np.isin(comp, np.unique(comp[m])) for m in mask])
    lost = np.flatnonzero(~informed.all(axis=0))
    if lost.size:
        shown = ", ".join(map(str, lost[:10])) + (", ..." if lost.size > 10 else "")
        warnings.warn(
            f"{lost.size} node(s) lie in connected components with no labeled node "
            f"(nodes {shown}); they receive no information and their scores are 0. "
            "Label a node in each component, or connect the graph (e.g. a larger k).",
            UserWarning,
            stacklevel=4,
        )
    return torch.from_numpy(informed).to(labels.mask.device)


def _poisson_source(labels: LabelBatch) -> torch.Tensor:
    """``b = Σ_{j∈Γ} (y_j − ȳ) δ_j`` as a tensor (B, n, c)."""
    Y = labels.onehot
    mean = Y.sum(dim=1, keepdim=True) / labels.mask.sum(dim=1)[:, None, None].to(Y.dtype)
    return (Y - mean) * labels.mask[:, :, None].to(Y.dtype)


def _laplacian_matvec(graph: Graph, mask: torch.Tensor | None = None):
    W, d = graph.weights, graph.degrees[:, None]
    if mask is None:
        return lambda X: d * X - W @ X
    return lambda X: mask * (d * X - W @ (mask * X))


def _default_tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-5


def _exact_laplace(graph: Graph, labels: LabelBatch, informed: torch.Tensor, tol) -> torch.Tensor:
    B, n, c = labels.onehot.shape
    Y = labels.onehot.permute(1, 0, 2).reshape(n, B * c)
    free = (informed & ~labels.mask).T  # (n, B)
    M = free[:, :, None].expand(n, B, c).reshape(n, B * c).to(Y.dtype)
    rhs = M * (graph.weights @ Y)
    d = graph.degrees[:, None]
    precond = M * torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    X = batched_cg(_laplacian_matvec(graph, M), rhs, precond, tol=tol or _default_tol(Y.dtype))
    return (X + Y).reshape(n, B, c).permute(1, 0, 2)


def _exact_poisson(graph: Graph, labels: LabelBatch, tol) -> torch.Tensor:
    B, n, c = labels.onehot.shape
    b = _poisson_source(labels).permute(1, 0, 2).reshape(n, B * c)
    d = graph.degrees
    n_comp, comp = _components(graph)
    comp_t = torch.from_numpy(comp).to(d.device)
    vol_c = torch.zeros(n_comp, dtype=d.dtype, device=d.device).index_add_(0, comp_t, d)
    vol_c = torch.where(vol_c > 0, vol_c, torch.ones_like(vol_c))
    if n_comp > 1:  # make the system consistent: zero net source in every component
        net = torch.zeros(n_comp, b.shape[1], dtype=b.dtype, device=b.device).index_add_(0, comp_t, b)
        b = b - d[:, None] * (net / vol_c[:, None])[comp_t]
    precond = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    U = batched_cg(_laplacian_matvec(graph), b, precond, tol=tol or _default_tol(b.dtype))
    # Fix the constant in each component: Σ_i d_i u_i = 0.
    wsum = torch.zeros(n_comp, U.shape[1], dtype=U.dtype, device=U.device).index_add_(0, comp_t, d[:, None] * U)
    U = U - (wsum / vol_c[:, None])[comp_t]
    return U.reshape(n, B, c).permute(1, 0, 2)


def solve(
    graph,
    y,
    *,
    kind: str,
    method: str = "iterative",
    amplification: float = 0.0,
    normalize: bool = False,
    n_classes: int | None = None,
    dtype: torch.dtype | None = None,
    min_iter: int = 50,
    max_iter: int = 1000,
    tol: float | None = None,
    progress: bool = False,
    return_info: bool = False,
):
    """Shared driver of the four public solvers; see :func:`poisson` for the parameters.

    ``kind`` is ``"laplace"`` (clamped labels, no source) or ``"poisson"``
    (source ``D⁻¹b``, free labeled nodes).
    """
    if kind not in ("laplace", "poisson"):
        raise ValueError(f"kind must be 'laplace' or 'poisson', got {kind!r}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if method == "exact" and amplification:
        raise ValueError(
            "the variance-enlarged system has no useful exact solve (DESIGN.md §3); "
            "use method='iterative' with amplification > 0."
        )
    if not np.isfinite(amplification) or amplification < 0:
        raise ValueError(f"amplification must be a finite number >= 0, got {amplification}.")
    g = as_graph(graph, dtype=dtype)
    labels = parse_labels(y, g.n_nodes, n_classes, device=g.device, dtype=g.dtype)
    informed = _informed(g, labels)
    info: dict = {"method": method, "amplification": float(amplification)}
    if method == "exact":
        scores = _exact_laplace(g, labels, informed, tol) if kind == "laplace" else _exact_poisson(g, labels, tol)
    else:
        stops = random_walk_stop_times(g, labels.mask, min_iter=min_iter, max_iter=max_iter)
        info["stop_times"] = stops.tolist()
        Y = labels.onehot.permute(1, 0, 2)  # (n, B, c)
        if kind == "laplace":
            U = propagate(g, Y, stops, clamp_mask=labels.mask.T, clamp_values=Y,
                          amplification=amplification, progress=progress)
        else:
            d = g.degrees
            dinv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))[:, None, None]
            source = dinv * _poisson_source(labels).permute(1, 0, 2)
            U = propagate(g, torch.zeros_like(Y), stops, source=source,
                          amplification=amplification, progress=progress)
        scores = U.permute(1, 0, 2)
    scores = scores * informed[:, :, None].to(scores.dtype)
    if normalize:
        scores = equalize_dispersion(scores, informed & ~labels.mask)
    scores = scores if labels.batched else scores[0]
    return (scores, info) if return_info else scores


_PARAMS_DOC = """
    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. A ``(B, n)`` batch
        solves ``B`` labeled sets together in one wide product.
    {extra}normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype, optional
        Compute precision (default: the graph's, float32 unless built otherwise).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule (iterative solvers).
    tol : float, optional
        Relative residual of the exact CG solve (1e-10 in float64, 1e-5 in float32).
    progress : bool, default=False
        Show a progress bar over the iterations.
    return_info : bool, default=False
        Also return a dict with the stop times.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        Class scores on the graph's device; predict with ``scores.argmax(-1)``.
"""


def laplace(graph, y, *, method: str = "iterative", normalize: bool = False, n_classes=None, dtype=None,
            min_iter: int = 50, max_iter: int = 1000, tol=None, progress: bool = False,
            return_info: bool = False):
    return solve(graph, y, kind="laplace", method=method, normalize=normalize, n_classes=n_classes,
                 dtype=dtype, min_iter=min_iter, max_iter=max_iter, tol=tol, progress=progress,
                 return_info=return_info)


def poisson(graph, y, *, method: str = "iterative", normalize: bool = False, n_classes=None, dtype=None,
            min_iter: int = 50, max_iter: int = 1000, tol=None, progress: bool = False,
            return_info: bool = False):
    return solve(graph, y, kind="poisson", method=method, normalize=normalize, n_classes=n_classes,
                 dtype=dtype, min_iter=min_iter, max_iter=max_iter, tol=tol, progress=progress,
                 return_info=return_info)


def vlaplace(graph, y, *, amplification: float = 1.0, normalize: bool = False, n_classes=None, dtype=None,
             min_iter: int = 50, max_iter: int = 1000, progress: bool = False, return_info: bool = False):
    return solve(graph, y, kind="laplace", amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter,
                 progress=progress, return_info=return_info)


def vpoisson(graph, y, *, amplification: float = 1.0, normalize: bool = False, n_classes=None, dtype=None,
             min_iter: int = 50, max_iter: int = 1000, progress: bool = False, return_info: bool = False):
    return solve(graph, y, kind="poisson", amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter,
                 progress=progress, return_info=return_info)


_METHOD_DOC = """    method : {{"iterative", "exact"}}, default="iterative"
        ``"iterative"``: the stopped iteration ({iteration}), stopped by Calder's
        random-walk rule. ``"exact"``: conjugate gradients on {system}.
"""
_AMP_DOC = """    amplification : float, default=1.0
        Total variance amplification ``a``; each step adds ``α (u − ū)`` with
        ``α = a / T`` (``T`` the stop time), ``ū`` the degree-weighted mean.
        ``a = 0`` is the plain solver.
"""
laplace.__doc__ = (
    "Laplace learning (Zhu et al. 2003): harmonic extension of the labels.\n"
    + _PARAMS_DOC.format(extra=_METHOD_DOC.format(
        iteration="``u ← D⁻¹W u`` from ``u = y`` on Γ, 0 elsewhere, clamping ``u_Γ = y_Γ``",
        system="``L_UU u_U = W_UΓ y_Γ``"))
)
poisson.__doc__ = (
    "Poisson learning (Calder, Cook, Thorpe, Slepčev, ICML 2020).\n\n"
    "Solves ``L u = b`` with ``b = Σ_{j∈Γ} (y_j − ȳ) δ_j``.\n"
    + _PARAMS_DOC.format(extra=_METHOD_DOC.format(
        iteration="``u ← D⁻¹b + D⁻¹W u`` from ``u = 0``",
        system="``L u = b`` with ``Σ d_i u_i = 0`` in each connected component"))
)
vlaplace.__doc__ = (
    "V-Laplace: the Laplace iteration with the variance-enlarging step on unlabeled nodes.\n"
    + _PARAMS_DOC.format(extra=_AMP_DOC)
)
vpoisson.__doc__ = (
    "V-Poisson: ``u ← D⁻¹b + D⁻¹W u + α (u − ū)`` (variance-enlarged Poisson, DESIGN.md §3).\n"
    + _PARAMS_DOC.format(extra=_AMP_DOC)
)
