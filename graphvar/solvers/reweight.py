"""Laplace learning's low-label-rate variants: reweighted graphs and normalised Laplacians.

GraphLearning 1.7.5's ``laplace`` takes a ``reweighting`` of the weights near
the labeled nodes and a ``normalization`` of the Laplacian; both are
implemented here as a change of the graph (per labeled set) and of the
boundary values, so the one Laplace solve of :mod:`graphvar.solvers.methods`
(exact or iterative) does the rest:

``"wnll"`` (Shi, Osher, Zhu 2017)
    ``w'_ij = (a_i + a_j) w_ij`` with ``a = n / m`` on the ``m`` labeled nodes, 1 elsewhere.
``"properly"`` (Calder, Slepčev 2019)
    ``w'_ij = (γ_i + γ_j) w_ij`` with ``γ = 1 + (r / max(δ, r_ζ))^α``, ``δ`` the feature-space
    distance to the nearest labeled node and ``r_ζ = r / (ζ − 1)^{1/α}``.
``"poisson"`` (Calder, Cook, Thorpe, Slepčev 2020)
    ``w'_ij = v_i v_j w_ij`` with ``v`` the solution of ``L v = 1_Γ − mean`` shifted to
    ``min v = 10⁻⁵``.

The ``"randomwalk"`` Laplacian ``I − D⁻¹W`` has the same harmonic extension as
the combinatorial one; the ``"normalized"`` Laplacian ``I − D^{-1/2}WD^{-1/2}``
has boundary values ``y_j / √d_j`` and scores ``√d_i u_i`` off the labels.
"""

from __future__ import annotations

import numpy as np
import torch

from ..graph import Graph
from ..graph.graph import csr_tensor
from ..validation import check_choice, check_float
from .exact import batched_cg
from .labels import LabelBatch

__all__ = ["REWEIGHTINGS", "NORMALIZATIONS", "check_laplace_variant", "reweighted_graph", "laplace_variant"]

REWEIGHTINGS = ("wnll", "properly", "poisson")
NORMALIZATIONS = ("combinatorial", "randomwalk", "normalized")

#: Defaults of the ``"properly"`` reweighting (GraphLearning 1.7.5's ``alpha``, ``zeta``, ``r``).
PROPERLY_DEFAULTS = {"exponent": 2.0, "zeta": 1e7, "radius": 0.1}


def check_laplace_variant(reweighting, normalization, features, n_nodes: int, properly: dict | None):
    """Validate the Laplace variant: ``(features as float64 tensor or None, properly parameters)``."""
    if reweighting is not None:
        check_choice(reweighting, "reweighting", REWEIGHTINGS)
    if properly is not None and (not isinstance(properly, dict) or set(properly) - set(PROPERLY_DEFAULTS)):
        raise ValueError(f"properly must be a dict with keys among {sorted(PROPERLY_DEFAULTS)}, got {properly!r}.")
    properly = {**PROPERLY_DEFAULTS, **(properly or {})}
    check_choice(normalization, "normalization", NORMALIZATIONS)
    if reweighting == "poisson" and normalization == "randomwalk":
        raise ValueError("reweighting='poisson' supports normalization 'combinatorial' or 'normalized' "
                         "(as GraphLearning), not 'randomwalk'.")
    for key, value in properly.items():
        check_float(value, key, minimum=0.0, strict_minimum=True)
    if properly["zeta"] <= 1:
        raise ValueError(f"zeta must be > 1, got {properly['zeta']}.")
    if reweighting != "properly":
        return None, properly
    if features is None:
        raise ValueError("reweighting='properly' needs the data features: pass features=X (n_nodes, d).")
    X = torch.as_tensor(np.asarray(features, dtype=np.float64) if not isinstance(features, torch.Tensor)
                        else features.detach().double())
    if X.ndim != 2 or X.shape[0] != n_nodes:
        raise ValueError(f"features must have shape ({n_nodes}, d), got {tuple(X.shape)}.")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("features contain NaN or infinite values.")
    return X, properly


def _nearest_distance(X: torch.Tensor, labeled: np.ndarray, block: int = 4096) -> torch.Tensor:
    """Euclidean distance of every row of ``X`` to its nearest labeled row (float64)."""
    L = X[torch.from_numpy(np.flatnonzero(labeled))]
    return torch.cat([torch.cdist(X[a:a + block], L).amin(dim=1) for a in range(0, X.shape[0], block)])


