"""V-GPN: the Poisson propagation layer, the network and the estimator.

References are independent of the code under test: a dense hand-written
attention + iteration loop in numpy, and the core Poisson / V-Poisson solvers.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphvar.graph import Graph, knn_graph
from graphvar.nn import VGPN, PoissonConv, VGPNClassifier, poisson_source
from graphvar.nn.training import stratified_split


def _random_graph(n=40, extra=60, seed=0, weighted=True):
    """Connected symmetric graph: a ring plus random chords, positive weights."""
    rng = np.random.default_rng(seed)
    rows = list(range(n)) + list(rng.integers(0, n, extra))
    cols = [(i + 1) % n for i in range(n)] + list(rng.integers(0, n, extra))
    w = rng.uniform(0.5, 2.0, len(rows)) if weighted else np.ones(len(rows))
    A = sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    A = A + A.T
    A.setdiag(0)
    A.eliminate_zeros()
    return Graph.from_scipy(A)


def _edges(g):
    data = g.to_pyg()
    return data.edge_index, data.edge_weight.float()


def _dense_reference(conv: PoissonConv, x, source, A, steps, alpha, feature=True):
    """Dense numpy reference: attention matrix built entry by entry, then the iteration."""
    A = np.asarray(A, dtype=np.float64)
    n = A.shape[0]
    Wt = conv.lin_att.weight.detach().double().numpy()
    a_dst = conv.att_dst.detach().double().numpy()
    a_src = conv.att_src.detach().double().numpy()
    X = x.detach().double().numpy()
    H = X @ Wt.T
    P = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if A[i, j] > 0:
                z = np.concatenate([H[i], H[j]]) @ np.concatenate([a_dst, a_src])
                z = z if z > 0 else conv.negative_slope * z
                P[i, j] = A[i, j] * np.exp(z)
        P[i] /= P[i].sum()
    d = A.sum(1)
    b = source.double().numpy() / d[:, None]
    F = X @ conv.lin_feat.weight.detach().double().numpy().T if feature else None
    u = np.zeros_like(b)
    for t in range(steps):
        if feature and steps - t == conv.feature_step:
            u = u + F
        new = P @ u + b
        new += alpha * (u - (d @ u) / d.sum())
        u = new
    return u


@pytest.fixture
def small():
    g = _random_graph()
    n, c = g.n_nodes, 3
    rng = np.random.default_rng(1)
    labels = torch.as_tensor(rng.integers(0, c, n))
    train = torch.tensor([0, 5, 11, 17, 23, 31])
    labels[train] = torch.tensor([0, 1, 2, 0, 1, 2])
    x = torch.as_tensor(rng.normal(size=(n, 6)), dtype=torch.float32)
    return g, x, labels, train, c


def test_poisson_source_columns_sum_to_zero():
    labels = torch.tensor([0, 1, 1, 2, 0])
    b = poisson_source(labels, torch.tensor([0, 1, 2, 3]), 5, 3)
    expected = np.zeros((5, 3))
    onehot = np.eye(3)[[0, 1, 1, 2]]
    expected[:4] = onehot - onehot.mean(0)
    np.testing.assert_allclose(b.numpy(), expected, atol=1e-7)
    with pytest.raises(ValueError, match="0..2"):
        poisson_source(torch.tensor([0, 5]), torch.tensor([0, 1]), 2, 3)


def test_untrained_layer_is_poisson_iteration(small):
    """Zero attention vectors and zero feature term at reset: the layer starts as Poisson."""
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    conv = PoissonConv(x.shape[1], c, n_steps=5)
    plain = PoissonConv(x.shape[1], c, n_steps=5, attention=False, feature_step=None)
    src = poisson_source(labels, train, g.n_nodes, c)
    with torch.no_grad():
        torch.testing.assert_close(conv(x, ei, src, ew), plain(x, ei, src, ew))


def test_calibrated_source_scale_gives_unit_std(small):
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    conv = PoissonConv(x.shape[1], c, n_steps=5, attention=False, feature_step=None)
    src = poisson_source(labels, train, g.n_nodes, c)
    with torch.no_grad():
        u1 = conv(x, ei, src, ew)
        s = conv.calibrate_source_scale(ei, src, ew)
        u2 = conv(x, ei, src, ew)
    assert s == pytest.approx(1.0 / float(u1.std()), rel=1e-5)
    assert float(u2.std()) == pytest.approx(1.0, rel=1e-5)
    torch.testing.assert_close(u2, s * u1)


def test_layer_shape_and_gradient_flow(small):
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    torch.manual_seed(0)
    conv = PoissonConv(x.shape[1], c, hidden_channels=8, n_steps=5, amplification=0.5, feature_step=2)
    with torch.no_grad():  # leave the uniform start so every parameter receives gradient
        conv.att_dst.normal_()
        conv.att_src.normal_()
    out = conv(x, ei, poisson_source(labels, train, g.n_nodes, c), ew)
    assert out.shape == (g.n_nodes, c)
    torch.nn.functional.cross_entropy(out[train], labels[train]).backward()
    for name, p in conv.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


@pytest.mark.parametrize("alpha", [0.0, 0.15])
def test_layer_matches_dense_reference(small, alpha):
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    torch.manual_seed(3)
    conv = PoissonConv(x.shape[1], c, hidden_channels=4, n_steps=6, amplification=6 * alpha, feature_step=3).double()
    with torch.no_grad():
        conv.att_dst.normal_()
        conv.att_src.normal_()
        conv.lin_feat.weight.normal_()
        conv.log_source_scale.fill_(0.3)
    src = poisson_source(labels, train, g.n_nodes, c)
    out = conv(x.double(), ei, src.double(), ew.double())
    ref = _dense_reference(conv, x, src.double() * np.exp(0.3), g.to_scipy().toarray(), 6, alpha)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-9, atol=1e-12)


def test_alpha_zero_is_gpn(small):
    """amplification=0 is plain GPN: no variance step, unlike amplification > 0."""
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    src = poisson_source(labels, train, g.n_nodes, c)
    torch.manual_seed(0)
    gpn = VGPN(x.shape[1], c, hidden=4, n_steps=6, amplification=0.0, zero_init=False).eval()
    torch.manual_seed(0)
    vgpn = VGPN(x.shape[1], c, hidden=4, n_steps=6, amplification=1.5, zero_init=False).eval()
    with torch.no_grad():
        for m in (gpn, vgpn):
            m.conv.att_dst.copy_(torch.linspace(-1, 1, 4))
            m.conv.att_src.copy_(torch.linspace(1, -2, 4))
    assert gpn.conv.amplification == 0.0 and vgpn.conv.amplification == pytest.approx(1.5)
    ref = _dense_reference(gpn.conv, x, src, g.to_scipy().toarray(), 6, alpha=0.0)
    with torch.no_grad():
        out0 = gpn(x, ei, src, ew)
        out1 = vgpn(x, ei, src, ew)
    np.testing.assert_allclose(out0.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out0, out1)


@pytest.mark.parametrize("amplification", [0.0, 1.0])
def test_uniform_attention_is_core_poisson_iteration(amplification):
    """Equal attention logits give P = D^-1 W: T layer steps = T steps of the core solver."""
    from graphvar.solvers import poisson, vpoisson

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(4, 1, (30, 2))]).astype(np.float32)
    g = knn_graph(X, k=8)  # weighted (self-tuning Gaussian) graph
    y = np.full(60, -1)
    y[[0, 1, 30, 31]] = [0, 0, 1, 1]
    T = 12
    if amplification:
        ref = vpoisson(g, y, amplification=amplification, min_iter=T, max_iter=T)
    else:
        ref = poisson(g, y, min_iter=T, max_iter=T)
    ei, ew = _edges(g)
    src = poisson_source(torch.as_tensor(y), torch.tensor([0, 1, 30, 31]), 60, 2)
    x = torch.as_tensor(X)
    for attention in (False, True):  # attention=True with zero attention vectors: all logits 0
        conv = PoissonConv(2, 2, n_steps=T, amplification=amplification, feature_step=None, attention=attention)
        assert not conv.att_dst.any() and not conv.att_src.any()
        with torch.no_grad():
            out = conv(x, ei, src, ew, deg=g.degrees)
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-4, atol=1e-6)


def test_sparse_features_equal_dense(small):
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    x = x * (torch.rand_like(x) < 0.3)
    torch.manual_seed(0)
    model = VGPN(x.shape[1], c, hidden=4, n_steps=4).eval()
    src = poisson_source(labels, train, g.n_nodes, c)
    with torch.no_grad():
        dense = model(x, ei, src, ew)
        sparse = model(x.to_sparse_csr(), ei, src, ew)
    torch.testing.assert_close(dense, sparse, rtol=1e-5, atol=1e-6)


def test_layer_validates_input(small):
    g, x, labels, train, c = small
    ei, ew = _edges(g)
    conv = PoissonConv(x.shape[1], c)
    with pytest.raises(ValueError, match="source"):
        conv(x, ei, torch.zeros(g.n_nodes, c + 1), ew)
    with pytest.raises(ValueError, match="x must have shape"):
        conv(x[:, :2], ei, torch.zeros(g.n_nodes, c), ew)
    with pytest.raises(ValueError, match="feature_step"):
        PoissonConv(4, 2, n_steps=3, feature_step=5)


def test_stratified_split_keeps_single_labels_for_training():
    y = np.array([0, 0, 0, 0, 1, 2, 2, -1])
    labeled = np.flatnonzero(y >= 0)
    train, val = stratified_split(labeled, y, per_class=5, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == labeled.tolist()
    assert (y[val] == 0).sum() == 2 and (y[val] == 2).sum() == 1 and (y[val] == 1).sum() == 0
    train, val = stratified_split(labeled, y, per_class=1, seed=0)
    assert val.size == 2


def _blobs(seed=0, n_per=40):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0], [5, 0, 0], [0, 5, 0]], dtype=np.float32)
    X = np.concatenate([rng.normal(c, 1.0, (n_per, 3)) for c in centers])
    y_true = np.repeat(np.arange(3), n_per)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y_true


def test_classifier_fit_predict_and_determinism():
    X, y_true = _blobs()
    y = np.full_like(y_true, -1)
    y[[0, 1, 40, 41, 80, 81]] = y_true[[0, 1, 40, 41, 80, 81]]
    kw = dict(amplification=1.0, epochs=30, hidden=8, k=8, random_state=7)
    a = VGPNClassifier(**kw).fit(X, y)
    b = VGPNClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.label_distributions_, b.label_distributions_)
    c = VGPNClassifier(**{**kw, "random_state": 8}).fit(X, y)
    assert not np.array_equal(a.label_distributions_, c.label_distributions_)
    assert a.label_distributions_.shape == (120, 3)
    assert (a.transduction_ == y_true).mean() > 0.9
    np.testing.assert_array_equal(a.classes_, [0, 1, 2])
    # two labels per class: one carved per class for validation
    assert a.val_idx_.size == 3 and a.train_idx_.size == 3
    # new points: nearest training nodes
    assert (a.predict(X[:5] + 0.01) == a.transduction_[:5]).all()
    np.testing.assert_allclose(a.predict_proba(X[:3]).sum(1), 1.0, rtol=1e-5)


def test_one_label_per_class_trains_fixed_epochs_and_global_rng_untouched():
    X, y_true = _blobs()
    y = np.full_like(y_true, -1)
    y[[0, 40, 80]] = [0, 1, 2]
    state = torch.random.get_rng_state()
    clf = VGPNClassifier(epochs=12, patience=2, hidden=4, k=8).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())
    assert clf.val_idx_.size == 0 and clf.fit_info_["epochs_run"] == 12
    assert clf.fit_info_["val_acc"] is None


def test_classifier_fit_graph_with_explicit_val_and_string_free_labels():
    g = _random_graph(n=30, extra=40, seed=2)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    y = np.full(30, -1)
    y[[0, 1, 2, 3, 4, 5]] = [3, 7, 3, 7, 3, 7]
    clf = VGPNClassifier(epochs=20, patience=5, hidden=4).fit_graph(g.to_scipy(), y, X=X, val_idx=[4, 5])
    np.testing.assert_array_equal(clf.classes_, [3, 7])
    assert set(np.unique(clf.transduction_)) <= {3, 7}
    np.testing.assert_array_equal(clf.val_idx_, [4, 5])
    np.testing.assert_array_equal(clf.train_idx_, [0, 1, 2, 3])


def test_classifier_validation_errors():
    X, y_true = _blobs(n_per=10)
    y = np.full_like(y_true, -1)
    y[[0, 10, 20]] = [0, 1, 2]
    with pytest.raises(ValueError, match="amplification"):
        VGPNClassifier(amplification=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="shape"):
        VGPNClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="no labeled"):
        VGPNClassifier().fit(X, np.full_like(y, -1))
    with pytest.raises(ValueError, match="node features"):
        VGPNClassifier().fit_graph(_random_graph(n=30), y)
    with pytest.raises(ValueError, match="epochs"):
        VGPNClassifier(epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="val_idx"):
        VGPNClassifier(epochs=2).fit_graph(_random_graph(n=30), y, X=X, val_idx=[5])
    with pytest.raises(ValueError, match="no training node"):
        VGPNClassifier(epochs=2).fit_graph(_random_graph(n=30), y, X=X, val_idx=[0])
    clf = VGPNClassifier(amplification=0.5, n_steps=10, epochs=2, hidden=4).fit(X, y)
    assert clf.amplification_ == pytest.approx(0.5) and clf.model_.conv.amplification == pytest.approx(0.5)


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, torch
    torch.set_num_threads(1)
    from graphvar.nn import VGPN, poisson_source
    n, per_node, c, d = 100_000, 10, 4, 8
    g = torch.Generator().manual_seed(0)
    src = torch.arange(n).repeat_interleave(per_node // 2)
    dst = torch.randint(0, n, (src.numel(),), generator=g)
    keep = src != dst
    ei = torch.stack([torch.cat([src[keep], dst[keep]]), torch.cat([dst[keep], src[keep]])])
    x = torch.randn(n, d, generator=g)
    labels = torch.randint(0, c, (n,), generator=g)
    train = torch.arange(0, n, 1000)
    model = VGPN(d, c, hidden=16, n_steps=4, amplification=1.0, attention=True)
    out = model(x, ei, poisson_source(labels, train, n, c))
    torch.nn.functional.cross_entropy(out[train], labels[train]).backward()
    assert out.shape == (n, c) and torch.isfinite(out).all()
    print(ei.size(1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


@pytest.mark.slow
def test_memory_linear_in_edges_on_100k_nodes():
    """A forward + backward pass on 100k nodes / 1M directed edges stays far below n x n."""
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    n_edges, peak_kib = map(int, proc.stdout.split())
    assert n_edges > 900_000
    # a dense 100k x 100k float32 matrix alone would take 40 GB; the sparse pass peaks at ~0.85 GB when run
    # alone and at up to ~1.6 GB inside the full suite (environment inherited from earlier tests), so < 2.5 GB
    assert peak_kib < 2.5 * 1024 ** 2, f"peak RSS {peak_kib / 1024:.0f} MiB"


@pytest.mark.slow
def test_cora_standard_split(shared_data):
    """Cora, standard Planetoid split (20 labels per class), 100 epochs, no early stopping."""
    from graphvar.datasets import load_planetoid

    ds = load_planetoid("cora", root=shared_data / "planetoid")
    y = np.full(ds.y.shape[0], -1)
    y[ds.train_mask] = ds.y[ds.train_mask]
    X = ds.x / np.maximum(ds.x.sum(1, keepdims=True), 1)
    clf = VGPNClassifier(amplification=1.0, epochs=100, val_size=0, random_state=0)
    clf.fit_graph(ds.to_graph(), y, X=sp.csr_matrix(X))
    acc = (clf.transduction_[ds.test_mask] == ds.y[ds.test_mask]).mean()
    assert acc > ACC_CORA_BOUND, acc


# Measured 73.7 % with these settings (GPN, amplification 0: 70.9 %); the bound leaves room
# for platform differences in floating-point summation order.
ACC_CORA_BOUND = 0.70
