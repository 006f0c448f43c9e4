"""k-NN search and graph construction against independent references."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.neighbors import NearestNeighbors

from graphvar.graph import Graph, as_graph, available_backends, knn_graph, knn_search

BACKENDS = [
    pytest.param(b, marks=pytest.mark.slow) if b == "keops" else b  # KeOps compiles each formula (~10 s)
    for b in ("torch", "faiss", "keops")
    if b in available_backends("cpu")
]


def _sklearn_knn(X, k, metric="euclidean"):
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(X)
    d, i = nn.kneighbors(X)
    return i[:, 1:], d[:, 1:]


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 6)).astype(np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_knn_matches_sklearn(blobs, backend, metric):
    idx, dist = knn_search(blobs, 7, metric=metric, backend=backend)
    ref_i, ref_d = _sklearn_knn(blobs, 7, metric)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=1e-6, atol=1e-6)


def test_knn_sparse_cosine_matches_sklearn():
    X = sp.random(200, 50, density=0.2, random_state=1, format="csr")
    X.data += 0.1
    idx, dist = knn_search(X, 5, metric="cosine")
    ref_i, ref_d = _sklearn_knn(X.toarray(), 5, "cosine")
    np.testing.assert_allclose(dist.numpy(), ref_d, atol=1e-5)
    # indices agree wherever distances are not tied
    agree = (idx.numpy() == ref_i).mean()
    assert agree > 0.99


def test_knn_excludes_self_with_duplicates():
    X = np.repeat(np.arange(20, dtype=float)[:, None], 3, axis=0)  # every point thrice
    idx, dist = knn_search(X, 4, backend="torch")
    assert not (idx.numpy() == np.arange(60)[:, None]).any()
    assert np.all(dist.numpy()[:, :2] == 0)


def _dense_reference_weights(X, k, kernel):
    """W from the formula in docs/design.md §2, with numpy loops (symmetrised as GraphLearning 1.7.5 does)."""
    n = X.shape[0]
    ref_i, ref_d = _sklearn_knn(X, k)
    eps = ref_d[:, -1]
    W = np.zeros((n, n))
    for i in range(n):
        for m in range(k):
            j = ref_i[i, m]
            d2 = ref_d[i, m] ** 2
            if kernel == "gaussian":
                W[i, j] = np.exp(-4 * d2 / eps[i] ** 2)
            elif kernel == "symgaussian":
                W[i, j] = np.exp(-4 * d2 / (eps[i] * eps[j]))
            else:
                W[i, j] = 1.0
    return np.maximum(W, W.T) if kernel in ("uniform", "symgaussian") else (W + W.T) / 2


@pytest.mark.parametrize("kernel", ["gaussian", "symgaussian", "uniform"])
def test_weights_equal_formula(blobs, kernel):
    g = knn_graph(blobs, k=6, kernel=kernel, backend="torch", dtype=torch.float64)
    W = g.to_scipy().toarray()
    np.testing.assert_allclose(W, _dense_reference_weights(blobs, 6, kernel), rtol=1e-10, atol=1e-12)
    assert np.all(np.diag(W) == 0)
    np.testing.assert_allclose(g.degrees.numpy(), W.sum(axis=1), rtol=1e-12)


def test_duplicate_points_give_finite_weights():
    X = np.vstack([np.zeros((15, 3)), np.random.default_rng(0).normal(size=(30, 3))])
    g = knn_graph(X, k=5, backend="torch")
    vals = g.weights.values()
    assert torch.isfinite(vals).all() and (vals > 0).all()


def test_graph_info_and_repr(blobs):
    g = knn_graph(blobs, k=5, backend="torch")
    assert g.info["k"] == 5 and g.info["backend"] == "torch" and g.info["seconds"] >= 0
    assert "n_nodes=300" in repr(g)


def test_conversions_round_trip(blobs):
    g = knn_graph(blobs, k=5, backend="torch", dtype=torch.float64)
    W = g.to_scipy()
    for back in (Graph.from_scipy(W, dtype=torch.float64),
                 Graph.from_pyg(g.to_pyg(), dtype=torch.float64),
                 Graph.from_networkx(g.to_networkx(), dtype=torch.float64),
                 as_graph(W, dtype=torch.float64)):
        assert abs(back.to_scipy() - W).max() < 1e-12
    G = g.to_networkx()
    assert G.number_of_edges() == W.nnz // 2
    assert isinstance(G, nx.Graph)


def test_to_device_and_dtype(blobs):
    g = knn_graph(blobs, k=5, backend="torch")
    g64 = g.to(dtype=torch.float64)
    assert g64.dtype == torch.float64 and g.dtype == torch.float32
    assert g.to() is g


def test_as_graph_rejects_bad_adjacency():
    A = sp.csr_matrix(np.array([[0, 1.0], [0.5, 0]]))
    with pytest.raises(ValueError, match="not symmetric"):
        as_graph(A)
    B = sp.csr_matrix(np.array([[0, -1.0], [-1.0, 0]]))
    with pytest.raises(ValueError, match="negative"):
        as_graph(B)
    with pytest.raises(ValueError, match="square"):
        as_graph(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(TypeError, match="cannot build a Graph"):
        as_graph("not a graph")
    with pytest.raises(ValueError, match="directed"):
        as_graph(nx.DiGraph([(0, 1)]))


def _random_graph(n: int, density: float, seed: int, hub: bool) -> Graph:
    A = sp.random(n, n, density=density, random_state=seed, format="csr")
    A = (A + A.T).tolil()
    A.setdiag(0)
    if hub:  # one node with many more neighbours than the others
        A[0, 1:] = 0.5
        A[1:, 0] = 0.5
    A = A.tocsr()
    A.eliminate_zeros()
    return Graph.from_scipy(A.astype(np.float64))


#: (MIN_NODES, MAX_TAIL) of graphvar.graph.slots.Slots: every slot folded; folded slots and a
#: segment-reduced tail; all entries in the tail; CSR order and one segment_reduce
LAYOUTS = {"folded": (1, 1.0), "folded+tail": (5, 1.0), "tail": (10_000, 1.0), "csr": (5, 0.0)}


def _layout(monkeypatch, layout: str) -> None:
    from graphvar.graph.slots import Slots

    monkeypatch.setattr(Slots, "MIN_NODES", LAYOUTS[layout][0])
    monkeypatch.setattr(Slots, "MAX_TAIL", LAYOUTS[layout][1])


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("seed, n, density, hub", [(0, 1, 0.0, False), (1, 12, 0.0, False), (2, 30, 0.2, False),
                                                   (3, 80, 0.05, True), (4, 60, 0.6, True)])
def test_neighbour_reduce_matches_a_loop_over_the_edges(seed, n, density, hub, layout, monkeypatch):
    _layout(monkeypatch, layout)
    g = _random_graph(n, density, seed, hub)
    if hub and layout == "folded+tail":  # both paths: dense slots and the hub's entries past them
        assert g._slots.counts and g._slots.tail is not None
    assert (g._slots.csr is not None) == (layout == "csr" and n > 1 and density > 0)
    rows, cols, vals = g.neighbour_edges()
    r0, c0, v0 = g.coo()
    assert sorted(zip(rows.tolist(), cols.tolist(), vals.tolist())) == sorted(zip(r0.tolist(), c0.tolist(),
                                                                                   v0.tolist()))
    U = torch.rand(n, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    E = vals[:, None, None] * g.neighbour_values(U)
    assert torch.equal(g.neighbour_values(U), U[cols])
    for reduce, start, op in (("sum", 0.0, torch.add), ("min", float("inf"), torch.minimum),
                              ("max", float("-inf"), torch.maximum)):
        ref = torch.full((n, 2, 3), start, dtype=torch.float64)
        for i, j, w in zip(r0.tolist(), c0.tolist(), v0.tolist()):  # CSR order
            ref[i] = op(ref[i], w * U[j])
        assert torch.allclose(g.neighbour_reduce(E, reduce), ref, rtol=1e-12, atol=0), reduce


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_neighbour_reduce_keeps_gradients_and_rejects_bad_input(layout, monkeypatch):
    _layout(monkeypatch, layout)
    g = _random_graph(50, 0.1, 5, True)
    vals = g.neighbour_edges()[2].clone().requires_grad_(True)
    g.neighbour_reduce(vals[:, None], "sum").sum().backward()
    assert torch.allclose(vals.grad, torch.ones_like(vals))
    rows = g.neighbour_edges()[0]
    top = g.neighbour_reduce(vals.detach()[:, None], "max")[:, 0]
    first = vals.detach() == top[rows]  # the largest weight of each node gets the max's gradient
    vals.grad = None
    g.neighbour_reduce(vals[:, None], "max").sum().backward()
    assert bool((vals.grad[~first] == 0).all()) and float(vals.grad.sum()) == pytest.approx(int((top > -1).sum()))
    with pytest.raises(ValueError, match="reduce must be"):
        g.neighbour_reduce(vals[:, None].detach(), "mean")
    with pytest.raises(ValueError, match="one per stored entry"):
        g.neighbour_reduce(torch.zeros(3, 1, dtype=torch.float64), "sum")
