"""Public solvers: Laplace, Poisson, V-Laplace and V-Poisson (docs/design.md §3).

All four are front-ends of the engine's step kernel
(:func:`graphvar.engine.iterate`) with Calder's stopping rule; Laplace and
Poisson also have an exact conjugate-gradient solve (``method="exact"``).
Every solver accepts one label vector ``(n,)`` or a batch ``(B, n)`` of
labeled sets on the same graph (``-1`` = unlabeled) and returns class scores
``(n, c)`` or ``(B, n, c)``; predictions are ``scores.argmax(-1)``. Nodes in
connected components without a labeled node score 0 (a warning names them).
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import torch

from ..engine import Clamp, iterate, power_series, random_walk_stop_times
from ..graph import Graph, as_graph
from ..validation import check_bool, check_choice, check_dtype, check_finite_output, check_float, check_int
from .exact import batched_cg
from .labels import LabelBatch, parse_labels
from .normalize import equalize_dispersion
from .reweight import check_laplace_variant, laplace_variant
from .spectral import poisson_spectral

__all__ = ["laplace", "poisson", "vlaplace", "vpoisson", "solve", "poisson_source"]

METHODS = ("iterative", "exact", "spectral")

#: CPU graphs with at least this many nodes are solved on their reverse Cuthill-McKee renumbering
#: (cached on the graph): FashionMNIST 70k, 1 thread, 1.3x faster per solve single and batched
#: (benchmarks/bench_batching.py); the renumbering costs 0.1 s once per graph.
REORDER_MIN_NODES = 20_000


def _layout(graph: Graph):
    """``(graph to solve on, perm or None)``: the RCM renumbering of a large CPU graph."""
    if (graph.device.type != "cpu" or graph.n_nodes < REORDER_MIN_NODES or graph.info.get("reordered")
            or not isinstance(graph, Graph)):
        return graph, None
    return graph.reordered()


def _permute(labels: LabelBatch, perm: np.ndarray) -> LabelBatch:
    p = torch.from_numpy(perm).to(labels.labels.device)
    return LabelBatch(labels=labels.labels[:, p], mask=labels.mask[:, p], onehot=labels.onehot[:, p],
                      n_classes=labels.n_classes, batched=labels.batched)


def _informed(graph: Graph, labels: LabelBatch) -> torch.Tensor:
    """BoolTensor (B, n): nodes in a connected component holding a labeled node; warns otherwise."""
    informed = graph.informed(labels.mask.cpu().numpy())
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


def poisson_source(labels: LabelBatch) -> torch.Tensor:
    """Calder's source ``b = Σ_{j∈Γ} (y_j − ȳ) δ_j`` (``ȳ`` the labeled class fractions), shape (B, n, c)."""
    Y = labels.onehot
    mean = Y.sum(dim=1, keepdim=True) / labels.mask.sum(dim=1)[:, None, None].to(Y.dtype)
    return (Y - mean) * labels.mask[:, :, None].to(Y.dtype)


def _columns(T: torch.Tensor) -> torch.Tensor:
    """(B, n, c) -> (n, B * c): one column block per labeled set."""
    B, n, c = T.shape
    return T.permute(1, 0, 2).reshape(n, B * c)


def _uncolumns(U: torch.Tensor, B: int, c: int) -> torch.Tensor:
    return U.reshape(U.shape[0], B, c).permute(1, 0, 2)


def _default_tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-5


def _exact_laplace(graph: Graph, labels: LabelBatch, informed: torch.Tensor, tol, info: dict) -> torch.Tensor:
    B, n, c = labels.onehot.shape
    Y = _columns(labels.onehot)
    free = (informed & ~labels.mask).T  # (n, B)
    M = free[:, :, None].expand(n, B, c).reshape(n, B * c).to(Y.dtype)
    rhs = M * graph.matmul(Y)
    X = batched_cg(lambda Z: M * graph.laplacian(M * Z), rhs, M * graph.inv_degrees[:, None],
                   tol=tol or _default_tol(Y.dtype), info=info)
    return _uncolumns(X + Y, B, c)


