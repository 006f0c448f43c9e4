"""Linear label propagations: lazy random walks, the centred kernel and dynamic label propagation.

All three are linear in the labels and run on the operator layer (products
with ``W``), every labeled set in one wide ``(n, B * c)`` block:

* :func:`randomwalk` solves ``((1 − α) I + α L_sym) u = Y`` by conjugate
  gradients (:func:`graphvar.solvers.exact.batched_cg`);
* :func:`centered_kernel` solves ``u_U = (C W C u)_U / a`` with ``C = I − 11ᵀ/n``
  and ``a = α λ_max(CWC)``, ``u_Γ`` the centred labels, by CG on
  ``(a I − A_UU) u_U = (A u_Γ)_U``;
* :func:`dynamic_label_propagation` applies Wang, Tu, Tsotsos's evolving
  kernel ``P_{t+1} = P P_t Pᵀ + α v_t v_tᵀ + λ I`` matrix-free (GraphLearning
  forms it as a dense ``n × n`` matrix and refuses ``n > 5000``).
"""

from __future__ import annotations

import torch

from ..validation import check_float, check_int
from .exact import batched_cg
from .frontend import check_tol, columns, finish, prepare, uncolumns

__all__ = ["randomwalk", "centered_kernel", "dynamic_label_propagation"]


def _cg_tol(tol, dtype) -> float:
    return check_tol(tol, 1e-10 if dtype == torch.float64 else 1e-5)


def randomwalk(graph, y, *, alpha: float = 0.95, tol=None, normalize: bool = False, n_classes=None, dtype=None,
               return_info: bool = False):
    """Lazy random-walk label propagation (Zhou, Schölkopf, DAGM 2004).

    Solves ``((1 − α) I + α (I − D^{-1/2} W D^{-1/2})) u = Y`` (``Y`` the one-hot
    labels, 0 elsewhere) by conjugate gradients, as GraphLearning 1.7.5's ``randomwalk``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    alpha : float, default=0.95
        ``0 <= α < 1``: the walk's probability of moving on.
    tol : float, optional
        Relative CG residual (1e-10 in float64, 1e-5 in float32).
    normalize : bool, default=False
        Per-class dispersion equalisation over unlabeled nodes before the argmax.
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return the CG iterations and residual.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
    """
    alpha = check_float(alpha, "alpha", minimum=0.0, maximum=1.0)
    if alpha == 1.0:
        raise ValueError("alpha must be < 1: at alpha=1 the system is singular.")
    g, labels, informed = prepare(graph, y, n_classes=n_classes, dtype=dtype, normalize=normalize,
                                  return_info=return_info, symmetric=True)
    isq = g.inv_degrees.sqrt()[:, None]
    info: dict = {"alpha": alpha}
    Y = columns(labels.onehot)
    U = batched_cg(lambda Z: Z - alpha * isq * g.matmul(isq * Z), Y, tol=_cg_tol(tol, g.dtype), info=info)
    B, _, c = labels.onehot.shape
    return finish(uncolumns(U, B, c), labels, informed, normalize=normalize, info=info,
                  return_info=return_info, what="random-walk")


def _centred(g, Z: torch.Tensor) -> torch.Tensor:
    """``C W C Z`` with ``C = I − 11ᵀ/n``."""
    Y = g.matmul(Z - Z.mean(dim=0, keepdim=True))
    return Y - Y.mean(dim=0, keepdim=True)


def _top_eigenvalue(g, power_it: int, random_state: int) -> float:
    """``|eᵀAe / eᵀe|`` after ``power_it`` power iterations of ``A = CWC`` from a uniform random start."""
    gen = torch.Generator(device="cpu").manual_seed(random_state)
    e = torch.rand(g.n_nodes, 1, generator=gen, dtype=torch.float64).to(device=g.device, dtype=g.dtype)
    lam = 0.0
    for _ in range(power_it):
        w = _centred(g, e)
        lam = float((e * w).sum().abs() / (e * e).sum())
        e = w / w.norm()
    return lam


