"""The normalized graph spectrum, and Poisson learning's spectral solver (GraphLearning's ``poisson(solver="spectral")``).

With ``S = D^{-1/2}WD^{-1/2}``, :func:`normalized_eigs` returns the ``K``
smallest eigenvalues ``λ_k = 1 − s_k`` of the normalized Laplacian ``I − S`` and
their eigenvectors ``φ_k``, as GraphLearning 1.7.5's ``eigen_decomp`` computes
them: scipy's ARPACK ``svds(S, K, tol=0)`` on the host, in float64 (``s_k`` are
the largest singular values of ``S``, i.e. its largest eigenvalues in modulus).
Every spectral method of the package (this solver, multiclass MBO) takes its
eigenpairs from here. The Poisson equation ``L u = b`` is solved in the span of
the ``K`` lowest non-trivial random-walk eigenvectors ``v_k = D^{-1/2} φ_k``:

    ``u = Σ_k v_k (v_kᵀ b) / λ_k``

(Calder, Cook, Thorpe, Slepčev, ICML 2020, as GraphLearning 1.7.5 computes it).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..graph import Graph

__all__ = ["normalized_eigs", "poisson_spectral"]


def normalized_eigs(graph: Graph, k: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest eigenpairs ``(λ, φ)`` of ``I − D^{-1/2} W D^{-1/2}``, ascending, float64 on the graph's device.

    ARPACK on the host (GraphLearning's ``svds(..., tol=0)``), started from a
    vector drawn from ``seed`` so that repeated calls agree.
    """
    n = graph.n_nodes
    if k >= n:
        raise ValueError(f"{k} eigenvectors are too many for a graph of {n} nodes; use at most {n - 1}.")
    W = graph.to_scipy().astype(np.float64)
    d = np.asarray(W.sum(axis=1)).ravel()
    dm = sp.diags(1.0 / np.sqrt(np.where(d > 0, d, 1.0)))
    v0 = np.random.default_rng(seed).standard_normal(n)
    u, s, _ = spla.svds((dm @ W @ dm).tocsr(), k=k, tol=0, v0=v0)
    order = np.argsort(1.0 - s, kind="stable")
    lam = torch.from_numpy(np.ascontiguousarray((1.0 - s)[order]))
    phi = torch.from_numpy(np.ascontiguousarray(u[:, order]))
    return lam.to(graph.device), phi.to(graph.device)


def poisson_spectral(graph: Graph, b: torch.Tensor, spectral_cutoff: int, info: dict) -> torch.Tensor:
    """``u = V Λ⁻¹ Vᵀ b`` on the ``spectral_cutoff`` lowest non-trivial eigenvectors; ``b`` is (n, m)."""
    n = graph.n_nodes
    if spectral_cutoff + 1 >= n:  # ARPACK's bound (the 3k < n of the LOBPCG it replaced is gone)
        raise ValueError(f"spectral_cutoff={spectral_cutoff} is too large for a graph of {n} nodes; "
                         f"use at most {n - 2}.")
    lam, phi = normalized_eigs(graph, spectral_cutoff + 1)
    lam = lam[1:]
    if bool((lam <= 1e-10).any()):
        raise ValueError("the graph has several connected components (eigenvalue 0 of the Laplacian repeats), "
                         "so the spectral solve is singular; use method='exact' or connect the graph.")
    V = graph.inv_degrees.double().sqrt()[:, None] * phi[:, 1:]
    info.update(spectral_cutoff=spectral_cutoff, eigenvalues=lam.tolist())
    return (V @ ((V.T @ b.double()) / lam[:, None])).to(b.dtype)
