"""The spectral MBO schemes of GraphLearning 1.7.5: multiclass MBO and modularity MBO (docs/mbo.md §4).

Both diffuse in a truncated eigenbasis of the graph Laplacian (computed by
scipy's ARPACK, as GraphLearning does; multiclass MBO's comes from
:func:`.spectral.normalized_eigs`) and threshold to one-hot labels after
every diffusion; the iterations are dense ``(n, r)`` products in torch,
batched over labeled sets. They do not use class priors.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..graph import as_graph
from ..validation import check_dtype, check_float, check_int
from .labels import parse_labels
from .spectral import normalized_eigs

__all__ = ["multiclass_mbo", "modularity_mbo"]


def _modularity_eigs(W: sp.csr_matrix, k: int, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """GraphLearning's ``eigen_decomp('combinatorial', k, gamma)``: smallest of ``L + (γ/m) d dᵀ``."""
    d = np.asarray(W.sum(axis=1)).ravel()
    L = sp.diags(d) - W
    m = d.sum() / 2.0
    op = spla.LinearOperator(W.shape, matvec=lambda v: L @ v.ravel() + (gamma / m) * (d @ v.ravel()) * d,
                             dtype=np.float64)
    return spla.eigsh(op, k=k, which="SM", tol=0)


def _onehot(labels: torch.Tensor, c: int, dtype) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, c).to(dtype)


def multiclass_mbo(graph, y, *, n_outer: int = 10, n_inner: int = 6, dt: float = 0.15, mu: float = 50.0,
                   n_eig: int = 50, random_state=None, n_classes=None, dtype=None, return_info: bool = False):
    """Multiclass MBO (Garcia-Cardona, Merkurjev, Bertozzi, Flenner, Percus, IEEE TPAMI 36(8), 2014).

    GraphLearning 1.7.5's ``ssl.multiclass_mbo`` with its defaults: from a
    random labeling (labeled nodes set), ``n_outer`` times ``n_inner``
    semi-implicit diffusion steps in the first ``n_eig`` eigenvectors ``X`` of
    the normalised Laplacian, ``u ← (u − (dt/Ns) μ J (u − K)) X (I + (dt/Ns) Λ)⁻¹ Xᵀ``
    (``J`` the labeled-node indicator, ``K`` their one-hot labels), then a
    threshold to one-hot labels.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
    y : array-like of shape (n,) or (B, n)
        Class ids; ``-1`` marks unlabeled nodes.
    n_outer, n_inner : int, default=10, 6
        Threshold steps (GraphLearning's ``T``) and diffusion steps each (``Ns``).
    dt : float, default=0.15
        Diffusion time per threshold step.
    mu : float, default=50.0
        Fidelity weight.
    n_eig : int, default=50
        Eigenvectors (computed once per call).
    random_state : int, numpy RandomState or None
        Seed of the random initial labeling ``rand(c, n).argmax(0)`` per
        labeled set, GraphLearning's draw (``np.random.seed(s)`` there gives
        the same labeling as ``random_state=s`` here).
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"eigenvalues": [...]}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        One-hot labels.
    """
    n_outer, n_inner, n_eig = (check_int(v, name, minimum=1) for v, name in
                               ((n_outer, "n_outer"), (n_inner, "n_inner"), (n_eig, "n_eig")))
    dt, mu = check_float(dt, "dt", minimum=0.0), check_float(mu, "mu", minimum=0.0)
    g = as_graph(graph, dtype=None if dtype is None else check_dtype(dtype))
    labels = parse_labels(y, g.n_nodes, n_classes, device=g.device, dtype=g.dtype)
    (B, n), c = labels.labels.shape, labels.n_classes
    if n_eig >= n:
        raise ValueError(f"n_eig={n_eig} must be smaller than the number of nodes ({n}).")
    vals, X = normalized_eigs(g, n_eig)
    X = X.to(g.dtype)
    Y = X / (1.0 + (dt / n_inner) * vals).to(X)[None, :]
    from sklearn.utils import check_random_state  # lazy: `import graphvar` stays free of scikit-learn

    rng = check_random_state(random_state)
    start = torch.from_numpy(np.stack([rng.rand(c, n).argmax(axis=0) for _ in range(B)])).to(g.device)
    mask = labels.mask
    u = torch.where(mask[:, :, None], labels.onehot, _onehot(start, c, g.dtype))
    J = mask[:, :, None].to(g.dtype)
    for _ in range(n_outer):
        for _ in range(n_inner):
            Z = torch.einsum("bnc,nr->bcr", u - (dt / n_inner) * mu * J * (u - labels.onehot), Y)
            u = torch.einsum("bcr,nr->bnc", Z, X)
        u = _onehot(u.argmax(-1), c, g.dtype)
    u = u if labels.batched else u[0]
    return (u, {"eigenvalues": vals.tolist()}) if return_info else u


