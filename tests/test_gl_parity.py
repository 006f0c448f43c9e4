"""Parity with GraphLearning 1.7.5 for every ssl method graphvar re-implements (docs/methods.md).

Both toolkits get the same scipy ``W`` (graphvar's k-NN graph of digits,
k = 10; Cora's citation graph, largest component, unit weights) and the same
labeled indices (1 and 5 per class). Agreement is
:func:`graphvar.benchmark.parity.agreement`: a node agrees when one
package's prediction is among the other's best classes (exact ties, e.g. hop
distances on Cora or the AMLE's midrange values, have no preferred class).
At least 99 % of the unlabeled nodes must agree, and at most half may be ties.
"""

from __future__ import annotations

import warnings

import graphlearning as gl
import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphvar
from graphvar.benchmark.data import load_benchmark_data
from graphvar.benchmark.parity import agreement
from graphvar.datasets import load_digits


def _sets(y: np.ndarray, seed: int, rates=(1, 5)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.concatenate([rng.choice(np.flatnonzero(y == k), r, replace=False) for k in np.unique(y)])
            for r in rates]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    X = X / 16.0
    g = graphvar.knn_graph(X, k=10)
    return g, g.to_scipy().astype(np.float64), X, y, _sets(y, 0)


@pytest.fixture(scope="module")
def cora(shared_data):
    d = load_benchmark_data("cora", graph="citation", largest_component=True, root=shared_data, cache=False)
    g = d.graph
    return g, g.to_scipy().astype(np.float64), d.features, d.labels, _sets(d.labels, 1)


#: name -> (GraphLearning model from (W, X), graphvar scores from (graph, labels, X)).
METHODS = {
    "laplace": (lambda W, X: gl.ssl.laplace(W), lambda g, y, X: graphvar.laplace(g, y, method="exact")),
    "laplace_wnll": (lambda W, X: gl.ssl.laplace(W, reweighting="wnll"),
                     lambda g, y, X: graphvar.laplace(g, y, method="exact", reweighting="wnll")),
    "laplace_properly": (lambda W, X: gl.ssl.laplace(W, reweighting="properly", X=X),
                         lambda g, y, X: graphvar.laplace(g, y, method="exact", reweighting="properly",
                                                          features=X, dtype=torch.float64)),
    "laplace_poisson": (lambda W, X: gl.ssl.laplace(W, reweighting="poisson"),
                        lambda g, y, X: graphvar.laplace(g, y, method="exact", reweighting="poisson")),
    "laplace_normalized": (lambda W, X: gl.ssl.laplace(W, normalization="normalized"),
                           lambda g, y, X: graphvar.laplace(g, y, method="exact", normalization="normalized")),
    "poisson_cg": (lambda W, X: gl.ssl.poisson(W), lambda g, y, X: graphvar.poisson(g, y, method="exact")),
    "poisson_gd": (lambda W, X: gl.ssl.poisson(W, solver="gradient_descent"), lambda g, y, X: graphvar.poisson(g, y)),
    "poisson_spectral": (lambda W, X: gl.ssl.poisson(W, solver="spectral"),
                         lambda g, y, X: graphvar.poisson(g, y, method="spectral")),
    "randomwalk": (lambda W, X: gl.ssl.randomwalk(W), lambda g, y, X: graphvar.randomwalk(g, y)),
    "graph_nearest_neighbor": (lambda W, X: gl.ssl.graph_nearest_neighbor(W),
                               lambda g, y, X: graphvar.graph_nearest_neighbor(g, y)),
    "plaplace": (lambda W, X: gl.ssl.plaplace(W), lambda g, y, X: graphvar.plaplace(g, y)),
    "amle": (lambda W, X: gl.ssl.amle(W), lambda g, y, X: graphvar.amle(g, y)),
    "peikonal": (lambda W, X: gl.ssl.peikonal(W), lambda g, y, X: graphvar.peikonal(g, y)),
    "centered_kernel": (lambda W, X: gl.ssl.centered_kernel(W), lambda g, y, X: graphvar.centered_kernel(g, y)),
}
#: GraphLearning needs seconds per labeled set for these (dense n x n products, Python loops over edges).
SLOW = {
    "dynamic_label_propagation": (lambda W, X: gl.ssl.dynamic_label_propagation(W),
                                  lambda g, y, X: graphvar.dynamic_label_propagation(g, y)),
    "sparse_label_propagation": (lambda W, X: gl.ssl.sparse_label_propagation(W),
                                 lambda g, y, X: graphvar.sparse_label_propagation(g, y)),
}


def _agreement(model, ours: np.ndarray, train: np.ndarray):
    """``(agreement, tie fraction)`` over the unlabeled nodes (GraphLearning's distances negated)."""
    theirs = model.prob if model.similarity else -model.prob
    unl = np.ones(ours.shape[0], dtype=bool)
    unl[train] = False
    return agreement(theirs, ours, unl)


def _check(case, name: str, table: dict) -> None:
    g, W, X, y, sets = case
    make_gl, run_gv = table[name]
    for train in sets:
        model = make_gl(sp.csr_matrix(W), X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(train, y[train])
        labels = np.full(y.shape[0], -1)
        labels[train] = y[train]
        ours = run_gv(g, labels, X).double().numpy()
        agree, ties = _agreement(model, ours, train)
        assert ties <= 0.5, f"{name}: {100 * ties:.1f} % of the nodes are ties"
        assert agree >= 0.99, f"{name} at {len(train)} labels: {100 * agree:.2f} % agreement with GraphLearning"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_digits_parity(digits, name):
    _check(digits, name, METHODS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_cora_parity(cora, name):
    _check(cora, name, METHODS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_digits_parity_slow(digits, name):
    _check(digits, name, SLOW)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_cora_parity_slow(cora, name):
    _check(cora, name, SLOW)


def test_randomwalk_laplacian_parity_digits(digits):
    """GraphLearning's ``normalization="randomwalk"`` Laplace agrees on digits (its CG happens to converge)."""
    _check(digits, "laplace_randomwalk", {"laplace_randomwalk": (
        lambda W, X: gl.ssl.laplace(W, normalization="randomwalk"),
        lambda g, y, X: graphvar.laplace(g, y, method="exact", normalization="randomwalk"))})


def test_randomwalk_laplacian_is_the_harmonic_extension_on_cora(cora):
    """On Cora GraphLearning's CG on the non-symmetric ``I − D⁻¹W`` does not converge (docs/methods.md);
    graphvar's answer is checked against a direct sparse solve of the same equation instead."""
    from scipy.sparse.linalg import spsolve

    g, W, _, y, sets = cora
    train = sets[0]
    labels = np.full(y.shape[0], -1)
    labels[train] = y[train]
    ours = graphvar.laplace(g, labels, method="exact", normalization="randomwalk", dtype=torch.float64).numpy()
    d = np.asarray(W.sum(axis=1)).ravel()
    L = sp.eye(W.shape[0]) - sp.diags(1 / d) @ W
    free = np.setdiff1d(np.arange(W.shape[0]), train)
    F = np.eye(y.max() + 1)[y[train]]
    ref = spsolve(L[free][:, free].tocsc(), -(L[free][:, train] @ F))
    np.testing.assert_allclose(ours[free], ref, atol=1e-6)
