"""Approximate k-NN (k-means cells + tiled GEMM): measured recall, the n_probe knob, when 'auto' uses it."""

import numpy as np
import pytest
import torch

from graphvar.graph import knn_graph, knn_search
from graphvar.graph import knn as knn_module
from graphvar.graph.ivf import cell_pairs, kmeans


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(20, 12)) * 3
    return (centres[rng.integers(0, 20, 4000)] + rng.normal(size=(4000, 12))).astype(np.float32)


def _true_recall(idx, X, k, metric="euclidean"):
    exact, _ = knn_search(X, k, metric=metric, approximate=False)
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(idx.numpy(), exact.numpy())])


def test_approximate_search_reports_its_recall(clusters):
    idx, dist, info = knn_search(clusters, 10, approximate=True, recall_sample=500, return_info=True)
    assert info["approximate"] is True and info["backend"] == "ivf-tiled" and info["recall_sample"] == 500
    assert info["n_cells"] == round(np.sqrt(len(clusters)))
    true = _true_recall(idx, clusters, 10)
    assert true >= 0.97 and abs(info["recall"] - true) < 0.03
    # distances are exact for the points found, ascending, self never among them, no repeats
    d_ref = np.linalg.norm(clusters[:, None, :].astype(np.float64) - clusters[idx.numpy()], axis=2)
    np.testing.assert_allclose(dist.numpy(), d_ref, rtol=1e-6)
    assert (np.diff(dist.numpy(), axis=1) >= 0).all()
    assert not (idx.numpy() == np.arange(len(clusters))[:, None]).any()
    assert all(len(set(r)) == 10 for r in idx.numpy())


def test_n_probe_trades_recall_for_time(clusters):
    low = knn_search(clusters, 10, approximate=True, n_probe=2, recall_sample=0)[0]
    high = knn_search(clusters, 10, approximate=True, n_probe=40, recall_sample=0)[0]
    assert _true_recall(high, clusters, 10) > _true_recall(low, clusters, 10)
    assert _true_recall(high, clusters, 10) >= 0.999
    with pytest.raises(ValueError, match="n_probe"):
        knn_search(clusters, 10, approximate=True, n_probe=0)


def test_all_cells_probed_is_exact(clusters):
    idx = knn_search(clusters[:500], 6, approximate=True, n_probe=10_000, recall_sample=0)[0]
    exact = knn_search(clusters[:500], 6, approximate=False)[0]
    np.testing.assert_array_equal(idx.numpy(), exact.numpy())


@pytest.mark.parametrize("metric", ["cosine", "angular"])
def test_approximate_angular_metrics(clusters, metric):
    idx, _, info = knn_search(clusters, 8, metric=metric, approximate=True, return_info=True)
    assert _true_recall(idx, clusters, 8, metric) >= 0.95 and info["recall"] >= 0.95
    with pytest.raises(ValueError, match="approximate=True supports"):
        knn_search(clusters, 8, metric="dot", approximate=True)


def test_kmeans_cells_and_pairs():
    rng = np.random.default_rng(0)
    A = np.concatenate([rng.normal(size=(200, 2)) + c for c in ([0, 0], [20, 0], [0, 20])]).astype(np.float32)
    C, lab = kmeans(A, 6, seed=0)
    Cn = C.numpy()
    d2 = ((A[:, None, :] - Cn[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(lab, d2.argmin(1))  # every point is in its nearest cell
    inertia = d2.min(1).mean()
    start = A[np.random.default_rng(1).choice(len(A), 6, replace=False)]
    assert inertia < ((A[:, None, :] - start[None]) ** 2).sum(-1).min(1).mean()  # Lloyd improved on a draw
    assert inertia < 4.0  # six cells on three unit blobs: within-cell spread, not the 20-unit gaps
    C, lab = kmeans(A, 3, seed=0)
    pairs = cell_pairs(C, np.bincount(lab, minlength=3), n_probe=2)
    flat = sorted(p for g in pairs for p in g)
    assert all(a <= b for a, b in flat) and {(0, 0), (1, 1), (2, 2)} <= set(flat)


def test_auto_is_exact_below_the_threshold_and_approximate_above(clusters, monkeypatch):
    g = knn_graph(clusters, k=5)
    assert g.info["approximate"] is False and "recall" not in g.info
    monkeypatch.setattr(knn_module, "APPROXIMATE_MIN_SAMPLES", 1000)
    g = knn_graph(clusters, k=5, recall_sample=300)
    assert g.info["approximate"] is True and g.info["recall"] >= 0.97 and g.info["recall_sample"] == 300
    assert torch.isfinite(g.weights.values()).all()
    assert knn_graph(clusters, k=5, approximate=False).info["approximate"] is False