def _exact_poisson(graph: Graph, labels: LabelBatch, tol, info: dict) -> torch.Tensor:
    B, n, c = labels.onehot.shape
    b = _columns(poisson_source(labels))
    d = graph.degrees
    n_comp, comp = graph.components
    comp_t = torch.from_numpy(np.asarray(comp)).to(d.device)
    vol_c = torch.zeros(n_comp, dtype=d.dtype, device=d.device).index_add_(0, comp_t, d)
    vol_c = torch.where(vol_c > 0, vol_c, torch.ones_like(vol_c))
    if n_comp > 1:  # make the system consistent: zero net source in every component
        net = torch.zeros(n_comp, b.shape[1], dtype=b.dtype, device=b.device).index_add_(0, comp_t, b)
        b = b - d[:, None] * (net / vol_c[:, None])[comp_t]
    U = batched_cg(graph.laplacian, b, graph.inv_degrees, tol=tol or _default_tol(b.dtype), info=info)
    # Fix the constant in each component: Σ_i d_i u_i = 0.
    wsum = torch.zeros(n_comp, U.shape[1], dtype=U.dtype, device=U.device).index_add_(0, comp_t, d[:, None] * U)
    return _uncolumns(U - (wsum / vol_c[:, None])[comp_t], B, c)


def _iterative(graph: Graph, labels: LabelBatch, kind: str, amplification: float, stops, progress: bool,
               info: dict):
    """The iterate at the stop times; Poisson's on a symmetric graph as its Chebyshev series (same iterate)."""
    B, n, c = labels.onehot.shape
    Y = _columns(labels.onehot)
    if kind == "laplace":
        mask = labels.mask.T[:, :, None].expand(n, B, c).reshape(n, B * c)
        U = iterate(graph, Y, stops, width=c, clamp=Clamp.rows(mask, Y), amplification=amplification,
                    progress=progress)
    elif getattr(graph, "directed", False):
        source = graph.inv_degrees[:, None] * _columns(poisson_source(labels))
        U = iterate(graph, torch.zeros_like(Y), stops, width=c, source=source, amplification=amplification,
                    progress=progress)
    else:
        source = graph.inv_degrees[:, None] * _columns(poisson_source(labels))
        U, series = power_series(graph, source, stops, width=c, amplification=amplification, progress=progress,
                                 return_info=True)
        info.update(series)
    return _uncolumns(U, B, c)


def solve(
    graph,
    y,
    *,
    kind: str,
    method: str = "iterative",
    amplification: float = 0.0,
    normalize: bool = False,
    n_classes: int | None = None,
    dtype=None,
    min_iter: int = 50,
    max_iter: int = 1000,
    tol: float | None = None,
    progress: bool = False,
    return_info: bool = False,
    reweighting: str | None = None,
    normalization: str = "combinatorial",
    features=None,
    properly: dict | None = None,
    spectral_cutoff: int = 10,
):
    """Shared driver of the public Laplace and Poisson solvers; see :func:`laplace` and :func:`poisson`.

    ``kind`` is ``"laplace"`` (clamped labels, no source) or ``"poisson"``
    (source ``D⁻¹b``, free labeled nodes). ``info`` holds the method, the
    amplification, and either the stop times with the stopping rule's
    convergence (iterative), the CG iterations and residual (exact) or the
    eigenvalues (spectral).
    """
    check_choice(kind, "kind", ("laplace", "poisson"))
    check_choice(method, "method", METHODS)
    amplification = check_float(amplification, "amplification", minimum=0.0)
    for flag, name in ((normalize, "normalize"), (progress, "progress"), (return_info, "return_info")):
        check_bool(flag, name)
    min_iter = check_int(min_iter, "min_iter", minimum=0)
    max_iter = check_int(max_iter, "max_iter", minimum=max(min_iter, 1))
    spectral_cutoff = check_int(spectral_cutoff, "spectral_cutoff", minimum=1)
    if tol is not None:
        tol = check_float(tol, "tol", minimum=0.0, strict_minimum=True)
    if method != "iterative" and amplification:
        raise ValueError(
            "the variance-enlarged system has no useful exact solve (docs/design.md §3); "
            "use method='iterative' with amplification > 0."
        )
    if method == "spectral" and kind != "poisson":
        raise ValueError("method='spectral' is a Poisson solver; use method='exact' or 'iterative' for Laplace.")
    g = as_graph(graph, dtype=None if dtype is None else check_dtype(dtype))
    X, properly = check_laplace_variant(reweighting, normalization, features, g.n_nodes, properly)
    labels = parse_labels(y, g.n_nodes, n_classes, device=g.device, dtype=g.dtype)
    informed = _informed(g, labels)
    info: dict = {"method": method, "amplification": amplification}
    core = partial(_solve_batch, kind=kind, method=method, amplification=amplification, min_iter=min_iter,
                   max_iter=max_iter, tol=tol, progress=progress, spectral_cutoff=spectral_cutoff)
    if kind == "laplace" and (reweighting is not None or normalization == "normalized"):
        info.update(reweighting=reweighting, normalization=normalization)
        scores = laplace_variant(g, labels, informed, core, info, reweighting=reweighting,
                                 normalization=normalization, features=X, properly=properly)
    else:
        scores = core(g, labels, informed, info=info)
    scores = scores * informed[:, :, None].to(scores.dtype)
    _check_finite(scores, amplification)
    if normalize:
        scores = equalize_dispersion(scores, informed & ~labels.mask)
    scores = scores if labels.batched else scores[0]
    return (scores, info) if return_info else scores


