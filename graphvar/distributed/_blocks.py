"""Worker-side pieces of the row-partitioned operator (numpy / scipy only).

Block ``b`` of an ``(n, n)`` symmetric ``W`` holds rows ``[start_b, stop_b)``
as a CSR matrix whose columns index the block's *halo layout*: for every
source block ``s`` in ascending order, the rows of ``s`` it references (all
its own rows for ``s = b``). Because ``W`` is symmetric, the rows block ``s``
must send to ``b`` are the rows of ``s`` with an edge into ``b`` — each side
finds the same sorted list from its own entries, with no plan to exchange.

Every function here runs inside a Dask task on one block; the driver side is
:mod:`graphvar.distributed.graph` and :mod:`graphvar.distributed.scores`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["RowBlock", "make_row_block"]


@dataclass
class RowBlock:
    """Rows ``[start, stop)`` of ``W`` with their halo layout.

    Attributes
    ----------
    start, stop : int
    W : scipy.sparse.csr_matrix (n_b, H)
        Columns in the halo layout.
    sources : ndarray of int
        Blocks the halo takes rows from, ascending (includes the block itself).
    halo : ndarray of int, shape (B,)
        Rows taken from each block (``n_b`` for the block itself).
    send : dict int -> ndarray
        Local rows this block sends to each other block.
    receive : dict int -> ndarray
        Local rows of each other block in the halo (sorted; equal to that block's ``send[b]``).
    degrees : ndarray (n_b,)
        Row sums ``d``; ``inv_degrees`` is ``1/d`` with 0 on isolated rows.
    """

    start: int
    stop: int
    index: int
    W: sp.csr_matrix
    sources: np.ndarray
    halo: np.ndarray
    send: dict
    receive: dict
    degrees: np.ndarray
    inv_degrees: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes held: the CSR arrays, the send and receive lists, the degrees."""
        lists = sum(v.nbytes for v in self.send.values()) + sum(v.nbytes for v in self.receive.values())
        return int(self.W.data.nbytes + self.W.indices.nbytes + self.W.indptr.nbytes + lists
                   + 2 * self.degrees.nbytes)

    def __sizeof__(self) -> int:  # what Dask's memory accounting (spilling, memory_limit) sees
        return self.nbytes + 512


def make_row_block(G: sp.csr_matrix, bounds: np.ndarray, b: int) -> RowBlock:
    """The :class:`RowBlock` of rows ``bounds[b]:bounds[b+1]`` from their global-column CSR ``G``."""
    G = sp.csr_matrix(G)
    G.sort_indices()
    start, stop = int(bounds[b]), int(bounds[b + 1])
    n_blocks = len(bounds) - 1
    cols = G.indices.astype(np.int64)
    rows = np.repeat(np.arange(G.shape[0]), np.diff(G.indptr))
    owner = np.searchsorted(bounds, cols, side="right") - 1
    newcol = np.empty_like(cols)
    halo = np.zeros(n_blocks, dtype=np.int64)
    send, receive, offset = {}, {}, 0
    for s in range(n_blocks):
        sel = owner == s
        if s == b:
            newcol[sel] = offset + cols[sel] - start
            halo[s] = stop - start
        elif sel.any():
            uniq, inverse = np.unique(cols[sel], return_inverse=True)
            newcol[sel] = offset + inverse
            halo[s] = uniq.size
            receive[s] = uniq - int(bounds[s])
            send[s] = np.unique(rows[sel])  # = what s needs from us, by symmetry
        offset += int(halo[s])
    index_dtype = np.int32 if max(offset, G.nnz) < 2**31 - 1 else np.int64
    W = sp.csr_matrix((G.data, newcol.astype(index_dtype), G.indptr.astype(index_dtype)), shape=(G.shape[0], offset))
    d = np.asarray(G.sum(axis=1)).ravel().astype(G.dtype)
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0).astype(G.dtype)
    return RowBlock(start=start, stop=stop, index=b, W=W, sources=np.flatnonzero(halo), halo=halo,
                    send=send, receive=receive, degrees=d, inv_degrees=inv)


def drop_diagonal(G: sp.csr_matrix, start: int) -> sp.csr_matrix:
    """Rows ``start..`` of ``W`` without their diagonal entries ``(i, start + i)`` and explicit zeros."""
    G = sp.csr_matrix(G)
    rows = np.repeat(np.arange(G.shape[0]), np.diff(G.indptr))
    G.data[G.indices == rows + start] = 0
    G.eliminate_zeros()
    return G


def block_summary(rb: RowBlock) -> dict:
    """Sizes the driver keeps: halo and send counts per block, stored entries, bytes."""
    sends = np.zeros_like(rb.halo)
    for s, rows in rb.send.items():
        sends[s] = rows.size
    return {"halo": rb.halo, "send": sends, "nnz": int(rb.W.nnz), "nbytes": rb.nbytes}


def global_csr(rb: RowBlock, bounds: np.ndarray) -> sp.csr_matrix:
    """The block's rows with global column ids (for checks and small graphs)."""
    ids = [np.arange(rb.start, rb.stop) if s == rb.index else int(bounds[s]) + rb.receive[s] for s in rb.sources]
    lookup = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    W = rb.W
    return sp.csr_matrix((W.data, lookup[W.indices], W.indptr), shape=(W.shape[0], int(bounds[-1])))


