"""The :class:`Graph` container: a symmetric sparse weight matrix on a device.

:class:`Graph` is the stored-matrix :class:`~graphvar.graph.operator.Operator`:
``W`` is a torch sparse CSR tensor, the transition matrix ``P = D⁻¹W`` shares
its index arrays, and connected components and a bandwidth-reducing
renumbering are computed once on demand.
"""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ..validation import check_device, check_dtype
from .operator import Operator
from .slots import Slots, gather_rows
from .validation import check_adjacency, check_weight_range

__all__ = ["Graph", "csr_tensor", "csr_row_slice", "as_graph"]


def csr_tensor(
    crow: torch.Tensor,
    col: torch.Tensor,
    values: torch.Tensor,
    n: int,
    m: int | None = None,
) -> torch.Tensor:
    """Build an ``(n, m)`` (default ``(n, n)``) torch sparse CSR tensor without torch's beta warning.

    Indices are stored as int32 whenever they fit: torch's CSR-times-dense
    product is about 2x faster with them on CPU (docs/design.md §2).
    """
    m = n if m is None else m
    if values.numel() < 2**31 - 1 and max(n, m) < 2**31 - 1:
        crow, col = crow.to(torch.int32), col.to(torch.int32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size=(n, m), check_invariants=False)


def csr_row_slice(M: torch.Tensor, rows: slice) -> torch.Tensor:
    """Rows ``rows`` (a step-1 slice) of a sparse CSR tensor, sharing its storage."""
    start, stop, _ = rows.indices(M.shape[0])
    crow = M.crow_indices()
    a, b = int(crow[start]), int(crow[stop])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow[start:stop + 1] - a, M.col_indices()[a:b], M.values()[a:b],
                                       size=(stop - start, M.shape[1]), check_invariants=False)


