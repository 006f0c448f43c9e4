"""A row-partitioned iterate: the engine's ``U`` held as one Dask future per row block.

:class:`RowScores` implements the operations the step kernel
(:mod:`graphvar.engine.kernel`) and the stopping rule
(:mod:`graphvar.engine.stopping`) apply to a non-tensor iterate — transition,
sum, scaling, degree-weighted mean, centring, clamping, the walk
``W D⁻¹ v`` and the column-wise maximum error — each as one task per block,
so :func:`graphvar.engine.iterate` runs unchanged on a cluster. Nothing is
gathered until :meth:`RowScores.to_numpy`; a scalar factor is kept lazily
(``α · term`` costs no task) and applied by the next operation, and a
product is submitted when first used, so ``P U + S`` is one task per block. The
degree-weighted mean and the stopping rule's maximum are reduced on the
cluster and stay futures, so a plain iteration never waits on the driver.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _blocks

__all__ = ["RowScores"]


class RowScores:
    """``factor · U`` with ``U``'s row blocks as futures on the graph's workers.

    Parameters
    ----------
    graph : DistributedGraph
    blocks : list of Future
        ``(n_b, width)`` numpy arrays, one per row block of ``graph``.
    width : int
        Columns ``m``.
    factor : float, default=1.0
    """

    def __init__(self, graph, blocks: list | None, width: int, factor: float = 1.0, pending=None):
        self.graph, self.width, self.factor = graph, int(width), float(factor)
        self._blocks = None if blocks is None else list(blocks)
        self._pending = pending  # (U, pre, post) of a product not yet submitted

    @property
    def blocks(self) -> list:
        """Futures of the row blocks (a pending product is submitted now)."""
        if self._blocks is None:
            self._blocks = self.graph.product_blocks(*self._pending)
            self._pending = None
        return self._blocks

    @property
    def shape(self) -> tuple[int, int]:
        return (self.graph.n_nodes, self.width)

    def _map(self, func, *args) -> list:
        submit = self.graph.client.submit
        return [submit(func, *[a[b] if isinstance(a, _PerBlock) else a for a in args])
                for b in range(len(self.blocks))]

    def _like(self, blocks: list, factor: float = 1.0) -> RowScores:
        return RowScores(self.graph, blocks, self.width, factor)

    def _check(self, op, rows) -> None:
        if rows is not None:
            raise ValueError("a RowScores iterate is already partitioned by rows; run iterate without block_rows.")
        if op is not self.graph:
            raise ValueError("the iterate belongs to another graph than the operator it is propagated on.")

    # ---------------------------------------------------------- kernel ops
    def transitioned(self, op, rows=None) -> RowScores:
        """``P U = D⁻¹ W U``."""
        self._check(op, rows)
        return op.product(self, pre=False, post=True)

    def walked(self, op) -> RowScores:
        """``W D⁻¹ v``: one step of the stopping rule's random walk."""
        self._check(op, None)
        return op.product(self, pre=True, post=False)

    def __add__(self, other: RowScores) -> RowScores:
        if self._blocks is None and self.factor == 1.0:  # a fresh product plus a term: one task per block
            return self._like(self.graph.product_blocks(*self._pending, plus=other))
        return self._like(self._map(_blocks.combine, _PerBlock(self.blocks), self.factor,
                                    _PerBlock(other.blocks), other.factor))

    def __rmul__(self, alpha: float) -> RowScores:
        if isinstance(alpha, torch.Tensor):
            if alpha.numel() != 1:
                raise ValueError("a RowScores iterate takes one variance step for all columns (one labeled set).")
            alpha = float(alpha)
        return self._like(self.blocks, self.factor * float(alpha))

    def mean(self, op):
        """The degree-weighted column mean ``dᵀU / vol`` as a future of an ``(m,)`` array."""
        self._check(op, None)
        parts = self._map(_blocks.weighted_sum, _PerBlock(op.blocks), _PerBlock(self.blocks), self.factor)
        return op.client.submit(_blocks.total, float(op.volume), _np_dtype(op.dtype), *parts)

    def centred(self, op, mean=None, rows=None) -> RowScores:
        """``U − Ū``, zero on isolated nodes."""
        self._check(op, rows)
        mean = self.mean(op) if mean is None else mean
        return self._like(self._map(_blocks.centred, _PerBlock(op.blocks), _PerBlock(self.blocks), self.factor,
                                    mean))

    def clamped(self, clamp, rows=None) -> RowScores:
        """``free ⊙ U + fixed`` (``clamp.free`` and ``clamp.fixed`` are RowScores on the same graph)."""
        self._check(self.graph, rows)
        free, fixed = clamp.free, clamp.fixed
        return self._like(self._map(_blocks.clamped, _PerBlock(self.blocks), self.factor, _PerBlock(free.blocks),
                                    free.factor, _PerBlock(fixed.blocks), fixed.factor))

    def max_error(self, other: RowScores) -> _ColumnMax:
        """Column maxima of ``|U − other|`` (a future; :meth:`stack` gathers several at once)."""
        parts = self._map(_blocks.max_abs_diff, _PerBlock(self.blocks), self.factor, _PerBlock(other.blocks),
                          other.factor)
        return _ColumnMax(self.graph.client.submit(_blocks.column_max, *parts))

    # ---------------------------------------------------------- gathering
    def to_numpy(self) -> np.ndarray:
        """Gather ``U`` as an ``(n, m)`` numpy array on the driver."""
        parts = self.graph.client.gather(self.blocks)
        out = np.concatenate(parts) if parts else np.zeros((0, self.width))
        return out * self.factor if self.factor != 1.0 else out

    def to_torch(self) -> torch.Tensor:
        return torch.from_numpy(self.to_numpy())


class _PerBlock(list):
    """Marks an argument of :meth:`RowScores._map` that differs per block."""


class _ColumnMax:
    """A future of column maxima; the stopping rule stacks several and gathers them at once."""

    def __init__(self, future):
        self.future = future

    @staticmethod
    def stack(parts: list) -> torch.Tensor:
        values = parts[0].future.client.gather([p.future for p in parts])
        return torch.from_numpy(np.stack(values))


def _np_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(str(dtype).replace("torch.", ""))