# ------------------------------------------------------------------ initial vectors
def compact(part: np.ndarray):
    """``(background, sparse difference)`` of a block when that is smaller, else the block itself.

    The background is 1 for a 0/1 block of mostly ones (exact), else 0.
    """
    binary = part.size and np.isin(part, (0, 1)).all()
    background = 1 if binary and np.count_nonzero(part) * 2 > part.size else 0
    diff = part - background if background else part
    if np.count_nonzero(diff) * 3 > part.size:  # CSR costs about 3 numbers per entry
        return np.ascontiguousarray(part)
    return background, sp.csr_matrix(diff), part.dtype


def expand(part) -> np.ndarray:
    """The dense block :func:`compact` packed."""
    if isinstance(part, np.ndarray):
        return part
    background, diff, dtype = part
    out = diff.toarray().astype(dtype, copy=False)
    return out + dtype.type(background) if background else out


# ------------------------------------------------------------------ per-step operations
def take(U: np.ndarray, f: float, rb: RowBlock, b: int, scaled: bool) -> np.ndarray:
    """The boundary rows of ``f U`` (this block's rows) that block ``b`` needs; ``D⁻¹``-scaled if asked."""
    rows = rb.send[b]
    part = scale(U[rows], f)
    return part * rb.inv_degrees[rows, None] if scaled else part


def product(rb: RowBlock, U: np.ndarray, f: float, pieces: list, pre: bool, post: bool,
            plus: np.ndarray | None = None, fp: float = 1.0) -> np.ndarray:
    """``W_b [halo]`` with the halo assembled from ``pieces`` (in ``rb.sources`` order, own rows = ``f U``).

    ``pre`` scales the own rows by ``D⁻¹`` (the pieces arrive scaled), ``post``
    scales the result by ``D⁻¹`` (a transition ``P U``); ``plus`` (times ``fp``)
    is added to the result (a sum fused into the product's task).
    """
    own = scale(U, f)
    own = own * rb.inv_degrees[:, None] if pre else own
    parts, it = [], iter(pieces)
    for s in rb.sources:
        parts.append(own if s == rb.index else next(it))
    halo = np.concatenate(parts) if len(parts) > 1 else parts[0]
    out = np.asarray(rb.W @ halo)
    out = out * rb.inv_degrees[:, None] if post else out
    if plus is not None:
        out += scale(plus, fp)
    return out


def combine(a: np.ndarray, fa: float, b: np.ndarray, fb: float) -> np.ndarray:
    """``fa a + fb b``."""
    out = a * fa if fa != 1.0 else a.copy()
    out += b * fb if fb != 1.0 else b
    return out


def scale(a: np.ndarray, f: float) -> np.ndarray:
    return a * f if f != 1.0 else a


def weighted_sum(rb: RowBlock, U: np.ndarray, f: float) -> np.ndarray:
    """``f dᵀ U_b``: the block's share of the degree-weighted column sum."""
    return f * (rb.degrees.astype(np.float64) @ U)


def total(vol: float, dtype, *parts: np.ndarray) -> np.ndarray:
    """``Σ parts / vol`` in ``dtype``."""
    return (np.sum(parts, axis=0) / vol).astype(dtype)


def centred(rb: RowBlock, U: np.ndarray, f: float, mean: np.ndarray) -> np.ndarray:
    """``f U − Ū`` (``mean`` already of ``f U``), zero on isolated rows."""
    out = scale(U, f) - mean[None, :]
    out[rb.degrees == 0] = 0
    return out


def clamped(U: np.ndarray, f: float, free: np.ndarray, ff: float, fixed: np.ndarray, fx: float) -> np.ndarray:
    return scale(U, f) * scale(free, ff) + scale(fixed, fx)


def max_abs_diff(U: np.ndarray, f: float, V: np.ndarray, g: float) -> np.ndarray:
    """Column maxima of ``|f U − g V|`` over the block's rows."""
    if U.shape[0] == 0:
        return np.zeros(U.shape[1], dtype=np.float64)
    return np.abs(scale(U, f) - scale(V, g)).max(axis=0).astype(np.float64)


def column_max(*parts: np.ndarray) -> np.ndarray:
    return np.max(np.stack(parts), axis=0)


# ------------------------------------------------------------------ connected components
def local_components(rb: RowBlock) -> np.ndarray:
    """``(n_b, 1)`` component ids of the block's own subgraph, made global by adding ``start``."""
    from scipy.sparse.csgraph import connected_components

    offset = int(rb.halo[:rb.index].sum())
    own = rb.W[:, offset:offset + (rb.stop - rb.start)]
    _, labels = connected_components(own, directed=False)
    return (rb.start + labels.astype(np.int64))[:, None]


def boundary_pairs(rb: RowBlock, labels: np.ndarray, pieces: list) -> np.ndarray:
    """Unique ``(own label, neighbour label)`` pairs over the edges leaving the block."""
    W = rb.W
    rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    out, offset, it = [], 0, iter(pieces)
    for s in rb.sources:
        size = int(rb.halo[s])
        if s != rb.index:
            piece = next(it)[:, 0]
            sel = (W.indices >= offset) & (W.indices < offset + size)
            out.append(np.stack([labels[rows[sel], 0], piece[W.indices[sel] - offset]], axis=1))
        offset += size
    pairs = np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0)
