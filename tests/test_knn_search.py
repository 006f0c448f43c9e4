"""Exact k-NN: every backend equals a float64 brute force with smallest-index tie-breaking."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from graphvar.graph import available_backends, knn_graph, knn_search
from graphvar.graph import tiled

EXACT = [b for b in ("tiled", "torch", "faiss") if b in available_backends("cpu")]


def brute(X, k, metric="euclidean"):
    """Reference: float64 distances from scipy, sorted by (distance, index), self excluded."""
    X = np.asarray(X, dtype=np.float64)
    if metric == "euclidean":
        D = cdist(X, X, "sqeuclidean")
    elif metric in ("cosine", "angular"):
        Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
        D = cdist(Xn, Xn, "sqeuclidean")
    elif metric == "manhattan":
        D = cdist(X, X, "cityblock")
    elif metric == "hamming":
        D = cdist(X, X, "hamming") * X.shape[1]
    else:
        D = -X @ X.T
    np.fill_diagonal(D, np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(len(X)), D.shape), D), axis=1)[:, :k]
    d = np.take_along_axis(D, order, 1)
    if metric == "euclidean":
        d = np.sqrt(d)
    elif metric == "cosine":
        d = d / 2
    elif metric == "angular":
        d = np.sqrt(d)
    elif metric == "hamming":
        d = np.round(d)
    return order, d


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 8)) * 4
    return (centres[rng.integers(0, 5, 700)] + rng.normal(size=(700, 8))).astype(np.float32)


@pytest.mark.parametrize("backend", EXACT)
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "angular", "dot"])
def test_exact_backends_match_brute_force(points, backend, metric):
    idx, dist = knn_search(points, 9, metric=metric, backend=backend, approximate=False)
    ref_i, ref_d = brute(points, 9, metric)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=2e-6, atol=1e-5)
    assert dist.dtype == torch.float32


@pytest.mark.parametrize("metric", ["manhattan", "hamming"])
def test_direct_metrics_match_brute_force(metric):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(300, 12)).astype(np.float64)  # many tied distances
    idx, dist = knn_search(X, 6, metric=metric)
    ref_i, ref_d = brute(X, 6, metric)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    np.testing.assert_allclose(dist.numpy(), ref_d)
    with pytest.raises(ValueError, match="backend='torch' only"):
        knn_search(X, 6, metric=metric, backend="faiss" if "faiss" in EXACT else "tiled")


def test_ties_resolve_to_smallest_index_on_integer_pixels():
    """Integer images (with duplicates): all backends give the same neighbours and the same graph."""
    rng = np.random.default_rng(2)
    X = (rng.random((600, 64)) < 0.3).astype(np.uint8) * rng.integers(0, 4, size=(600, 64)).astype(np.uint8)
    X[300:320] = X[0]  # exact duplicates of one image
    ref_i, _ = brute(X, 10)
    graphs = {}
    for backend in EXACT:
        idx, _ = knn_search(X, 10, backend=backend, approximate=False)
        np.testing.assert_array_equal(idx.numpy(), ref_i, err_msg=backend)
        graphs[backend] = knn_graph(X, k=10, backend=backend, approximate=False).to_scipy()
    first = graphs[EXACT[0]]
    for backend, W in graphs.items():
        assert (W != first).nnz == 0, backend


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(12, 60),
    d=st.integers(1, 5),
    k=st.integers(1, 8),
    levels=st.integers(2, 5),
    seed=st.integers(0, 10_000),
)
def test_tiled_equals_brute_force_property(n, d, k, levels, seed):
    X = np.random.default_rng(seed).integers(0, levels, size=(n, d)).astype(np.float32)
    k = min(k, n - 1)
    idx, dist = knn_search(X, k, backend="tiled" if "tiled" in EXACT else "torch", approximate=False)
    ref_i, ref_d = brute(X, k)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=1e-6)


@pytest.mark.skipif(not tiled.available(), reason="numba missing")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_tiled_kernel_across_many_small_tiles(points, n_threads):
    """Tiles much smaller than n: the diagonal, off-diagonal and ragged tiles, one and two threads."""
    A = points.astype(np.float64) - points.mean(0)
    sq = (A ** 2).sum(1)
    L = np.hstack([A, sq[:, None], np.ones((len(A), 1))]).astype(np.float32)
    R = np.hstack([-2 * A, np.ones((len(A), 1)), sq[:, None]]).astype(np.float32)
    cand, bound = tiled.tiled_candidates(L, R, 5, 12, np.full(len(A), 1e-4, np.float32),
                                         n_threads=n_threads, block=96, rows=40)
    ref_i, _ = brute(points, 12)
    # the 5 best float32 candidates are the true 5 best (no ties in continuous data)
    np.testing.assert_array_equal(np.sort(cand[:, :5], 1), np.sort(ref_i[:, :5], 1))
    n = len(A)
    assert (cand >= 0).all() and not (cand == np.arange(n)[:, None]).any()
    # every point left out of a row's list scores at least the row's bound (up to float32 rounding)
    left_out = np.ones((n, n), bool)
    left_out[np.arange(n)[:, None], cand] = False
    np.fill_diagonal(left_out, False)
    D2 = cdist(A, A, "sqeuclidean")
    slack = np.broadcast_to(bound[:, None], D2.shape) - 1e-3
    assert np.all(D2[left_out] >= slack[left_out])
    assert np.isfinite(bound).all()


def test_overflow_prone_scales_give_the_same_neighbours(points):
    idx, dist = knn_search(points.astype(np.float64), 5, approximate=False)
    for X, dtype in ((points.astype(np.float64) * 1e300, torch.float64), (points * np.float32(1e30), torch.float32),
                     (points.astype(np.float64) * 1e-300, torch.float64)):
        i2, d2 = knn_search(X, 5, approximate=False)
        np.testing.assert_array_equal(i2.numpy(), idx.numpy())
        assert d2.dtype == dtype and torch.isfinite(d2).all()
        scale = float(np.abs(X).max() / np.abs(points).max())
        np.testing.assert_allclose(d2.double().numpy() / scale, dist.numpy(), rtol=1e-5)


def test_return_info_records_backend_and_rechecks(points):
    _, _, info = knn_search(points, 5, approximate=False, return_info=True)
    assert info["backend"] == EXACT[0] and info["approximate"] is False
    assert info["n_candidates"] >= 5 and info["rows_rechecked"] >= 0 and info["search_seconds"] > 0
    dup = np.zeros((40, 3))
    _, d, info = knn_search(dup, 5, approximate=False, return_info=True)
    assert info["rows_rechecked"] == 40 and (d.numpy() == 0).all()  # ties everywhere: all rows re-searched


def test_bad_search_arguments(points):
    with pytest.raises(ValueError, match="metric"):
        knn_search(points, 3, metric="minkowski")
    with pytest.raises(ValueError, match="approximate"):
        knn_search(points, 3, approximate="yes")
    with pytest.raises(ValueError, match="approximate=True supports"):
        knn_search(points, 3, metric="manhattan", approximate=True)


@pytest.mark.slow  # KeOps compiles each formula (about 10 s)
@pytest.mark.skipif("keops" not in available_backends("cpu"), reason="pykeops missing")
@pytest.mark.parametrize("metric", ["euclidean", "dot"])
def test_keops_gives_the_same_tied_neighbours(metric):
    X = np.random.default_rng(2).integers(0, 3, size=(400, 6)).astype(np.float32)
    idx, _ = knn_search(X, 8, metric=metric, backend="keops", approximate=False)
    np.testing.assert_array_equal(idx.numpy(), brute(X, 8, metric)[0])


@pytest.mark.parametrize("backend", EXACT)
def test_cosine_zero_rows_are_orthogonal_to_everything(backend):
    """An all-zero row is at cosine distance 1 from every non-zero row (scikit-learn's convention) and at 0
    from other zero rows (identical vectors; scikit-learn says 1), dense or sparse.

    Before the fix a zero row sat at distance 1/2 from every row and became the nearest neighbour of every
    bag-of-words row (CiteSeer's 15 featureless nodes took over its 10-NN cosine graph).
    """
    import scipy.sparse as sp
    from sklearn.metrics.pairwise import cosine_distances

    rng = np.random.default_rng(3)
    X = (rng.random((200, 60)) < 0.05).astype(np.float64)  # sparse binary rows: most pairs have cos < 1/2
    X[[5, 17, 80]] = 0.0
    D = cosine_distances(X)
    zero = ~X.any(axis=1)
    D[np.ix_(zero, zero)] = 0.0
    np.fill_diagonal(D, np.inf)
    ref = np.sort(D, axis=1)[:, :6]
    for features in (X, sp.csr_matrix(X)):
        if sp.issparse(features) and backend != EXACT[0]:
            continue
        idx, dist = knn_search(features, 6, metric="cosine", backend=backend if not sp.issparse(features)
                               else "auto", approximate=False)
        np.testing.assert_allclose(dist.numpy(), ref, atol=1e-5)
        picked_zero = zero[idx.numpy()] & ~zero[:, None]
        assert np.all(dist.numpy()[picked_zero] >= 1 - 1e-6)  # a zero row only ever where nothing is closer
