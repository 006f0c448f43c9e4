"""Neighbour slots: reductions over each node's incident edges without a loop over nodes.

:meth:`graphvar.graph.Graph.neighbour_edges` lists the edges in *slot order*
(every node's first neighbour, then every node's second, ...);
:class:`Slots` folds the leading slots as dense blocks and the rest by one
``torch.segment_reduce`` (measured in docs/methods.md).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["Slots", "gather_rows"]


def gather_rows(U: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``U[index]`` along the first dimension (``index`` int64 on ``U``'s device).

    On the CPU, without autograd, the rows are copied by numpy's ``take``
    (3x faster than ``torch.index_select`` for narrow rows at a million indices).
    """
    if U.device.type == "cpu" and not U.requires_grad and U.dtype != torch.bfloat16:
        return torch.from_numpy(np.take(U.detach().contiguous().numpy(), index.numpy(), axis=0))
    return torch.index_select(U, 0, index)


_FOLD = {"sum": (torch.add, 0.0), "min": (torch.minimum, float("inf")), "max": (torch.maximum, float("-inf"))}


class Slots:
    """Bookkeeping of the slot order of :meth:`Graph.neighbour_edges` (computed once per graph).

    ``order`` lists the nodes by decreasing degree, so the nodes holding a
    ``p``-th neighbour are ``order[:counts[p]]`` and slot ``p``'s entries are
    ``E[offsets[p]:offsets[p] + counts[p]]``. The leading slots held by at
    least ``max(MIN_NODES, n / 32)`` nodes are folded one dense block at a
    time; the remaining entries (those of the few high-degree nodes) follow
    node by node in CSR order and go through one ``torch.segment_reduce``
    (a slot of a handful of nodes costs more in call overhead than it saves).
    When more than :attr:`MAX_TAIL` of the entries would be left over (a
    graph of many low-degree nodes and hubs, such as a citation graph), slot
    order is the CSR order and a reduction is one ``segment_reduce``.
    """

    MIN_NODES = 512
    MAX_TAIL = 0.15
    REDUCTIONS = tuple(_FOLD)

    def __init__(self, crow: torch.Tensor, n: int):
        crow_np = crow.cpu().numpy().astype(np.int64)
        deg = np.diff(crow_np)
        order = np.argsort(-deg, kind="stable")
        ds = deg[order]
        folded = int(ds[min(max(self.MIN_NODES, n // 32), n) - 1]) if n else 0
        self.csr = crow if np.maximum(deg - folded, 0).sum() > self.MAX_TAIL * max(crow_np[-1], 1) else None
        if self.csr is not None:
            self.entries = torch.arange(int(crow_np[-1]), device=crow.device)
            return
        self.counts = [int(np.count_nonzero(ds > p)) for p in range(folded)]
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64).tolist()
        starts = crow_np[order]
        parts = [starts[:c] + p for p, c in enumerate(self.counts)]
        big = int(np.count_nonzero(ds > folded))  # nodes with entries beyond the folded slots
        extra = ds[:big] - folded
        if big:
            first = np.repeat(starts[:big] + folded - np.cumsum(np.r_[0, extra[:-1]]), extra)
            parts.append(first + np.arange(int(extra.sum())))
        dev = crow.device
        self.entries = torch.from_numpy(np.concatenate(parts) if parts else np.zeros(0, np.int64)).to(dev)
        self.tail = (self.offsets[-1], big, torch.from_numpy(extra).to(dev)) if big else None
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        self.inverse = torch.from_numpy(inverse).to(dev)
        self.n = n

    def reduce(self, E: torch.Tensor, reduce: str) -> torch.Tensor:
        if self.csr is not None:
            return torch.segment_reduce(E, reduce, offsets=self.csr, axis=0)
        op, fill = _FOLD[reduce]
        out = torch.full((self.n, *E.shape[1:]), fill, dtype=E.dtype, device=E.device)
        for p, c in enumerate(self.counts):
            o = self.offsets[p]
            if E.requires_grad:
                out = torch.cat([op(out[:c], E[o:o + c]), out[c:]])
            else:
                op(out[:c], E[o:o + c], out=out[:c])
        if self.tail is not None:
            start, big, lengths = self.tail
            rest = torch.segment_reduce(E[start:], reduce, lengths=lengths, axis=0)
            out = torch.cat([op(out[:big], rest), out[big:]])
        return gather_rows(out, self.inverse)
