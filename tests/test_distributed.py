"""graphvar.distributed on a 2-worker LocalCluster: the graph, the operator and the solvers against one machine."""

import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphvar

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from graphvar.distributed import DistributedGraph, knn_graph  # noqa: E402
from graphvar.distributed import laplace, poisson, vlaplace, vpoisson  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _labels(n, n_classes, per_class, seed=0, classes=None):
    rng = np.random.default_rng(seed)
    y = -np.ones(n, dtype=np.int64)
    for c in range(n_classes):
        pool = np.flatnonzero(classes == c) if classes is not None else np.arange(n)
        y[rng.choice(pool, per_class, replace=False)] = c
    return y


def _blobs(n, d, seed=0, centres=3):
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, centres, n)
    return rng.normal(size=(centres, d))[cls] * 2 + rng.normal(size=(n, d)), cls


# ---------------------------------------------------------------- the k-NN graph
@pytest.mark.parametrize("kernel,metric", [("gaussian", "euclidean"), ("uniform", "cosine"),
                                           ("distance", "angular"), ("singular", "euclidean")])
def test_knn_graph_equals_single_machine(client, kernel, metric):
    X, _ = _blobs(900, 6)
    ref = graphvar.knn_graph(X, k=7, kernel=kernel, metric=metric, dtype=torch.float64, approximate=False).to_scipy()
    G = knn_graph(X, k=7, kernel=kernel, metric=metric, dtype=torch.float64, n_blocks=3, client=client)
    W = G.to_scipy()
    assert W.shape == ref.shape and G.nnz == ref.nnz
    assert ((W != 0) != (ref != 0)).nnz == 0  # the same edges
    assert abs(W - ref).max() <= 1e-12
    assert G.info["backend"] == "dask-blockwise" and G.n_blocks == 3


def test_knn_graph_blocks_smaller_than_k(client):
    X, _ = _blobs(60, 3, seed=2)
    ref = graphvar.knn_graph(X, k=7, dtype=torch.float64, approximate=False).to_scipy()
    W = knn_graph(X, k=7, dtype=torch.float64, n_blocks=12, client=client).to_scipy()
    assert ((W != 0) != (ref != 0)).nnz == 0 and abs(W - ref).max() <= 1e-12


def test_knn_graph_dask_array_keeps_its_chunks(client):
    X, _ = _blobs(700, 4, seed=1)
    Xd = da.from_array(X.astype(np.float32), chunks=(250, 2))  # uneven rows, split columns
    G = knn_graph(Xd, k=5, client=client)
    ref = graphvar.knn_graph(X.astype(np.float32), k=5, approximate=False).to_scipy()
    assert G.n_blocks == 3 and G.dtype == torch.float32
    assert list(G.bounds) == [0, 250, 500, 700]
    W = G.to_scipy()
    assert ((W != 0) != (ref != 0)).nnz == 0
    assert abs(W - ref).max() <= 1e-6


def test_knn_graph_refuses_what_it_cannot_do(client):
    X, _ = _blobs(50, 3)
    with pytest.raises(ValueError, match="symgaussian"):
        knn_graph(X, k=5, kernel="symgaussian", client=client)
    with pytest.raises(ValueError, match="metric"):
        knn_graph(X, k=5, metric="manhattan", client=client)
    with pytest.raises(ValueError, match="k must"):
        knn_graph(X, k=50, client=client)
    with pytest.raises(ValueError, match="NaN"):
        knn_graph(np.full((20, 2), np.nan), k=3, client=client)


# ---------------------------------------------------------------- the operator
def test_operator_products_and_degrees(client):
    A = sp.random(300, 300, density=0.03, random_state=2)
    A = sp.csr_matrix(A + A.T)
    A.setdiag(0)
    A.eliminate_zeros()
    G = DistributedGraph.from_scipy(A, n_blocks=4, client=client, dtype=torch.float64)
    U = torch.from_numpy(np.random.default_rng(0).normal(size=(300, 3)))
    np.testing.assert_allclose(G.matmul(U).numpy(), A @ U.numpy(), rtol=1e-12, atol=1e-12)
    d = np.asarray(A.sum(axis=1)).ravel()
    np.testing.assert_allclose(G.degrees.numpy(), d, rtol=1e-12)
    P = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0)[:, None] * (A @ U.numpy())
    np.testing.assert_allclose(G.transition(U).numpy(), P, rtol=1e-12, atol=1e-12)
    halo = G.halo_rows
    assert G.bytes_per_product(3) == int(halo.sum()) * 3 * 8 and np.all(np.diag(halo) == 0)
    assert abs(G.to_scipy() - A).max() == 0


def test_components_across_blocks(client):
    rng = np.random.default_rng(3)
    perm = rng.permutation(240)  # three chains whose nodes are spread over all blocks
    rows, cols = [], []
    for c in range(3):
        nodes = perm[c * 80:(c + 1) * 80]
        rows += list(nodes[:-1])
        cols += list(nodes[1:])
    A = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(240, 240))
    A = sp.csr_matrix(A + A.T)
    G = DistributedGraph.from_scipy(A, n_blocks=3, client=client)
    n_comp, comp = G.components
    ref_n, ref = sp.csgraph.connected_components(A, directed=False)
    assert n_comp == ref_n == 3
    assert len({(a, b) for a, b in zip(comp, ref)}) == 3  # the same partition