def _solve_batch(g: Graph, labels: LabelBatch, informed: torch.Tensor, *, info: dict, kind: str, method: str,
                 amplification: float, min_iter: int, max_iter: int, tol, progress: bool,
                 spectral_cutoff: int) -> torch.Tensor:
    """Scores ``(B, n, c)`` of one batch of labeled sets on one graph (``labels.onehot``: the label values)."""
    if method == "spectral":
        B, _, c = labels.onehot.shape
        return _uncolumns(poisson_spectral(g, _columns(poisson_source(labels)), spectral_cutoff, info), B, c)
    sg, perm = _layout(g)
    slabels = labels if perm is None else _permute(labels, perm)
    if method == "exact":
        sinformed = informed if perm is None else informed[:, torch.from_numpy(perm).to(informed.device)]
        scores = (_exact_laplace(sg, slabels, sinformed, tol, info) if kind == "laplace"
                  else _exact_poisson(sg, slabels, tol, info))
    else:
        stops, rule = random_walk_stop_times(sg, slabels.mask, min_iter=min_iter, max_iter=max_iter,
                                             return_info=True)
        info.update(stop_times=stops.tolist(), stop_rule_converged=rule["converged"],
                    stop_rule_residual=rule["residual"], stop_rule_tol=rule["tol"])
        _warn_unconverged(rule, max_iter)
        scores = _iterative(sg, slabels, kind, amplification, stops, progress, info)
    if perm is not None:
        inverse = np.empty_like(perm)
        inverse[perm] = np.arange(perm.size)
        scores = scores[:, torch.from_numpy(inverse).to(scores.device)]
        info["reordered"] = "rcm"
    return scores


def _warn_unconverged(rule: dict, max_iter: int) -> None:
    """Warn when the stopping rule's walk did not mix to its tolerance within ``max_iter`` steps."""
    late = [b for b, ok in enumerate(rule["converged"]) if not ok]
    if late:
        worst = max(rule["residual"][b] for b in late)
        warnings.warn(
            f"the random-walk stopping rule did not reach its tolerance {rule['tol']:.3g} within "
            f"max_iter={max_iter} steps for {len(late)} labeled set(s) (largest residual {worst:.3g}); "
            "their scores are those of step max_iter. Raise max_iter, or check the graph for slowly "
            "mixing parts (info['stop_rule_residual'] has the residual per set).",
            UserWarning, stacklevel=5)


