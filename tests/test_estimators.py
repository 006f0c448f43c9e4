"""scikit-learn contract of the four classifiers, and accuracy on real data."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import check_estimator

from graphvar import (
    LaplaceClassifier,
    PoissonClassifier,
    VLaplaceClassifier,
    VPoissonClassifier,
    knn_graph,
)

ESTIMATORS = [LaplaceClassifier, PoissonClassifier, VLaplaceClassifier, VPoissonClassifier]

# The one check the contract cannot meet: y = -1 marks an unlabeled sample (as in
# sklearn.semi_supervised, which sklearn exempts from this check by name), so a
# class literally called -1 cannot exist.
EXPECTED_FAILED = {
    "check_classifiers_classes": "-1 marks unlabeled samples (sklearn.semi_supervised contract)",
}


@pytest.mark.slow
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_check_estimator(cls):
    # k=5: several checks fit 10-sample datasets, and k >= n_samples is an error by design.
    check_estimator(cls(k=5, backend="torch"), expected_failed_checks=EXPECTED_FAILED)


def _digits_sets(y, rate, trials, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        lab = -np.ones_like(y)
        for c in np.unique(y):
            idx = rng.choice(np.flatnonzero(y == c), rate, replace=False)
            lab[idx] = c
        out.append(lab)
    return out


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_poisson_digits_one_label_per_class(digits):
    X, y = digits
    g = knn_graph(X, k=10, backend="torch")
    accs = []
    for lab in _digits_sets(y, 1, 10):
        clf = PoissonClassifier().fit_graph(g, lab)
        unl = lab == -1
        accs.append((clf.transduction_[unl] == y[unl]).mean())
    assert np.mean(accs) >= 0.85, accs


def test_fit_predict_contract(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
                     dtype=object)[y]
    lab = names.copy()
    lab[np.random.default_rng(0).random(len(y)) > 0.1] = -1
    clf = VPoissonClassifier(backend="torch").fit(X[:1500], lab[:1500])
    assert set(clf.classes_) == set(names)
    assert clf.transduction_.shape == (1500,)
    P = clf.label_distributions_
    np.testing.assert_allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[P.argmax(1)], clf.transduction_)
    known = lab[:1500] != -1
    # Poisson does not clamp labeled samples (Calder et al.); nearly all keep their label.
    assert (clf.transduction_[known] == names[:1500][known]).mean() > 0.95
    lap = LaplaceClassifier(backend="torch").fit(X[:1500], lab[:1500])
    np.testing.assert_array_equal(lap.transduction_[known], names[:1500][known])
    pred = clf.predict(X[1500:])
    proba = clf.predict_proba(X[1500:])
    assert proba.shape == (297, 10)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert (pred == names[1500:]).mean() > 0.85


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_fit_graph_accepts_every_graph_type(cls, digits):
    X, y = digits
    X, y = X[:300], y[:300]
    g = knn_graph(X, k=10, backend="torch")
    lab = -np.ones_like(y)
    lab[:30] = y[:30]
    ref = cls().fit_graph(g, lab).transduction_
    for obj in (g.to_scipy(), g.to_pyg(), g.to_networkx()):
        np.testing.assert_array_equal(cls().fit_graph(obj, lab).transduction_, ref)
    clf = cls().fit_graph(g, lab)
    with pytest.raises(ValueError, match="fit_graph"):
        clf.predict(X)


def test_normalize_rescues_degenerate_laplace(digits):
    X, y = digits
    g = knn_graph(X, k=10, backend="torch")
    plain, norm = [], []
    for lab in _digits_sets(y, 1, 5, seed=3):
        unl = lab == -1
        plain.append((LaplaceClassifier().fit_graph(g, lab).transduction_[unl] == y[unl]).mean())
        norm.append((LaplaceClassifier(normalize=True).fit_graph(g, lab).transduction_[unl] == y[unl]).mean())
    assert np.mean(norm) > np.mean(plain)


def test_uninformed_nodes_are_reported():
    A = sp.block_diag([np.ones((4, 4)) - np.eye(4), np.ones((3, 3)) - np.eye(3)]).tocsr()
    y = np.array([0, 1, -1, -1, -1, -1, -1])
    with pytest.warns(UserWarning, match="no labeled node"):
        clf = PoissonClassifier().fit_graph(A, y)
    np.testing.assert_array_equal(clf.uninformed_, [4, 5, 6])
    np.testing.assert_allclose(clf.label_distributions_[4:], 0.5)
