"""Poisson learning's spectral solver (GraphLearning's ``poisson(solver="spectral")``).

The Poisson equation ``L u = b`` is solved in the span of the random-walk
Laplacian's ``K`` lowest non-trivial eigenvectors: with ``S = D^{-1/2}WD^{-1/2}``,
``S φ_k = s_k φ_k`` (the ``K + 1`` largest ``s_k``, the first dropped),
``v_k = D^{-1/2} φ_k`` and ``λ_k = 1 − s_k``,

    ``u = Σ_k v_k (v_kᵀ b) / λ_k``

(Calder, Cook, Thorpe, Slepčev, ICML 2020, as GraphLearning 1.7.5 computes it).
The eigenpairs come from :func:`torch.lobpcg` in float64 on the graph's device.
"""

from __future__ import annotations

import torch

from ..graph import Graph

__all__ = ["normalized_top_eigenpairs", "poisson_spectral"]


def normalized_top_eigenpairs(graph: Graph, k: int, *, seed: int = 0):
    """The ``k`` largest eigenpairs ``(s, φ)`` of ``D^{-1/2} W D^{-1/2}`` (float64, descending)."""
    n = graph.n_nodes
    if 3 * k >= n:
        raise ValueError(f"spectral_cutoff={k - 1} is too large for a graph of {n} nodes; use at most {n // 3 - 2}.")
    rows, cols, vals = graph.coo()
    isq = graph.inv_degrees.double().sqrt()
    S = torch.sparse_coo_tensor(torch.stack([rows, cols]), isq[rows] * vals.double() * isq[cols], (n, n),
                                check_invariants=False)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    X0 = torch.randn(n, k, generator=gen, dtype=torch.float64).to(graph.device)
    s, phi = torch.lobpcg(S.coalesce(), k=k, X=X0, largest=True, tol=1e-10, niter=10_000)
    order = torch.argsort(s, descending=True)
    return s[order], phi[:, order]


def poisson_spectral(graph: Graph, b: torch.Tensor, spectral_cutoff: int, info: dict) -> torch.Tensor:
    """``u = V Λ⁻¹ Vᵀ b`` on the ``spectral_cutoff`` lowest non-trivial eigenvectors; ``b`` is (n, m)."""
    s, phi = normalized_top_eigenpairs(graph, spectral_cutoff + 1)
    lam = 1.0 - s[1:]
    if bool((lam <= 1e-10).any()):
        raise ValueError("the graph has several connected components (eigenvalue 0 of the Laplacian repeats), "
                         "so the spectral solve is singular; use method='exact' or connect the graph.")
    V = graph.inv_degrees.double().sqrt()[:, None] * phi[:, 1:]
    info.update(spectral_cutoff=spectral_cutoff, eigenvalues=lam.tolist())
    return (V @ ((V.T @ b.double()) / lam[:, None])).to(b.dtype)
