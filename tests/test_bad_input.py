"""Every bad input named in the core issue gets a clear error."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphvar import PoissonClassifier, knn_graph, knn_search


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = -np.ones(50, dtype=int)
    y[:4] = [0, 1, 0, 1]
    return X, y


def test_nan_and_inf_features(data):
    X, y = data
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match="NaN or infinite|NaN|infinity"):
            knn_graph(Xb, k=5)
        with pytest.raises(ValueError, match="NaN|infinity"):
            PoissonClassifier().fit(Xb, y)


def test_length_mismatch(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples|length"):
        PoissonClassifier().fit(X, y[:-1])


def test_no_labeled_point(data):
    X, _ = data
    with pytest.raises(ValueError, match="no labeled sample"):
        PoissonClassifier().fit(X, -np.ones(50, dtype=int))


def test_k_not_smaller_than_n(data):
    X, y = data
    with pytest.raises(ValueError, match="k must satisfy"):
        knn_graph(X, k=50)
    with pytest.raises(ValueError, match="smaller than n_samples"):
        PoissonClassifier(k=50).fit(X, y)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        PoissonClassifier(k=0).fit(X, y)


def test_duplicate_points_do_not_produce_nan():
    X = np.zeros((30, 2))
    X[15:] = 1.0  # two groups of 15 identical points: d_k = 0 everywhere
    g = knn_graph(X, k=5, backend="torch")
    assert torch.isfinite(g.weights.values()).all()
    y = -np.ones(30, dtype=int)
    y[0], y[15] = 0, 1
    clf = PoissonClassifier(k=5).fit(X, y)
    assert np.isfinite(clf.label_distributions_).all()
    np.testing.assert_array_equal(clf.transduction_, np.repeat([0, 1], 15))


def test_non_numeric_features(data):
    _, y = data
    Xs = np.array([["a", "b"]] * 50)
    with pytest.raises((TypeError, ValueError)):
        PoissonClassifier().fit(Xs, y)
    with pytest.raises(TypeError, match="numeric"):
        knn_graph(Xs, k=3)


def test_sparse_features_where_unsupported(data):
    X, y = data
    with pytest.raises(TypeError, match="sparse"):
        knn_graph(sp.csr_matrix(X), k=3, metric="euclidean")
    with pytest.raises(ValueError, match="does not support scipy sparse"):
        knn_search(sp.csr_matrix(X), 3, metric="cosine", backend="faiss")
    with pytest.raises(TypeError, match="(?i)sparse data"):
        PoissonClassifier().fit(sp.csr_matrix(X), y)


def test_given_graph_not_symmetric_or_negative(data):
    _, y = data
    A = sp.random(50, 50, density=0.2, random_state=0, format="csr")
    with pytest.raises(ValueError, match="not symmetric"):
        PoissonClassifier().fit_graph(A, y)
    B = -(A + A.T)
    with pytest.raises(ValueError, match="negative"):
        PoissonClassifier().fit_graph(B, y)


def test_bad_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="kernel"):
        knn_graph(X, kernel="cosine")
    with pytest.raises(ValueError, match="metric"):
        knn_graph(X, metric="minkowski")
    with pytest.raises(ValueError, match="backend"):
        knn_graph(X, backend="annoy")
    with pytest.raises(TypeError, match="k must be an integer"):
        knn_search(X, 2.5)
    with pytest.raises(ValueError, match="2-D"):
        knn_graph(X[:, 0])


# ----------------------------------------------------------------------------- issue 12, by category
import warnings  # noqa: E402

import graphvar  # noqa: E402
from graphvar import LaplaceClassifier, VPoissonClassifier, laplace, poisson, vlaplace, vpoisson  # noqa: E402
from graphvar.graph import Graph  # noqa: E402
from graphvar.nn import PoissonConv, VGPNClassifier  # noqa: E402

SOLVERS = (laplace, poisson, vlaplace, vpoisson)
KNN_FIXED = hasattr(graphvar.graph, "epsilon_ball")  # the k-NN overflow/dtype guards of branch knn
needs_knn_fix = pytest.mark.xfail(not KNN_FIXED, reason="k-NN overflow and dtype guards land with branch knn",
                                  strict=True)


def _knn_W(X):
    return knn_graph(X, k=5).to_scipy().astype(np.float64)


@needs_knn_fix
@pytest.mark.parametrize("scale,dtype", [(1e300, np.float64), (1e30, np.float32)])
def test_large_finite_features(data, scale, dtype):
    X, y = data
    Xb = (X * scale).astype(dtype)
    for call in (lambda: knn_graph(Xb, k=5), lambda: PoissonClassifier().fit(Xb, y)):
        try:
            out = call()
        except ValueError as exc:
            assert "overflow" in str(exc) or "rescale" in str(exc)
        else:
            g = out if isinstance(out, Graph) else out.graph_
            assert torch.isfinite(g.weights.values()).all()


@needs_knn_fix
@pytest.mark.parametrize("dtype", [torch.float16, torch.int64, torch.bfloat16])
def test_graph_dtype_every_solver_can_use(data, dtype):
    with pytest.raises(TypeError, match="float32 or torch.float64"):
        knn_graph(data[0], k=5, dtype=dtype)


def test_given_weights_overflow_underflow_complex(data):
    X, y = data
    W = _knn_W(X)
    for f in SOLVERS:
        with pytest.raises(ValueError, match="too large for torch.float32"):
            f(W * 1e300, y)
    with pytest.raises(ValueError, match="underflow torch.float32"):
        PoissonClassifier().fit_graph(W * 1e-300, y)
    S = poisson(graphvar.as_graph(W * 1e-300, dtype=torch.float64), y)  # representable in float64
    assert torch.isfinite(S).all() and S.abs().sum() > 0
    with pytest.raises(TypeError, match="complex"):
        graphvar.as_graph(W.toarray() * (1 + 1j))


def test_non_finite_scores_are_an_error_naming_amplification(data):
    X, y = data
    W = _knn_W(X)
    for f in SOLVERS:
        with pytest.raises(ValueError, match="amplification=1e\\+06 is too large"):
            f(W, y, amplification=1e6)
    with pytest.raises(ValueError, match="amplification"):
        VGPNClassifier(epochs=5, patience=None, amplification=1e6).fit(X, y)


def test_edgeless_graph_gives_zero_scores_and_a_warning(data):
    _, y = data
    for f in SOLVERS:
        with pytest.warns(UserWarning, match="no labeled node"):
            S = f(sp.csr_matrix((50, 50)), y)
        assert torch.isfinite(S).all() and float(S[y < 0].abs().sum()) == 0


def test_predict_proba_far_points_is_finite(data):
    X, y = data
    clf = PoissonClassifier(k=5).fit(X, y)
    P = clf.predict_proba(X * 1e30)
    assert np.isfinite(P).all() and np.allclose(P.sum(axis=1), 1)


def _two_blobs():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(50, 1, (20, 2))])
    W = sp.block_diag([_knn_W(X[:20]), _knn_W(X[20:])]).tocsr()
    return X, W


@pytest.mark.parametrize("labels,marker", [(np.array([0, 1, 0]), -1), (np.array(["a", "b", "a"], dtype=object), None)])
def test_uninformed_nodes_are_marked_not_class_0(labels, marker):
    X, W = _two_blobs()
    y = np.full(40, -1, dtype=object if labels.dtype == object else int)
    y[:3] = labels
    with pytest.warns(UserWarning, match="no labeled node"):
        clf = LaplaceClassifier(k=5).fit_graph(W, y)
    np.testing.assert_array_equal(clf.uninformed_, np.arange(20, 40))
    assert all(v is marker for v in clf.transduction_[20:]) if marker is None else (clf.transduction_[20:] == -1).all()
    assert set(clf.transduction_[:20].tolist()) <= set(labels.tolist())
    np.testing.assert_allclose(clf.label_distributions_[20:], 0.5)


def test_predict_new_points_next_to_uninformed_ones():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(50, 1, (20, 2))])
    y = np.full(40, -1)
    y[:3] = [0, 1, 0]
    with pytest.warns(UserWarning, match="no labeled node"):
        clf = PoissonClassifier(k=5).fit(X, y)  # the k-NN graph has two components: the far blob is uninformed
    pred = clf.predict(np.array([[0.0, 0.0], [50.0, 50.0]]))
    assert pred[0] in (0, 1) and pred[1] == -1


def test_vgpn_uninformed_nodes():
    X, W = _two_blobs()
    y = np.full(40, -1)
    y[[0, 1, 2, 3]] = [0, 1, 0, 1]
    with pytest.warns(UserWarning, match="feature term alone"):
        clf = VGPNClassifier(epochs=5, patience=None).fit_graph(W, y, X=X)
    np.testing.assert_array_equal(clf.uninformed_, np.arange(20, 40))
    assert set(clf.transduction_.tolist()) <= {0, 1}  # predicted from their features
    with pytest.warns(UserWarning, match="transduction_ -1"):
        clf = VGPNClassifier(epochs=5, patience=None, feature_step=None, attention=True).fit_graph(W, y, X=X)
    assert (clf.transduction_[20:] == -1).all() and (clf.transduction_[:20] >= 0).all()
    assert clf.predict(np.array([[50.0, 50.0]]))[0] == -1


@pytest.mark.parametrize("make", [
    lambda y: np.where(y == -1, "-1", y.astype(str)),  # the string "-1"
    lambda y: np.where(y == 1, -2, y),  # a negative class
    lambda y: ["a", 1] + [-1] * (len(y) - 2),  # mixed strings and numbers
    lambda y: np.where(y == 1, 0.5, y),  # a continuous target
])
def test_label_mistakes(data, make):
    X, y = data
    with pytest.raises((ValueError, TypeError), match='"-1"|-2|mixes|continuous'):
        PoissonClassifier().fit(X, make(y))
    with pytest.raises((ValueError, TypeError), match='"-1"|-2|mixes|continuous'):
        VGPNClassifier(epochs=2).fit(X, make(y))


def test_solvers_reject_negative_and_string_labels(data):
    X, y = data
    W = _knn_W(X)
    with pytest.raises(ValueError, match=r"y holds \[-2\]"):
        poisson(W, np.where(y == 1, -2, y))
    with pytest.raises(TypeError, match="encode string labels first"):
        poisson(W, y.astype(str))


def test_vgpn_string_labels_and_not_fitted(data):
    X, y = data
    ys = np.where(y == -1, None, np.where(y == 0, "cat", "dog")).astype(object)
    clf = VGPNClassifier(epochs=3, patience=None).fit(X, ys)
    assert set(clf.transduction_.tolist()) <= {"cat", "dog"}
    from sklearn.exceptions import NotFittedError

    for est in (VGPNClassifier(), PoissonClassifier(), VPoissonClassifier()):
        with pytest.raises(NotFittedError):
            est.predict(X)


def test_pyg_edge_index_out_of_range_and_conv_checks():
    from torch_geometric.data import Data

    with pytest.raises(ValueError, match="edge_index refers to node 9"):
        Graph.from_pyg(Data(edge_index=torch.tensor([[0, 9], [9, 0]]), num_nodes=5))
    conv = PoissonConv(4, 2)
    x, src = torch.randn(3, 4), torch.zeros(3, 2)
    with pytest.raises(ValueError, match="edge_index holds node ids"):
        conv(x, torch.tensor([[0, 7], [7, 0]]), src)
    with pytest.raises(ValueError, match="edge_weight must be finite and non-negative"):
        conv(x, torch.tensor([[0, 1], [1, 0]]), src, torch.tensor([-1.0, 1.0]))


# ----------------------------------------------------------------------------- convergence is reported
def test_stopping_rule_warns_and_reports_when_it_misses_its_tolerance(data):
    X, y = data
    with pytest.warns(UserWarning, match="did not reach its tolerance"):
        _, info = poisson(_knn_W(X), y, min_iter=1, max_iter=2, return_info=True)
    assert info["stop_rule_converged"] == [False] and info["stop_rule_residual"][0] > info["stop_rule_tol"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info = poisson(_knn_W(X), y, return_info=True)
    assert info["stop_rule_converged"] == [True]


def test_exact_cg_reports_its_residual(data):
    X, y = data
    _, info = laplace(_knn_W(X), y, method="exact", return_info=True)
    assert info["converged"] and info["cg_residual"] <= 1e-5


def test_class_prior_projection_reports_and_warns():
    from graphvar.solvers import volume_label_projection

    S = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    labels, info = volume_label_projection(S, [0.5, 0.5], return_info=True)
    assert info["converged"] and info["fraction_error"] <= 1e-3 and labels.tolist().count(0) == 2
    tied = torch.ones(4, 2)  # ties cannot be split: the projection cannot meet the priors
    with pytest.warns(UserWarning, match=r"class-prior projection \('gl'\) stopped"):
        _, _, info = volume_label_projection(tied, [0.25, 0.75], method="gl", max_iter=50, return_weights=True,
                                             return_info=True)
    assert not info["converged"] and info["n_iter"] == 50 and info["fraction_error"] > 0.1


def test_gnn_training_reports_early_stopping(data):
    X, y = data
    yy = y.copy()
    yy[[4, 5, 6, 7]] = [0, 0, 1, 1]  # 4 labels per class: a validation split exists
    with pytest.warns(UserWarning, match="before early stopping"):
        clf = VGPNClassifier(epochs=3, patience=100).fit(X, yy)
    assert clf.fit_info_["stopped_early"] is False and clf.fit_info_["epochs_run"] == 3


def test_shared_validators():
    from graphvar.validation import check_class_ids, check_finite_output, check_label_matrix

    assert check_class_ids([0, -1, 2.0], 3).tolist() == [0, -1, 2]
    with pytest.raises(TypeError, match="non-integer values"):
        check_class_ids([0, 0.5], 2)
    with pytest.raises(ValueError, match="class id 2, out of range for n_classes=2"):
        check_class_ids([0, 2], 2, n_classes=2)
    with pytest.raises(ValueError, match="labeled set"):
        check_class_ids([[0, 1], [-1, -1]], 2, batched=True)
    with pytest.raises(TypeError, match="must hold numbers"):
        check_label_matrix(np.array([["a"]]))
    with pytest.raises(ValueError, match="binary"):
        check_label_matrix(np.array([[0, 0.5]]))
    assert check_label_matrix(np.array([[0, 0.5]]), binary=False).dtype == np.float32
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_label_matrix(sp.csr_matrix(np.array([[0, 2.0]])), binary=False)
    with pytest.raises(ValueError, match="rows but X has 3"):
        check_label_matrix(np.eye(2), n_rows=3)
    with pytest.raises(ValueError, match="scores are not finite.*rescale"):
        check_finite_output(torch.tensor([1.0, float("nan")]), "scores", "rescale it.")
    check_finite_output(np.arange(3), "ints", "never raised for integers")
