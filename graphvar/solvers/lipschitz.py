"""Lipschitz learning: the game-theoretic p-Laplacian and the AMLE (p = ∞).

Both are one-vs-rest: class ``k``'s score solves, off the labels,

    ``u_i = α (D⁻¹W u)_i + β (min_{j∼i} u_j + max_{j∼i} u_j) / 2``,  ``u = 1[y = k]`` on Γ,

with ``α = 1 / (p − 1)``, ``β = 1 − α`` (p-Laplace, Flores Rios, Calder, Lerman
2019; GraphLearning's ``fast`` solver with unweighted min / max) or ``α = 0``
(the absolutely minimal Lipschitz extension, the graph ∞-Laplace equation).
GraphLearning sweeps the nodes in order (Gauss–Seidel, in C); here every node
is updated at once (Jacobi) on all classes and labeled sets together, with
the neighbour min / max as reductions of an edge tensor over the graph's edge slots
(:meth:`graphvar.graph.Graph.neighbour_reduce`). Both converge to the same
solution; the Jacobi sweep needs more (cheaper, parallel) iterations.
"""

from __future__ import annotations

import torch

from ..validation import check_float, check_int
from .frontend import check_tol, columns, finish, prepare, uncolumns, warn_unconverged

__all__ = ["plaplace", "amle"]


def _lipschitz_iterate(g, labels, alpha: float, tol: float, max_iter: int, check_every: int = 10):
    """Jacobi sweeps of ``u ← α P u + β (min + max)/2`` off the labels; returns ``(U (n, B*c), info)``.

    Each labeled set stops at its own first check (every ``check_every`` sweeps,
    after 20) whose largest change is ``<= tol``, so a batch gives each set's own answer.
    """
    Y = columns(labels.onehot)
    B, c = labels.n_sets, labels.n_classes
    fixed = (columns(labels.mask[:, :, None].expand_as(labels.onehot)) | ~g.connected[:, None])
    U = Y.clone()
    active = torch.ones(B, dtype=torch.bool, device=U.device)
    iterations = [max_iter] * B
    change = torch.full((B,), float("inf"), dtype=U.dtype, device=U.device)
    for it in range(1, max_iter + 1):
        E = g.neighbour_values(U)
        new = 0.5 * (g.neighbour_reduce(E, "min") + g.neighbour_reduce(E, "max"))
        if alpha:
            new = alpha * g.transition(U) + (1.0 - alpha) * new
        new = torch.where(fixed | ~active.repeat_interleave(c)[None, :], U, new)
        if it % check_every == 0 and it > 20:
            step = (new - U).abs().amax(dim=0).reshape(B, c).amax(dim=1)
            change = torch.where(active, step, change)
            done = active & (step <= tol)
            for b in done.nonzero().flatten().tolist():
                iterations[b] = it
            active &= ~done
        U = new
        if not bool(active.any()):
            break
    worst = float(change.max())
    return U, {"iterations": max(iterations), "change": worst, "converged": not bool(active.any())}


def _run(graph, y, *, alpha, tol, max_iter, n_classes, dtype, normalize, return_info, what):
    g, labels, informed = prepare(graph, y, n_classes=n_classes, dtype=dtype, normalize=normalize,
                                  return_info=return_info, symmetric=True)
    tol = check_tol(tol, 1e-6 if what == "p-Laplace" else 1e-3)  # GraphLearning's tolerances
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    U, info = _lipschitz_iterate(g, labels, alpha, tol, max_iter)
    if not info["converged"]:
        warn_unconverged(what, max_iter, info["change"], tol)
    B, _, c = labels.onehot.shape
    info["tol"] = tol
    return finish(uncolumns(U, B, c), labels, informed, normalize=normalize, info=info,
                  return_info=return_info, what=what)


def plaplace(graph, y, *, p: float = 10.0, tol=None, max_iter: int = 100_000, normalize: bool = False,
             n_classes=None, dtype=None, return_info: bool = False):
    """Game-theoretic p-Laplace learning (Flores Rios, Calder, Lerman 2019, arXiv:1901.05031).

    Solves ``L_p u = (1/p) L_rw u + (1 − 2/p) L_∞ u = 0`` off the labels,
    one-vs-rest, as GraphLearning 1.7.5's ``plaplace`` (``fast=True``:
    unweighted ∞-Laplacian): the fixed point of
    ``u_i = (D⁻¹Wu)_i/(p−1) + (1 − 1/(p−1)) (min_{j∼i} u_j + max_{j∼i} u_j)/2``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes. All labeled sets
        and classes iterate together.
    p : float, default=10
        ``2 <= p``; ``p = 2`` is Laplace learning's equation.
    tol : float, optional
        Stop when no score changes by more than ``tol`` in a sweep (GraphLearning's 1e-6).
    max_iter : int, default=100000
        Sweeps at most (a warning when reached).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
        Number of classes (default: ``max(y) + 1``).
    dtype : torch.dtype or str, optional
        Compute precision (default: the graph's).
    return_info : bool, default=False
        Also return ``{"iterations", "change", "converged", "tol"}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        Class scores in ``[0, 1]``; predict with ``scores.argmax(-1)``.
    """
    p = check_float(p, "p", minimum=2.0)
    return _run(graph, y, alpha=1.0 / (p - 1.0), tol=tol, max_iter=max_iter, n_classes=n_classes, dtype=dtype,
                normalize=normalize, return_info=return_info, what="p-Laplace")


def amle(graph, y, *, tol=None, max_iter: int = 100_000, normalize: bool = False, n_classes=None, dtype=None,
         return_info: bool = False):
    """Absolutely minimal Lipschitz extension learning (the graph ∞-Laplace equation).

    Lipschitz learning (Kyng, Rao, Sachdeva, Spielman, COLT 2015; Calder,
    "The game theoretic p-Laplacian and semi-supervised learning with few
    labels", Nonlinearity 2019): one-vs-rest, ``u_i = (min_{j∼i} u_j + max_{j∼i} u_j)/2``
    off the labels, as GraphLearning 1.7.5's ``amle`` (``weighted=False``).

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights (only the edge pattern is used).
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    tol : float, optional
        Stop when no score changes by more than ``tol`` in a sweep (GraphLearning's 1e-3).
    max_iter : int, default=100000
        Sweeps at most (a warning when reached).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"iterations", "change", "converged", "tol"}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        Class scores in ``[0, 1]``; predict with ``scores.argmax(-1)``.
    """
    return _run(graph, y, alpha=0.0, tol=tol, max_iter=max_iter, n_classes=n_classes, dtype=dtype,
                normalize=normalize, return_info=return_info, what="AMLE")
