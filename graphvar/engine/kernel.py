"""The one propagation step kernel of graphvar.

Every iterative method in the package is an instance of

    U ← P U + S + α (U − Ū),   then   U_Γ ← Y_Γ   (if clamped),

with ``P = D⁻¹W`` given by an :class:`~graphvar.graph.operator.Operator`,
``S`` a source (Poisson: ``D⁻¹b``; Laplace: none), ``α`` the variance step
(``α = a / T`` for a total amplification ``a`` over ``T`` steps; ``a = 0`` is
the plain solver) and ``Ū = dᵀU / vol`` the degree-weighted column mean
(``docs/design.md`` §3, §9). Isolated nodes (degree 0) receive nothing: their
transition row, source and variance step are zero, so they keep their
initial value.

:func:`step` computes one iterate (or one row block of it); :func:`iterate`
runs it for a number of steps per labeled set, dropping the columns of a set
as soon as its own stop time is reached, with optional ``pre_step`` /
``post_step`` hooks (the V-GPN layer injects its feature term with
``pre_step``; the XMC teacher prunes to the top-k labels with ``post_step``).
``U`` is a dense ``(n, m)`` tensor or a :class:`~graphvar.engine.topk.TopKScores`
(sparse top-k scores with a factored dense part), which implements the same
three operations (transition, sum, centring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..graph.operator import Operator

__all__ = ["Clamp", "centre", "step", "iterate"]


@dataclass
class Clamp:
    """Reset clamped entries after every step: ``U ← free ⊙ U + fixed``.

    Attributes
    ----------
    free : Tensor (n, m)
        1 where the entry evolves, 0 where it is clamped.
    fixed : Tensor (n, m)
        The clamped values (0 on free entries).
    """

    free: torch.Tensor
    fixed: torch.Tensor

    @classmethod
    def rows(cls, mask: torch.Tensor, values: torch.Tensor) -> Clamp:
        """Clamp the rows where ``mask`` (BoolTensor ``(n, m)`` or ``(n, 1)``) is set to ``values``."""
        free = (~mask).to(values.dtype).expand_as(values)
        return cls(free=free, fixed=values * (1.0 - free))

    def __call__(self, U, rows: slice | None = None):
        if not isinstance(U, torch.Tensor):
            return U.clamped(self, rows)
        if rows is None:
            return U * self.free + self.fixed
        return U * self.free[rows] + self.fixed[rows]

    def select(self, columns: torch.Tensor) -> Clamp:
        """The clamp restricted to ``columns``."""
        return Clamp(self.free[:, columns], self.fixed[:, columns])


def _isolation_mask(op: Operator) -> torch.Tensor | None:
    """``(n, 1)`` float mask of nodes with edges, or ``None`` when every node has one."""
    connected = op.connected
    return None if bool(connected.all()) else connected.to(op.dtype)[:, None]


def centre(op: Operator, U, mean: torch.Tensor | None = None, rows: slice | None = None):
    """``U − Ū`` (``Ū = dᵀU / vol``), zero on isolated nodes; rows ``rows`` only if given.

    ``mean`` is ``op.mean(U)`` when already computed (it needs all rows).
    """
    if not isinstance(U, torch.Tensor):
        return U.centred(op, mean, rows)
    mean = _mean(op, U) if mean is None else mean
    part = U if rows is None else U[rows]
    out = part - mean
    mask = _isolation_mask(op)
    if mask is not None:
        out = out * (mask if rows is None else mask[rows])
    return out


def _mean(op: Operator, U):
    return op.mean(U) if isinstance(U, torch.Tensor) else U.mean(op)


def _concat(parts: list):
    return torch.cat(parts) if isinstance(parts[0], torch.Tensor) else type(parts[0]).concat(parts)


def _transition(op: Operator, U, rows: slice | None):
    if not isinstance(U, torch.Tensor):
        return U.transitioned(op, rows)
    if rows is None:
        return op.transition(U)
    return op.transition_rows(U, rows)


def _accumulate(new, term, scale=None):
    """``new + scale * term``, in place on a fresh dense iterate when autograd does not need it."""
    if isinstance(new, torch.Tensor) and not (new.requires_grad or getattr(term, "requires_grad", False)):
        if scale is None:
            return new.add_(term)
        if isinstance(scale, torch.Tensor):
            return new.addcmul_(scale, term)
        return new.add_(term, alpha=scale)
    return new + (term if scale is None else scale * term)


def step(
    op: Operator,
    U,
    *,
    source=None,
    alpha: float | torch.Tensor | None = None,
    clamp: Clamp | None = None,
    rows: slice | None = None,
    mean: torch.Tensor | None = None,
):
    """One step ``P U + S + α (U − Ū)``, then the clamp.

    Parameters
    ----------
    op : Operator
    U : Tensor (n, m) or TopKScores
        Current iterate.
    source : Tensor (n, m) or TopKScores, optional
        ``S`` (already multiplied by ``D⁻¹``).
    alpha : float or Tensor (1, m), optional
        Variance step per column; ``None`` or 0 skips it.
    clamp : Clamp, optional
    rows : slice, optional
        Compute only these rows of the next iterate (memory-bounded blocks).
    mean : Tensor (1, m), optional
        ``op.mean(U)``, computed once per step by the caller when ``rows`` is used.

    Returns
    -------
    The next iterate (rows ``rows`` only if given), same type as ``U``.
    """
    new = _transition(op, U, rows)
    if source is not None:
        new = _accumulate(new, source if rows is None else source[rows])
    if alpha is not None and not (isinstance(alpha, float) and alpha == 0.0):
        new = _accumulate(new, centre(op, U, mean, rows), alpha)
    if clamp is not None:
        new = clamp(new, rows)
    return new


def _alpha(amplification: float, stops: Sequence[int], width: int, like: torch.Tensor | None):
    if not amplification:
        return None
    if len(stops) == 1 or like is None:
        return float(amplification) / stops[0]
    a = torch.tensor([amplification / t for t in stops], dtype=like.dtype, device=like.device)
    return a.repeat_interleave(width)[None, :]


def iterate(
    op: Operator,
    U0,
    n_steps: int | Sequence[int] | torch.Tensor,
    *,
    width: int | None = None,
    source=None,
    amplification: float = 0.0,
    clamp: Clamp | None = None,
    pre_step: Callable[[int, object], object] | None = None,
    post_step: Callable[[int, object], object] | None = None,
    block_rows: int | None = None,
    progress: bool = False,
    desc: str = "propagate",
):
    """Run :func:`step` and return each labeled set's iterate at its own stop time.

    Parameters
    ----------
    op : Operator
    U0 : Tensor (n, B * width) or TopKScores
        Initial iterate; columns ``[b * width, (b + 1) * width)`` belong to set ``b``.
    n_steps : int or sequence of B ints
        Steps per labeled set (``T_b``); with several, the columns of a set are
        dropped from the product as soon as it reaches its stop time (a CPU
        sparse product costs about the same per column at any width).
    width : int, optional
        Columns per set (default: all columns, one set).
    source : Tensor or TopKScores, optional
        ``S``, the same shape as ``U0``.
    amplification : float, default=0
        Total variance amplification ``a``: set ``b`` uses ``α_b = a / T_b``.
    clamp : Clamp, optional
    pre_step, post_step : callable ``(t, U) -> U``, optional
        Called before / after step ``t = 1..T`` (V-GPN's feature injection,
        the XMC teacher's top-k pruning).
    block_rows : int, optional
        Compute each step in row blocks of this many rows, ``post_step``
        applied to every block before the next is formed (bounds the memory
        of an unpruned sparse product). One labeled set only.
    progress : bool, default=False
        Show a tqdm bar over the steps.

    Returns
    -------
    The iterate(s) at the stop times, the shape of ``U0``.
    """
    stops = [int(n_steps)] if isinstance(n_steps, int) else [int(t) for t in torch.as_tensor(n_steps).tolist()]
    if not stops or min(stops) < 1:
        raise ValueError(f"n_steps must be >= 1 for every labeled set, got {stops}.")
    dense = isinstance(U0, torch.Tensor)
    if len(stops) > 1 and (not dense or block_rows):
        raise ValueError("several stop times need a dense iterate (one column block per labeled set), no blocks.")
    width = width or (U0.shape[1] if dense else 1)
    U = U0
    alpha = _alpha(amplification, stops, width, U0 if dense else None)
    columns = _Columns(stops, width, U0.device if dense else None)
    out = torch.empty_like(U0) if len(stops) > 1 else None
    steps = range(1, max(stops) + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc, unit="step", leave=False)
    for t in steps:
        if pre_step is not None:
            U = pre_step(t, U)
        if block_rows is None or block_rows >= op.n_nodes:
            U = step(op, U, source=source, alpha=alpha, clamp=clamp)
            U = post_step(t, U) if post_step is not None else U
        else:
            U = _blocked_step(op, U, t, block_rows, post_step, source=source, alpha=alpha, clamp=clamp)
        if out is None or not columns.finishing(t):
            continue
        done, kept = columns.finish(t)
        out[:, done[0]] = U[:, done[1]]
        if kept is None:
            break
        U = U[:, kept]
        source = source[:, kept] if source is not None else None
        clamp = clamp.select(kept) if clamp is not None else None
        alpha = alpha[:, kept] if isinstance(alpha, torch.Tensor) else alpha
    return U if out is None else out


def _blocked_step(op: Operator, U, t: int, block_rows: int, post_step, **kw):
    """One :func:`step` in row blocks (the mean once, ``post_step`` per block)."""
    mean = _mean(op, U) if kw.get("alpha") else None
    parts = []
    for a in range(0, op.n_nodes, block_rows):
        part = step(op, U, rows=slice(a, min(a + block_rows, op.n_nodes)), mean=mean, **kw)
        parts.append(post_step(t, part) if post_step is not None else part)
    return _concat(parts)


class _Columns:
    """Bookkeeping of which labeled sets are still iterating (column blocks of the iterate)."""

    def __init__(self, stops: list[int], width: int, device):
        self.stops, self.width, self.device = stops, width, device
        self.active = list(range(len(stops)))

    def finishing(self, t: int) -> bool:
        return any(self.stops[b] == t for b in self.active)

    def _cols(self, blocks: list[int]) -> torch.Tensor:
        w = self.width
        return torch.cat([torch.arange(i * w, (i + 1) * w) for i in blocks]).to(self.device)

    def finish(self, t: int):
        """``((output columns, current columns) of the sets stopping at t, current columns kept or None)``."""
        done = [b for b in self.active if self.stops[b] == t]
        positions = [self.active.index(b) for b in done]
        remaining = [b for b in self.active if self.stops[b] != t]
        kept = [self.active.index(b) for b in remaining]
        self.active = remaining
        return (self._cols(done), self._cols(positions)), (self._cols(kept) if remaining else None)