class Graph(Operator):
    """A weighted undirected graph held as a symmetric sparse CSR matrix.

    Solvers only ever see a :class:`Graph`; build one from features with
    :func:`graphvar.graph.knn_graph`, or from an existing adjacency with
    :meth:`from_scipy`, :meth:`from_pyg`, :meth:`from_networkx` or
    :func:`graphvar.graph.as_graph`.

    Parameters
    ----------
    weights : torch.Tensor
        Sparse CSR tensor of shape ``(n, n)``: symmetric, non-negative, zero
        diagonal. The constructor trusts its input; use :func:`as_graph` to
        validate an adjacency from elsewhere.
    info : dict, optional
        How the graph was built (k, kernel, metric, backend, seconds, ...).
    directed : bool, default=False
        ``True`` when ``weights`` is deliberately not symmetric (a directed
        k-NN graph, ``w_ij`` the weight of ``i``'s edge to ``j``). Methods that
        need a symmetric graph refuse a directed one.

    Attributes
    ----------
    weights : torch.Tensor
        The sparse CSR weight matrix ``W``.
    degrees : torch.Tensor
        Dense ``(n,)`` tensor ``d = W 1``.
    info : dict
        Build information.
    """

    def __init__(self, weights: torch.Tensor, info: dict[str, Any] | None = None, *, directed: bool = False):
        if not isinstance(weights, torch.Tensor) or weights.layout != torch.sparse_csr:
            raise TypeError(
                "Graph expects a torch sparse CSR tensor; use Graph.from_scipy, "
                "Graph.from_pyg, Graph.from_networkx or graphvar.graph.as_graph "
                f"to convert a {type(weights).__name__}."
            )
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(f"weights must be a square matrix, got shape {tuple(weights.shape)}.")
        self.weights = weights
        self.directed = bool(directed)
        self.info: dict[str, Any] = dict(info or {})

    # ---------------------------------------------------------- operator layer
    @cached_property
    def _rows(self) -> torch.Tensor:
        """Row index of every stored entry (int64, row-major)."""
        crow = self.weights.crow_indices()
        return torch.repeat_interleave(torch.arange(self.n_nodes, device=self.device), (crow[1:] - crow[:-1]).long())

    @cached_property
    def degrees(self) -> torch.Tensor:
        """Dense ``(n,)`` tensor ``d = W 1`` (row sums)."""
        d = torch.zeros(self.n_nodes, dtype=self.dtype, device=self.device)
        return d.index_add_(0, self._rows, self.weights.values())

    @cached_property
    def transition_matrix(self) -> torch.Tensor:
        """``P = D⁻¹W`` as a sparse CSR tensor sharing ``W``'s index arrays."""
        W = self.weights
        return csr_tensor(W.crow_indices(), W.col_indices(), W.values() * self.inv_degrees[self._rows], self.n_nodes)

    def matmul(self, U: torch.Tensor) -> torch.Tensor:
        """``W @ U`` for a dense ``(n, m)`` tensor or a sparse CSR ``(n, m)`` matrix."""
        return self.weights @ U

    def transition(self, U: torch.Tensor) -> torch.Tensor:
        """``P U = D⁻¹W U`` with the cached :attr:`transition_matrix` (dense or sparse CSR ``U``)."""
        return self.transition_matrix @ U

    def matmul_into(self, U: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``W @ U`` for a dense ``U``, written into ``out`` (no fresh result buffer).

        One column (the stopping rule's walk for a single labeled set) on a
        CPU goes through ``torch.mv``: 70k nodes, one thread, 1.1-1.2 against
        1.7-1.9 ms for the one-column ``mm``.
        """
        if U.shape[1] == 1 and U.device.type == "cpu":
            torch.mv(self.weights, U[:, 0], out=out[:, 0])
            return out
        return torch.mm(self.weights, U, out=out)

    def matmul_add(self, U: torch.Tensor, C: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0):
        """``β C + α W U`` over ``C``: on a CPU one MKL ``addmm``, elsewhere the three operations."""
        if C.device.type != "cpu":
            return super().matmul_add(U, C, alpha=alpha, beta=beta)
        return torch.addmm(C, self.weights, U, beta=beta, alpha=alpha, out=C)

    def transition_add(self, U: torch.Tensor, C: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0):
        """``β C + α P U`` over ``C``: on a CPU one MKL ``addmm`` (70k x 10: 2.6 against 3.5 ms for the
        product, scaling and sum apart), elsewhere the three operations."""
        if C.device.type != "cpu":
            return super().transition_add(U, C, alpha=alpha, beta=beta)
        return torch.addmm(C, self.transition_matrix, U, beta=beta, alpha=alpha, out=C)

    def transition_rows(self, U, rows: slice):
        """Rows ``rows`` of ``P U`` from a row slice of :attr:`transition_matrix` (no copy of ``P``)."""
        return csr_row_slice(self.transition_matrix, rows) @ U

    # ------------------------------------------------- per-edge computations
    @cached_property
    def _slots(self) -> Slots:
        return Slots(self.weights.crow_indices().long(), self.n_nodes)

    def neighbour_edges(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rows, cols, values)`` of the stored entries in *slot order*, the order of edge tensors.

        Slot order lists the first neighbour (in CSR order) of every node,
        then the second neighbour of every node with at least two, and so on,
        nodes by decreasing degree within a slot. An edge tensor built from
        these arrays (e.g. ``values[:, None] * neighbour_values(U)``) is what
        :meth:`neighbour_reduce` reduces: each slot is one contiguous block, so
        a reduction is a few dense element-wise operations instead of a
        segmented loop over every node (docs/methods.md has the measured effect).
        """
        return self._slot_edges

    @cached_property
    def _slot_edges(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows, cols, vals = self.coo()
        e = self._slots.entries
        return rows[e], cols[e], vals[e]

    def neighbour_values(self, U: torch.Tensor) -> torch.Tensor:
        """``U[cols]`` in slot order, shape ``(nnz, ...)``: every node's value at each of its neighbours."""
        return gather_rows(U, self._slot_edges[1])

    def neighbour_reduce(self, E: torch.Tensor, reduce: str) -> torch.Tensor:
        """Row-wise ``reduce`` (``"sum"``, ``"min"`` or ``"max"``) of an edge tensor in slot order.

        ``E`` has one row per stored entry of ``W``, in the order of
        :meth:`neighbour_edges` (e.g. :meth:`neighbour_values`), shape
        ``(nnz, ...)``; the result is ``(n, ...)``. A node without edges gets 0
        (sum), ``+inf`` (min) or ``-inf`` (max). Sums add each node's entries
        in CSR order.
        """
        if reduce not in Slots.REDUCTIONS:
            raise ValueError(f"reduce must be 'sum', 'min' or 'max', got {reduce!r}.")
        if E.shape[0] != self.n_edges:
            raise ValueError(f"E has {E.shape[0]} rows; an edge tensor has one per stored entry ({self.n_edges}).")
        return self._slots.reduce(E, reduce)

    @cached_property
    def components(self) -> tuple[int, np.ndarray]:
        """``(n_components, component id of every node)`` of the undirected graph (computed once)."""
        from scipy.sparse.csgraph import connected_components

        n_comp, comp = connected_components(self.to_scipy(), directed=False)
        return int(n_comp), comp

    def reordered(self) -> tuple[Graph, np.ndarray]:
        """A reverse Cuthill–McKee renumbering: ``(graph, perm)`` with ``graph`` node ``i`` = node ``perm[i]``.

        A small bandwidth keeps the rows a product touches close in memory
        (1.3-2x faster sparse products on a 70k-node k-NN graph on CPU).
        Map scores back with ``scores[..., inverse, :]`` where
        ``inverse[perm] = arange(n)``. Computed once per graph (0.1 s at 70k nodes).
        """
        return self._rcm

    @cached_property
    def _rcm(self) -> tuple[Graph, np.ndarray]:
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        A = self.to_scipy()
        perm = reverse_cuthill_mckee(A, symmetric_mode=not self.directed).astype(np.int64)
        g = Graph.from_scipy(A[perm][:, perm], device=self.device, dtype=self.dtype, validate=False,
                             info={**self.info, "reordered": "rcm"}, directed=self.directed)
        return g, perm

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        """Number of nodes ``n``."""
        return int(self.weights.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of stored nonzero weights (each undirected edge counts twice)."""
        return int(self.weights.values().numel())

    @property
    def device(self) -> torch.device:
        """Device holding the weights."""
        return self.weights.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the weights."""
        return self.weights.dtype

    def __repr__(self) -> str:
        built = ", ".join(f"{k}={v}" for k, v in self.info.items() if k in ("k", "kernel", "metric", "backend"))
        extra = f", {built}" if built else ""
        return (
            f"Graph(n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
            f"dtype={self.dtype}, device={self.device}{extra})"
        )

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> Graph:
        """Return a copy on ``device`` with weights cast to ``dtype`` (``self`` if nothing changes)."""
        W = self.weights
        device = check_device(device) if device is not None else W.device
        dtype = check_dtype(dtype, default=W.dtype)
        if device == W.device and dtype == W.dtype:
            return self
        W2 = csr_tensor(
            W.crow_indices().to(device),
            W.col_indices().to(device),
            W.values().to(device=device, dtype=dtype),
            self.n_nodes,
        )
        return Graph(W2, info=self.info, directed=self.directed)

    def coo(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(rows, cols, values)`` of the stored entries (row-major)."""
        return self._rows, self.weights.col_indices().long(), self.weights.values()

    # -------------------------------------------------------------- conversion
    def to_scipy(self) -> sp.csr_matrix:
        """Return the weights as a ``scipy.sparse.csr_matrix`` (on the host)."""
        W = self.weights
        return sp.csr_matrix(
            (
                W.values().detach().cpu().numpy(),
                W.col_indices().cpu().numpy(),
                W.crow_indices().cpu().numpy(),
            ),
            shape=(self.n_nodes, self.n_nodes),
        )

    @classmethod
    def from_scipy(
        cls,
        A: sp.spmatrix,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        validate: bool = True,
        info: dict[str, Any] | None = None,
        directed: bool = False,
    ) -> Graph:
        """Build a graph from a scipy sparse (or dense numpy) adjacency matrix.

        Parameters
        ----------
        A : scipy.sparse matrix or ndarray of shape (n, n)
            Symmetric non-negative weights. The diagonal is dropped.
        device, dtype : optional
            Where and in which precision to hold the weights.
        validate : bool, default=True
            Check symmetry (unless ``directed``), non-negativity and finiteness
            (raises ``ValueError``).
        info : dict, optional
            Build information stored in :attr:`info`.
        directed : bool, default=False
            Accept an asymmetric matrix (see :class:`Graph`).
        """
        A = check_adjacency(A, validate=validate, symmetric=not directed)
        A.sort_indices()
        dev = check_device(device)
        dtype = check_dtype(dtype)
        if validate:
            check_weight_range(A, dtype)
        W = csr_tensor(
            torch.as_tensor(A.indptr.astype(np.int64), device=dev),
            torch.as_tensor(A.indices.astype(np.int64), device=dev),
            torch.as_tensor(A.data, dtype=dtype, device=dev),
            A.shape[0],
        )
        return cls(W, info=info if info is not None else {"source": "scipy"}, directed=directed)

    def to_pyg(self):
        """Return a ``torch_geometric.data.Data`` with ``edge_index`` and ``edge_weight``."""
        from torch_geometric.data import Data

        rows, cols, vals = self.coo()
        return Data(edge_index=torch.stack([rows, cols]), edge_weight=vals, num_nodes=self.n_nodes)

    @classmethod
    def from_pyg(
        cls,
        data: Any,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        validate: bool = True,
    ) -> Graph:
        """Build a graph from a PyG ``Data`` (``edge_index``, optional ``edge_weight``).

        Missing ``edge_weight`` means unit weights. Duplicate edges are summed.
        """
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            raise TypeError("PyG data has no edge_index; cannot build a Graph from it.")
        n = int(data.num_nodes)
        weight = getattr(data, "edge_weight", None)
        ei = edge_index.detach().cpu().numpy() if isinstance(edge_index, torch.Tensor) else np.asarray(edge_index)
        if ei.dtype.kind not in "iu":
            raise TypeError(f"edge_index must hold integer node ids, got dtype {ei.dtype}; use a LongTensor.")
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise ValueError(f"edge_index must have shape (2, E), got {tuple(ei.shape)}.")
        if ei.size and (ei.min() < 0 or ei.max() >= n):
            raise ValueError(
                f"edge_index refers to node {int(ei.max()) if ei.max() >= n else int(ei.min())}, outside "
                f"0..{n - 1} (num_nodes={n}); fix edge_index or set data.num_nodes."
            )
        if weight is not None and tuple(weight.shape) != (ei.shape[1],):
            raise ValueError(f"edge_weight has shape {tuple(weight.shape)}; expected ({ei.shape[1]},), one per edge.")
        w = np.ones(ei.shape[1]) if weight is None else torch.as_tensor(weight).detach().cpu().numpy()
        if w.dtype.kind not in "biuf":
            raise TypeError(f"edge_weight must hold real numbers, got dtype {w.dtype}.")
        w = w.astype(np.float64)
        A = sp.coo_matrix((w, (ei[0], ei[1])), shape=(n, n)).tocsr()
        return cls.from_scipy(A, device=device, dtype=dtype, validate=validate, info={"source": "pyg"})

    def to_networkx(self):
        """Return an undirected ``networkx.Graph`` with a ``weight`` edge attribute."""
        import networkx as nx

        G = nx.Graph()
        G.add_nodes_from(range(self.n_nodes))
        A = sp.triu(self.to_scipy(), k=1).tocoo()
        G.add_weighted_edges_from(zip(A.row.tolist(), A.col.tolist(), A.data.tolist()))
        return G

    @classmethod
    def from_networkx(
        cls,
        G: Any,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        weight: str = "weight",
        validate: bool = True,
    ) -> Graph:
        """Build a graph from a networkx graph (nodes in ``G.nodes`` order; missing weights = 1)."""
        import networkx as nx

        if G.is_directed():
            raise ValueError("networkx graph is directed; pass G.to_undirected() or a symmetric graph.")
        A = nx.to_scipy_sparse_array(G, weight=weight, format="csr", dtype=np.float64)
        return cls.from_scipy(sp.csr_matrix(A), device=device, dtype=dtype, validate=validate,
                              info={"source": "networkx"})


def as_graph(obj: Any, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
             validate: bool = True) -> Graph:
    """Turn a :class:`Graph`, scipy sparse matrix, PyG ``Data`` or networkx graph into a Graph.

    Parameters
    ----------
    obj : Graph, Operator, scipy.sparse matrix, ndarray, torch_geometric.data.Data or networkx.Graph
        Symmetric, non-negative weights (checked unless ``validate=False``);
        another :class:`Operator` (e.g. the matrix-free k-NN kernel) is returned as it is.
    device : str or torch.device, optional
        Target device (default: keep a Graph's, else CPU).
    dtype : torch.dtype or str, optional
        Target floating dtype (default: keep a Graph's, else float32).
    validate : bool, default=True
        Check symmetry, sign and finiteness of a matrix given directly.

    Returns
    -------
    Graph
    """
    if isinstance(obj, Graph):
        return obj.to(device=device, dtype=dtype)
    if isinstance(obj, Operator):  # a matrix-free operator is used as it is
        if (device is not None and check_device(device) != obj.device) or (
                dtype is not None and check_dtype(dtype) != obj.dtype):
            raise ValueError(f"{type(obj).__name__} lives on {obj.device} in {obj.dtype}; build it on the "
                             f"requested device/dtype ({device}, {dtype}) instead of converting it.")
        return obj
    dtype = check_dtype(dtype)
    if sp.issparse(obj) or isinstance(obj, (np.ndarray, torch.Tensor)):
        return Graph.from_scipy(obj, device=device, dtype=dtype, validate=validate)
    if hasattr(obj, "edge_index"):
        return Graph.from_pyg(obj, device=device, dtype=dtype, validate=validate)
    try:
        import networkx as nx

        if isinstance(obj, nx.Graph):
            return Graph.from_networkx(obj, device=device, dtype=dtype, validate=validate)
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(
        f"cannot build a Graph from {type(obj).__name__}; pass a graphvar Graph, a scipy sparse "
        "matrix, a torch_geometric Data object or a networkx Graph."
    )