def _check_finite(scores: torch.Tensor, amplification: float) -> None:
    hint = (f"amplification={amplification:g} is too large: the variance step diverged; use a value "
            "between 0 and ~4." if amplification > 4 else
            "the weights may be too large or too small; rescale them (e.g. W / W.max()) or use dtype=torch.float64.")
    check_finite_output(scores, "the solver's scores", hint)


def laplace(graph, y, *, method: str = "iterative", reweighting: str | None = None,
            normalization: str = "combinatorial", features=None, amplification: float = 0.0,
            normalize: bool = False, n_classes=None, dtype=None, min_iter: int = 50, max_iter: int = 1000,
            tol=None, progress: bool = False, return_info: bool = False, properly: dict | None = None):
    """Laplace learning (Zhu, Ghahramani, Lafferty 2003): harmonic extension of the labels.

    With ``reweighting`` it is WNLL (Shi, Osher, Zhu 2017), properly weighted
    Laplace learning (Calder, Slepčev 2019) or Poisson-reweighted Laplace
    learning (Calder et al. 2020), as GraphLearning 1.7.5's ``laplace``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. A ``(B, n)`` batch
        solves ``B`` labeled sets together in one wide product (one at a time
        with a ``reweighting``, whose graph depends on the set).
    method : {"iterative", "exact"}, default="iterative"
        ``"iterative"``: ``u ← D⁻¹W u`` from ``u = y`` on Γ, 0 elsewhere,
        clamping ``u_Γ = y_Γ``, stopped by Calder's random-walk rule.
        ``"exact"``: conjugate gradients on ``L_UU u_U = W_UΓ y_Γ``
        (GraphLearning's solver).
    reweighting : {None, "wnll", "properly", "poisson"}, default=None
        Reweight the graph near the labeled nodes (:mod:`graphvar.solvers.reweight`):
        ``"wnll"`` ``w'_ij = (a_i + a_j) w_ij`` with ``a = n/m`` on the labels;
        ``"properly"`` ``w'_ij = (γ_i + γ_j) w_ij`` from the feature distance to the
        labels (needs ``features``); ``"poisson"`` ``w'_ij = v_i v_j w_ij`` with ``v``
        Poisson's solution for a unit source on the labels.
    normalization : {"combinatorial", "randomwalk", "normalized"}, default="combinatorial"
        Laplacian ``D − W``, ``I − D⁻¹W`` (the same harmonic extension) or
        ``I − D^{-1/2}WD^{-1/2}`` (boundary values ``y_j/√d_j``, scores ``√d_i u_i``).
    features : array-like of shape (n, d), optional
        Node features for ``reweighting="properly"``.
    amplification : float, default=0.0
        Total variance amplification ``a`` (iterative only): ``a > 0`` is :func:`vlaplace`.
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype or str, optional
        Compute precision (default: the graph's, float32 unless built otherwise).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule.
    tol : float, optional
        Relative residual of the exact CG solve (1e-10 in float64, 1e-5 in float32).
    progress : bool, default=False
        Show a progress bar over the iterations.
    return_info : bool, default=False
        Also return a dict: stop times and the stopping rule's convergence, or
        CG iterations and residual.
    properly : dict, optional
        ``"properly"`` parameters ``exponent`` (α, 2), ``zeta`` (ζ, 1e7) and ``radius`` (r, 0.1).

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        Class scores on the graph's device; predict with ``scores.argmax(-1)``.
    """
    return solve(graph, y, kind="laplace", method=method, amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter, tol=tol,
                 progress=progress, return_info=return_info, reweighting=reweighting,
                 normalization=normalization, features=features, properly=properly)


