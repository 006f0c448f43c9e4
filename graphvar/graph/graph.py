"""The :class:`Graph` container: a symmetric sparse weight matrix on a device."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["Graph", "csr_tensor"]


def csr_tensor(
    crow: torch.Tensor,
    col: torch.Tensor,
    values: torch.Tensor,
    n: int,
) -> torch.Tensor:
    """Build an ``(n, n)`` torch sparse CSR tensor without torch's beta warning.

    Indices are stored as int32 whenever they fit: torch's CSR-times-dense
    product is about 2x faster with them on CPU (DESIGN.md §2).
    """
    if values.numel() < 2**31 - 1 and n < 2**31 - 1:
        crow, col = crow.to(torch.int32), col.to(torch.int32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size=(n, n), check_invariants=False)


class Graph:
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
        crow = weights.crow_indices()
        rows = torch.repeat_interleave(
            torch.arange(weights.shape[0], device=weights.device), (crow[1:] - crow[:-1]).long()
        )
        self.degrees = torch.zeros(weights.shape[0], dtype=weights.dtype, device=weights.device)
        self.degrees.index_add_(0, rows, weights.values())

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
        """Return a copy on ``device`` with weights cast to ``dtype``."""
        from .validation import check_device

        W = self.weights
        device = check_device(device) if device is not None else W.device
        dtype = dtype or W.dtype
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
        W = self.weights
        crow = W.crow_indices()
        rows = torch.repeat_interleave(torch.arange(self.n_nodes, device=W.device), (crow[1:] - crow[:-1]).long())
        return rows, W.col_indices().long(), W.values()

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
    ) -> Graph:
        """Build a graph from a scipy sparse (or dense numpy) adjacency matrix.

        Parameters
        ----------
        A : scipy.sparse matrix or ndarray of shape (n, n)
            Symmetric non-negative weights. The diagonal is dropped.
        device, dtype : optional
            Where and in which precision to hold the weights.
        validate : bool, default=True
            Check symmetry, non-negativity and finiteness (raises ``ValueError``).
        """
        from .validation import check_adjacency, check_device

        A = check_adjacency(A, validate=validate)
        A = A.tocsr()
        A.sort_indices()
        dev = check_device(device) if device is not None else torch.device("cpu")
        W = csr_tensor(
            torch.as_tensor(A.indptr.astype(np.int64), device=dev),
            torch.as_tensor(A.indices.astype(np.int64), device=dev),
            torch.as_tensor(A.data, dtype=dtype, device=dev),
            A.shape[0],
        )
        return cls(W, info=info if info is not None else {"source": "scipy"})

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
        ei = edge_index.detach().cpu().numpy()
        w = np.ones(ei.shape[1]) if weight is None else weight.detach().cpu().numpy().astype(np.float64)
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
