"""PoissonMBO / V-PoissonMBO: the heat step, GraphLearning parity on digits and Cora, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphvar as gv
from graphvar.benchmark.protocol import labeled_sets
from graphvar.engine import iterate
from graphvar.solvers.mbo import HeatOperator, poisson_mbo, vpoisson_mbo


@pytest.fixture(scope="module")
def digits():
    from graphvar.datasets import load_digits

    X, y = load_digits()
    return gv.knn_graph(X, k=10, dtype=torch.float64), y


def _labels(y, s):
    Y = np.full(y.size, -1)
    Y[s] = y[s]
    return Y


def test_heat_operator_step_is_explicit_heat_equation():
    rng = np.random.default_rng(0)
    A = sp.random(40, 40, density=0.2, random_state=1)
    A = A + A.T
    g = gv.Graph.from_scipy(A, dtype=torch.float64)
    W = g.to_scipy()
    d = np.asarray(W.sum(1)).ravel()
    dt = 1.0 / d.max()
    U = rng.normal(size=(40, 3))
    b = rng.normal(size=(40, 3))
    ref = U.copy()
    for _ in range(5):  # GraphLearning: u = P u + Db with P = I - dt L
        ref = ref - dt * (d[:, None] * ref - W @ ref) + dt * b
    got = iterate(HeatOperator(g, dt), torch.from_numpy(U), 5, source=torch.from_numpy(dt * b))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)
    # the variance step: + (a / T)(u - mean u), the plain mean (all degrees 1)
    got = iterate(HeatOperator(g, dt), torch.from_numpy(U), 1, amplification=0.5)
    ref = U - dt * (d[:, None] * U - W @ U) + 0.5 * (U - U.mean(0))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)


def _gl_poisson_mbo(W, y, s, priors):
    gl = pytest.importorskip("graphlearning")
    return gl.ssl.poisson_mbo(W, class_priors=priors).fit_predict(s, y[s])


@pytest.mark.slow
def test_poisson_mbo_matches_graphlearning_on_digits(digits):
    g, y = digits
    W = g.to_scipy()
    priors = np.bincount(y) / y.size
    for rate in (1, 5):
        for s in labeled_sets(y, rate, 2, seed=0, key="digits"):
            ref = _gl_poisson_mbo(W, y, s, priors)
            got = poisson_mbo(g, _labels(y, s), class_priors=priors, init="gl", projection="gl").argmax(-1).numpy()
            assert np.mean(got == ref) >= 0.99
            exact = poisson_mbo(g, _labels(y, s), class_priors=priors).argmax(-1).numpy()
            unl = np.ones(y.size, bool)
            unl[s] = False
            assert abs(np.mean(exact[unl] == y[unl]) - np.mean(ref[unl] == y[unl])) < 0.02


@pytest.mark.slow
def test_poisson_mbo_matches_graphlearning_on_cora(shared_data):
    from graphvar.benchmark.data import load_benchmark_data

    data = load_benchmark_data("cora", graph="citation", largest_component=True, root=shared_data, cache=False)
    g, y = data.graph.to(dtype=torch.float64), data.labels
    priors = np.bincount(y) / y.size
    for s in labeled_sets(y, 2, 2, seed=0, key="cora"):
        ref = _gl_poisson_mbo(g.to_scipy(), y, s, priors)
        got = poisson_mbo(g, _labels(y, s), class_priors=priors, init="gl", projection="gl").argmax(-1).numpy()
        assert np.mean(got == ref) >= 0.99


def test_batched_equals_single_and_info(digits):
    g, y = digits
    priors = np.bincount(y) / y.size
    sets = labeled_sets(y, 1, 2, seed=1, key="digits")
    Y = np.stack([_labels(y, s) for s in sets])
    batched, info = vpoisson_mbo(g, Y, class_priors=priors, amplification=0.5, n_outer=3, return_info=True)
    assert batched.shape == (2, y.size, 10) and info["amplification"] == 0.5 and info["balanced_start"]
    assert len(info["projections"]) == 3 and all(info["projections"][-1]["converged"])
    for b in range(2):
        single = vpoisson_mbo(g, Y[b], class_priors=priors, amplification=0.5, n_outer=3)
        np.testing.assert_array_equal(single.argmax(-1).numpy(), batched[b].argmax(-1).numpy())
    counts = np.bincount(batched[0].argmax(-1).numpy(), minlength=10)
    np.testing.assert_array_equal(counts, np.bincount(y))  # exact projection: the priors' class sizes


def test_bad_class_priors(digits):
    g, y = digits
    Y = _labels(y, labeled_sets(y, 1, 1, seed=0, key="digits")[0])
    with pytest.raises(ValueError, match="one entry per class"):
        poisson_mbo(g, Y, class_priors=[0.5, 0.5])
    with pytest.raises(ValueError, match="non-negative"):
        poisson_mbo(g, Y, class_priors=[-0.1] + [0.1] * 9)
    with pytest.raises(ValueError, match="zero for class"):
        poisson_mbo(g, Y, class_priors=[0.0] + [0.1] * 9)
    with pytest.raises(ValueError, match="needs init='iterative'"):
        poisson_mbo(g, Y, class_priors=np.bincount(y), amplification=1.0)
    with pytest.warns(UserWarning, match="class_priors not given"):
        scores = poisson_mbo(g, Y, n_outer=1)
    assert scores.shape == (y.size, 10)
    unnormalised = poisson_mbo(g, Y, class_priors=np.bincount(y), n_outer=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalised = poisson_mbo(g, Y, class_priors=np.bincount(y) / y.size, n_outer=1)
    torch.testing.assert_close(unnormalised, normalised)


def test_bench_runs_mbo_methods_with_the_benchmark_priors(digits):
    from graphvar.benchmark.runner import run_benchmark

    g, y = digits
    record = run_benchmark(g, y, dataset="digits", rates=[1], trials=2, progress=False, priors="both",
                           methods=["poisson", "vpoisson_mbo:n_outer=2", "multiclass_mbo:n_outer=2,random_state=0"])
    names = [e["method"] for e in record["results"]]
    assert names == ["poisson", "poisson+priors", "vpoisson_mbo:n_outer=2",
                     "multiclass_mbo:n_outer=2,random_state=0"]
    assert all(len(e["accuracy"]) == 2 and min(e["accuracy"]) > 10 for e in record["results"])


def test_vpoisson_mbo_defaults_are_the_measured_ones():
    """80 heat steps per MBO iteration and amplification 0 (docs/mbo.md §3), used by the function and estimator."""
    import inspect

    from graphvar.estimators import VPoissonMBOClassifier
    from graphvar.solvers.mbo import VPOISSON_MBO_AMPLIFICATION, VPOISSON_MBO_N_INNER

    params = inspect.signature(vpoisson_mbo).parameters
    assert params["n_inner"].default == VPOISSON_MBO_N_INNER == 80
    assert params["amplification"].default == VPOISSON_MBO_AMPLIFICATION == 0.0
    assert inspect.signature(poisson_mbo).parameters["n_inner"].default == 40  # GraphLearning's Ns, for parity
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(6, 1, (40, 2))])
    y = np.full(80, -1)
    y[[0, 40]] = [0, 1]
    clf = VPoissonMBOClassifier(k=5, class_priors=[0.5, 0.5]).fit(X, y)
    expected = vpoisson_mbo(clf.graph_, y, class_priors=[0.5, 0.5]).argmax(-1).numpy()
    np.testing.assert_array_equal(clf.transduction_, expected)
