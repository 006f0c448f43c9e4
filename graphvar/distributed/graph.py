"""The row-partitioned graph: an :class:`~graphvar.graph.operator.Operator` whose rows live on Dask workers.

Block ``b`` (rows ``[start_b, stop_b)``) of the symmetric weight matrix
lives on one worker as a CSR matrix over its *halo* — its own rows plus the
rows of other blocks it has an edge to (:mod:`graphvar.distributed._blocks`).
A product ``W U`` with a row-partitioned ``U``
(:class:`~graphvar.distributed.scores.RowScores`) runs one task per
(sending block, receiving block) pair that extracts the boundary rows, and
one task per block that multiplies its CSR rows by the assembled halo.

Communication per step: block ``b`` receives ``Σ_{s≠b} h_bs`` rows of ``U``
(``h_bs`` the rows of ``s`` adjacent to ``b``), so one product moves
``Σ_b Σ_{s≠b} h_bs · m · itemsize`` bytes between workers
(:attr:`DistributedGraph.halo_rows` × ``m`` × itemsize; at most all of ``U``
per receiving block when every row is a boundary row), plus ``O(B m)`` bytes
for a degree-weighted mean. The driver holds only ``O(n)`` vectors (degrees,
component ids); ``U`` and ``W`` stay on the workers.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp
import torch

from ..graph.build import _check_dtype
from ..graph.operator import Operator
from . import _blocks
from ._cluster import get_client, worker_addresses

__all__ = ["DistributedGraph", "row_bounds"]


def row_bounds(n: int, n_blocks: int) -> np.ndarray:
    """``n_blocks + 1`` boundaries of near-equal contiguous row blocks."""
    if n_blocks < 1 or n_blocks > max(n, 1):
        raise ValueError(f"n_blocks must be between 1 and n = {n}, got {n_blocks}.")
    return np.linspace(0, n, n_blocks + 1).round().astype(np.int64)


class DistributedGraph(Operator):
    """A symmetric ``(n, n)`` weight matrix partitioned by rows over a Dask cluster.

    Build one with :func:`graphvar.distributed.knn_graph`, :meth:`from_scipy`
    or :meth:`from_row_blocks`; the constructor takes blocks already on the
    cluster. Products with a dense torch tensor scatter it and gather the
    result (for small ``m``, e.g. the degrees); the solvers use
    :class:`~graphvar.distributed.scores.RowScores`, which never leaves the
    workers.

    Parameters
    ----------
    client : distributed.Client
    blocks : list of Future
        One :class:`~graphvar.distributed._blocks.RowBlock` per row block.
    bounds : ndarray (B + 1,)
        Row boundaries of the blocks.
    dtype : torch.dtype
        Dtype of the weights.
    info : dict, optional

    Attributes
    ----------
    halo_rows : ndarray (B, B)
        ``halo_rows[b, s]``: rows of block ``s`` that block ``b`` receives per product.
    nnz : int
        Stored entries of ``W``.
    """

    def __init__(self, client, blocks: list, bounds: np.ndarray, dtype: torch.dtype, info: dict | None = None):
        self.client = client
        self.blocks = list(blocks)
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self._dtype = dtype
        self.info = dict(info or {})
        summaries = client.gather([client.submit(_blocks.block_summary, f, pure=False) for f in self.blocks])
        halo = np.stack([s["halo"] for s in summaries])
        send = np.stack([s["send"] for s in summaries])
        np.fill_diagonal(halo, 0)
        if not np.array_equal(halo, send.T):
            raise ValueError("W is not structurally symmetric: the rows one block needs from another differ "
                             "from the rows that block would send; symmetrise W (e.g. (W + W.T) / 2) first.")
        self.halo_rows = halo
        self.nnz = int(sum(s["nnz"] for s in summaries))
        self.block_nbytes = np.array([s["nbytes"] for s in summaries])

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_row_blocks(cls, func, n: int, *, n_blocks: int | None = None, client=None,
                        dtype: torch.dtype = torch.float32, info: dict | None = None) -> DistributedGraph:
        """Build each row block on a worker with ``func(start, stop)``.

        Parameters
        ----------
        func : callable ``(start, stop) -> scipy sparse (stop - start, n)``
            The rows ``[start, stop)`` of the symmetric ``W`` with global column
            ids (the diagonal is dropped). It runs on the workers (and again if a
            worker is lost), so nothing of ``W`` passes through the driver.
        n : int
            Number of nodes.
        n_blocks : int, optional
            Row blocks (default: one per worker).
        client : distributed.Client, optional
        dtype : {torch.float32, torch.float64}, default=torch.float32
        info : dict, optional
            Stored as :attr:`info`.
        """
        dtype = _check_dtype(dtype)
        client = get_client(client)
        workers = worker_addresses(client)
        bounds = row_bounds(n, n_blocks or len(workers))
        np_dtype = np.dtype(str(dtype).replace("torch.", ""))
        blocks = [client.submit(_build_block, func, bounds, b, np_dtype, workers=[workers[b % len(workers)]],
                                allow_other_workers=True)
                  for b in range(len(bounds) - 1)]
        return cls(client, blocks, bounds, dtype, info)

    @classmethod
    def from_scipy(cls, A, *, n_blocks: int | None = None, client=None, dtype: torch.dtype = torch.float32,
                   info: dict | None = None) -> DistributedGraph:
        """Partition a symmetric scipy sparse matrix that fits on the driver (tests, moderate graphs).

        Parameters are those of :meth:`from_row_blocks`, with ``A`` the
        ``(n, n)`` matrix (checked for symmetry, sign and finiteness).
        """
        from ..graph.validation import check_adjacency

        dtype = _check_dtype(dtype)
        A = check_adjacency(A, validate=True, symmetric=True).tocsr()
        client = get_client(client)
        workers = worker_addresses(client)
        bounds = row_bounds(A.shape[0], n_blocks or len(workers))
        np_dtype = np.dtype(str(dtype).replace("torch.", ""))
        blocks = [client.submit(_blocks.make_row_block, A[bounds[b]:bounds[b + 1]].astype(np_dtype), bounds, b,
                                workers=[workers[b % len(workers)]], allow_other_workers=True)
                  for b in range(len(bounds) - 1)]
        return cls(client, blocks, bounds, dtype, info or {"source": "scipy"})

    # ---------------------------------------------------------- operator layer
    @property
    def n_nodes(self) -> int:
        return int(self.bounds[-1])

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @cached_property
    def degrees(self) -> torch.Tensor:
        """Row sums ``d = W 1``, gathered once (``n`` numbers on the driver)."""
        parts = self.client.gather([self.client.submit(_degrees, f) for f in self.blocks])
        return torch.from_numpy(np.concatenate(parts))

    def matmul(self, U):
        """``W U``: a :class:`RowScores` stays on the cluster; a dense tensor is scattered and gathered."""
        from .scores import RowScores

        if isinstance(U, RowScores):
            return self.product(U, pre=False, post=False)
        return self.product(self.distribute(U), pre=False, post=False).to_torch()

    def transition(self, U):
        """``P U = D⁻¹ W U`` (see :meth:`matmul`)."""
        from .scores import RowScores

        if isinstance(U, RowScores):
            return self.product(U, pre=False, post=True)
        return self.product(self.distribute(U), pre=False, post=True).to_torch()

    def product(self, U, *, pre: bool, post: bool):
        """``[D⁻¹] W [D⁻¹] U`` on the cluster (submitted when first used, so a following sum joins its tasks)."""
        from .scores import RowScores

        return RowScores(self, None, U.width, pending=(U, pre, post))

    def product_blocks(self, U, pre: bool, post: bool, plus=None) -> list:
        """Futures of ``[D⁻¹] W [D⁻¹] U (+ plus)``: boundary rows exchanged, one task per block."""
        c = self.client
        out = []
        for b in range(self.n_blocks):
            pieces = [c.submit(_blocks.take, U.blocks[s], U.factor, self.blocks[s], b, pre)
                      for s in np.flatnonzero(self.halo_rows[b])]
            extra = () if plus is None else (plus.blocks[b], plus.factor)
            out.append(c.submit(_blocks.product, self.blocks[b], U.blocks[b], U.factor, pieces, pre, post, *extra))
        return out

    def bytes_per_product(self, width: int, itemsize: int | None = None) -> int:
        """Bytes of ``U`` moved between blocks by one product with ``width`` columns."""
        itemsize = itemsize or torch.tensor([], dtype=self.dtype).element_size()
        return int(self.halo_rows.sum()) * int(width) * int(itemsize)

    def distribute(self, T):
        """A dense ``(n, m)`` tensor or array as :class:`RowScores`, each block sent to its worker.

        A block that is mostly a constant (the zeros of a source, the ones of a
        clamp's free mask) travels as the sparse difference from it.
        """
        from .scores import RowScores

        arr = T.detach().cpu().numpy() if isinstance(T, torch.Tensor) else np.asarray(T)
        arr = arr.reshape(arr.shape[0], -1)
        if arr.shape[0] != self.n_nodes:
            raise ValueError(f"expected {self.n_nodes} rows, got {arr.shape[0]}.")
        who = self.client.who_has(self.blocks)
        futures = []
        for b, f in enumerate(self.blocks):
            part = _blocks.compact(arr[self.bounds[b]:self.bounds[b + 1]])
            futures.append(self.client.submit(_blocks.expand, part, workers=list(who.get(f.key, ())) or None,
                                              allow_other_workers=True, pure=False))  # equal blocks: own keys
        return RowScores(self, futures, arr.shape[1])

    def partition(self, value):
        """A :class:`~graphvar.engine.TopKScores` iterate (or its ``Clamp``) split into this graph's row blocks.

        The hook :func:`graphvar.xmc.propagation.propagate_topk` calls, so the
        XMC teacher propagates on the cluster (:mod:`graphvar.distributed.topk`).
        """
        from .topk import partition_topk

        return partition_topk(self, value)

    @property
    def n_edges(self) -> int:
        """Stored nonzero weights (each undirected edge counts twice), as :attr:`graphvar.Graph.n_edges`."""
        return self.nnz

    @cached_property
    def components(self) -> tuple[int, np.ndarray]:
        """``(n_components, component id per node)``: local components per block, then the boundary edges."""
        from scipy.sparse.csgraph import connected_components

        from .scores import RowScores

        c = self.client
        labels = RowScores(self, [c.submit(_blocks.local_components, f) for f in self.blocks], 1)
        pairs = []
        for b in range(self.n_blocks):
            pieces = [c.submit(_blocks.take, labels.blocks[s], 1.0, self.blocks[s], b, False)
                      for s in np.flatnonzero(self.halo_rows[b])]
            pairs.append(c.submit(_blocks.boundary_pairs, self.blocks[b], labels.blocks[b], pieces))
        local = np.concatenate(c.gather(labels.blocks))[:, 0]
        edges = np.concatenate(c.gather(pairs))
        ids, inverse = np.unique(local, return_inverse=True)
        e = np.searchsorted(ids, edges)
        A = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(ids.size, ids.size))
        n_comp, comp = connected_components(A, directed=False)
        return int(n_comp), comp[inverse]

    # -------------------------------------------------------------- conversion
    def to_scipy(self) -> sp.csr_matrix:
        """Gather ``W`` as one scipy CSR matrix (for checks and graphs that fit on the driver)."""
        parts = self.client.gather([self.client.submit(_blocks.global_csr, f, self.bounds) for f in self.blocks])
        return sp.vstack(parts, format="csr")

    def __repr__(self) -> str:
        return (f"DistributedGraph(n_nodes={self.n_nodes}, nnz={self.nnz}, n_blocks={self.n_blocks}, "
                f"dtype={self.dtype})")


def _build_block(func, bounds: np.ndarray, b: int, dtype) -> _blocks.RowBlock:
    start, stop = int(bounds[b]), int(bounds[b + 1])
    G = sp.csr_matrix(func(start, stop), dtype=dtype)
    if G.shape != (stop - start, int(bounds[-1])):
        raise ValueError(f"func({start}, {stop}) returned shape {G.shape}; expected ({stop - start}, {bounds[-1]}).")
    return _blocks.make_row_block(_blocks.drop_diagonal(G, start), bounds, b)


def _degrees(rb: _blocks.RowBlock) -> np.ndarray:
    return rb.degrees