def test_asymmetric_graph_is_refused(client):
    A = sp.csr_matrix(([1.0], ([0], [150])), shape=(200, 200))
    with pytest.raises(ValueError, match="symmetric"):
        DistributedGraph.from_scipy(A, client=client)


def test_from_row_blocks_builds_on_the_workers(client):
    n, offsets = 500, np.array([1, 37, 101])

    def rows(start, stop):
        i = np.arange(start, stop)
        cols = np.concatenate([(i + s) % n for s in offsets] + [(i - s) % n for s in offsets])
        r = np.tile(np.arange(stop - start), 2 * len(offsets))
        return sp.csr_matrix((np.ones(r.size), (r, cols)), shape=(stop - start, n))

    G = DistributedGraph.from_row_blocks(rows, n, n_blocks=3, client=client)
    W = G.to_scipy()
    assert abs(W - W.T).max() == 0 and W.nnz == n * 2 * len(offsets)
    np.testing.assert_allclose(G.degrees.numpy(), 6.0)


# ---------------------------------------------------------------- the solvers
@pytest.fixture(scope="module")
def problem(client):
    X, cls = _blobs(1200, 5, seed=4)
    ref = graphvar.knn_graph(X, k=8, dtype=torch.float64, approximate=False)
    G = knn_graph(X, k=8, dtype=torch.float64, n_blocks=3, client=client)
    y = np.stack([_labels(1200, 3, 2, seed=s, classes=cls) for s in (0, 1)])
    return ref, G, y


@pytest.mark.parametrize("method", [laplace, poisson, vlaplace, vpoisson])
def test_solvers_agree_with_one_machine(problem, method):
    ref, G, y = problem
    single = getattr(graphvar, method.__name__)
    s, info = method(G, y, min_iter=20, max_iter=40, return_info=True)
    r, rinfo = single(ref, y, min_iter=20, max_iter=40, return_info=True)
    assert isinstance(s, np.ndarray) and s.shape == (2, 1200, 3)
    assert info["stop_times"] == rinfo["stop_times"]
    np.testing.assert_allclose(s, r.numpy(), rtol=1e-9, atol=1e-12)
    assert info["bytes_per_step"] == G.bytes_per_product(3)


def test_normalize_and_one_labeled_set(problem):
    ref, G, y = problem
    s = vpoisson(G, y[0], amplification=2.0, normalize=True, min_iter=20, max_iter=40)
    r = graphvar.vpoisson(ref, y[0], amplification=2.0, normalize=True, min_iter=20, max_iter=40).numpy()
    assert s.shape == (1200, 3)
    np.testing.assert_allclose(s, r, rtol=1e-8, atol=1e-10)


def test_uninformed_component_scores_zero(client):
    A = sp.block_diag([sp.csr_matrix(np.ones((4, 4)) - np.eye(4))] * 3, format="csr")
    G = DistributedGraph.from_scipy(A, n_blocks=2, client=client, dtype=torch.float64)
    y = -np.ones(12, dtype=np.int64)
    y[[0, 4]] = [0, 1]
    with pytest.warns(UserWarning, match="no labeled node"):
        s = poisson(G, y, min_iter=5, max_iter=20)
    with pytest.warns(UserWarning, match="no labeled node"):
        r = graphvar.poisson(graphvar.Graph.from_scipy(A, dtype=torch.float64), y, min_iter=5, max_iter=20)
    assert np.all(s[8:] == 0)
    np.testing.assert_allclose(s, r.numpy(), atol=1e-12)


def test_solver_errors(problem):
    ref, G, y = problem
    with pytest.raises(TypeError, match="DistributedGraph"):
        poisson(ref, y[0])
    with pytest.raises(ValueError, match="iterative only"):
        poisson(G, y[0], method="exact")
    with pytest.raises(ValueError, match="dtype"):
        poisson(G, y[0], dtype=torch.float32)
    with pytest.raises(ValueError):
        poisson(G, y[0][:10])


def test_missing_dask_names_the_extra(monkeypatch):
    from graphvar.distributed import _cluster

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"graphvar\[dask\]"):
        _cluster.require_dask()


@pytest.mark.slow
def test_20k_points_agree_with_one_machine(client):
    X, cls = _blobs(20_000, 10, seed=5, centres=10)
    ref = graphvar.knn_graph(X, k=10, dtype=torch.float64, approximate=False)
    G = knn_graph(X, k=10, dtype=torch.float64, client=client)
    W, R = G.to_scipy(), ref.to_scipy()
    assert ((W != 0) != (R != 0)).nnz == 0 and abs(W - R).max() <= 1e-6
    y = _labels(20_000, 10, 1, seed=0, classes=cls)
    for method in (poisson, vpoisson):
        s = method(G, y)
        r = getattr(graphvar, method.__name__)(ref, y).numpy()
        assert (s.argmax(1) == r.argmax(1)).mean() >= 0.9999
