"""The exact class-prior projection against independent references (scipy's assignment solver)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from graphvar.solvers.volume import class_counts, volume_projection


def _cost(u: np.ndarray) -> np.ndarray:
    """log of GraphLearning's [0, 1]-scaled scores, written out here."""
    s = (u - u.min()) / (u.max() - u.min())
    return np.log(np.maximum(s, np.finfo(np.float64).tiny))


def _reference(u: np.ndarray, m: np.ndarray) -> float:
    """Optimal value by the Hungarian method on the replicated-column problem."""
    C = _cost(u)
    cols = np.repeat(np.arange(u.shape[1]), m)
    r, j = linear_sum_assignment(-C[:, cols])
    return float(C[r, cols[j]].sum())


@pytest.mark.parametrize("seed", range(12))
def test_exact_is_optimal_with_exact_counts(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(8, 80)), int(rng.integers(2, 7))
    u = rng.normal(size=(n, c))
    u[:, 0] += rng.uniform(0, 3)  # one class floods, as low-rate Poisson scores do
    priors = rng.dirichlet(np.ones(c))
    labels, info = volume_projection(u, priors, return_info=True)
    m = class_counts(priors, n)
    got = labels.numpy()
    np.testing.assert_array_equal(np.bincount(got, minlength=c), m)
    assert info["converged"] and info["n_iter"] == info["n_passes"] + info["n_moves"]
    np.testing.assert_allclose(info["fractions"], m / n)
    value = float(_cost(u)[np.arange(n), got].sum())
    assert value == pytest.approx(_reference(u, m), rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_exact_is_optimal_when_the_moves_outgrow_their_candidate_set(seed, monkeypatch):
    """n = 1500, full balancing cut after one pass: the rest runs on subsets of the nodes nearest a class
    change (5 %: 75 nodes), chosen again and widened as the prices move; the result is still the optimum."""
    import graphvar.solvers.volume as volume

    monkeypatch.setattr(volume, "_FULL_HANDOVER", 1.0)
    rng = np.random.default_rng(seed)
    n, c = 1500, 4
    u = rng.normal(size=(n, c)) * 0.3
    u[:, 0] += 1.0  # a flooding class: many moves after balancing hands over
    priors = np.array([0.1, 0.2, 0.3, 0.4])
    m = class_counts(priors, n)
    labels, info = volume_projection(u, priors, return_info=True)
    got = labels.numpy()
    np.testing.assert_array_equal(np.bincount(got, minlength=c), m)
    value = float(_cost(u)[np.arange(n), got].sum())
    assert value == pytest.approx(_reference(u, m), rel=1e-10, abs=1e-9)
    assert info["n_candidate_sets"] >= 2


def test_weights_reproduce_labels_and_batch_equals_single():
    rng = np.random.default_rng(7)
    U = rng.normal(size=(3, 300, 4)) + np.array([1.5, 0.0, 0.0, 0.0])
    priors = np.array([0.1, 0.2, 0.3, 0.4])
    labels, w = volume_projection(torch.from_numpy(U), priors, return_weights=True)
    for b in range(3):
        single = volume_projection(U[b], priors)
        np.testing.assert_array_equal(labels[b].numpy(), single.numpy())
        s = (U[b] - U[b].min()) / (U[b].max() - U[b].min())
        np.testing.assert_array_equal(np.argmax(s * w[b].numpy(), axis=1), labels[b].numpy())
    assert np.all(w[:, 0].numpy() == 1.0)


def test_ties_are_split_exactly_where_gl_cannot():
    tied = torch.ones(8, 2)
    labels, info = volume_projection(tied, [0.25, 0.75], return_info=True)
    assert labels.tolist().count(0) == 2 and info["converged"]
    with pytest.warns(UserWarning, match=r"\('gl'\) stopped"):
        volume_projection(tied, [0.25, 0.75], method="gl", max_iter=50)


def test_zero_prior_class_gets_no_node_and_counts_sum_to_n():
    rng = np.random.default_rng(3)
    u = rng.normal(size=(101, 3))
    labels = volume_projection(u, [0.5, 0.0, 0.5]).numpy()
    assert (labels == 1).sum() == 0
    for n in (1, 7, 100, 1001):
        m = class_counts(np.array([1 / 3, 1 / 3, 1 / 3]), n)
        assert m.sum() == n and m.max() - m.min() <= 1


def test_gl_mode_starts_from_given_weights():
    rng = np.random.default_rng(4)
    u = rng.normal(size=(200, 3))
    w0 = np.array([1.0, 0.5, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same, w = volume_projection(u, [1, 1, 1], method="gl", weights=w0, max_iter=0, return_weights=True)
    s = (u - u.min()) / (u.max() - u.min())
    np.testing.assert_array_equal(same.numpy(), np.argmax(s * w0, axis=1))
    np.testing.assert_allclose(w.numpy(), w0)


@pytest.mark.slow
def test_exact_agrees_with_graphlearning_loop_on_digits():
    import graphvar as gv
    from graphvar.benchmark.protocol import labeled_sets
    from graphvar.datasets import load_digits

    X, y = load_digits()
    g = gv.knn_graph(X, k=10)
    priors = np.bincount(y) / y.size
    for s in labeled_sets(y, 2, 3, seed=0, key="digits"):
        Y = np.full(y.size, -1)
        Y[s] = y[s]
        u = gv.poisson(g, Y)
        exact, info = volume_projection(u, priors, return_info=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the loop may stop short of its tolerance
            loop = volume_projection(u, priors, method="gl")
        assert info["fraction_error"] < 1.0 / y.size
        assert np.mean(exact.numpy() == loop.numpy()) >= 0.99


def test_bad_input():
    with pytest.raises(ValueError, match="one entry per class"):
        volume_projection(np.zeros((5, 2)), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        volume_projection(np.zeros((5, 2)), [1.0, -1.0])
    with pytest.raises(ValueError, match="method"):
        volume_projection(np.zeros((5, 2)), [1.0, 1.0], method="auction")
