"""Graph construction equals GraphLearning 1.7.5's, given the same neighbours; overflow and dtype guards."""

import graphlearning as gl
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphvar.graph import directed_graph, epsilon_ball, knn_graph, knn_search, symmetric_graph

KNN_KERNELS = ["gaussian", "symgaussian", "uniform", "distance", "singular"]


def eta(t):
    return np.exp(-t) / (1.0 + t)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(250, 5))
    Z[10] = Z[11]  # a duplicate pair: zero distances
    return Z


def _gl_knn(X, k, kernel, metric="euclidean", symmetrize=True):
    """GraphLearning's weight matrix built from graphvar's neighbours (self prepended, as GL stores them)."""
    idx, dist = knn_search(X, k, metric=metric, approximate=False)
    n = X.shape[0]
    ind = np.hstack([np.arange(n)[:, None], idx.numpy()])
    dst = np.hstack([np.zeros((n, 1)), dist.numpy()])
    if callable(kernel):
        # GL 1.7.5's eta branch computes eta(D / eps) with eps of shape (n,) against D of shape (n, k+1), which
        # raises unless n == k + 1; this is its documented formula eta(|x_i - x_j|² / d_k(x_i)²), written out.
        D = dst ** 2
        W = sp.coo_matrix((kernel(D / D[:, -1:]).ravel(), (np.repeat(np.arange(n), k + 1), ind.ravel())),
                          shape=(n, n)).tocsr()
        W = (W + W.T) / 2 if symmetrize else W
        W.setdiag(0)
        return W.toarray()
    return gl.weightmatrix.knn(X, k, kernel=kernel, knn_data=(ind, dst), symmetrize=symmetrize).toarray()


@pytest.mark.parametrize("kernel", KNN_KERNELS + [eta])
def test_knn_weights_equal_graphlearning(X, kernel):
    g = knn_graph(X, k=7, kernel=kernel, dtype=torch.float64, approximate=False)
    np.testing.assert_allclose(g.to_scipy().toarray(), _gl_knn(X, 7, kernel), rtol=1e-12, atol=1e-14)
    assert not g.directed


