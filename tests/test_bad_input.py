"""Every bad input named in the core issue gets a clear error."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphvar import PoissonClassifier, knn_graph, knn_search


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = -np.ones(50, dtype=int)
    y[:4] = [0, 1, 0, 1]
    return X, y


def test_nan_and_inf_features(data):
    X, y = data
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match="NaN or infinite|NaN|infinity"):
            knn_graph(Xb, k=5)
        with pytest.raises(ValueError, match="NaN|infinity"):
            PoissonClassifier().fit(Xb, y)


def test_length_mismatch(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples|length"):
        PoissonClassifier().fit(X, y[:-1])


def test_no_labeled_point(data):
    X, _ = data
    with pytest.raises(ValueError, match="no labeled sample"):
        PoissonClassifier().fit(X, -np.ones(50, dtype=int))


def test_k_not_smaller_than_n(data):
    X, y = data
    with pytest.raises(ValueError, match="k must satisfy"):
        knn_graph(X, k=50)
    with pytest.raises(ValueError, match="smaller than n_samples"):
        PoissonClassifier(k=50).fit(X, y)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        PoissonClassifier(k=0).fit(X, y)


def test_duplicate_points_do_not_produce_nan():
    X = np.zeros((30, 2))
    X[15:] = 1.0  # two groups of 15 identical points: d_k = 0 everywhere
    g = knn_graph(X, k=5, backend="torch")
    assert torch.isfinite(g.weights.values()).all()
    y = -np.ones(30, dtype=int)
    y[0], y[15] = 0, 1
    clf = PoissonClassifier(k=5).fit(X, y)
    assert np.isfinite(clf.label_distributions_).all()
    np.testing.assert_array_equal(clf.transduction_, np.repeat([0, 1], 15))


def test_non_numeric_features(data):
    _, y = data
    Xs = np.array([["a", "b"]] * 50)
    with pytest.raises((TypeError, ValueError)):
        PoissonClassifier().fit(Xs, y)
    with pytest.raises(TypeError, match="numeric"):
        knn_graph(Xs, k=3)


def test_sparse_features_where_unsupported(data):
    X, y = data
    with pytest.raises(TypeError, match="sparse"):
        knn_graph(sp.csr_matrix(X), k=3, metric="euclidean")
    with pytest.raises(ValueError, match="does not support scipy sparse"):
        knn_search(sp.csr_matrix(X), 3, metric="cosine", backend="faiss")
    with pytest.raises(TypeError, match="(?i)sparse data"):
        PoissonClassifier().fit(sp.csr_matrix(X), y)


def test_given_graph_not_symmetric_or_negative(data):
    _, y = data
    A = sp.random(50, 50, density=0.2, random_state=0, format="csr")
    with pytest.raises(ValueError, match="not symmetric"):
        PoissonClassifier().fit_graph(A, y)
    B = -(A + A.T)
    with pytest.raises(ValueError, match="negative"):
        PoissonClassifier().fit_graph(B, y)


def test_bad_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="kernel"):
        knn_graph(X, kernel="cosine")
    with pytest.raises(ValueError, match="metric"):
        knn_graph(X, metric="minkowski")
    with pytest.raises(ValueError, match="backend"):
        knn_graph(X, backend="annoy")
    with pytest.raises(TypeError, match="k must be an integer"):
        knn_search(X, 2.5)
    with pytest.raises(ValueError, match="2-D"):
        knn_graph(X[:, 0])