def _poisson_weights(graph: Graph, labeled: torch.Tensor, normalization: str) -> torch.Tensor:
    """Calder's reweighting ``v``: ``L v = 1_Γ − mean`` (or its normalised form), shifted to ``min v = 1e-5``."""
    d = graph.degrees.double()
    f = labeled.double()
    sg = graph.to(dtype=torch.float64)
    if normalization == "combinatorial":
        v = batched_cg(sg.laplacian, (f - f.mean())[:, None], sg.inv_degrees, tol=1e-10)[:, 0]
    else:  # I − D^{-1/2} W D^{-1/2}; the solution orthogonal to its null vector √d
        s = d.sqrt()
        isq = torch.where(d > 0, 1.0 / torch.where(d > 0, s, torch.ones_like(s)), torch.zeros_like(s))[:, None]
        rhs = (f - (s * f).sum() / s.sum())[:, None]
        v = batched_cg(lambda Z: isq * sg.laplacian(isq * Z), rhs, tol=1e-10)[:, 0]
        v = v - (v @ s) / (s @ s) * s
    return v - v.min() + 1e-5


def reweighted_graph(graph: Graph, labeled: torch.Tensor, reweighting: str, *, normalization: str,
                     features: torch.Tensor | None, properly: dict) -> Graph:
    """The graph of one labeled set (BoolTensor ``(n,)``) under ``reweighting``."""
    rows, cols, vals = graph.coo()
    n = graph.n_nodes
    if reweighting == "wnll":
        a = torch.ones(n, dtype=torch.float64, device=vals.device)
        a[labeled] = n / int(labeled.sum())
        new = (a[rows] + a[cols]) * vals.double()
    elif reweighting == "properly":
        alpha, zeta, r = properly["exponent"], properly["zeta"], properly["radius"]
        dist = _nearest_distance(features, labeled.cpu().numpy()).to(vals.device)
        dist = dist.clamp_min(r / (zeta - 1) ** (1 / alpha))
        gamma = 1 + (r / dist) ** alpha
        new = (gamma[rows] + gamma[cols]) * vals.double()
    else:
        v = _poisson_weights(graph, labeled, normalization).to(vals.device)
        new = v[rows] * v[cols] * vals.double()
    W = graph.weights
    return Graph(csr_tensor(W.crow_indices(), W.col_indices(), new.to(graph.dtype), n),
                 info={**graph.info, "reweighting": reweighting})


def _merge_info(info: dict, parts: list[dict]) -> None:
    """One info dict for per-set solves: lists concatenated, CG figures worst-case."""
    for key in ("stop_times", "stop_rule_converged", "stop_rule_residual"):
        if key in parts[0]:
            info[key] = [v for p in parts for v in p[key]]
    if "stop_rule_tol" in parts[0]:
        info["stop_rule_tol"] = parts[0]["stop_rule_tol"]
    if "cg_iterations" in parts[0]:
        info.update(cg_iterations=max(p["cg_iterations"] for p in parts),
                    cg_residual=max(p["cg_residual"] for p in parts),
                    converged=all(p["converged"] for p in parts))


def laplace_variant(graph: Graph, labels, informed: torch.Tensor, core, info: dict, *, reweighting,
                    normalization: str, features, properly: dict) -> torch.Tensor:
    """Laplace scores ``(B, n, c)`` of a reweighted graph / normalised Laplacian, one labeled set at a time.

    ``core(graph, labels, informed, info=...)`` is the plain Laplace solve; the
    reweighted graph depends on the labeled set, so the sets are solved in turn.
    """
    if reweighting is not None and not isinstance(graph, Graph):
        raise TypeError(f"a reweighting changes the stored edges of a Graph, not of a matrix-free "
                        f"{type(graph).__name__}; build the graph with graphvar.knn_graph (or Graph.from_scipy).")
    out, parts = [], []
    for b in range(labels.n_sets):
        mask = labels.mask[b]
        g = graph if reweighting is None else reweighted_graph(graph, mask, reweighting, normalization=normalization,
                                                               features=features, properly=properly)
        values = labels.onehot[b:b + 1]
        if normalization == "normalized":
            sqrt_d = g.degrees.sqrt()[None, :, None]
            values = values / torch.where(sqrt_d > 0, sqrt_d, torch.ones_like(sqrt_d))
        one = LabelBatch(labels=labels.labels[b:b + 1], mask=labels.mask[b:b + 1], onehot=values,
                         n_classes=labels.n_classes, batched=True)
        part: dict = {}
        scores = core(g, one, informed[b:b + 1], info=part)
        if normalization == "normalized":
            scores = torch.where(mask[None, :, None], labels.onehot[b:b + 1], sqrt_d * scores)
        out.append(scores)
        parts.append(part)
    _merge_info(info, parts)
    return torch.cat(out)