def centered_kernel(graph, y, *, alpha: float = 1.05, power_it: int = 100, tol=None, random_state: int = 0,
                    normalize: bool = False, n_classes=None, dtype=None, return_info: bool = False):
    """Centred kernel method (Mai, Couillet, ICML 2018): random-matrix-improved SSL.

    With ``A = C W C`` (``C = I − 11ᵀ/n``) and ``a = α |λ_max(A)|`` (power
    iteration), the scores solve ``a u_U = (A u)_U`` with ``u_Γ = y_Γ − ȳ``
    (the centred one-hot labels), as GraphLearning 1.7.5's ``centered_kernel``.

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    alpha : float, default=1.05
        ``a / λ_max``; must exceed 1.
    power_it : int, default=100
        Power iterations for ``λ_max``.
    tol : float, optional
        Relative CG residual (1e-10 in float64, 1e-5 in float32).
    random_state : int, default=0
        Seed of the power iteration's start vector.
    normalize : bool, default=False
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``λ_max`` and the CG iterations and residual.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
    """
    alpha = check_float(alpha, "alpha", minimum=1.0, strict_minimum=True)
    power_it = check_int(power_it, "power_it", minimum=1)
    random_state = check_int(random_state, "random_state", minimum=0)
    g, labels, informed = prepare(graph, y, n_classes=n_classes, dtype=dtype, normalize=normalize,
                                  return_info=return_info, symmetric=True)
    lam = _top_eigenvalue(g, power_it, random_state)
    a = alpha * lam
    Y = columns(labels.onehot)
    mask = columns(labels.mask[:, :, None].expand_as(labels.onehot))
    counts = labels.mask.sum(dim=1).to(Y.dtype).repeat_interleave(labels.n_classes)
    K = torch.where(mask, Y - Y.sum(dim=0, keepdim=True) / counts, torch.zeros_like(Y))
    free = (~mask).to(Y.dtype)
    info: dict = {"top_eigenvalue": lam}
    X = batched_cg(lambda Z: free * (a * Z - _centred(g, free * Z)), free * _centred(g, K),
                   tol=_cg_tol(tol, g.dtype), info=info)
    B, _, c = labels.onehot.shape
    return finish(uncolumns(K + free * X, B, c), labels, informed, normalize=normalize, info=info,
                  return_info=return_info, what="centred-kernel")


def _dlp_apply(g, t: int, x: torch.Tensor, vs: list, alpha: float, lam: float, width: int) -> torch.Tensor:
    """``P_t x`` for the evolving kernel ``P_{s+1} = P P_s Pᵀ + α v_s v_sᵀ + λ I``, ``P_0 = P``."""
    if t == 0:
        return g.transition(x)
    inner = _dlp_apply(g, t - 1, g.matmul(g.inv_degrees[:, None] * x), vs, alpha, lam, width)
    n = x.shape[0]
    v, xb = vs[t - 1].reshape(n, -1, width), x.reshape(n, -1, width)
    vvx = torch.einsum("nbi,bij->nbj", v, torch.einsum("nbi,nbj->bij", v, xb)).reshape(n, -1)
    return g.transition(inner) + alpha * vvx + lam * x


def dynamic_label_propagation(graph, y, *, alpha: float = 0.05, lam: float = 0.1, n_steps: int = 2,
                              normalize: bool = False, n_classes=None, dtype=None, return_info: bool = False):
    """Dynamic label propagation (Wang, Tu, Tsotsos, ICCV 2013).

    ``n_steps`` steps of ``u ← P_t u`` (labels clamped) with the evolving kernel
    ``P_{t+1} = P P_t Pᵀ + α v_t v_tᵀ + λ I``, ``v_t = P u_t``, ``P_0 = P = D⁻¹W``,
    as GraphLearning 1.7.5's ``dynamic_label_propagation`` (``T`` = ``n_steps``),
    applied matrix-free (``O(t)`` sparse products for ``P_t u``, no ``n × n`` matrix).

    Parameters
    ----------
    graph : Graph, scipy sparse, torch_geometric Data or networkx Graph
        Symmetric non-negative weights.
    y : array-like or LongTensor of shape (n,) or (B, n)
        Class ids ``0..c-1``; ``-1`` marks unlabeled nodes.
    alpha : float, default=0.05
        Weight of the label-fusion term ``v vᵀ``.
    lam : float, default=0.1
        Weight of the identity term.
    n_steps : int, default=2
        Propagation steps (GraphLearning's ``T``).
    normalize : bool, default=False
    n_classes : int, optional
    dtype : torch.dtype or str, optional
    return_info : bool, default=False
        Also return ``{"n_steps": ...}``.

    Returns
    -------
    scores : Tensor of shape (n, c) or (B, n, c)
    """
    alpha = check_float(alpha, "alpha", minimum=0.0)
    lam = check_float(lam, "lam", minimum=0.0)
    n_steps = check_int(n_steps, "n_steps", minimum=1, maximum=64)
    g, labels, informed = prepare(graph, y, n_classes=n_classes, dtype=dtype, normalize=normalize,
                                  return_info=return_info, symmetric=True)
    Y = columns(labels.onehot)
    mask = columns(labels.mask[:, :, None].expand_as(labels.onehot))
    U, vs = Y, []
    for t in range(n_steps):
        v = g.transition(U)
        U = torch.where(mask, Y, _dlp_apply(g, t, U, vs, alpha, lam, labels.n_classes))
        vs.append(v)
    B, _, c = labels.onehot.shape
    return finish(uncolumns(U, B, c), labels, informed, normalize=normalize, info={"n_steps": n_steps},
                  return_info=return_info, what="dynamic label propagation")