def poisson(graph, y, *, method: str = "iterative", amplification: float = 0.0, normalize: bool = False,
            n_classes=None, dtype=None, min_iter: int = 50, max_iter: int = 1000, tol=None,
            progress: bool = False, return_info: bool = False, spectral_cutoff: int = 10):
    """Poisson learning (Calder, Cook, Thorpe, Slepčev, ICML 2020).

    Solves ``L u = b`` with ``b = Σ_{j∈Γ} (y_j − ȳ) δ_j``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. A ``(B, n)`` batch
        solves ``B`` labeled sets together in one wide product.
    method : {"iterative", "exact", "spectral"}, default="iterative"
        ``"iterative"``: ``u ← D⁻¹b + D⁻¹W u`` from ``u = 0``, stopped by
        Calder's random-walk rule (better than the exact solve at low label
        rates, docs/design.md §3; GraphLearning's ``"gradient_descent"``).
        On a symmetric graph the ``T``-step iterate is evaluated as its
        Chebyshev series (:func:`graphvar.engine.power_series`, relative error
        ~1e-7 in float32): about ``√(2 T log(T/ε))`` products instead of ``T``,
        the same scores; ``info["chebyshev_terms"]`` has the count per set.
        ``"exact"``: conjugate gradients on ``L u = b`` with ``Σ d_i u_i = 0``
        in each connected component (GraphLearning's ``"conjugate_gradient"``).
        ``"spectral"``: ``L u = b`` in the span of the ``spectral_cutoff`` lowest
        non-trivial random-walk eigenvectors (:mod:`graphvar.solvers.spectral`).
    amplification : float, default=0.0
        Total variance amplification ``a`` (iterative only): ``a > 0`` is :func:`vpoisson`.
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype or str, optional
        Compute precision (default: the graph's, float32 unless built otherwise).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule.
    tol : float, optional
        Relative residual of the exact CG solve (1e-10 in float64, 1e-5 in float32).
    progress : bool, default=False
        Show a progress bar over the iterations.
    return_info : bool, default=False
        Also return a dict: stop times and the stopping rule's convergence,
        CG iterations and residual, or the eigenvalues used.
    spectral_cutoff : int, default=10
        Number of eigenvectors of ``method="spectral"``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        Class scores on the graph's device; predict with ``scores.argmax(-1)``.
    """
    return solve(graph, y, kind="poisson", method=method, amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter, tol=tol,
                 progress=progress, return_info=return_info, spectral_cutoff=spectral_cutoff)


def vlaplace(graph, y, *, amplification: float = 1.0, normalize: bool = False, n_classes=None, dtype=None,
             min_iter: int = 50, max_iter: int = 1000, progress: bool = False, return_info: bool = False):
    """V-Laplace: the Laplace iteration plus the variance-enlarging step (docs/design.md §3).

    ``u ← D⁻¹W u + α (u − ū)``, clamping ``u_Γ = y_Γ``, with ``α = a / T``
    (``T`` the stop time) and ``ū`` the degree-weighted mean.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    amplification : float, default=1.0
        Total variance amplification ``a``; ``a = 0`` is :func:`laplace`.
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype or str, optional
        Compute precision (default: the graph's).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule.
    progress : bool, default=False
        Show a progress bar over the iterations.
    return_info : bool, default=False
        Also return a dict with the stop times and the stopping rule's convergence.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
    """
    return solve(graph, y, kind="laplace", amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter,
                 progress=progress, return_info=return_info)


def vpoisson(graph, y, *, amplification: float = 1.0, normalize: bool = False, n_classes=None, dtype=None,
             min_iter: int = 50, max_iter: int = 1000, progress: bool = False, return_info: bool = False):
    """V-Poisson: ``u ← D⁻¹b + D⁻¹W u + α (u − ū)``, the variance-enlarged Poisson iteration.

    Stationary points satisfy ``(Lu)_i = b_i + λ q_i (u_i − ū_q)``: the
    variance-enlarged energy of docs/design.md §3, early-stopped by Calder's
    rule; ``α = a / T``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    amplification : float, default=1.0
        Total variance amplification ``a``; ``a = 0`` is :func:`poisson`.
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype or str, optional
        Compute precision (default: the graph's).
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule.
    progress : bool, default=False
        Show a progress bar over the iterations.
    return_info : bool, default=False
        Also return a dict with the stop times and the stopping rule's convergence.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
    """
    return solve(graph, y, kind="poisson", amplification=amplification, normalize=normalize,
                 n_classes=n_classes, dtype=dtype, min_iter=min_iter, max_iter=max_iter,
                 progress=progress, return_info=return_info)
