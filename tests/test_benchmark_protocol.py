"""The trials protocol: seeded stratified labeled sets, the runner and the reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from graphvar.benchmark import (
    TrialTask,
    evaluation_mask,
    labeled_sets,
    markdown_table,
    paired_difference,
    parse_method,
    read_json,
    run_benchmark,
    write_json,
)
from graphvar.benchmark.methods import LabelMethod, ScoreMethod, get_method


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    return rng.permutation(np.repeat(np.arange(4), [30, 20, 25, 10]))


def test_labeled_sets_stratified(labels):
    sets = labeled_sets(labels, rate=3, trials=7, seed=5, key="toy")
    assert sets.shape == (7, 12) and sets.dtype == np.int64
    for s in sets:
        assert np.all(np.diff(s) > 0)  # sorted, no repeats
        np.testing.assert_array_equal(np.bincount(labels[s], minlength=4), [3, 3, 3, 3])


def test_labeled_sets_deterministic_and_prefix_stable(labels):
    a = labeled_sets(labels, 2, 5, seed=11, key="toy")
    b = labeled_sets(labels, 2, 5, seed=11, key="toy")
    np.testing.assert_array_equal(a, b)
    # trial t is the same whatever the number of trials requested
    np.testing.assert_array_equal(labeled_sets(labels, 2, 3, seed=11, key="toy"), a[:3])
    # another seed, dataset key or rate gives other sets
    assert not np.array_equal(labeled_sets(labels, 2, 5, seed=12, key="toy"), a)
    assert not np.array_equal(labeled_sets(labels, 2, 5, seed=11, key="other"), a)
    assert len({tuple(s) for s in a}) == 5  # trials differ from each other


def test_labeled_sets_cover_each_class_uniformly(labels):
    # every member of the smallest class is drawn about equally often
    sets = labeled_sets(labels, 1, 2000, seed=0, key="u")
    small = np.flatnonzero(labels == 3)
    counts = np.array([np.sum(sets == i) for i in small])
    assert counts.sum() == 2000
    assert counts.min() > 2000 / 10 * 0.6 and counts.max() < 2000 / 10 * 1.4


def test_labeled_sets_errors(labels):
    with pytest.raises(ValueError, match="class 3 has 10 nodes"):
        labeled_sets(labels, 10, 1)
    with pytest.raises(ValueError, match="rate must be a positive integer"):
        labeled_sets(labels, 0, 1)
    with pytest.raises(ValueError, match="trials must be a positive integer"):
        labeled_sets(labels, 1, 0)
    with pytest.raises(TypeError, match="integers"):
        labeled_sets(labels.astype(float), 1, 1)
    with pytest.raises(ValueError, match=">= 0"):
        labeled_sets(np.array([0, 1, -1, 1, 0]), 1, 1)
    with pytest.raises(ValueError, match="non-negative"):
        labeled_sets(labels, 1, 1, seed=-1)


def test_evaluation_mask_and_task():
    m = evaluation_mask(6, [0, 2], [5])
    np.testing.assert_array_equal(m, [False, True, False, True, True, False])
    t = TrialTask(graph=None, features=None, labels=np.array([0, 1, 1, 2]), train_idx=np.array([1]), val_idx=None, seed=0)
    assert t.n_classes == 3
    np.testing.assert_array_equal(t.y_masked(), [-1, 1, -1, -1])


def test_paired_difference_by_hand():
    a, b = [70.0, 72.0, 75.0, 71.0], [69.0, 73.0, 72.0, 70.0]
    d = np.array([1.0, -1.0, 3.0, 1.0])
    mean, se = paired_difference(a, b)
    assert mean == pytest.approx(1.0)
    assert se == pytest.approx(np.sqrt(((d - 1.0) ** 2).sum() / 3) / 2)
    with pytest.raises(ValueError, match="equal 1-D"):
        paired_difference([1.0], [1.0, 2.0])


def _record():
    return {
        "dataset": "toy",
        "config": {"graph_desc": "test graph"},
        "machine": {"loadavg": [1.0, 2.0, 3.0], "cpu_count": 2},
        "results": [
            {"method": "poisson", "rate": 1, "accuracy": [50.0, 60.0], "seconds": [0.5, 0.5]},
            {"method": "poisson", "rate": 2, "accuracy": [70.0, 70.0], "seconds": [0.5, 0.5]},
            {"method": "vpoisson", "rate": 1, "accuracy": [52.0, 63.0], "seconds": [1.0, 1.0]},
            {"method": "vpoisson", "rate": 2, "accuracy": [69.0, 71.0], "seconds": [1.0, 1.0]},
        ],
    }


def test_markdown_table_and_json_roundtrip(tmp_path):
    rec = _record()
    md = markdown_table(rec)
    assert "| poisson | 55.0 (7.1) | 70.0 (0.0) |" in md
    assert "| vpoisson | +2.50 ± 0.50 | +0.00 ± 1.00 |" in md
    assert "Load average during the run: 1.00 / 2.00 / 3.00 on 2 CPUs" in md
    path = write_json({**rec, "extra": np.float32(1.5)}, tmp_path / "sub" / "r.json")
    back = read_json(path)
    assert back["results"] == rec["results"] and back["extra"] == 1.5
    json.loads(path.read_text())


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from graphvar.benchmark import plot_accuracy

    path = plot_accuracy(_record(), tmp_path / "acc.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parse_and_get_method():
    assert parse_method("VPoisson:amplification=2,max_iter=300") == ("vpoisson", {"amplification": 2, "max_iter": 300})
    m = get_method("vpoisson:amplification=1.5")
    assert isinstance(m, ScoreMethod) and m.solver == "vpoisson" and m.options == {"amplification": 1.5}
    with pytest.raises(ValueError, match="unknown method"):
        get_method("nope")
    with pytest.raises(ValueError, match="key=value"):
        parse_method("poisson:amplification")


def _two_blobs(n_per=40, seed=0):
    from graphvar.graph import Graph

    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(size=(n_per, 2)), rng.normal(size=(n_per, 2)) + 4.0])
    y = np.repeat([0, 1], n_per)
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    W = np.exp(-(D**2))
    np.fill_diagonal(W, 0.0)
    W[W < 1e-3] = 0.0
    return X, y, Graph.from_scipy(sp.csr_matrix(W))


def _nearest_labeled(task):
    # a real (if simple) method: copy the label of the nearest labeled point in feature space
    X = task.features
    d = np.linalg.norm(X[:, None] - X[task.train_idx][None], axis=2)
    return task.labels[task.train_idx][d.argmin(1)]


def test_runner_label_method_accuracy_by_hand():
    X, y, g = _two_blobs()
    rec = run_benchmark(
        g, y, dataset="blobs", methods=[LabelMethod("nn1", _nearest_labeled)], rates=[1, 2], trials=3,
        seed=3, features=X, progress=False,
    )
    assert [(e["method"], e["rate"]) for e in rec["results"]] == [("nn1", 1), ("nn1", 2)]
    for e in rec["results"]:
        sets = labeled_sets(y, e["rate"], 3, seed=3, key="blobs")
        for t, s in enumerate(sets):
            task = TrialTask(g, X, y, s, None, 0)
            pred = _nearest_labeled(task)
            mask = np.ones(len(y), bool)
            mask[s] = False
            assert e["accuracy"][t] == pytest.approx(100 * np.mean(pred[mask] == y[mask]))
    assert rec["machine"]["cpu_count"] and rec["machine"]["loadavg"] is not None


def test_runner_solvers_deterministic_and_variants():
    pytest.importorskip("graphvar.solvers")
    X, y, g = _two_blobs(seed=1)
    kw = dict(dataset="blobs", methods=["poisson", "laplace"], rates=[1, 3], trials=4, seed=7,
              normalize="both", priors="both", progress=False)
    a = run_benchmark(g, y, **kw)
    b = run_benchmark(g, y, **kw)
    names = [e["method"] for e in a["results"]]
    assert names[:8:2] == ["poisson", "poisson+priors", "poisson+norm", "poisson+norm+priors"]
    assert [e["accuracy"] for e in a["results"]] == [e["accuracy"] for e in b["results"]]
    for e in a["results"]:
        assert len(e["accuracy"]) == 4 and all(0 <= v <= 100 for v in e["accuracy"])
    poisson = {e["rate"]: e["accuracy"] for e in a["results"] if e["method"] == "poisson"}
    assert np.mean(poisson[3]) > 90.0  # two well separated blobs


def test_runner_matches_direct_solver_calls_with_components():
    """The runner's one-solve shortcut (normalisation applied afterwards, RCM order)
    gives the accuracies of direct poisson(..., normalize=...) calls, on a graph with
    a component that some labeled sets miss."""
    import warnings

    from graphvar.graph import Graph
    from graphvar.solvers import poisson

    X, y, g = _two_blobs(n_per=30, seed=2)
    # a third, disconnected blob of class 1
    A = g.to_scipy()
    Xc = np.random.default_rng(5).normal(size=(12, 2)) + 20.0
    D = np.linalg.norm(Xc[:, None] - Xc[None], axis=2)
    Wc = np.exp(-(D**2) / 4)
    np.fill_diagonal(Wc, 0.0)
    g3 = Graph.from_scipy(sp.block_diag([A, sp.csr_matrix(Wc)]).tocsr())
    y3 = np.concatenate([y, np.ones(12, dtype=np.int64)])
    for reorder in (True, False):
        rec = run_benchmark(g3, y3, dataset="three", methods=["poisson"], rates=[1, 2], trials=3, seed=0,
                            normalize="both", priors="off", reorder=reorder, progress=False)
        got = {(e["method"], e["rate"]): e["accuracy"] for e in rec["results"]}
        for rate in (1, 2):
            for t, s in enumerate(labeled_sets(y3, rate, 3, seed=0, key="three")):
                ym = np.full(y3.size, -1)
                ym[s] = y3[s]
                mask = evaluation_mask(y3.size, s)
                for norm, name in ((False, "poisson"), (True, "poisson+norm")):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        pred = poisson(g3, ym, normalize=norm).argmax(-1).numpy()
                    assert got[(name, rate)][t] == pytest.approx(100 * np.mean(pred[mask] == y3[mask]))


def test_runner_checkpoints_each_cell():
    X, y, g = _two_blobs()
    seen = []
    run_benchmark(g, y, dataset="blobs", methods=[LabelMethod("nn1", _nearest_labeled)], rates=[1, 2, 3],
                  trials=2, features=X, progress=False, on_result=lambda r: seen.append(len(r["results"])))
    assert seen[:3] == [1, 2, 3]


def test_merge_records():
    from graphvar.benchmark.report import merge_records

    a = _record()
    a["config"].update(seed=0, trials=2, n_nodes=10, n_edges=20, methods=["poisson"])
    a["results"] = a["results"][:2]
    b = _record()
    b["config"].update(seed=0, trials=2, n_nodes=10, n_edges=20, methods=["vpoisson"])
    b["results"] = b["results"][2:]
    m = merge_records([a, b])
    assert [e["method"] for e in m["results"]] == ["poisson", "poisson", "vpoisson", "vpoisson"]
    assert m["config"]["methods"] == ["poisson", "vpoisson"]
    assert "| vpoisson | +2.50 ± 0.50 |" in markdown_table(m)
    b["config"]["seed"] = 1
    with pytest.raises(ValueError, match="not paired"):
        merge_records([a, b])


def _trial_record(trials, gl_trials):
    """A two-method record whose peer ran on ``gl_trials`` of ``trials`` (accuracy = 50 + trial, peer 40 + trial)."""
    res = [{"method": "peer", "rate": 1, "trial": list(gl_trials), "accuracy": [40.0 + t for t in gl_trials],
            "seconds": [2.0] * len(gl_trials)},
           {"method": "ours", "rate": 1, "trial": list(trials), "accuracy": [50.0 + t * t for t in trials],
            "seconds": [1.0] * len(trials)}]
    return {"dataset": "toy", "config": {"trials": 4, "n_nodes": 10}, "results": [e for e in res if e["trial"]]}


def test_paired_difference_matches_trials_not_positions():
    from graphvar.benchmark.report import paired_accuracies

    rec = _trial_record([0, 1, 2, 3], [1, 3])
    ours, peer = paired_accuracies(rec["results"][1], rec["results"][0])
    assert ours == [51.0, 59.0] and peer == [41.0, 43.0]
    md = markdown_table(rec, baseline="peer")
    # by hand: differences 10 and 16 -> mean 13, se = std([10, 16], ddof=1) / sqrt(2) = 3
    assert "| ours | +13.00 ± 3.00 [2] |" in md
    assert "| peer | 42.0 (1.4) [2] |" in md


def test_merge_records_joins_pieces_split_by_trials():
    from graphvar.benchmark.report import merge_records

    a = _trial_record([0, 1], [0, 1])
    b = _trial_record([2, 3], [])
    m = merge_records([b, a])  # out of order: the merge sorts each cell by trial
    cells = {e["method"]: e for e in m["results"]}
    assert cells["ours"]["trial"] == [0, 1, 2, 3]
    assert cells["ours"]["accuracy"] == [50.0, 51.0, 54.0, 59.0]
    assert cells["peer"]["trial"] == [0, 1]
    with pytest.raises(ValueError, match="two records"):
        merge_records([a, a])
