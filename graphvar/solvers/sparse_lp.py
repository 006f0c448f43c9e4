"""Sparse label propagation (Jung, Hero, Mara, Jahromi 2016, arXiv:1612.01414).

A primal–dual (Chambolle–Pock) iteration for the total-variation problem
``min Σ_ij w_ij |u_i − u_j|`` with ``u = y`` on the labels, one column per
class and labeled set. The dual variable lives on the edges: ``Y`` has one
row per stored entry of ``W`` (the slot order of
:meth:`graphvar.graph.Graph.neighbour_edges`), so the graph gradient is
``u[cols] − u[rows]`` and the divergence a row sum
(:meth:`graphvar.graph.Graph.neighbour_reduce`). As GraphLearning 1.7.5's
``sparse_label_propagation``, per step::

    u  ← u⁻ − D⁻¹ Σ_j w_ij (Y_ij − Y_ji),   u_Γ = y_Γ
    ũ  = 2u − u⁻
    Y  ← clip(Y − w_ij (ũ_j − ũ_i) / (2 w_ij + 10⁻¹⁰), −1, 1)
"""

from __future__ import annotations

import torch

from ..graph.slots import gather_rows
from ..validation import check_int
from .frontend import columns, finish, prepare, uncolumns

__all__ = ["sparse_label_propagation"]


def _transpose_index(g) -> torch.Tensor:
    """For every stored entry ``(i, j)`` the position of ``(j, i)`` (the graph must be structurally symmetric)."""
    rows, cols, _ = g.neighbour_edges()
    n = g.n_nodes
    keys = rows * n + cols
    order = torch.argsort(keys)
    target = cols * n + rows
    pos = torch.searchsorted(keys[order], target).clamp_max(keys.numel() - 1)
    if not bool((keys[order][pos] == target).all()):
        raise ValueError("sparse label propagation needs a structurally symmetric graph (w_ij > 0 iff w_ji > 0).")
    return order[pos]


def sparse_label_propagation(graph, y, *, n_steps: int = 100, normalize: bool = False, n_classes=None,
                             dtype=None, return_info: bool = False):
    """Sparse label propagation (Jung, Hero, Mara, Jahromi 2016): total-variation label propagation.

    ``n_steps`` primal–dual steps for ``min Σ_ij w_ij |u_i − u_j|`` subject to
    ``u_Γ = y_Γ``, one-hot per class, as GraphLearning 1.7.5's
    ``sparse_label_propagation`` (``T`` = ``n_steps``), all classes and labeled
    sets at once on the edge list.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric positive weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    n_steps : int, default=100
        Primal–dual steps (GraphLearning's ``T``).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"n_steps": ...}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
    """
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    g, labels, informed = prepare(graph, y, n_classes=n_classes, dtype=dtype, normalize=normalize,
                                  return_info=return_info, symmetric=True)
    rows, cols, w = g.neighbour_edges()
    tr = _transpose_index(g)
    step = (1.0 / (2.0 * w.double() + 1e-10)).to(w.dtype)[:, None]  # GraphLearning's λ_ij
    Yl = columns(labels.onehot)
    mask = columns(labels.mask[:, :, None].expand_as(labels.onehot))
    u = torch.zeros_like(Yl)
    dual = torch.zeros(w.numel(), u.shape[1], dtype=u.dtype, device=u.device)
    for _ in range(n_steps):
        prev = u
        div = g.neighbour_reduce(w[:, None] * (dual - gather_rows(dual, tr)), "sum")
        u = torch.where(mask, Yl, prev - g.inv_degrees[:, None] * div)
        ut = 2.0 * u - prev
        grad = gather_rows(ut, cols) - gather_rows(ut, rows)
        dual = (dual - (w[:, None] * grad) * step).clamp(-1.0, 1.0)
    B, _, c = labels.onehot.shape
    return finish(uncolumns(u, B, c), labels, informed, normalize=normalize, info={"n_steps": n_steps},
                  return_info=return_info, what="sparse label propagation")
