"""Class balancing (volume-constrained prediction) against a GraphLearning-style reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphvar.solvers.priors import check_class_priors, class_priors_from_labels, volume_label_projection


def reference_projection(prob: np.ndarray, priors: np.ndarray, max_iter: int = 10_000) -> np.ndarray:
    """Hand-written loop following graphlearning 1.7.5 ssl.volume_label_projection + predict."""
    n, k = prob.shape
    priors = priors / priors.sum()
    scores = prob - prob.min()
    scores = scores / scores.max()
    w = np.ones(k)
    dt = -0.1
    i, err = 0, 1.0
    while i < max_iter and err > 1e-3:
        i += 1
        pred = np.argmax(scores * w, axis=1)
        size = np.zeros(k)
        for label in pred:
            size[label] += 1.0
        grad = size / n - priors
        err = np.max(np.abs(grad))
        w = w + dt * grad
        w = w / w[0]
    return np.argmax(scores * w, axis=1)


def _imbalanced_scores(rng, n=400, k=4):
    # scores that favour class 0 heavily, as an unbalanced Poisson solution does
    u = rng.normal(size=(n, k))
    u[:, 0] += 0.8
    return u


def test_matches_reference_single():
    rng = np.random.default_rng(0)
    u = _imbalanced_scores(rng)
    priors = np.array([0.25, 0.25, 0.25, 0.25])
    got = volume_label_projection(torch.from_numpy(u), priors, method="gl").numpy()
    np.testing.assert_array_equal(got, reference_projection(u, priors))


def test_matches_reference_batched_each_with_own_stop():
    rng = np.random.default_rng(1)
    U = np.stack([_imbalanced_scores(rng, k=3) * s for s in (1.0, 0.3, 2.0)])
    priors = np.array([0.5, 0.3, 0.2])
    got, w = volume_label_projection(torch.from_numpy(U), priors, method="gl", return_weights=True)
    assert got.shape == (3, 400) and w.shape == (3, 3)
    for b in range(3):
        np.testing.assert_array_equal(got[b].numpy(), reference_projection(U[b], priors))


def test_fractions_reach_priors():
    rng = np.random.default_rng(2)
    u = _imbalanced_scores(rng, n=2000, k=5)
    priors = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    pred = volume_label_projection(u, priors).numpy()
    frac = np.bincount(pred, minlength=5) / pred.size
    assert np.abs(frac - priors).max() <= 2e-3
    # without balancing class 0 dominates
    assert np.bincount(u.argmax(1), minlength=5)[0] / 2000 > 0.3


def test_max_iter_zero_is_plain_argmax():
    rng = np.random.default_rng(3)
    u = rng.normal(size=(50, 3))
    pred = volume_label_projection(u, [1, 1, 1], method="gl", max_iter=0).numpy()
    np.testing.assert_array_equal(pred, u.argmax(1))


def test_priors_helpers():
    np.testing.assert_allclose(check_class_priors([2, 1, 1], 3), [0.5, 0.25, 0.25])
    np.testing.assert_allclose(class_priors_from_labels([0, 0, 1, -1, 2, 2, 2, 2]), [2 / 7, 1 / 7, 4 / 7])
    with pytest.raises(ValueError, match="one entry per class"):
        check_class_priors([0.5, 0.5], 3)
    with pytest.raises(ValueError, match="non-negative"):
        check_class_priors([0.5, -0.5, 1.0], 3)
    with pytest.raises(ValueError, match="no labeled node"):
        class_priors_from_labels([-1, -1])
    with pytest.raises(ValueError, match="shape"):
        volume_label_projection(np.zeros(5), [1.0])
    with pytest.raises(TypeError, match="floating"):
        volume_label_projection(torch.zeros(5, 2, dtype=torch.long), [1.0, 1.0])


def test_against_graphlearning_if_installed():
    gl = pytest.importorskip("graphlearning")
    import scipy.sparse as sp

    rng = np.random.default_rng(4)
    n, k = 300, 3
    X = np.concatenate([rng.normal(size=(n // 3, 2)) + 3 * c for c in range(k)])
    labels = np.repeat(np.arange(k), n // 3)
    W = gl.weightmatrix.knn(X, 10)
    train = np.array([0, 100, 200])
    model = gl.ssl.poisson(sp.csr_matrix(W), class_priors=np.array([0.5, 0.3, 0.2]), solver="gradient_descent")
    model.fit(train, labels[train])
    ours = volume_label_projection(model.prob, [0.5, 0.3, 0.2], method="gl").numpy()
    np.testing.assert_array_equal(ours, model.predict())


def test_estimator_class_priors_match_projection():
    from graphvar import PoissonClassifier
    from graphvar.solvers import poisson

    rng = np.random.default_rng(6)
    X = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(30, 2)) + [2.5, 0.0], rng.normal(size=(30, 2)) + [0.0, 2.5]])
    y = np.repeat(np.array([10, 20, 30]), [60, 30, 30])
    yl = np.full(y.shape, -1)
    yl[[0, 60, 90]] = y[[0, 60, 90]]
    priors = [0.5, 0.25, 0.25]
    clf = PoissonClassifier(class_priors=priors).fit(X, yl)
    codes = np.searchsorted([10, 20, 30], yl[yl >= 0])
    ym = np.full(y.shape, -1)
    ym[yl >= 0] = codes
    expected = volume_label_projection(poisson(clf.graph_, ym), priors).numpy()
    np.testing.assert_array_equal(clf.transduction_, np.array([10, 20, 30])[expected])
    assert clf.class_weights_.shape == (3,)
    assert np.all(clf.label_distributions_.argmax(1) == expected)
    with pytest.raises(ValueError, match="class_priors must be None"):
        PoissonClassifier(class_priors="true").fit(X, yl)
    with pytest.raises(ValueError, match="one entry per class"):
        PoissonClassifier(class_priors=[0.5, 0.5]).fit(X, yl)
