"""Solvers against independent references (scipy solves, hand-written iterations)."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphvar.graph import Graph, knn_graph
from graphvar.solvers import (
    equalize_dispersion,
    laplace,
    poisson,
    random_walk_stop_times,
    vlaplace,
    vpoisson,
)


def _blobs(n=120, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=1.5, size=(classes, 4))
    y = np.arange(n) % classes
    X = centers[y] + rng.normal(size=(n, 4))
    return X, y


@pytest.fixture(scope="module")
def problem():
    X, y = _blobs()
    g = knn_graph(X, k=8, backend="torch", dtype=torch.float64)
    assert connected_components(g.to_scipy())[0] == 1
    labels = -np.ones_like(y)
    labels[[0, 1, 2, 3, 4, 5]] = y[[0, 1, 2, 3, 4, 5]]
    return g, y, labels


def test_laplace_exact_equals_spsolve(problem):
    g, _, labels = problem
    W = g.to_scipy().tocsr()
    L = sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W
    lab = labels >= 0
    U_idx, G_idx = np.flatnonzero(~lab), np.flatnonzero(lab)
    Y = np.eye(3)[labels[G_idx]]
    rhs = W[U_idx][:, G_idx] @ Y
    ref = spla.spsolve(L[U_idx][:, U_idx].tocsc(), rhs)
    u = laplace(g, labels, method="exact").numpy()
    np.testing.assert_allclose(u[U_idx], ref, atol=1e-8)
    np.testing.assert_array_equal(u[G_idx], Y)


def test_poisson_exact_solves_the_poisson_equation(problem):
    g, _, labels = problem
    W = g.to_scipy()
    d = np.asarray(W.sum(axis=1)).ravel()
    L = sp.diags(d) - W
    lab = labels >= 0
    onehot = np.eye(3)[labels[lab]]
    b = np.zeros((len(labels), 3))
    b[lab] = onehot - onehot.mean(axis=0)
    u = poisson(g, labels, method="exact").numpy()
    np.testing.assert_allclose(L @ u, b, atol=1e-8)
    np.testing.assert_allclose(d @ u, 0, atol=1e-8)


def _calder_reference(W, labels, T):
    """Calder et al. 2020 / GraphLearning: u <- D^-1 b + D^-1 W u, T times from 0."""
    d = np.asarray(W.sum(axis=1)).ravel()
    lab = labels >= 0
    onehot = np.eye(labels.max() + 1)[labels[lab]]
    b = np.zeros((len(labels), onehot.shape[1]))
    b[lab] = onehot - onehot.mean(axis=0)
    u = np.zeros_like(b)
    for _ in range(T):
        u = b / d[:, None] + (W @ u) / d[:, None]
    return u


def _stop_reference(W, labels, min_iter=50, max_iter=1000):
    """GraphLearning's loop: walk v <- W D^-1 v from uniform on the labeled set."""
    n = W.shape[0]
    d = np.asarray(W.sum(axis=1)).ravel()
    v = (labels >= 0).astype(float)
    v /= v.sum()
    T = 0
    while (T < min_iter or np.max(np.abs(v - d / d.sum())) > 1 / n) and T < max_iter:
        v = W @ (v / d)
        T += 1
    return T


def test_poisson_iteration_reproduces_calder(problem):
    g, _, labels = problem
    W = g.to_scipy()
    T = _stop_reference(W, labels)
    assert random_walk_stop_times(g, torch.from_numpy(labels >= 0)).item() == T
    u, info = poisson(g, labels, return_info=True)
    assert info["stop_times"] == [T]
    np.testing.assert_allclose(u.numpy(), _calder_reference(W, labels, T), rtol=1e-9, atol=1e-12)


def test_stop_rule_respects_bounds(problem):
    g, _, labels = problem
    mask = torch.from_numpy(labels >= 0)
    assert random_walk_stop_times(g, mask, min_iter=200, max_iter=300).item() == 200
    assert random_walk_stop_times(g, mask, min_iter=1, max_iter=3).item() <= 3


def test_laplace_keeps_labels(problem):
    g, _, labels = problem
    lab = labels >= 0
    for method in ("iterative", "exact"):
        pred = laplace(g, labels, method=method).argmax(1).numpy()
        np.testing.assert_array_equal(pred[lab], labels[lab])
    np.testing.assert_array_equal(vlaplace(g, labels).argmax(1).numpy()[lab], labels[lab])


def test_variance_step_zero_amplification_is_plain(problem):
    g, _, labels = problem
    np.testing.assert_allclose(vpoisson(g, labels, amplification=0.0).numpy(), poisson(g, labels).numpy())
    np.testing.assert_allclose(vlaplace(g, labels, amplification=0.0).numpy(), laplace(g, labels).numpy())


