"""The cases of ``bad_input_survey.py`` for the in-memory API: graphs, solvers, estimators, PyG layers.

Each ``*_cases`` function registers its wrong calls with :func:`add` (public
API only). Files, loaders, XMC and the CLI are in ``bad_input_files.py``; the
runner, the classification and the report in ``bad_input_survey.py``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["Case", "CASES", "add", "finite", "X", "rng", "graph_cases", "given_graph_cases", "solver_cases",
           "estimator_cases", "nn_cases"]


@dataclass
class Case:
    category: str
    entry: str
    desc: str
    fn: Callable[[], Any]
    expect: str = "error"  # "error": only an error is right; "either": error or valid result
    keys: tuple = ()
    check: Callable[[Any], bool] | None = None
    outcome: str = ""
    detail: str = ""
    extra: dict = field(default_factory=dict)


CASES: list[Case] = []


def add(category, entry, desc, fn, expect="error", keys=(), check=None):
    CASES.append(Case(category, entry, desc, fn, expect, tuple(keys), check))


def finite(obj) -> bool:
    """True when every array/tensor inside ``obj`` is finite."""
    if isinstance(obj, torch.Tensor):
        return bool(torch.isfinite(obj).all()) if obj.is_floating_point() else True
    if sp.issparse(obj):
        return bool(np.isfinite(obj.data).all())
    if isinstance(obj, np.ndarray):
        return bool(np.isfinite(obj).all()) if obj.dtype.kind in "fc" else True
    if isinstance(obj, (tuple, list)):
        return all(finite(o) for o in obj)
    if isinstance(obj, dict):
        return all(finite(v) for v in obj.values() if isinstance(v, (np.ndarray, torch.Tensor, float)))
    if isinstance(obj, float):
        return bool(np.isfinite(obj))
    if hasattr(obj, "label_distributions_"):
        return finite(obj.label_distributions_)
    if hasattr(obj, "weights") and isinstance(getattr(obj, "weights"), torch.Tensor):
        return finite(obj.weights.values()) and bool((obj.weights.values() >= 0).all())
    return True


# --------------------------------------------------------------------------- fixtures
rng = np.random.default_rng(0)
N = 40
X = np.vstack([rng.normal(0, 1, (N // 2, 3)), rng.normal(6, 1, (N // 2, 3))])
Y_TRUE = np.repeat([0, 1], N // 2)
y = np.full(N, -1)
y[[0, 1, 20, 21]] = [0, 0, 1, 1]


def usable_graph(g) -> bool:
    """A graph every solver can use: float32/float64 weights, not all zero."""
    return g.dtype in (torch.float32, torch.float64) and float(g.weights.values().double().sum()) > 0


def W_knn():
    import graphvar

    return graphvar.knn_graph(X, k=5).to_scipy().astype(np.float64)


def two_components():
    """Block-diagonal graph; labels only in the first block."""
    A = sp.block_diag([W_knn()[:20, :20], W_knn()[20:, 20:]]).tocsr()
    return A


def labels_first_block():
    lab = np.full(N, -1)
    lab[[0, 1, 2]] = [0, 1, 0]
    return lab


def isolated_node_graph():
    A = W_knn().tolil()
    A[5, :] = 0
    A[:, 5] = 0
    return A.tocsr()


SOLVERS = ("laplace", "poisson", "vlaplace", "vpoisson")
ESTIMATORS = ("LaplaceClassifier", "PoissonClassifier", "VLaplaceClassifier", "VPoissonClassifier")


def solver(name):
    import graphvar

    return getattr(graphvar, name)


def est(name, **kw):
    import graphvar

    return getattr(graphvar, name)(**kw)


def quiet(fn):
    def wrapped():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return wrapped


# --------------------------------------------------------------------------- graph construction
def graph_cases():
    import graphvar

    feats = {
        "NaN feature": (lambda: np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X), "either", ("nan",)),
        "inf feature": (lambda: np.where(np.arange(X.size).reshape(X.shape) == 4, np.inf, X), "either", ("inf",)),
        "X x 1e300 (float64)": (lambda: X * 1e300, "either", ("overflow", "rescale", "large")),
        "X x 1e30 (float32)": (lambda: (X * 1e30).astype(np.float32), "either", ("overflow", "rescale", "large")),
        "X x 1e-300": (lambda: X * 1e-300, "either", ("underflow", "small", "rescale")),
        "all-zero X": (lambda: np.zeros_like(X), "either", ("duplicate", "identical", "distinct")),
        "1-D X": (lambda: X[:, 0], "either", ("2-d", "reshape")),
        "3-D X": (lambda: X[:, :, None], "either", ("2-d",)),
        "empty X": (lambda: np.zeros((0, 3)), "either", ("empty", "sample")),
        "object X": (lambda: X.astype(object), "either", ("numeric", "dtype", "object")),
        "string X": (lambda: X.astype(str), "either", ("numeric", "dtype")),
        "complex X": (lambda: X + 1j, "either", ("complex", "real")),
        "bool X": (lambda: X > 0, "either", ("bool",)),
        "int X": (lambda: (X * 10).astype(np.int64), "either", ("int",)),
        "float16 X": (lambda: X.astype(np.float16), "either", ("float16",)),
        "ragged list X": (lambda: [[1.0, 2.0], [3.0]] * 20, "either", ("shape", "array", "sequence")),
        "sparse X (euclidean)": (lambda: sp.csr_matrix(X), "either", ("sparse",)),
    }
    for desc, (make, expect, keys) in feats.items():
        add("features", "knn_graph", desc, lambda make=make: graphvar.knn_graph(make(), k=5), expect, keys)
    for desc in ("NaN feature", "X x 1e300 (float64)", "X x 1e30 (float32)", "object X", "complex X", "float16 X"):
        make, expect, keys = feats[desc]
        add("features", "knn_search", desc, lambda make=make: graphvar.knn_search(make(), 5), expect, keys)
    for k in (0, -1, 2.5, True, "5", N, None):
        add("parameters", "knn_graph", f"k={k!r}", lambda k=k: graphvar.knn_graph(X, k=k), "error", ("k",))
    for kw in ({"kernel": "rbf"}, {"metric": "minkowski3"}, {"backend": "annoy"}, {"device": "tpu"},
               {"device": "cuda:7"}):
        add("parameters", "knn_graph", f"{kw}", lambda kw=kw: graphvar.knn_graph(X, k=5, **kw), "error",
            tuple(kw))
    for dt in (torch.float16, torch.int64, torch.bfloat16, "float8", np.int32):
        add("dtype", "knn_graph", f"dtype={dt}", lambda dt=dt: graphvar.knn_graph(X, k=5, dtype=dt), "either",
            ("dtype",), check=usable_graph)


def given_graph_cases():
    import graphvar
    from graphvar import Graph

    def asym():
        A = W_knn().tolil()
        A[0, 1] = 5.0
        return A.tocsr()

    mats = {
        "asymmetric W": (asym, ("symmetric",)),
        "negative W": (lambda: -W_knn(), ("negative",)),
        "NaN weight": (lambda: W_knn().multiply(np.nan).tocsr() + 0 * W_knn(), ("nan",)),
        "inf weights": (lambda: W_knn() * np.inf, ("inf",)),
        "W x 1e300": (lambda: W_knn() * 1e300, ("large", "overflow", "rescale")),
        "W x 1e-300": (lambda: W_knn() * 1e-300, ("small", "underflow", "rescale")),
        "non-square W": (lambda: W_knn()[:, :30], ("square",)),
        "empty 0x0 W": (lambda: sp.csr_matrix((0, 0)), ("empty",)),
        "list W": (lambda: [[0, 1], [1, 0]], ("graph", "adjacency", "scipy")),
        "string W": (lambda: np.array([["a", "b"], ["b", "a"]]), ("numeric",)),
        "complex W": (lambda: W_knn().toarray() * (1 + 1j), ("complex", "real")),
    }
    for desc, (make, keys) in mats.items():
        add("given graph", "as_graph", desc, lambda make=make: graphvar.as_graph(make()), "error", keys)
    for desc in ("asymmetric W", "negative W", "W x 1e300", "W x 1e-300", "complex W"):
        make, keys = mats[desc]
        add("given graph", "PoissonClassifier.fit_graph", desc,
            lambda make=make: est("PoissonClassifier").fit_graph(make(), y), "error", keys)

    def pyg(ei, n, w=None):
        from torch_geometric.data import Data

        return Data(edge_index=torch.as_tensor(ei), edge_weight=None if w is None else torch.as_tensor(w),
                    num_nodes=n)

    pygs = {
        "edge_index out of range": lambda: pyg([[0, 1, 9], [1, 0, 2]], 5),
        "negative edge_index": lambda: pyg([[0, -1], [1, 0]], 5),
        "edge_index shape (3, E)": lambda: pyg([[0, 1], [1, 0], [0, 0]], 5),
        "edge_weight wrong length": lambda: pyg([[0, 1], [1, 0]], 5, [1.0]),
        "edge_weight NaN": lambda: pyg([[0, 1], [1, 0]], 5, [np.nan, np.nan]),
        "float edge_index": lambda: pyg([[0.0, 1.5], [1.0, 0.0]], 5),
    }
    for desc, make in pygs.items():
        add("given graph", "Graph.from_pyg", desc, lambda make=make: Graph.from_pyg(make()), "error",
            ("edge_index", "edge_weight", "nan", "integer"))

    def nx_directed():
        import networkx as nx

        return nx.DiGraph([(0, 1), (1, 2)])

    def nx_negative():
        import networkx as nx

        G = nx.Graph()
        G.add_edge(0, 1, weight=-1.0)
        return G

    add("given graph", "Graph.from_networkx", "directed networkx", lambda: Graph.from_networkx(nx_directed()),
        "error", ("directed",))
    add("given graph", "Graph.from_networkx", "negative networkx weight",
        lambda: Graph.from_networkx(nx_negative()), "error", ("negative",))
    add("given graph", "as_graph", "dict", lambda: graphvar.as_graph({"a": 1}), "error", ("graph",))
    for dt in (torch.float16, torch.int64, "int8"):
        add("dtype", "as_graph", f"dtype={dt}", lambda dt=dt: graphvar.as_graph(W_knn(), dtype=dt), "either",
            ("dtype",), check=usable_graph)
    add("dtype", "Graph.to", "to(dtype=float16)", lambda: graphvar.as_graph(W_knn()).to(dtype=torch.float16),
        "either", ("dtype",), check=usable_graph)


# --------------------------------------------------------------------------- solvers
def solver_cases():
    import graphvar

    def uninformed_zero(res):
        S = res
        return bool((S[20:].abs().sum() == 0)) if isinstance(S, torch.Tensor) else True

    for name in SOLVERS:
        f = solver(name)
        add("given graph", name, "W x 1e300", lambda f=f: f(W_knn() * 1e300, y), "error", ("large", "overflow"))
        add("given graph", name, "W x 1e-300", lambda f=f: f(W_knn() * 1e-300, y), "either",
            ("small", "underflow"))
        add("given graph", name, "edgeless graph", lambda f=f: f(sp.csr_matrix((N, N)), y), "either",
            ("edge", "component"))
        add("given graph", name, "isolated node", lambda f=f: f(isolated_node_graph(), y), "either", ())
        add("uninformed", name, "component without labels", lambda f=f: f(two_components(), labels_first_block()),
            "either", ("component",), check=uninformed_zero)
        add("parameters", name, "amplification=1e6", lambda f=f: f(W_knn(), y, amplification=1e6), "error",
            ("amplification",))
        add("parameters", name, "amplification=-1", lambda f=f: f(W_knn(), y, amplification=-1.0), "error",
            ("amplification",))
        add("parameters", name, "amplification=nan", lambda f=f: f(W_knn(), y, amplification=float("nan")),
            "error", ("amplification",))
        add("parameters", name, "amplification='1'", lambda f=f: f(W_knn(), y, amplification="1"), "error",
            ("amplification",))
        add("parameters", name, "max_iter=0", lambda f=f: f(W_knn(), y, max_iter=0), "error", ("max_iter",))
        add("parameters", name, "min_iter=-1", lambda f=f: f(W_knn(), y, min_iter=-1), "error", ("min_iter",))
        add("parameters", name, "max_iter=2.5", lambda f=f: f(W_knn(), y, max_iter=2.5), "error", ("max_iter",))
        add("parameters", name, "min_iter > max_iter", lambda f=f: f(W_knn(), y, min_iter=100, max_iter=10),
            "error", ("max_iter", "min_iter"))
        add("parameters", name, "dtype=float16", lambda f=f: f(W_knn(), y, dtype=torch.float16), "either",
            ("dtype",))
        add("parameters", name, "n_classes=1 (labels up to 1)", lambda f=f: f(W_knn(), y, n_classes=1), "error",
            ("n_classes",))
        add("parameters", name, "n_classes=0", lambda f=f: f(W_knn(), y, n_classes=0), "error", ("n_classes",))
        add("parameters", name, "normalize='yes'", lambda f=f: f(W_knn(), y, normalize="yes"), "error",
            ("normalize",))
        add("labels", name, "labels -2", lambda f=f: f(W_knn(), np.where(y == 1, -2, y)), "error", ("-1", "label"))
        add("labels", name, "string labels", lambda f=f: f(W_knn(), y.astype(str)), "error", ("label", "integer"))
        add("labels", name, "float labels 0.5", lambda f=f: f(W_knn(), np.where(y == 1, 0.5, y)), "error",
            ("integer",))
        add("labels", name, "NaN labels", lambda f=f: f(W_knn(), np.where(y == 1, np.nan, y)), "error",
            ("nan", "integer", "finite"))
        add("labels", name, "all -1", lambda f=f: f(W_knn(), np.full(N, -1)), "error", ("labeled",))
        add("labels", name, "wrong length", lambda f=f: f(W_knn(), y[:-1]), "error", ("length", "nodes"))
        add("labels", name, "3-D labels", lambda f=f: f(W_knn(), y[None, None, :]), "error", ("shape",))
        add("labels", name, "bool labels", lambda f=f: f(W_knn(), y > 0), "either", ("bool",))
    for name in ("laplace", "poisson"):
        f = solver(name)
        add("parameters", name, "method='cg'", lambda f=f: f(W_knn(), y, method="cg"), "error", ("method",))
        add("parameters", name, "tol=-1 (exact)", lambda f=f: f(W_knn(), y, method="exact", tol=-1.0), "error",
            ("tol",))
        add("parameters", name, "exact + amplification", lambda f=f: f(W_knn(), y, method="exact",
                                                                        amplification=1.0), "error",
            ("amplification", "iterative"))
        add("given graph", name, "exact on W x 1e-300",
            lambda f=f: f(W_knn() * 1e-300, y, method="exact"), "either", ("small",))
    from graphvar.solvers import random_walk_stop_times

    add("parameters", "random_walk_stop_times", "numpy mask",
        lambda: random_walk_stop_times(graphvar.as_graph(W_knn()), y >= 0), "either", ("mask", "tensor"))
    add("parameters", "random_walk_stop_times", "max_iter=-3",
        lambda: random_walk_stop_times(graphvar.as_graph(W_knn()), torch.as_tensor(y >= 0), max_iter=-3),
        "error", ("max_iter",))
    add("parameters", "random_walk_stop_times", "no labeled node",
        lambda: random_walk_stop_times(graphvar.as_graph(W_knn()), torch.zeros(N, dtype=torch.bool)),
        "error", ("labeled",))


# --------------------------------------------------------------------------- estimators
def estimator_cases():
    from sklearn.exceptions import NotFittedError  # noqa: F401

    def uninformed_marked(clf):
        t = np.asarray(clf.transduction_, dtype=object)
        return all(v is None or v == -1 for v in t[20:])

    for name in ESTIMATORS:
        for kw, keys in (({"k": 0}, ("k",)), ({"k": 2.5}, ("k",)), ({"k": N}, ("k",)), ({"kernel": "rbf"}, ("kernel",)),
                         ({"method": "cg"}, ("method",)), ({"amplification": -1.0}, ("amplification",)),
                         ({"amplification": 1e6}, ("amplification",)), ({"dtype": torch.float16}, ("dtype",)),
                         ({"dtype": "int64"}, ("dtype",)), ({"device": "tpu"}, ("device",)),
                         ({"max_iter": 0}, ("max_iter",)), ({"min_iter": 2.5}, ("min_iter",)),
                         ({"class_priors": [1.0]}, ("class_priors",)),
                         ({"class_priors": [-0.5, 1.5]}, ("class_priors", "negative")),
                         ({"class_priors": "uniform"}, ("class_priors",)),
                         ({"normalize": "yes"}, ("normalize",)), ({"solver_params": {"foo": 1}}, ("foo",))):
            add("parameters", f"{name}.fit", f"{kw}", lambda name=name, kw=kw: est(name, **kw).fit(X, y), "error",
                keys)
        add("features", f"{name}.fit", "X x 1e300", lambda name=name: est(name).fit(X * 1e300, y), "either",
            ("overflow", "rescale", "large"))
        add("features", f"{name}.fit", "X x 1e30 float32",
            lambda name=name: est(name).fit((X * 1e30).astype(np.float32), y), "either",
            ("overflow", "rescale", "large"))
        add("features", f"{name}.fit", "NaN X", lambda name=name: est(name).fit(np.where(X > 5, np.nan, X), y),
            "error", ("nan",))
        add("labels", f"{name}.fit", 'string "-1" for unlabeled',
            lambda name=name: est(name).fit(X, np.where(y == -1, "-1", y.astype(str))), "error", ('"-1"', "-1"))
        add("labels", f"{name}.fit", "label -2", lambda name=name: est(name).fit(X, np.where(y == 1, -2, y)),
            "error", ("-2", "negative"))
        add("labels", f"{name}.fit", "mixed str/int labels",
            lambda name=name: est(name).fit(X, ["a", 1, *[-1] * (N - 2)]),
            "error", ("mix", "string"))
        add("labels", f"{name}.fit", "all unlabeled", lambda name=name: est(name).fit(X, np.full(N, -1)),
            "error", ("labeled",))
        add("labels", f"{name}.fit", "single class", lambda name=name: est(name).fit(X, np.where(y == 1, 0, y)),
            "either", ("class",))
        add("labels", f"{name}.fit", "2-D y", lambda name=name: est(name).fit(X, y[:, None].repeat(2, 1)), "error",
            ("1-d", "shape", "column"))
        add("labels", f"{name}.fit", "y length mismatch", lambda name=name: est(name).fit(X, y[:-3]), "error",
            ("inconsistent", "length", "samples"))
        add("uninformed", f"{name}.fit_graph", "component without labels -> transduction_",
            lambda name=name: est(name).fit_graph(two_components(), labels_first_block()), "either",
            ("component",), check=uninformed_marked)
        add("fitted", f"{name}.predict", "predict before fit", lambda name=name: est(name).predict(X), "error",
            ("fit",))
        add("fitted", f"{name}.predict", "predict after fit_graph",
            lambda name=name: est(name).fit_graph(W_knn(), y).predict(X), "error", ("fit_graph", "features"))
        add("features", f"{name}.predict_proba", "new points x 1e30",
            lambda name=name: est(name).fit(X, y).predict_proba(X * 1e30), "either",
            ("overflow", "rescale", "large"))
        add("features", f"{name}.predict", "wrong n_features",
            lambda name=name: est(name).fit(X, y).predict(X[:, :2]), "error", ("features",))
        add("features", f"{name}.predict", "NaN new points",
            lambda name=name: est(name).fit(X, y).predict(np.where(X > 5, np.nan, X)), "error", ("nan",))
    add("model selection", "PoissonClassifier.score", "score() on -1 targets",
        lambda: est("PoissonClassifier").fit(X, y).score(X, y), "either", ("-1", "unlabeled"),
        check=lambda s: s > 0.9)


# --------------------------------------------------------------------------- nn
def nn_cases():
    from graphvar.nn import VGPN, PoissonConv, VGPNClassifier

    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    x3 = torch.randn(3, 4)
    src = torch.zeros(3, 2)
    for kw, keys in (({"in_channels": 0}, ("in_channels",)), ({"out_channels": 2.5}, ("out_channels",)),
                     ({"n_steps": 0}, ("n_steps",)), ({"amplification": float("inf")}, ("amplification",)),
                     ({"feature_step": 99}, ("feature_step",)), ({"dropout": 1.5}, ("dropout",)),
                     ({"hidden_channels": -1}, ("hidden_channels",))):
        base = {"in_channels": 4, "out_channels": 2, **kw}
        add("parameters", "PoissonConv", f"{kw}", lambda base=base: PoissonConv(**base), "error", keys)
    conv = PoissonConv(4, 2)
    add("shapes", "PoissonConv.forward", "x wrong width", lambda: conv(torch.randn(3, 5), ei, src), "error", ("x",))
    add("shapes", "PoissonConv.forward", "edge_index (3, E)", lambda: conv(x3, ei.repeat(2, 1)[:3], src), "error",
        ("edge_index",))
    add("shapes", "PoissonConv.forward", "edge_index out of range",
        lambda: conv(x3, torch.tensor([[0, 7], [7, 0]]), src), "error", ("edge_index",))
    add("shapes", "PoissonConv.forward", "source wrong shape", lambda: conv(x3, ei, torch.zeros(3, 5)), "error",
        ("source",))
    add("shapes", "PoissonConv.forward", "negative edge_weight",
        lambda: conv(x3, ei, src, torch.tensor([-1.0, -1.0, 1.0, 1.0])), "error", ("edge_weight",))
    add("parameters", "VGPN", "dropout=1.5", lambda: VGPN(4, 2, dropout=1.5), "error", ("dropout",))
    add("parameters", "VGPN", "n_steps=0", lambda: VGPN(4, 2, n_steps=0), "error", ("n_steps",))
    small = {"epochs": 5, "patience": None}
    for kw, keys in (({"amplification": 1e6}, ("amplification",)), ({"amplification": -1}, ("amplification",)),
                     ({"n_steps": 0}, ("n_steps",)), ({"lr": 0}, ("lr",)), ({"epochs": 2.5}, ("epochs",)),
                     ({"dropout": 1.0}, ("dropout",)), ({"val_size": -1}, ("val_size",)),
                     ({"device": "tpu"}, ("device",)), ({"k": 0}, ("k",)), ({"feature_step": 50}, ("feature_step",))):
        add("parameters", "VGPNClassifier.fit", f"{kw}",
            lambda kw=kw: VGPNClassifier(**{**small, **kw}).fit(X, y), "error", keys)
    add("labels", "VGPNClassifier.fit", "string labels",
        lambda: VGPNClassifier(**small).fit(X, np.where(y == -1, None, np.where(y == 0, "a", "b")).astype(object)),
        "either", ("label",))
    add("labels", "VGPNClassifier.fit", 'string "-1"',
        lambda: VGPNClassifier(**small).fit(X, np.where(y == -1, "-1", y.astype(str))), "error", ('"-1"',))
    add("labels", "VGPNClassifier.fit", "label -2", lambda: VGPNClassifier(**small).fit(X, np.where(y == 1, -2, y)),
        "error", ("-2", "negative"))
    add("fitted", "VGPNClassifier.predict", "predict before fit", lambda: VGPNClassifier().predict(X), "error",
        ("fit",))
    add("fitted", "VGPNClassifier.predict_proba", "predict_proba before fit",
        lambda: VGPNClassifier().predict_proba(), "error", ("fit",))
    add("features", "VGPNClassifier.fit", "X x 1e300", lambda: VGPNClassifier(**small).fit(X * 1e300, y), "either",
        ("overflow", "rescale", "large"))
    add("features", "VGPNClassifier.fit_graph", "no X", lambda: VGPNClassifier(**small).fit_graph(W_knn(), y),
        "error", ("x", "features"))
    add("features", "VGPNClassifier.fit_graph", "X rows mismatch",
        lambda: VGPNClassifier(**small).fit_graph(W_knn(), y, X=X[:10]), "error", ("rows", "nodes"))
    add("uninformed", "VGPNClassifier.fit_graph", "component without labels (no feature term)",
        lambda: VGPNClassifier(**small, feature_step=None, attention=True).fit_graph(
            two_components(), labels_first_block(), X=X),
        "either", ("component",),
        check=lambda clf: all(v is None or v == -1 for v in np.asarray(clf.transduction_, dtype=object)[20:]))
    add("uninformed", "VGPNClassifier.fit_graph", "component without labels (feature term)",
        lambda: VGPNClassifier(**small).fit_graph(two_components(), labels_first_block(), X=X),
        "either", ("component",), check=lambda clf: len(getattr(clf, "uninformed_", [])) == 20)
    add("features", "VGPNClassifier.predict", "new points x 1e30",
        lambda: VGPNClassifier(**small).fit(X, y).predict_proba(X * 1e30), "either", ("overflow", "rescale"))
