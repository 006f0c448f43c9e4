"""GraphLearning's other methods in graphvar: small-graph references, batching, bad input, estimators, bench names.

The parity with GraphLearning itself on digits and Cora is tests/test_gl_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

import graphvar
from graphvar.benchmark.methods import SCORE_ALIASES, SCORE_SOLVERS, get_method

NEW = ["randomwalk", "graph_nearest_neighbor", "plaplace", "amle", "peikonal", "dynamic_label_propagation",
       "centered_kernel", "sparse_label_propagation"]


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.6, size=(40, 2)) for c in ((0, 0), (3, 0), (0, 3))])
    y = np.repeat(np.arange(3), 40)
    g = graphvar.knn_graph(X, k=6, dtype=torch.float64)
    sets = np.full((2, y.size), -1)
    for b, idx in enumerate(([0, 40, 80], [1, 2, 41, 81])):
        sets[b, idx] = y[idx]
    return g, X, y, sets


def _path(n: int, weights=None) -> sp.csr_matrix:
    w = np.ones(n - 1) if weights is None else np.asarray(weights, dtype=float)
    A = sp.diags([w, w], [1, -1], shape=(n, n))
    return sp.csr_matrix(A)


@pytest.mark.parametrize("name", NEW)
def test_batch_equals_one_set_at_a_time(blobs, name):
    g, _, y, sets = blobs
    fn = getattr(graphvar, name)
    batched = fn(g, sets)
    assert batched.shape == (2, y.size, 3)
    for b in range(2):
        torch.testing.assert_close(batched[b], fn(g, sets[b]), rtol=1e-6, atol=1e-8)
    floor = {"centered_kernel": 0.6, "sparse_label_propagation": 0.5}.get(name, 0.9)  # weak methods, 1 label
    assert float((batched.argmax(-1).numpy() == y).mean()) > floor


def test_amle_on_a_path_is_the_linear_interpolation():
    y = np.full(6, -1)
    y[0], y[5] = 0, 1
    scores = graphvar.amle(_path(6), y, tol=1e-12, dtype=torch.float64)
    np.testing.assert_allclose(scores[:, 1].numpy(), np.linspace(0, 1, 6), atol=1e-9)


def test_peikonal_on_a_unit_path_is_the_hop_distance():
    y = np.full(7, -1)
    y[0], y[6] = 0, 1
    scores = graphvar.peikonal(_path(7), y, dtype=torch.float64)
    np.testing.assert_allclose(-scores[:, 0].numpy(), np.arange(7), atol=1e-5)  # node 3's tie gets a jitter
    assert scores[3, 0] != scores[3, 1]  # ... so the tie is broken, not left to the class order


def test_exact_distance_ties_are_broken_at_random_not_by_class_index():
    A = sp.csr_matrix(sp.block_diag([_path(3)] * 200))  # 200 paths: a middle node equidistant to both labels
    y = np.full(600, -1)
    y[0::3], y[2::3] = 0, 1
    pred = graphvar.graph_nearest_neighbor(A, y).argmax(-1).numpy()[1::3]
    assert 0.3 < pred.mean() < 0.7


def test_graph_nearest_neighbor_distances_are_dijkstras(blobs):
    g, _, _, sets = blobs
    scores = graphvar.graph_nearest_neighbor(g, sets[0])
    W = g.to_scipy()
    for k, node in enumerate(np.flatnonzero(sets[0] >= 0)):
        np.testing.assert_allclose(-scores[:, k].numpy(), dijkstra(W, indices=node), rtol=1e-12)


def test_graph_nearest_neighbor_ranks_labels_only_when_classes_tie(blobs, monkeypatch):
    """The tie-breaking ranks cost more than the distances: skipped when no node has two nearest classes."""
    import graphvar.solvers.distance as distance

    calls = []
    rank = distance._seed_priority
    monkeypatch.setattr(distance, "_seed_priority", lambda *a: calls.append(1) or rank(*a))
    g, _, _, sets = blobs
    graphvar.graph_nearest_neighbor(g, sets[0])  # Gaussian weights: no two path lengths are equal
    assert calls == []
    path = _path(5)  # unit weights, labels at both ends: the middle node is at distance 2 from both classes
    scores = graphvar.graph_nearest_neighbor(path, np.array([0, -1, -1, -1, 1]))
    assert calls == [1] and scores[2, 0] != scores[2, 1]


def test_randomwalk_solves_its_linear_system(blobs):
    g, _, _, sets = blobs
    W = g.to_scipy()
    s = 1 / np.sqrt(np.asarray(W.sum(axis=1)).ravel())
    A = sp.eye(W.shape[0]) - 0.9 * sp.diags(s) @ W @ sp.diags(s)
    Y = np.eye(3)[np.maximum(sets[1], 0)] * (sets[1] >= 0)[:, None]
    np.testing.assert_allclose(graphvar.randomwalk(g, sets[1], alpha=0.9).numpy(), spsolve(A.tocsc(), Y),
                               atol=1e-8)


def test_dynamic_label_propagation_equals_the_dense_recursion(blobs):
    g, _, _, sets = blobs
    W = g.to_scipy().toarray()
    P = W / W.sum(axis=1, keepdims=True)
    mask = sets[0] >= 0
    K = np.eye(3)[sets[0][mask]]
    u = np.zeros((W.shape[0], 3))
    u[mask] = K
    Pt = P.copy()
    for _ in range(3):  # the recursion as Wang, Tu, Tsotsos (and GraphLearning) write it, dense
        v = P @ u
        u = Pt @ u
        u[mask] = K
        Pt = P @ Pt @ P.T + 0.05 * v @ v.T + 0.1 * np.eye(W.shape[0])
    np.testing.assert_allclose(graphvar.dynamic_label_propagation(g, sets[0], n_steps=3).numpy(), u, atol=1e-10)


def test_centered_kernel_solves_its_fixed_point(blobs):
    g, _, _, sets = blobs
    scores, info = graphvar.centered_kernel(g, sets[0], power_it=5000, return_info=True)
    W = g.to_scipy().toarray()
    n = W.shape[0]
    C = np.eye(n) - np.ones((n, n)) / n
    A = C @ W @ C
    assert info["top_eigenvalue"] == pytest.approx(np.abs(np.linalg.eigvalsh(A)).max(), rel=1e-4)
    free = sets[0] < 0
    u = scores.numpy()
    np.testing.assert_allclose(1.05 * info["top_eigenvalue"] * u[free], (A @ u)[free], atol=1e-8)


def test_laplace_randomwalk_normalization_is_the_combinatorial_solution(blobs):
    g, _, _, sets = blobs
    torch.testing.assert_close(graphvar.laplace(g, sets, method="exact", normalization="randomwalk"),
                               graphvar.laplace(g, sets, method="exact"))


@pytest.mark.filterwarnings("ignore:the random-walk stopping rule")  # properly: heavy edges mix slowly
def test_laplace_reweightings_run_iterative_and_exact(blobs):
    g, X, y, sets = blobs
    for kw in ({"reweighting": "wnll"}, {"reweighting": "poisson"}, {"reweighting": "properly", "features": X},
               {"normalization": "normalized"}):
        exact, info = graphvar.laplace(g, sets, method="exact", return_info=True, **kw)
        assert info["converged"] and exact.shape == (2, y.size, 3)
        iterative, info = graphvar.laplace(g, sets, return_info=True, max_iter=5000, **kw)
        assert len(info["stop_times"]) == 2
        agree = float((exact.argmax(-1) == iterative.argmax(-1)).double().mean())
        assert agree > 0.9, kw


def test_poisson_spectral_reports_its_eigenvalues(blobs):
    g, _, y, sets = blobs
    scores, info = graphvar.poisson(g, sets, method="spectral", spectral_cutoff=4, return_info=True)
    assert len(info["eigenvalues"]) == 4 and all(0 < lam < 2 for lam in info["eigenvalues"])
    assert float((scores.argmax(-1).numpy() == y).mean()) > 0.9


@pytest.mark.parametrize("call, match", [
    (lambda g, y: graphvar.randomwalk(g, y, alpha=1.0), "alpha must be < 1"),
    (lambda g, y: graphvar.plaplace(g, y, p=1.5), "p must be"),
    (lambda g, y: graphvar.centered_kernel(g, y, alpha=1.0), "alpha must be"),
    (lambda g, y: graphvar.dynamic_label_propagation(g, y, n_steps=0), "n_steps"),
    (lambda g, y: graphvar.laplace(g, y, reweighting="properly"), "features=X"),
    (lambda g, y: graphvar.laplace(g, y, reweighting="poisson", normalization="randomwalk"), "randomwalk"),
    (lambda g, y: graphvar.laplace(g, y, reweighting="wnl"), "reweighting must be one of"),
    (lambda g, y: graphvar.laplace(g, y, normalization="sym"), "normalization must be one of"),
    (lambda g, y: graphvar.laplace(g, y, properly={"r": 1}), "properly must be a dict"),
    (lambda g, y: graphvar.laplace(g, y, method="spectral"), "Poisson solver"),
    (lambda g, y: graphvar.poisson(g, y, method="spectral", spectral_cutoff=119), "too large"),
    (lambda g, y: graphvar.amle(g, y, tol=-1.0), "tol"),
])
def test_bad_input_is_refused_with_a_hint(blobs, call, match):
    g, _, _, sets = blobs
    with pytest.raises(ValueError, match=match):
        call(g, sets[0])


@pytest.mark.parametrize("name", ["amle", "plaplace", "peikonal", "graph_nearest_neighbor"])
def test_unconverged_iterations_warn_and_say_so(blobs, name):
    g, _, _, sets = blobs
    with pytest.warns(RuntimeWarning, match="max_iter=2"):
        _, info = getattr(graphvar, name)(g, sets[0], max_iter=2, return_info=True)
    assert info["converged"] is False and info["iterations"] == 2


@pytest.mark.parametrize("name", NEW)
def test_unreached_components_score_zero_and_finite(name):
    A = sp.block_diag([_path(4), _path(3)]).tocsr()
    y = np.full(7, -1)
    y[0], y[3] = 0, 1
    with pytest.warns(UserWarning, match="no labeled node"):
        scores = getattr(graphvar, name)(A, y)
    assert bool(torch.isfinite(scores).all()) and bool((scores[4:] == 0).all())


CLASSIFIERS = ["RandomWalkClassifier", "GraphNearestNeighborClassifier", "PLaplaceClassifier", "AMLEClassifier",
               "PEikonalClassifier", "DynamicLabelPropagationClassifier", "CenteredKernelClassifier",
               "SparseLabelPropagationClassifier", "WNLLClassifier", "ProperlyWeightedLaplaceClassifier",
               "PoissonReweightedLaplaceClassifier"]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_estimators_fit_and_predict(blobs, name):
    _, X, y, sets = blobs
    clf = clone(getattr(graphvar, name)(k=6))
    clf.fit(X, sets[1])
    floor = {"CenteredKernelClassifier": 0.6, "SparseLabelPropagationClassifier": 0.5}.get(name, 0.85)
    assert clf.transduction_.shape == y.shape and float((clf.transduction_ == y).mean()) > floor
    assert clf.predict(X[:5]).shape == (5,)


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_check_estimator(name):
    # as tests/test_estimators.py: -1 marks unlabeled samples, so a class called -1 cannot exist
    check_estimator(getattr(graphvar, name)(k=5, backend="torch"),
                    expected_failed_checks={"check_classifiers_classes": "-1 marks unlabeled samples"})


def test_properly_estimator_on_a_graph_needs_features(blobs):
    g, X, _, sets = blobs
    with pytest.raises(ValueError, match="needs features"):
        graphvar.ProperlyWeightedLaplaceClassifier().fit_graph(g, sets[0])
    clf = graphvar.ProperlyWeightedLaplaceClassifier(solver_params={"features": X}).fit_graph(g, sets[0])
    assert clf.transduction_.shape == (X.shape[0],)


@pytest.mark.parametrize("name", NEW + sorted(SCORE_ALIASES))
def test_bench_names_solve_batches(blobs, name):
    g, _, y, sets = blobs
    assert name in SCORE_SOLVERS or name in SCORE_ALIASES
    scores, info = get_method(name).solve(g, torch.from_numpy(sets), normalize=True, n_classes=3)
    assert scores.shape == (2, y.size, 3) and isinstance(info, dict)
