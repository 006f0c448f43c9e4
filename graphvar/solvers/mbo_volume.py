"""Volume MBO (Jacobs, Merkurjev, Esedoḡlu, J. Comput. Phys. 354, 2018), as GraphLearning 1.7.5 runs it.

GraphLearning's ``ssl.volume_mbo`` calls a C extension (``mbo_main``, mode
``"dvn"``, 100 iterations, temperature 0.1, volume bounds ``[0.5, 1.5]`` of
the class sizes). The scheme, written here in torch on the engine:

1. start from the labeled nodes' Voronoi cells (shortest paths with edge
   length ``w_ij``, by the C code's Bellman-Ford sweep, which also fixes
   its tie-breaking: on unit-weight citation graphs most nodes are tied);
2. repeat: the convolution ``K = A² U`` of the one-hot labels with the
   normalised weights ``A = D^{-1/2} W D^{-1/2}`` (two engine steps:
   ``A² U = D^{1/2} P² D^{-1/2} U``); the energy ``Σ_i Σ_{k≠ℓ_i} K_ik`` (the
   lowest-energy labels are kept); Gaussian noise of standard deviation
   ``temperature`` on ``K``; the unlabeled nodes take ``argmax_k (K_ik − q_k)``
   with class sizes within ``[λ m_k, (2 − λ) m_k]``
   (:func:`graphvar.solvers.volume.bounded_assignment`; ``m_k = ⌊n p_k⌋``
   minus the labeled nodes of class ``k``, ``λ`` = ``volume_constraint``).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from ..engine import iterate
from ..graph import as_graph
from ..validation import check_dtype, check_float, check_int
from .labels import parse_labels
from .mbo import resolve_class_priors
from .methods import _columns, _uncolumns
from .volume import bounded_assignment

__all__ = ["volume_mbo"]


@numba.njit(cache=True)
def _bellman_ford(indptr, indices, data, dist, labels):  # pragma: no cover - compiled
    """GraphLearning's C sweep: relax active nodes in index order until none changes (ties: first found)."""
    n = dist.size
    active = dist == 0.0
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if active[i]:
                changed = True
                for e in range(indptr[i], indptr[i + 1]):
                    j = indices[e]
                    if dist[i] + data[e] < dist[j]:
                        dist[j] = dist[i] + data[e]
                        active[j] = True
                        labels[j] = labels[i]
                active[i] = False


def _voronoi(W, labels: np.ndarray, rng: np.random.Generator, c: int) -> np.ndarray:
    """Label of the nearest labeled node (edge length = weight, float32 as in the C code); random if unreached."""
    out = np.where(labels >= 0, labels, rng.integers(0, c, size=labels.size)).astype(np.int64)
    dist = np.where(labels >= 0, 0.0, np.finfo(np.float32).max).astype(np.float32)
    _bellman_ford(W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data.astype(np.float32), dist, out)
    return out


def _convolve(graph, U: torch.Tensor) -> torch.Tensor:
    """``A² U`` with ``A = D^{-1/2} W D^{-1/2}`` as two steps of the engine's kernel."""
    root = graph.degrees.sqrt()[:, None]
    inv_root = torch.where(root > 0, 1.0 / torch.where(root > 0, root, 1.0), 0.0)
    return root * iterate(graph, inv_root * U, 2)


def volume_mbo(graph, y, *, class_priors=None, temperature: float = 0.1, volume_constraint: float = 0.5,
               n_iter: int = 100, random_state=None, n_classes=None, dtype=None, return_info: bool = False):
    """Volume-constrained MBO by auction dynamics (Jacobs, Merkurjev, Esedoḡlu, JCP 2018).

    GraphLearning 1.7.5's ``ssl.volume_mbo`` with its defaults; the module
    docstring has the scheme. Randomised (the temperature noise).

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
    y : array-like of shape (n,) or (B, n)
        Class ids; ``-1`` marks unlabeled nodes.
    class_priors : array-like of shape (c,), optional
        Class fractions (normalised); ``None`` estimates them from the labeled
        nodes with a warning.
    temperature : float, default=0.1
        Standard deviation of the noise added to the convolution.
    volume_constraint : float, default=0.5
        ``λ``: class sizes are kept within ``[λ, 2 − λ]`` times the prior's.
    n_iter : int, default=100
    random_state : int, numpy Generator or None
        Seed of the noise (and of the labels of nodes no labeled node reaches).
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"energy": [...], "best_iteration": [...]}`` per labeled set.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        One-hot labels.
    """
    temperature = check_float(temperature, "temperature", minimum=0.0)
    volume_constraint = check_float(volume_constraint, "volume_constraint", minimum=0.0, maximum=1.0)
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    g = as_graph(graph, dtype=None if dtype is None else check_dtype(dtype))
    labels = parse_labels(y, g.n_nodes, n_classes, device=g.device, dtype=g.dtype)
    (B, n), c = labels.labels.shape, labels.n_classes
    priors = resolve_class_priors(class_priors, labels.labels, c)
    rng = np.random.default_rng(random_state)
    gen = torch.Generator(device=g.device).manual_seed(int(rng.integers(2**31 - 1)))
    W, y_np = g.to_scipy(), labels.labels.cpu().numpy()
    current = torch.from_numpy(np.stack([_voronoi(W, y_np[b], rng, c) for b in range(B)])).to(g.device)
    fixed = labels.mask
    vol = (n * priors).astype(np.int64)[None, :] - np.stack([np.bincount(r[r >= 0], minlength=c) for r in y_np])
    lower, upper = (vol * volume_constraint).astype(np.int64), (vol * (2 - volume_constraint)).astype(np.int64)
    best, best_energy, best_at = current.clone(), torch.full((B,), torch.inf), [0] * B
    for it in range(n_iter):
        K = _uncolumns(_convolve(g, _columns(torch.nn.functional.one_hot(current, c).to(g.dtype))), B, c)
        energy = (K.sum(dim=(1, 2)) - K.gather(2, current[:, :, None]).sum(dim=(1, 2))).cpu()
        for b in torch.nonzero(energy < best_energy).flatten().tolist():
            best[b], best_energy[b], best_at[b] = current[b], energy[b], it
        if it == n_iter - 1:
            break
        noisy = K + temperature * torch.randn(K.shape, generator=gen, dtype=K.dtype, device=K.device)
        for b in range(B):
            free = ~fixed[b]
            current[b, free] = bounded_assignment(noisy[b][free], lower[b], upper[b])
    scores = torch.nn.functional.one_hot(best, c).to(g.dtype)
    scores = scores if labels.batched else scores[0]
    info = {"energy": best_energy.tolist(), "best_iteration": best_at}
    return (scores, info) if return_info else scores