def modularity_mbo(graph, y, *, gamma: float = 0.5, epsilon: float = 1.0, lamb: float = 1.0, n_outer: int = 20,
                   n_inner: int = 5, n_classes=None, dtype=None, return_info: bool = False):
    """Modularity MBO (Boyd, Bae, Tai, Bertozzi, SIAM J. Appl. Math. 78(5), 2018).

    GraphLearning 1.7.5's ``ssl.modularity_mbo`` with its defaults (its
    ``_fit`` names an undefined ``k`` and raises ``NameError``; this is the
    algorithm it spells out): diffusion ``u ← V e^{−Λ dt} Vᵀ u`` in the
    ``5 c`` lowest eigenpairs of ``L + (γ / m) d dᵀ`` (``m`` = total weight),
    ``n_inner`` fidelity steps ``u_Γ −= (dt/Ns) λ (u_Γ − y_Γ)`` on the
    labeled nodes, a threshold to one-hot labels; ``dt = sqrt(dt_low dt_high)``
    with ``dt_low = 0.15 / ((γ + 1) max d)`` and ``dt_high = log(‖u₀‖ / ε) / Λ₀``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
    y : array-like of shape (n,) or (B, n)
        Class ids; ``-1`` marks unlabeled nodes.
    gamma, epsilon, lamb : float, default=0.5, 1.0, 1.0
        Modularity resolution, the time-step scale ``ε`` and the fidelity weight.
    n_outer, n_inner : int, default=20, 5
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"dt": [...], "eigenvalues": [...]}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
        One-hot labels.
    """
    gamma = check_float(gamma, "gamma", minimum=0.0, strict_minimum=True)
    epsilon = check_float(epsilon, "epsilon", minimum=0.0, strict_minimum=True)
    lamb = check_float(lamb, "lamb", minimum=0.0)
    n_outer, n_inner = check_int(n_outer, "n_outer", minimum=1), check_int(n_inner, "n_inner", minimum=1)
    g = as_graph(graph, dtype=None if dtype is None else check_dtype(dtype))
    labels = parse_labels(y, g.n_nodes, n_classes, device=g.device, dtype=g.dtype)
    B, c = labels.labels.shape[0], labels.n_classes
    if 5 * c >= g.n_nodes:
        raise ValueError(f"modularity MBO needs 5 * n_classes = {5 * c} < n_nodes = {g.n_nodes} eigenpairs.")
    W = g.to_scipy().astype(np.float64)
    vals, V = _modularity_eigs(W, 5 * c, gamma)
    size = labels.mask.sum(dim=1).cpu().numpy().astype(np.float64)  # ‖u₀‖² = labeled nodes per set
    dt = np.sqrt(0.15 / ((gamma + 1) * float(np.asarray(W.sum(axis=1)).max()))
                 * np.log(np.sqrt(size) / epsilon) / vals[0])
    V = torch.from_numpy(V).to(device=g.device, dtype=g.dtype)
    decay = torch.exp(-torch.from_numpy(np.outer(dt, vals))).to(V)  # (B, r)
    J = labels.mask[:, :, None].to(g.dtype)
    step = torch.from_numpy(dt / n_inner * lamb).to(V)[:, None, None]
    u = labels.onehot.clone()
    for _ in range(n_outer):
        u = torch.einsum("nr,br,brc->bnc", V, decay, torch.einsum("nr,bnc->brc", V, u))
        for _ in range(n_inner):
            u = u - step * J * (u - labels.onehot)
        u = _onehot(u.argmax(-1), c, g.dtype)
    u = u if labels.batched else u[0]
    return (u, {"dt": dt.tolist(), "eigenvalues": vals.tolist()}) if return_info else u