def test_vpoisson_matches_reference_iteration(problem):
    g, _, labels = problem
    W = g.to_scipy()
    d = np.asarray(W.sum(axis=1)).ravel()
    T = _stop_reference(W, labels)
    a = 1.5
    alpha = a / T
    lab = labels >= 0
    onehot = np.eye(3)[labels[lab]]
    b = np.zeros((len(labels), 3))
    b[lab] = onehot - onehot.mean(axis=0)
    u = np.zeros_like(b)
    for _ in range(T):
        mean = d @ u / d.sum()
        u = b / d[:, None] + (W @ u) / d[:, None] + alpha * (u - mean)
    np.testing.assert_allclose(vpoisson(g, labels, amplification=a).numpy(), u, rtol=1e-9, atol=1e-12)


def test_batch_equals_individual_solves(problem):
    g, y, labels = problem
    other = -np.ones_like(y)
    other[[10, 11, 12, 20, 21, 22]] = y[[10, 11, 12, 20, 21, 22]]
    batch = np.stack([labels, other])
    for solver in (poisson, laplace, vpoisson, vlaplace):
        S = solver(g, batch).numpy()
        assert S.shape == (2, len(y), 3)
        np.testing.assert_allclose(S[0], solver(g, labels).numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(S[1], solver(g, other).numpy(), rtol=1e-10, atol=1e-12)


def test_equalize_dispersion_standardises_unlabeled():
    S = torch.randn(2, 50, 4, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1, 2.0], dtype=torch.float64)
    unl = torch.ones(2, 50, dtype=torch.bool)
    unl[:, :5] = False
    Z = equalize_dispersion(S, unl)[:, 5:]
    np.testing.assert_allclose(Z.mean(dim=1).numpy(), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(dim=1, unbiased=False).numpy(), 1, atol=1e-12)


def test_float32_default_and_float64_option(problem):
    g, _, labels = problem
    assert poisson(g.to(dtype=torch.float32), labels).dtype == torch.float32
    assert poisson(g.to(dtype=torch.float32), labels, dtype=torch.float64).dtype == torch.float64


def test_disconnected_component_warns_and_names_nodes():
    A = sp.block_diag([np.ones((4, 4)) - np.eye(4), np.ones((3, 3)) - np.eye(3)]).tocsr()
    y = np.array([0, 1, -1, -1, -1, -1, -1])
    with pytest.warns(UserWarning, match=r"3 node\(s\).*nodes 4, 5, 6"):
        S = poisson(A, y)
    assert torch.all(S[4:] == 0)
    with pytest.warns(UserWarning, match="no labeled node"):
        laplace(A, y, method="exact")


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_permutation_equivariance(seed):
    rng = np.random.default_rng(seed)
    X, y = _blobs(n=40, seed=seed)
    labels = -np.ones_like(y)
    labels[[0, 1, 2]] = y[[0, 1, 2]]
    perm = rng.permutation(len(y))
    g = knn_graph(X, k=5, backend="torch", dtype=torch.float64)
    gp = knn_graph(X[perm], k=5, backend="torch", dtype=torch.float64)
    for solver in (poisson, vpoisson):
        S = solver(g, labels).numpy()
        Sp = solver(gp, labels[perm]).numpy()
        np.testing.assert_allclose(Sp, S[perm], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(laplace(gp, labels[perm], method="exact").numpy(),
                               laplace(g, labels, method="exact").numpy()[perm], atol=1e-8)


def test_solver_rejects_bad_labels(problem):
    g, y, _ = problem
    with pytest.raises(ValueError, match="no labeled point"):
        poisson(g, -np.ones_like(y))
    with pytest.raises(ValueError, match="length"):
        poisson(g, y[:-1])
    with pytest.raises(TypeError, match="integer"):
        poisson(g, np.where(y == 0, 0.5, -1.0))
    with pytest.raises(ValueError, match="amplification"):
        vpoisson(g, y, amplification=-1.0)
    with pytest.raises(ValueError, match="method"):
        poisson(g, y, method="magic")


def test_graph_object_is_reused(problem):
    g, _, labels = problem
    assert isinstance(g, Graph)
    S1 = poisson(g.to_scipy(), labels, dtype=torch.float64)
    np.testing.assert_allclose(S1.numpy(), poisson(g, labels).numpy(), rtol=1e-12)


def test_batch_with_different_stop_times(problem):
    g, y, labels = problem
    many = -np.ones_like(y)
    many[:60] = y[:60]
    batch = np.stack([labels, many, labels])
    for solver in (poisson, vlaplace):
        S, info = solver(g, batch, return_info=True, min_iter=1)
        assert len(set(info["stop_times"])) > 1, info["stop_times"]
        for b, lab in enumerate(batch):
            np.testing.assert_allclose(S[b].numpy(), solver(g, lab, min_iter=1).numpy(), rtol=1e-10, atol=1e-12)
