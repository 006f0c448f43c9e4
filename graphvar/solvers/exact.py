"""Exact solves by (Jacobi-preconditioned, column-batched) conjugate gradients."""

from __future__ import annotations

import warnings
from typing import Callable

import torch

__all__ = ["batched_cg"]


def batched_cg(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    rhs: torch.Tensor,
    precond: torch.Tensor | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    check_every: int = 10,
    info: dict | None = None,
    stop: Callable[[torch.Tensor], bool] | None = None,
) -> torch.Tensor:
    """Solve ``A X = rhs`` column by column for a symmetric positive (semi)definite ``A``.

    Parameters
    ----------
    matvec : callable
        ``X -> A X`` for ``X`` of the shape of ``rhs``.
    rhs : Tensor (n, m)
    precond : Tensor (n,) or (n, m), optional
        Inverse diagonal (Jacobi) preconditioner; zeros mark fixed entries.
    tol : float
        Stop when every column's residual norm is ``<= tol * |rhs|``.
    max_iter : int
    check_every : int
        Host synchronisation interval for the convergence test.
    info : dict, optional
        Filled with ``cg_iterations``, ``cg_residual`` (worst relative
        residual) and ``converged``.
    stop : callable ``R -> bool``, optional
        A different convergence test on the residual ``R`` (replaces ``tol``;
        e.g. GraphLearning's, for PoissonMBO's start).

    Returns
    -------
    Tensor (n, m)
    """
    if precond is None:
        precond = torch.ones_like(rhs)
    elif precond.ndim == 1:
        precond = precond[:, None]
    X = torch.zeros_like(rhs)
    R = rhs.clone()
    Z = precond * R
    Pd = Z.clone()
    rz = (R * Z).sum(dim=0)
    bnorm = rhs.norm(dim=0).clamp_min(torch.finfo(rhs.dtype).tiny)
    tiny = torch.finfo(rhs.dtype).tiny
    for it in range(1, max_iter + 1):
        AP = matvec(Pd)
        pap = (Pd * AP).sum(dim=0)
        step = torch.where(pap.abs() > tiny, rz / pap.where(pap.abs() > tiny, torch.ones_like(pap)),
                           torch.zeros_like(pap))
        X += step * Pd
        R -= step * AP
        if it % check_every == 0 and (stop(R) if stop is not None else bool((R.norm(dim=0) <= tol * bnorm).all())):
            if info is not None:
                info.update(cg_iterations=it, cg_residual=float((R.norm(dim=0) / bnorm).max()), converged=True)
            return X
        Z = precond * R
        rz_new = (R * Z).sum(dim=0)
        beta = torch.where(rz.abs() > tiny, rz_new / rz.where(rz.abs() > tiny, torch.ones_like(rz)),
                           torch.zeros_like(rz))
        Pd = Z + beta * Pd
        rz = rz_new
    worst = float((R.norm(dim=0) / bnorm).max())
    if info is not None:
        info.update(cg_iterations=max_iter, cg_residual=worst, converged=False)
    warnings.warn(f"conjugate gradients stopped at max_iter={max_iter} with relative residual {worst:.2e}.",
                  RuntimeWarning, stacklevel=2)
    return X
