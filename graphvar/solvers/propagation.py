"""The one propagation loop shared by Laplace, Poisson and their variance-enlarged forms.

Every iterative solver in graphvar is an instance of

    U ← D⁻¹ W U + S + α (U − Ū),   then  U_Γ ← Y_Γ  (if clamped),

run for a per-labeled-set number of steps ``T_b`` (Calder's stopping rule),
with ``S`` a source (Poisson: ``D⁻¹ b``; Laplace: none), ``α_b = a / T_b`` the
variance step with total amplification ``a`` (``a = 0``: plain solver) and
``Ū`` the degree-weighted mean of each column. ``B`` labeled sets with ``c``
classes are solved together as one ``(n, B·c)`` right-hand side, so each pass
over the CSR matrix ``W`` is amortised over all of them.
"""

from __future__ import annotations

import torch

from ..graph import Graph

__all__ = ["propagate"]


def propagate(
    graph: Graph,
    U0: torch.Tensor,
    stop_times: torch.Tensor,
    *,
    source: torch.Tensor | None = None,
    clamp_mask: torch.Tensor | None = None,
    clamp_values: torch.Tensor | None = None,
    amplification: float = 0.0,
    progress: bool = False,
) -> torch.Tensor:
    """Run the shared iteration and return each labeled set's iterate at its stop time.

    Parameters
    ----------
    graph : Graph
    U0 : Tensor (n, B, c)
        Initial iterate.
    stop_times : LongTensor (B,)
        Steps to run for each labeled set (from :func:`random_walk_stop_times`).
    source : Tensor (n, B, c), optional
        Added at every step (already multiplied by ``D⁻¹``).
    clamp_mask : BoolTensor (n, B), optional
        Nodes whose values are reset to ``clamp_values`` after every step.
    clamp_values : Tensor (n, B, c), optional
    amplification : float
        Total variance amplification ``a``; the step is ``α_b = a / T_b``.
    progress : bool
        Show a tqdm bar over the iterations.

    Returns
    -------
    Tensor (n, B, c)
    """
    n, B, c = U0.shape
    W = graph.weights
    d = graph.degrees
    dinv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))[:, None]
    vol = d.sum()
    stops = stop_times.cpu().tolist()
    T_max = max(stops)
    U = U0.reshape(n, B * c).clone()
    S = source.reshape(n, B * c) if source is not None else None
    if clamp_mask is not None:
        keep = (~clamp_mask)[:, :, None].expand(n, B, c).reshape(n, B * c).to(U.dtype)
        fixed = clamp_values.reshape(n, B * c) * (1.0 - keep)
    alpha = None
    if amplification:
        a = torch.tensor([amplification / t for t in stops], dtype=U.dtype, device=U.device)
        alpha = a.repeat_interleave(c)[None, :]  # (1, B*c)
    out = torch.empty_like(U)
    finish: dict[int, list[int]] = {}
    for b, t in enumerate(stops):
        finish.setdefault(t, []).append(b)
    active = list(range(B))  # labeled sets still iterating, in column order

    def columns(members, positions: bool):
        idx = [active.index(m) if positions else m for m in members]
        return torch.cat([torch.arange(i * c, (i + 1) * c) for i in idx]).to(U.device)

    steps = range(1, T_max + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="propagate", unit="step", leave=False)
    for t in steps:
        U_next = dinv * (W @ U)
        if S is not None:
            U_next += S
        if alpha is not None:
            mean = (d @ U)[None, :] / vol
            U_next += alpha * (U - mean)
        if clamp_mask is not None:
            U_next = U_next * keep + fixed
        U = U_next
        done = finish.get(t)
        if not done:
            continue
        out[:, columns(done, positions=False)] = U[:, columns(done, positions=True)]
        if t == T_max:
            break
        # Drop finished labeled sets: a sparse product costs about the same per column
        # whatever the width on CPU, so iterating them to the slowest stop time is waste.
        remaining = [m for m in active if m not in done]
        kept = columns(remaining, positions=True)
        U = U[:, kept]
        if S is not None:
            S = S[:, kept]
        if clamp_mask is not None:
            keep, fixed = keep[:, kept], fixed[:, kept]
        if alpha is not None:
            alpha = alpha[:, kept]
        active = remaining
    return out.reshape(n, B, c)
