"""GNN baselines (GCN, APPNP, label propagation) against dense numpy references,
and the benchmark method table."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphvar.benchmark.protocol import TrialTask
from graphvar.graph import Graph
from graphvar.nn import GCN, APPNPNet, label_propagation
from graphvar.benchmark.gnn_methods import METHODS, get_method


def _graph(n=25, seed=0):
    rng = np.random.default_rng(seed)
    rows = list(range(n)) + list(rng.integers(0, n, 40))
    cols = [(i + 1) % n for i in range(n)] + list(rng.integers(0, n, 40))
    A = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).astype(np.float64)
    A.setdiag(0)
    A.eliminate_zeros()
    return Graph.from_scipy(A), A.toarray()


def _gcn_norm(A, self_loops=True):
    A = A + np.eye(len(A)) if self_loops else A
    d = A.sum(1)
    dm = np.where(d > 0, d ** -0.5, 0.0)
    return dm[:, None] * A * dm[None, :]


def test_gcn_matches_dense_formula():
    g, A = _graph()
    data = g.to_pyg()
    torch.manual_seed(0)
    x = torch.randn(25, 7)
    model = GCN(7, 3, hidden=5).eval().double()
    with torch.no_grad():
        out = model(x.double(), data.edge_index, data.edge_weight.double()).numpy()
    S = _gcn_norm(A)
    W1 = model.lin1.weight.detach().numpy().T
    b1 = model.prop1.bias.detach().numpy()
    W2 = model.conv2.lin.weight.detach().numpy().T
    b2 = model.conv2.bias.detach().numpy()
    H = np.maximum(S @ x.double().numpy() @ W1 + b1, 0)
    np.testing.assert_allclose(out, S @ H @ W2 + b2, rtol=1e-9, atol=1e-10)
    # sparse CSR features give the same logits
    with torch.no_grad():
        out_sp = model(x.double().to_sparse_csr(), data.edge_index, data.edge_weight.double()).numpy()
    np.testing.assert_allclose(out_sp, out, rtol=1e-9, atol=1e-10)


def test_appnp_matches_dense_formula():
    g, A = _graph(seed=1)
    data = g.to_pyg()
    torch.manual_seed(0)
    x = torch.randn(25, 6).double()
    model = APPNPNet(6, 3, hidden=4, K=10, alpha=0.1).eval().double()
    with torch.no_grad():
        out = model(x, data.edge_index, data.edge_weight.double()).numpy()
    l1, l2 = model.lin1.lin, model.lin2
    H0 = np.maximum(x.numpy() @ l1.weight.detach().numpy().T + l1.bias.detach().numpy(), 0)
    H0 = H0 @ l2.weight.detach().numpy().T + l2.bias.detach().numpy()
    S = _gcn_norm(A)
    Z = H0
    for _ in range(10):
        Z = 0.9 * S @ Z + 0.1 * H0
    np.testing.assert_allclose(out, Z, rtol=1e-9, atol=1e-10)


def test_label_propagation_matches_zhou_iteration():
    g, A = _graph(seed=2)
    data = g.to_pyg()
    labels = np.arange(25) % 3
    train = np.array([0, 1, 2, 9, 13])
    pred = label_propagation(data.edge_index, labels, train, 3, edge_weight=data.edge_weight,
                             num_layers=30, alpha=0.9)
    S = _gcn_norm(A, self_loops=False)
    Y0 = np.zeros((25, 3))
    Y0[train, labels[train]] = 1
    F = Y0.copy()
    for _ in range(30):
        F = np.clip(0.9 * S @ F + 0.1 * Y0, 0, 1)
    np.testing.assert_array_equal(pred, F.argmax(1))


def _task(seed=0):
    rng = np.random.default_rng(seed)
    n_per, c = 30, 3
    labels = np.repeat(np.arange(c), n_per)
    X = (rng.random((n_per * c, 40)) < 0.05).astype(np.float32)
    X[np.arange(n_per * c), labels * 10 + rng.integers(0, 10, n_per * c)] = 1.0  # class words
    rows, cols = [], []
    for i in range(n_per * c):  # mostly within-class edges
        for j in rng.choice(n_per * c, 4, replace=False):
            if labels[i] == labels[j] or rng.random() < 0.1:
                rows.append(i)
                cols.append(j)
    A = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(90, 90)).tocsr()
    A = ((A + A.T) > 0).astype(np.float64)
    A.setdiag(0)
    A.eliminate_zeros()
    train = np.array([0, 1, 30, 31, 60, 61])
    val = np.array([2, 32, 62])
    return TrialTask(Graph.from_scipy(A), X, labels, train, val, seed)


@pytest.mark.parametrize("name", sorted(METHODS) + ["vgpn-a0.5", "poisson", "vpoisson"])
def test_bench_methods_predict_every_node(name):
    task = _task()
    kw = {"epochs": 60, "patience": 20} if name in ("vgpn", "gpn", "vgpn-a0.5", "gcn", "appnp") else {}
    pred = get_method(name, **kw)(task)
    assert pred.shape == (90,)
    assert set(np.unique(pred)) <= {0, 1, 2}
    mask = np.ones(90, bool)
    mask[np.concatenate([task.train_idx, task.val_idx])] = False
    assert (pred[mask] == task.labels[mask]).mean() > 0.5  # chance is 1/3


def test_bench_gnn_deterministic_and_unknown_name():
    task = _task(1)
    f = get_method("gcn", early_stopping=False, epochs=10)
    np.testing.assert_array_equal(f(task), f(task))
    with pytest.raises(ValueError, match="unknown method"):
        get_method("gat")
    with pytest.raises(ValueError, match="amplification"):
        get_method("vgpn-ax")


def test_attention_suffix_selects_learned_attention():
    f = get_method("vgpn-a0.5-att", epochs=3)
    assert f.keywords["attention"] is True and f.keywords["amplification"] == 0.5
    assert "attention" not in get_method("vgpn-a0.5").keywords
    assert get_method("gpn-att", epochs=3)(_task(2)).shape == (90,)
