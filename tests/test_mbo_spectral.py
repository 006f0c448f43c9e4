"""Multiclass MBO and modularity MBO against GraphLearning 1.7.5 on digits and Cora (same W, same sets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphvar as gv
from graphvar.benchmark.protocol import labeled_sets
from graphvar.solvers.mbo_spectral import modularity_mbo, multiclass_mbo

gl = pytest.importorskip("graphlearning")


def _digits():
    from graphvar.datasets import load_digits

    X, y = load_digits()
    return gv.knn_graph(X, k=10, dtype=torch.float64), y


def _cora(shared_data):
    from graphvar.benchmark.data import load_benchmark_data

    d = load_benchmark_data("cora", graph="citation", largest_component=True, root=shared_data, cache=False)
    return d.graph.to(dtype=torch.float64), d.labels


def _labels(y, s):
    Y = np.full(y.size, -1)
    Y[s] = y[s]
    return Y


def _check(g, y, key, monkeypatch, n_sets=2):
    W = g.to_scipy()
    c = int(y.max()) + 1
    # GraphLearning 1.7.5's modularity_mbo reads an undefined global `k` (NameError); supply it
    monkeypatch.setattr(gl.ssl, "k", c, raising=False)
    for t, s in enumerate(labeled_sets(y, 2, n_sets, seed=0, key=key)):
        ref = gl.ssl.modularity_mbo(W).fit_predict(s, y[s])
        got = modularity_mbo(g, _labels(y, s)).argmax(-1).numpy()
        assert np.mean(got == ref) >= 0.99
        np.random.seed(t)  # the same random start labeling in both
        ref = gl.ssl.multiclass_mbo(W).fit_predict(s, y[s])
        got = multiclass_mbo(g, _labels(y, s), random_state=t).argmax(-1).numpy()
        assert np.mean(got == ref) >= 0.99


@pytest.mark.slow
def test_spectral_mbo_match_graphlearning_on_digits(monkeypatch):
    g, y = _digits()
    _check(g, y, "digits", monkeypatch)


@pytest.mark.slow
def test_spectral_mbo_match_graphlearning_on_cora(shared_data, monkeypatch):
    g, y = _cora(shared_data)
    _check(g, y, "cora", monkeypatch)


@pytest.mark.slow
def test_batched_spectral_mbo_and_bad_input():
    g, y = _digits()
    sets = labeled_sets(y, 1, 2, seed=0, key="digits")
    Y = np.stack([_labels(y, s) for s in sets])
    both = multiclass_mbo(g, Y, n_outer=2, random_state=3).argmax(-1)
    assert both.shape == (2, y.size)
    first = multiclass_mbo(g, Y[0], n_outer=2, random_state=3).argmax(-1)
    torch.testing.assert_close(both[0], first)  # set 0 draws the first start labeling
    mod = modularity_mbo(g, Y, n_outer=2).argmax(-1)
    torch.testing.assert_close(mod[1], modularity_mbo(g, Y[1], n_outer=2).argmax(-1))
    with pytest.raises(ValueError, match="n_eig"):
        multiclass_mbo(g, Y[0], n_eig=5000)
    with pytest.raises(ValueError, match="gamma"):
        modularity_mbo(g, Y[0], gamma=0.0)
    with pytest.raises(ValueError, match="does not use class_priors"):
        gv.ModularityMBOClassifier(class_priors=[0.1] * 10).fit_graph(g, Y[0])
