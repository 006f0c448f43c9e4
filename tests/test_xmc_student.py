"""Reference one-vs-all student: BCE against soft targets, top-k prediction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
import scipy.sparse as sp

from graphvar.xmc.student import OneVsAllStudent


def _separable(n=400, L=6, D=20, seed=0):
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, L, n)
    X = rng.random((n, D)) * 0.1
    X[np.arange(n), lab] += 1.0  # feature j signals label j
    X = sp.csr_matrix(X * (rng.random((n, D)) < 0.6) + np.eye(D)[lab])
    Y = sp.csr_matrix((np.ones(n), (np.arange(n), lab)), shape=(n, L))
    return X, Y, lab


def test_learns_a_separable_problem():
    X, Y, lab = _separable()
    st = OneVsAllStudent(epochs=6, lr=0.1, batch_size=100, early_stopping=False).fit(X, Y)
    top = st.predict_topk(X, k=1)
    assert np.mean(top.indices == lab) > 0.95
    assert st.loss_curve_[-1] < st.loss_curve_[0]


def test_soft_targets_are_the_bce_minimiser():
    # one constant feature: the optimum of BCE(t, sigmoid(s)) is sigmoid(s_l) = mean_i t_il
    rng = np.random.default_rng(1)
    n, L = 200, 4
    T = sp.csr_matrix(rng.random((n, L)) * (rng.random((n, L)) < 0.7))
    X = sp.csr_matrix(np.ones((n, 1)))
    st = OneVsAllStudent(epochs=300, lr=0.05, batch_size=n, early_stopping=False).fit(X, T)
    prob = 1 / (1 + np.exp(-st.decision_function(X)[0]))
    np.testing.assert_allclose(prob, T.toarray().mean(0), atol=2e-3)


def test_predict_topk_matches_argsort_of_logits():
    X, Y, _ = _separable(n=100, L=8, D=12, seed=2)
    st = OneVsAllStudent(epochs=3, early_stopping=False).fit(X, Y)
    logits = st.decision_function(X)
    top = st.predict_topk(X, k=3)
    assert np.all(np.diff(top.indptr) == 3)
    for i in range(100):
        want = set(np.argsort(-logits[i], kind="stable")[:3])
        assert set(top.indices[top.indptr[i] : top.indptr[i + 1]]) == want
        row = top[i].toarray().ravel()
        for j in want:
            assert row[j] == pytest.approx(1 / (1 + np.exp(-logits[i, j])), rel=1e-5)


def test_seeded_and_dense_input_agree():
    X, Y, _ = _separable(n=120, seed=3)
    a = OneVsAllStudent(epochs=2, random_state=7, early_stopping=False).fit(X, Y)
    b = OneVsAllStudent(epochs=2, random_state=7, early_stopping=False).fit(X.toarray(), Y)
    np.testing.assert_allclose(a.weight_.numpy(), b.weight_.numpy(), atol=1e-5)
    c = OneVsAllStudent(epochs=2, random_state=8, early_stopping=False).fit(X, Y)
    assert not np.allclose(a.weight_.numpy(), c.weight_.numpy())


def test_validation_errors():
    X, Y, _ = _separable(n=50)
    with pytest.raises(ValueError, match="rows"):
        OneVsAllStudent().fit(X[:10], Y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        OneVsAllStudent().fit(X, Y * 2)
    with pytest.raises(ValueError, match="epochs"):
        OneVsAllStudent(epochs=0).fit(X, Y)
    with pytest.raises(TypeError, match="targets"):
        OneVsAllStudent().fit(X, Y.toarray())
    with pytest.raises(NotFittedError, match="not fitted"):
        OneVsAllStudent().predict_topk(X)
    st = OneVsAllStudent(epochs=1, early_stopping=False).fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        st.predict_topk(X[:, :5])
    with pytest.raises(ValueError, match="k must"):
        st.predict_topk(X, k=100)
