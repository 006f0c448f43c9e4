"""The XMC teacher's top-k iterate, partitioned by rows: one :class:`~graphvar.engine.TopKScores` per block.

:class:`RowTopK` is to :class:`~graphvar.engine.TopKScores` what
:class:`~graphvar.distributed.scores.RowScores` is to a dense tensor: the
kernel's operations run as one task per block, each calling the *same*
``TopKScores`` method on the block's rows. The transition gathers the
boundary rows of the sparse ``V`` and the factor ``A`` from the blocks
that own them (the halo of :mod:`graphvar.distributed._blocks`) and applies
the block's rows of ``P`` through :class:`_BlockOperator`, a rectangular
operator over the halo layout. The degree-weighted means are reduced on the
cluster. Per step each block receives ``Σ_s h_bs`` rows of ``V`` (at most
``topk`` entries each) and of ``A``.

:func:`graphvar.xmc.propagation.propagate_topk` (and so the
:class:`~graphvar.xmc.Teacher`) uses it when given a
:class:`~graphvar.distributed.DistributedGraph`: it calls
:meth:`DistributedGraph.partition` on its initial iterate, source and clamp.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from dask.sizeof import sizeof

from ..engine import Clamp, TopKScores
from ..graph.graph import csr_row_slice, csr_tensor

__all__ = ["RowTopK", "partition_topk"]


class _BlockOperator:
    """Rows of ``P = D⁻¹W`` of one block, as an operator on its halo layout (what ``TopKScores`` calls)."""

    def __init__(self, rb, volume: float, dtype: torch.dtype):
        P = sp.csr_matrix(sp.diags(rb.inv_degrees) @ rb.W)
        self.P = csr_tensor(torch.from_numpy(P.indptr.astype(np.int64)), torch.from_numpy(P.indices.astype(np.int64)),
                            torch.from_numpy(P.data).to(dtype), P.shape[0], P.shape[1])
        self.degrees = torch.from_numpy(rb.degrees).to(dtype)
        self.volume = torch.tensor(volume, dtype=dtype)
        start = int(rb.halo[:rb.index].sum())
        self.own = slice(start, start + rb.stop - rb.start)

    def transition_rows(self, U, rows: slice):
        """``P_b U_halo`` (``rows`` must be the block's own rows in the halo layout)."""
        if rows != self.own:
            raise ValueError("a block operator computes its own rows only.")
        return self.P @ U


def _rows_of(U: TopKScores, rows: np.ndarray) -> TopKScores:
    """The rows ``rows`` (any order) of a block's iterate."""
    r = torch.from_numpy(rows)
    if U.dense:
        V = U.V[r]
    else:
        M = sp.csr_matrix((U.V.values().numpy(), U.V.col_indices().numpy(), U.V.crow_indices().numpy()),
                          shape=tuple(U.V.shape))[rows]
        V = csr_tensor(torch.from_numpy(M.indptr.astype(np.int64)), torch.from_numpy(M.indices.astype(np.int64)),
                       torch.from_numpy(M.data), M.shape[0], M.shape[1])
    return TopKScores(V, U.A[r], U.B, U.r, U.e[r])


def _take(U: TopKScores, rb, b: int) -> TopKScores:
    return _rows_of(U, rb.send[b])


def _transition(rb, volume: float, dtype, U: TopKScores, pieces: list) -> TopKScores:
    parts, it = [], iter(pieces)
    for s in rb.sources:
        parts.append(U if s == rb.index else next(it))
    halo = TopKScores.concat(parts) if len(parts) > 1 else parts[0]
    op = _BlockOperator(rb, volume, dtype)
    return halo.transitioned(op, op.own)


def _method(name: str, U: TopKScores, *args):
    return getattr(U, name)(*args)


def _mean_part(rb, volume: float, dtype, U: TopKScores):
    return U.mean(_BlockOperator(rb, volume, dtype))


def _mean_total(*parts):
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _centred(rb, volume: float, dtype, U: TopKScores, mean) -> TopKScores:
    return U.centred(_BlockOperator(rb, volume, dtype), mean)


def _clamped(U: TopKScores, free: torch.Tensor, fixed: torch.Tensor) -> TopKScores:
    return U.clamped(Clamp(free, fixed), None)


class RowTopK:
    """A :class:`~graphvar.engine.TopKScores` iterate held as one future per row block of ``graph``."""

    def __init__(self, graph, blocks: list):
        self.graph, self.blocks = graph, list(blocks)

    def _map(self, func, *args, other=None):
        submit = self.graph.client.submit
        return RowTopK(self.graph, [submit(func, *args, u, *(() if other is None else (other.blocks[b],)))
                                    for b, u in enumerate(self.blocks)])

    def _per_block(self, func, *args):
        g = self.graph
        return [g.client.submit(func, rb, float(g.volume), g.dtype, u, *args) for rb, u in zip(g.blocks, self.blocks)]

    def transitioned(self, op, rows=None) -> RowTopK:
        if rows is not None or op is not self.graph:
            raise ValueError("a RowTopK iterate is partitioned already; propagate it on its own graph, no block_rows.")
        c, g = op.client, op
        out = []
        for b in range(g.n_blocks):
            pieces = [c.submit(_take, self.blocks[s], g.blocks[s], b) for s in np.flatnonzero(g.halo_rows[b])]
            out.append(c.submit(_transition, g.blocks[b], float(g.volume), g.dtype, self.blocks[b], pieces))
        return RowTopK(g, out)

    def __add__(self, other: RowTopK) -> RowTopK:
        return self._map(_method, "__add__", other=other)

    def __rmul__(self, alpha: float) -> RowTopK:
        submit = self.graph.client.submit
        return RowTopK(self.graph, [submit(_method, "__rmul__", u, float(alpha)) for u in self.blocks])

    def mean(self, op):
        return op.client.submit(_mean_total, *self._per_block(_mean_part))

    def centred(self, op, mean=None, rows=None) -> RowTopK:
        mean = self.mean(op) if mean is None else mean
        return RowTopK(self.graph, self._per_block(_centred, mean))

    def clamped(self, clamp: Clamp, rows=None) -> RowTopK:
        submit = self.graph.client.submit
        return RowTopK(self.graph, [submit(_clamped, u, f, x) for u, f, x in zip(self.blocks, clamp.free, clamp.fixed)])

    def pruned(self, topk: int) -> RowTopK:
        submit = self.graph.client.submit
        return RowTopK(self.graph, [submit(_method, "pruned", u, int(topk)) for u in self.blocks])

    def to_scipy(self) -> sp.csr_matrix:
        """The full scores on the stored entries, gathered as one float32 CSR matrix."""
        submit = self.graph.client.submit
        return sp.vstack(self.graph.client.gather([submit(_method, "to_scipy", u) for u in self.blocks]), format="csr")


def partition_topk(graph, value):
    """A ``TopKScores`` (or a ``Clamp`` of one) cut into the row blocks of ``graph`` and sent to the workers."""
    if value is None:
        return None
    c, bounds = graph.client, graph.bounds
    slices = [slice(int(bounds[b]), int(bounds[b + 1])) for b in range(graph.n_blocks)]
    if isinstance(value, Clamp):
        fixed = value.fixed
        return Clamp(free=[c.submit(_identity, value.free[s]) for s in slices],
                     fixed=[c.submit(_identity, fixed[s] if fixed.layout == torch.strided else csr_row_slice(fixed, s))
                            for s in slices])
    return RowTopK(graph, [c.submit(_identity, _detached(value[s])) for s in slices])


def _detached(U: TopKScores) -> TopKScores:
    """A block that owns its storage (a CSR row slice shares its parent's)."""
    if U.dense:
        return TopKScores(U.V.clone(), U.A.clone(), U.B, U.r, U.e.clone())
    V = U.V
    V = csr_tensor(V.crow_indices().clone().long(), V.col_indices().clone().long(), V.values().clone(), *V.shape)
    return TopKScores(V, U.A.clone(), U.B, U.r, U.e.clone())


def _identity(x):
    return x


def _tensor_bytes(T) -> int:
    if T.layout == torch.sparse_csr:
        return sum(t.numel() * t.element_size() for t in (T.values(), T.col_indices(), T.crow_indices()))
    return T.numel() * T.element_size()


def _topk_bytes(U: TopKScores) -> int:
    """Bytes of a block's iterate, for Dask's memory accounting (its default sees a few bytes)."""
    V = U.V
    if isinstance(V, torch.Tensor):
        nv = _tensor_bytes(V)
    else:
        nv = sum(sum(t.numel() * t.element_size() for t in piece) for piece in V.pieces)
    return nv + sum(_tensor_bytes(t) for t in (U.A, U.e)) + 512


sizeof.register(TopKScores)(_topk_bytes)