@pytest.mark.parametrize("kernel", ["gaussian", "uniform", "distance", eta])
def test_directed_knn_graph_equals_graphlearning_unsymmetrised(X, kernel):
    g = knn_graph(X, k=6, kernel=kernel, dtype=torch.float64, symmetrize=False, approximate=False)
    assert g.directed and g.info["symmetrize"] is False
    W = g.to_scipy()
    assert (np.diff(W.indptr) <= 6).all()
    np.testing.assert_allclose(W.toarray(), _gl_knn(X, 6, kernel, symmetrize=False), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("metric", ["angular", "manhattan"])
def test_metric_distances_are_graphlearnings(X, metric):
    """The distances GraphLearning recomputes for its annoy candidates are the ones graphvar returns."""
    idx, dist = knn_search(X, 5, metric=metric, approximate=False)
    i = idx.numpy()
    if metric == "angular":
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        ref = np.linalg.norm(Xn[:, None, :] - Xn[i], axis=2)
    else:
        ref = np.abs(X[:, None, :] - X[i]).sum(axis=2)
    np.testing.assert_allclose(dist.numpy(), ref, rtol=1e-12)
    g = knn_graph(X, k=5, metric=metric, dtype=torch.float64, approximate=False)
    np.testing.assert_allclose(g.to_scipy().toarray(), _gl_knn(X, 5, "gaussian", metric=metric), rtol=1e-12)


def test_hamming_and_dot_graphs():
    rng = np.random.default_rng(4)
    B = (rng.random((120, 16)) < 0.4).astype(np.float64)
    g = knn_graph(B, k=5, metric="hamming", kernel="uniform", dtype=torch.float64, approximate=False)
    np.testing.assert_array_equal(g.to_scipy().toarray(), _gl_knn(B, 5, "uniform", metric="hamming"))
    g = knn_graph(B, k=5, metric="dot", kernel="uniform", dtype=torch.float64, approximate=False)
    idx, _ = knn_search(B, 5, metric="dot", approximate=False)
    ip = B @ B.T
    np.fill_diagonal(ip, -np.inf)
    assert (np.take_along_axis(ip, idx.numpy(), 1)[:, -1] >= np.sort(ip, 1)[:, -5]).all()  # largest products
    np.testing.assert_array_equal(g.to_scipy().toarray(), _gl_knn(B, 5, "uniform", metric="dot"))
    with pytest.raises(ValueError, match="not a distance"):
        knn_graph(B, k=5, metric="dot")


@pytest.mark.parametrize("kernel", ["gaussian", "uniform", "distance", "singular", eta])
@pytest.mark.parametrize("dim", [2, 20])  # k-d tree path and blocked-product path
def test_epsilon_ball_equals_graphlearning(kernel, dim):
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(300, dim))
    eps = 0.6 if dim == 2 else 4.5
    g = epsilon_ball(Z, eps, kernel=kernel, dtype=torch.float64)
    kw = {"eta": kernel} if callable(kernel) else {"kernel": kernel}
    ref = gl.weightmatrix.epsilon_ball(Z, eps, **kw).toarray()
    assert (ref > 0).sum() > 300  # the radius joins a fair number of pairs
    np.testing.assert_allclose(g.to_scipy().toarray(), ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_ball(Z, -1.0)


def test_symmetric_graph_max_mode_keeps_the_larger_weight():
    idx = torch.tensor([[1], [0], [0]])
    w = torch.tensor([[0.5], [2.0], [3.0]])
    W = symmetric_graph(idx, w, mode="max", dtype=torch.float64).to_scipy().toarray()
    np.testing.assert_array_equal(W, [[0, 2, 3], [2, 0, 0], [3, 0, 0]])
    D = directed_graph(idx, w, dtype=torch.float64)
    assert D.directed
    np.testing.assert_array_equal(D.to_scipy().toarray(), [[0, 0.5, 0], [2, 0, 0], [3, 0, 0]])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, n\)"):
        symmetric_graph(torch.tensor([[5], [0], [0]]), w)


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64, torch.bfloat16, "float32"])
def test_graph_dtype_must_be_float32_or_float64(X, dtype):
    with pytest.raises(TypeError, match="dtype must be torch.float32 or torch.float64"):
        knn_graph(X, k=5, dtype=dtype)


def test_huge_features_build_the_same_graph_or_say_why(X):
    base = knn_graph(X, k=6, dtype=torch.float64, approximate=False).to_scipy()
    for scaled, dtype in ((X * 1e300, torch.float64), ((X * 1e30).astype(np.float32), torch.float32)):
        g = knn_graph(scaled, k=6, dtype=dtype, approximate=False)
        assert torch.isfinite(g.weights.values()).all() and torch.isfinite(g.degrees).all()
        assert abs(g.to_scipy() - base).max() < 1e-5
    with pytest.raises(ValueError, match="overflow torch.float32"):
        knn_graph(X * 1e300, k=6, kernel="distance", dtype=torch.float32)
    with pytest.raises(ValueError, match="underflow to 0 in torch.float32"):
        knn_graph(X * 1e300, k=6, kernel="singular", dtype=torch.float32)
    far = np.array([[0.0], [1e38], [-1e38], [3e38]], dtype=np.float32)  # 3e38 - (-1e38) exceeds float32
    with pytest.raises(ValueError, match="distances up to .* overflow torch.float32"):
        knn_search(far, 3, approximate=False)
    assert torch.isfinite(knn_search(far.astype(np.float64), 3, approximate=False)[1]).all()


def test_bad_kernel_callable(X):
    with pytest.raises(ValueError, match="negative, NaN or infinite"):
        knn_graph(X, k=5, kernel=lambda t: -t)
    with pytest.raises(ValueError, match="elementwise"):
        knn_graph(X, k=5, kernel=lambda t: np.ones(3))
    with pytest.raises(ValueError, match="kernel must be one of"):
        knn_graph(X, k=5, kernel="cosine")


def test_sparse_input_still_builds_cosine_graph():
    A = sp.random(80, 30, density=0.3, random_state=0, format="csr")
    g = knn_graph(A, k=4, metric="cosine")
    assert g.n_nodes == 80 and g.info["backend"] == "torch"
