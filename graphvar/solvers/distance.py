"""Distance-function classifiers: graph nearest neighbour and the p-eikonal equation (p = 1).

Class ``k``'s score is minus a distance to the labeled nodes of class ``k``,
so the argmax is the class whose labels are nearest:

* :func:`graph_nearest_neighbor` — the path length ``d(x) = min_p Σ w_{p_i p_{i+1}}``
  (the weights *are* the edge lengths, as in GraphLearning 1.7.5's
  ``graph_nearest_neighbor``, whose example passes a distance-kernel graph);
* :func:`peikonal` — the solution of ``Σ_j w_ij (u_i − u_j)_+ = 1`` off the
  labels, ``u = 0`` on them (Calder, Ettehad, "Hamilton–Jacobi equations on
  graphs with applications to semi-supervised learning and data depth", JMLR 2022).

GraphLearning runs Dijkstra's algorithm / fast marching, one node at a time
in C. Here every node is relaxed at once, on all classes and labeled sets
together: Bellman–Ford for the path length, and for the eikonal equation one
Newton step of the local equation per sweep from the current value (from
above, so each sweep lowers ``u`` towards the same solution as fast marching).
Both stop at the first sweep that changes nothing by more than ``tol``.
"""

from __future__ import annotations

import torch

from ..graph.slots import gather_rows
from ..validation import check_int
from .frontend import check_tol, columns, distances_to_scores, finish, prepare, uncolumns, warn_unconverged

__all__ = ["graph_nearest_neighbor", "peikonal"]


def _sources(labels) -> torch.Tensor:
    """``(n, B*c)``: 0 on the labeled nodes of each column's class, ``inf`` elsewhere."""
    Y = columns(labels.onehot)
    return torch.where(Y > 0, torch.zeros_like(Y), torch.full_like(Y, float("inf")))


def _largest_drop(old: torch.Tensor, new: torch.Tensor) -> float:
    """Largest decrease of a sweep (``inf`` when a node is reached for the first time, 0 if none)."""
    moved = new < old
    return float((old - new)[moved].max()) if bool(moved.any()) else 0.0


def _bellman_ford(g, D: torch.Tensor, tol: float, max_iter: int):
    vals = g.neighbour_edges()[2][:, None]
    change, it = float("inf"), 0
    for it in range(1, max_iter + 1):
        new = torch.minimum(D, g.neighbour_reduce(g.neighbour_values(D) + vals, "min"))
        change = _largest_drop(D, new)
        D = new
        if change <= tol:
            break
    return D, {"iterations": it, "change": change, "converged": change <= tol}


def _seed_priority(g, D: torch.Tensor, random_state: int) -> torch.Tensor:
    """Each node's priority in ``[0, 1)``: a seeded random rank of its nearest labeled node in each column.

    The rank of a labeled node is drawn once; it spreads along the shortest
    paths (``D_j + w_ij = D_i``, exact: that is how Bellman–Ford set ``D_i``),
    taking the smallest rank where several nearest labels meet. Ties between
    classes then go to the lower rank, which keeps every class's region
    connected along shortest paths, as Dijkstra's closest-point labels
    (GraphLearning's) are.
    """
    rows, _, vals = g.neighbour_edges()
    gen = torch.Generator(device="cpu").manual_seed(random_state)
    rank = torch.rand(D.shape, generator=gen, dtype=torch.float64).to(device=D.device, dtype=D.dtype)
    R = torch.where(D == 0, rank, torch.full_like(D, float("inf")))
    Dj = g.neighbour_values(D)
    pred = torch.isfinite(Dj) & (Dj + vals[:, None] == gather_rows(D, rows))
    for _ in range(g.n_nodes):
        cand = g.neighbour_reduce(torch.where(pred, g.neighbour_values(R), float("inf")), "min")
        new = torch.minimum(R, cand)
        if torch.equal(new, R):
            break
        R = new
    return torch.where(torch.isfinite(R), R, torch.zeros_like(R))


