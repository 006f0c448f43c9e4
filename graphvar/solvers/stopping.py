"""Calder's stopping rule: iterate until a random walk from the labeled set mixes."""

from __future__ import annotations

import torch

from ..graph import Graph

__all__ = ["random_walk_stop_times"]


def random_walk_stop_times(
    graph: Graph,
    labeled_mask: torch.Tensor,
    min_iter: int = 50,
    max_iter: int = 1000,
    tol: float | None = None,
    check_every: int = 16,
) -> torch.Tensor:
    """Number of Poisson iterations per labeled set (Calder et al. 2020, GraphLearning).

    A walk starts uniformly on the labeled set, ``v_0 = 1_Γ / |Γ|``, and moves
    by ``v_{t+1} = W D⁻¹ v_t``. The stop time is the first ``T >= min_iter``
    with ``max_i |v_T(i) - d_i / vol| <= tol`` (``tol = 1/n`` by default),
    capped at ``max_iter``. The error of every step is kept on the device and
    read back every ``check_every`` steps only.

    Parameters
    ----------
    graph : Graph
    labeled_mask : BoolTensor of shape (n,) or (B, n)
    min_iter, max_iter : int
    tol : float, optional

    Returns
    -------
    LongTensor of shape (B,) on the CPU.
    """
    if min_iter < 0 or max_iter < max(min_iter, 1):
        raise ValueError(f"need 0 <= min_iter <= max_iter and max_iter >= 1, got {min_iter}, {max_iter}.")
    mask = labeled_mask if labeled_mask.ndim == 2 else labeled_mask[None, :]
    n = graph.n_nodes
    tol = 1.0 / n if tol is None else float(tol)
    W, d = graph.weights, graph.degrees
    dinv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    vinf = (d / d.sum())[:, None]
    v = mask.T.to(device=W.device, dtype=W.dtype)
    v = v / v.sum(dim=0, keepdim=True)
    B = v.shape[1]
    stop = torch.full((B,), max_iter, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    errs = []
    t = 0
    while t < max_iter:
        v = W @ (v * dinv[:, None])
        t += 1
        errs.append((v - vinf).abs().amax(dim=0))
        if len(errs) == check_every or t == max_iter:
            block = torch.stack(errs).cpu()  # (steps, B): one synchronisation
            steps = torch.arange(t - len(errs) + 1, t + 1)
            ok = (block <= tol) & (steps[:, None] >= min_iter) & ~done[None, :]
            hit = ok.any(dim=0)
            first = ok.float().argmax(dim=0)
            stop[hit] = steps[first[hit]]
            done |= hit
            errs = []
            if bool(done.all()):
                break
    if min_iter == 0:
        stop = stop.clamp_min(1)
    return stop
