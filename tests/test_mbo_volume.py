"""Volume MBO against GraphLearning 1.7.5 (randomised: mean accuracy over 10 trials), bounded assignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

import graphvar as gv
from graphvar.benchmark.protocol import evaluation_mask, labeled_sets
from graphvar.solvers.mbo_volume import volume_mbo
from graphvar.solvers.volume import bounded_assignment

gl = pytest.importorskip("graphlearning")


def _mean_accuracies(g, y, key, rate=5, trials=10, repeats=5):
    """Our mean accuracy over ``trials`` labeled sets, and GraphLearning's over the same sets, ``repeats`` times."""
    W, priors = g.to_scipy(), np.bincount(y) / y.size
    sets = list(labeled_sets(y, rate, trials, seed=0, key=key))
    ours, ref = [], np.zeros((repeats, trials))
    for t, s in enumerate(sets):
        Y = np.full(y.size, -1)
        Y[s] = y[s]
        m = evaluation_mask(y.size, s)
        b = volume_mbo(g, Y, class_priors=priors, random_state=t).argmax(-1).numpy()
        ours.append(100 * np.mean(b[m] == y[m]))
    for r in range(repeats):  # GraphLearning's C code seeds itself from the clock: repeat it to see its spread
        for t, s in enumerate(sets):
            m = evaluation_mask(y.size, s)
            a = gl.ssl.volume_mbo(W, class_priors=priors).fit_predict(s, y[s])
            ref[r, t] = 100 * np.mean(a[m] == y[m])
    return float(np.mean(ours)), ref.mean(axis=1)


def _assert_close(ours: float, ref: np.ndarray):
    """Our 10-set mean within 0.5 points (plus the spread of GraphLearning's own runs) of its range of means.

    GraphLearning's volume MBO is a C extension seeded from the clock, so its
    mean over the same 10 sets moves between runs (on Cora, 9 runs gave 64.2 to
    66.3, standard deviation 0.6): one run of it is no fixed reference, so the
    0.5-point tolerance is widened by the standard deviation of its runs.
    """
    margin = 0.5 + ref.std(ddof=1)
    lo, hi = ref.min() - margin, ref.max() + margin
    assert lo <= ours <= hi, f"ours {ours:.2f}, GraphLearning's runs {np.round(ref, 2)}"


@pytest.mark.slow
def test_volume_mbo_mean_accuracy_matches_graphlearning_on_digits():
    from graphvar.datasets import load_digits

    X, y = load_digits()
    _assert_close(*_mean_accuracies(gv.knn_graph(X, k=10), y, "digits"))


@pytest.mark.slow
def test_volume_mbo_mean_accuracy_matches_graphlearning_on_cora(shared_data):
    from graphvar.benchmark.data import load_benchmark_data

    d = load_benchmark_data("cora", graph="citation", largest_component=True, root=shared_data, cache=False)
    _assert_close(*_mean_accuracies(d.graph, d.labels, "cora"))


@pytest.mark.parametrize("seed", range(5))
def test_bounded_assignment_is_the_lp_optimum(seed):
    rng = np.random.default_rng(seed)
    n, c = 40, 3
    C = rng.normal(size=(n, c))
    C[:, 0] += 1.0  # class 0 over-full, others under-full
    lower, upper = np.array([5, 12, 12]), np.array([14, 30, 30])
    labels = bounded_assignment(torch.from_numpy(C), lower, upper).numpy()
    counts = np.bincount(labels, minlength=c)
    assert np.all(counts >= lower) and np.all(counts <= upper)
    # LP: max sum C x, each row sums to 1, column sums within bounds (integral at the optimum)
    A_eq = np.kron(np.eye(n), np.ones(c))
    cols = np.kron(np.ones(n), np.eye(c))
    res = linprog(-C.ravel(), A_ub=np.vstack([cols, -cols]), b_ub=np.concatenate([upper, -lower]),
                  A_eq=A_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    assert C[np.arange(n), labels].sum() == pytest.approx(-res.fun, abs=1e-9)


def test_volume_mbo_bad_input_and_estimator():
    from graphvar.datasets import load_digits

    X, y = load_digits()
    g = gv.knn_graph(X, k=10)
    Y = np.full(y.size, -1)
    s = labeled_sets(y, 1, 1, seed=0, key="digits")[0]
    Y[s] = y[s]
    with pytest.raises(ValueError, match="zero for class"):
        volume_mbo(g, Y, class_priors=[0.0] + [0.1] * 9)
    with pytest.warns(UserWarning, match="class_priors not given"):
        assert volume_mbo(g, Y, n_iter=2).shape == (y.size, 10)
    clf = gv.VolumeMBOClassifier(class_priors="labeled", solver_params={"n_iter": 3, "random_state": 0})
    assert clf.fit_graph(g, Y).transduction_.shape == (y.size,)