def _eikonal_sweep(g, U: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
    """One Newton step of ``Σ_j w_ij (t − u_j)_+ = 1`` from ``t = u_i`` (only neighbours below ``t`` count)."""
    rows, _, vals = g.neighbour_edges()
    E = g.neighbour_values(U)
    below = E < gather_rows(U, rows)
    w = vals[:, None] * below
    sw = g.neighbour_reduce(w, "sum")
    swu = g.neighbour_reduce(E.masked_fill_(~below, 0.0).mul_(w), "sum")  # E is a fresh gather
    t = (1.0 + swu) / torch.where(sw > 0, sw, 1.0)
    return torch.where(fixed | (sw <= 0), U, torch.minimum(U, t))


def _eikonal(g, U: torch.Tensor, fixed: torch.Tensor, tol: float, max_iter: int):
    change, it = float("inf"), 0
    for it in range(1, max_iter + 1):
        new = _eikonal_sweep(g, U, fixed)
        change = _largest_drop(U, new)
        U = new
        if change <= tol:
            break
    return U, {"iterations": it, "change": change, "converged": change <= tol}


def _run(solver, graph, y, *, tol, max_iter, random_state, n_classes, dtype, normalize, return_info, what):
    g, labels, informed = prepare(graph, y, n_classes=n_classes, dtype=dtype, normalize=normalize,
                                  return_info=return_info, symmetric=True)
    tol = check_tol(tol, 0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    random_state = check_int(random_state, "random_state", minimum=0)
    D, info = solver(g, labels, tol, max_iter)
    if not info["converged"]:
        warn_unconverged(what, max_iter, info["change"], tol)
    B, _, c = labels.onehot.shape
    priority = (lambda: _seed_priority(g, D, random_state)) if what == "graph nearest neighbour" else None
    scores = uncolumns(distances_to_scores(D, c, random_state, priority), B, c)
    return finish(scores, labels, informed, normalize=normalize, info=info, return_info=return_info, what=what)


def graph_nearest_neighbor(graph, y, *, tol: float | None = None, max_iter: int = 100_000, random_state: int = 0,
                           normalize: bool = False, n_classes=None, dtype=None, return_info: bool = False):
    """Graph (geodesic) nearest-neighbour classifier: the class of the nearest labeled node.

    The distance is the shortest path length with the weights as edge
    lengths, ``d(x, z) = min_p Σ_k w_{p_k p_{k+1}}`` (GraphLearning 1.7.5's
    ``graph_nearest_neighbor`` with ``D=None``; pass a graph whose weights
    are distances, e.g. a k-NN graph with the distance kernel). Class ``k``'s
    score is minus the distance to the nearest label of class ``k``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative edge lengths.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    tol : float, optional
        Stop when a Bellman–Ford sweep shortens no distance by more than ``tol`` (default 0: exact).
    max_iter : int, default=100000
        Sweeps at most (at most ``n − 1`` are ever needed).
    random_state : int, default=0
        Seed of the random ranking of the labeled nodes that decides between
        classes at exactly equal distance (the lower-ranked nearest label wins,
        consistently along shortest paths; GraphLearning's choice is its heap order).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"iterations", "change", "converged"}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        Minus the distance to each class's nearest label (unreachable: below every reachable score).
    """
    return _run(lambda g, labels, tol, it: _bellman_ford(g, _sources(labels), tol, it), graph, y, tol=tol,
                max_iter=max_iter, random_state=random_state, n_classes=n_classes, dtype=dtype,
                normalize=normalize, return_info=return_info, what="graph nearest neighbour")


def peikonal(graph, y, *, tol: float | None = None, max_iter: int = 100_000, random_state: int = 0,
             normalize: bool = False, n_classes=None, dtype=None, return_info: bool = False):
    """p-eikonal classifier, ``p = 1`` (Calder, Ettehad, JMLR 2022): the class of the smallest eikonal distance.

    For each class ``k``, ``u`` solves ``Σ_j w_ij (u_i − u_j)_+ = 1`` off the
    labels of class ``k`` with ``u = 0`` on them (GraphLearning 1.7.5's
    ``peikonal`` with ``p=1``, ``f=1``, ``D=None``); the score is ``−u``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights (similarities: a heavier edge is shorter).
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    tol : float, optional
        Stop when a sweep lowers no value by more than ``tol`` (default 0: a fixed point).
    max_iter : int, default=100000
    random_state : int, default=0
        Seed of the random choice between classes at exactly equal ``u``.
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"iterations", "change", "converged"}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        ``−u`` per class (unreachable: below every reachable score).
    """
    def solver(g, labels, tol, it):
        D = _sources(labels)
        return _eikonal(g, D, D == 0, tol, it)

    return _run(solver, graph, y, tol=tol, max_iter=max_iter, random_state=random_state, n_classes=n_classes,
                dtype=dtype, normalize=normalize, return_info=return_info, what="p-eikonal")
