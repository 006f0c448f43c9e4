"""Fuzz tests of the public entry points: a clear error (ValueError/TypeError raised by a graphvar
check, naming the problem) or a finite, valid result -- never a crash or silent NaN.

Derandomized in CI (``tests/fuzz_util.py``); ``GRAPHVAR_FUZZ_EXAMPLES=500 pytest tests/test_fuzz*.py``
explores more with random seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import graphvar
from graphvar.base import encode_labels
from graphvar.validation import check_class_ids

from fuzz_util import adjacency, error_or_valid, feature_arrays, fuzz_settings, label_vectors

KNN_FIXED = hasattr(graphvar.graph, "epsilon_ball")  # the k-NN overflow/dtype guards of branch knn
SOLVERS = st.sampled_from(["laplace", "poisson", "vlaplace", "vpoisson"])


def valid_graph(g) -> bool:
    w = g.weights.values()
    return g.dtype in (torch.float32, torch.float64) and bool((w >= 0).all()) and bool(torch.isfinite(w).all())


@pytest.mark.xfail(not KNN_FIXED, reason="k-NN overflow and dtype guards land with branch knn", strict=True)
@fuzz_settings(80)
@given(X=feature_arrays(), k=st.integers(-1, 6), dtype=st.sampled_from([None, torch.float32, torch.float64,
                                                                         torch.float16, torch.int64]))
def test_fuzz_knn_graph(X, k, dtype):
    kw = {} if dtype is None else {"dtype": dtype}
    error_or_valid(lambda: graphvar.knn_graph(X, k=k, backend="torch", **kw), valid_graph)


@fuzz_settings(60)
@given(data=st.data(), n=st.integers(1, 9), solver=SOLVERS,
       amplification=st.sampled_from([0.0, 1.0, 4.0, 1e6]), method=st.sampled_from(["iterative", "exact"]))
def test_fuzz_solvers_on_given_graphs(data, n, solver, amplification, method):
    A = data.draw(adjacency(n))
    y = data.draw(label_vectors(n))
    kw = {"amplification": amplification}
    if solver in ("laplace", "poisson"):
        kw["method"] = method
    f = getattr(graphvar, solver)
    out = error_or_valid(lambda: f(A, y, min_iter=1, max_iter=60, **kw),
                         lambda S: S.ndim == 2 and S.shape[0] == n)
    if out is not None:
        assert out.shape[1] >= 1


@fuzz_settings(40)
@given(data=st.data(), n=st.integers(3, 16), cls=st.sampled_from(["LaplaceClassifier", "PoissonClassifier",
                                                                  "VPoissonClassifier"]))
def test_fuzz_estimator_fit_predict(data, n, cls):
    X = data.draw(feature_arrays(max_n=16))
    y = data.draw(label_vectors(len(X) if np.ndim(X) else n))
    clf = getattr(graphvar, cls)(k=2, max_iter=60, min_iter=1)

    def fit_predict():
        clf.fit(X, y)
        return clf.label_distributions_, clf.predict(X)

    out = error_or_valid(fit_predict)
    if out is not None:
        proba, pred = out
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert len(pred) == len(clf.transduction_)
        informed = np.setdiff1d(np.arange(len(pred)), clf.uninformed_)
        assert all(p in set(clf.classes_.tolist()) for p in np.asarray(clf.transduction_, dtype=object)[informed])


@fuzz_settings(40)
@given(data=st.data(), n=st.integers(2, 10))
def test_fuzz_estimator_fit_graph(data, n):
    A = data.draw(adjacency(n))
    y = data.draw(label_vectors(n))
    clf = graphvar.PoissonClassifier(max_iter=60, min_iter=1)
    out = error_or_valid(lambda: clf.fit_graph(A, y))
    if out is not None:
        t = np.asarray(clf.transduction_, dtype=object)
        assert all(v is None or v == -1 for v in t[clf.uninformed_])  # never a silent class


@fuzz_settings(60)
@given(data=st.data(), n=st.integers(1, 12))
def test_fuzz_label_parsers(data, n):
    y = data.draw(label_vectors(n))
    out = error_or_valid(lambda: encode_labels(y, n))
    if out is not None:
        classes, codes = out
        assert codes.shape == (n,) and codes.min() >= -1 and codes.max() < len(classes)
        assert not any(isinstance(c, str) and c.strip() == "-1" for c in classes.tolist())
    ids = error_or_valid(lambda: check_class_ids(y, n, batched=True))
    if ids is not None:
        assert ids.dtype == np.int64 and ids.min() >= -1 and (ids >= 0).any()


@fuzz_settings(12)
@given(data=st.data(), amplification=st.sampled_from([0.0, 2.0, 1e6]),
       feature_step=st.sampled_from([None, 0, 2]))
def test_fuzz_vgpn(data, amplification, feature_step):
    from graphvar.nn import VGPNClassifier

    n = 12
    A = data.draw(adjacency(n))
    y = data.draw(label_vectors(n))
    X = np.random.default_rng(0).normal(size=(n, 3)) * data.draw(st.sampled_from([1.0, 1e30, 1e300]))
    clf = VGPNClassifier(epochs=3, patience=None, amplification=amplification, feature_step=feature_step,
                         attention=feature_step is None, n_steps=3)
    out = error_or_valid(lambda: clf.fit_graph(A, y, X=X))
    if out is not None:
        assert np.allclose(clf.label_distributions_.sum(axis=1), 1.0, atol=1e-5)
        if feature_step is None:  # no feature term: unreached nodes are marked, never a silent class
            t = np.asarray(clf.transduction_, dtype=object)
            assert all(v is None or v == -1 for v in t[clf.uninformed_])
