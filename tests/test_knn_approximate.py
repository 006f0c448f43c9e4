"""Approximate k-NN (faiss HNSW): measured recall, the ef_search knob, and when 'auto' uses it."""

import numpy as np
import pytest
import torch

from graphvar.graph import knn_graph, knn_search
from graphvar.graph import knn as knn_module

pytest.importorskip("faiss")  # the `faiss` extra, installed in CI


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(20, 12)) * 3
    return (centres[rng.integers(0, 20, 3000)] + rng.normal(size=(3000, 12))).astype(np.float32)


def _true_recall(idx, X, k):
    exact, _ = knn_search(X, k, approximate=False)
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(idx.numpy(), exact.numpy())])


def test_approximate_search_reports_its_recall(clusters):
    idx, dist, info = knn_search(clusters, 10, approximate=True, recall_sample=500, return_info=True)
    assert info["approximate"] is True and info["backend"] == "hnsw" and info["recall_sample"] == 500
    true = _true_recall(idx, clusters, 10)
    assert true >= 0.97 and abs(info["recall"] - true) < 0.02
    # distances are exact for the points found, ascending, self never among them
    d_ref = np.linalg.norm(clusters[:, None, :].astype(np.float64) - clusters[idx.numpy()], axis=2)
    np.testing.assert_allclose(dist.numpy(), d_ref, rtol=1e-6)
    assert (np.diff(dist.numpy(), axis=1) >= 0).all()
    assert not (idx.numpy() == np.arange(len(clusters))[:, None]).any()


def test_ef_search_trades_recall_for_time(clusters):
    low = knn_search(clusters, 10, approximate=True, ef_search=10, recall_sample=0)[0]
    high = knn_search(clusters, 10, approximate=True, ef_search=200, recall_sample=0)[0]
    assert _true_recall(high, clusters, 10) >= _true_recall(low, clusters, 10)
    assert _true_recall(high, clusters, 10) >= 0.995
    with pytest.raises(ValueError, match="ef_search"):
        knn_search(clusters, 10, approximate=True, ef_search=0)


@pytest.mark.parametrize("metric", ["cosine", "angular", "dot"])
def test_approximate_other_metrics(clusters, metric):
    idx, _, info = knn_search(clusters, 8, metric=metric, approximate=True, return_info=True)
    exact, _ = knn_search(clusters, 8, metric=metric, approximate=False)
    agree = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(idx.numpy(), exact.numpy())])
    assert agree >= 0.95 and info["recall"] >= 0.95


def test_auto_is_exact_below_the_threshold_and_approximate_above(clusters, monkeypatch):
    g = knn_graph(clusters, k=5)
    assert g.info["approximate"] is False and "recall" not in g.info
    monkeypatch.setattr(knn_module, "APPROXIMATE_MIN_SAMPLES", 1000)
    g = knn_graph(clusters, k=5, recall_sample=300)
    assert g.info["approximate"] is True and g.info["recall"] >= 0.97 and g.info["recall_sample"] == 300
    assert torch.isfinite(g.weights.values()).all()
    assert knn_graph(clusters, k=5, approximate=False).info["approximate"] is False
