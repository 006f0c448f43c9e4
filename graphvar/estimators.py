"""scikit-learn estimators: Laplace, Poisson, V-Laplace and V-Poisson classifiers.

They follow :class:`sklearn.semi_supervised.LabelSpreading`'s contract:
``fit(X, y)`` with ``-1`` marking unlabeled samples, any label values
(``classes_``), ``transduction_`` and ``label_distributions_`` for the fitted
samples, and ``predict`` / ``predict_proba`` for new samples through their
k nearest fitted neighbours. ``fit_graph(graph, y)`` fits a given graph.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .graph import as_graph, check_device, knn_graph
from .graph.build import KERNELS, knn_weights
from .graph.knn import BACKENDS, METRICS
from .solvers import solve

__all__ = ["LaplaceClassifier", "PoissonClassifier", "VLaplaceClassifier", "VPoissonClassifier"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _scores_to_proba(scores: np.ndarray) -> np.ndarray:
    """Monotone, argmax-preserving map of class scores to probabilities.

    A softmax with temperature equal to the scores' overall standard
    deviation (scale-free, so Laplace and Poisson scores are treated alike).
    These are not calibrated probabilities.
    """
    s = scores.astype(np.float64)
    scale = s.std()
    s = s / scale if scale > 0 else np.zeros_like(s)
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    return p / p.sum(axis=1, keepdims=True)


class _GraphSSLClassifier(ClassifierMixin, BaseEstimator):
    """Shared machinery of the graph-based classifiers (not public)."""

    _kind = "poisson"

    def _validate_params_(self):
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}.")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}.")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}.")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}.")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        if self.device is not None:
            check_device(self.device)

    def _solver_kwargs(self) -> dict:
        return {}

    def _split_labels(self, y):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}.")
        unlabeled = np.zeros(y.shape, dtype=bool)
        if y.dtype.kind in "iuf":
            if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
                raise ValueError("y contains NaN or infinite values; mark unlabeled samples with -1.")
            unlabeled = y == -1
        elif y.dtype == object:
            unlabeled = np.array([v is not None and not isinstance(v, str) and v == -1 for v in y], dtype=bool)
        if unlabeled.all():
            raise ValueError("no labeled sample: y is -1 everywhere; label at least one sample per class.")
        labeled = y[~unlabeled]
        check_classification_targets(labeled)
        classes = np.unique(labeled)
        codes = np.full(y.shape[0], -1, dtype=np.int64)
        codes[~unlabeled] = np.searchsorted(classes, labeled)
        return classes, codes

    def _fit_on_graph(self, graph, codes: np.ndarray):
        dtype = _DTYPES[self.dtype]
        graph = as_graph(graph, device=self.device, dtype=dtype)
        if graph.n_nodes != codes.shape[0]:
            raise ValueError(f"y has {codes.shape[0]} entries but the graph has {graph.n_nodes} nodes.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores, info = solve(
                graph, codes, kind=self._kind, n_classes=len(self.classes_), normalize=self.normalize,
                min_iter=self.min_iter, max_iter=self.max_iter, return_info=True, **self._solver_kwargs(),
            )
        for w in caught:  # re-emit at the user's call site
            warnings.warn(w.message, w.category, stacklevel=3)
        from .solvers.labels import uninformed_nodes

        self.uninformed_ = uninformed_nodes(graph.to_scipy(), codes >= 0)
        S = scores.detach().cpu().double().numpy()
        self.graph_ = graph
        self.n_iter_ = int(info["stop_times"][0]) if "stop_times" in info else None
        self.scores_ = S
        self.class_weights_ = None
        if self.class_priors is not None:
            S = self._balance(S, codes)
        self.label_distributions_ = _scores_to_proba(S)
        if self.uninformed_.size:
            self.label_distributions_[self.uninformed_] = 1.0 / len(self.classes_)
        self.transduction_ = self.classes_[S.argmax(axis=1)]
        return self

    def _balance(self, S: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Volume-constrained scores (GraphLearning's ``predict`` with class priors)."""
        from .solvers.priors import check_class_priors, class_priors_from_labels, volume_label_projection

        c = len(self.classes_)
        if isinstance(self.class_priors, str):
            if self.class_priors != "labeled":
                raise ValueError(
                    f"class_priors must be None, 'labeled' or an array of {c} class fractions "
                    f"(in classes_ order), got {self.class_priors!r}."
                )
            priors = class_priors_from_labels(codes, c)
        else:
            priors = check_class_priors(self.class_priors, c)
        _, w = volume_label_projection(S, priors, return_weights=True)
        w = w.numpy()
        self.class_weights_ = w
        # GraphLearning rescales the scores to [0, 1] before weighting them
        span = S.max() - S.min()
        return (S - S.min()) / (span if span > 0 else 1.0) * w

    def fit(self, X, y):
        """Build the k-NN graph of ``X`` and propagate the labels of ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels (any values); ``-1`` marks unlabeled samples.

        Returns
        -------
        self
        """
        self._validate_params_()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2,
                             y_numeric=False)
        self.classes_, codes = self._split_labels(y)
        n = X.shape[0]
        if self.k >= n:
            raise ValueError(
                f"k={self.k} must be smaller than n_samples={n}; use a smaller k or more samples."
            )
        dtype = _DTYPES[self.dtype]
        graph = knn_graph(X, k=self.k, kernel=self.kernel, metric=self.metric, backend=self.backend,
                          device=self.device, dtype=dtype)
        self.X_fit_ = np.asarray(X)
        return self._fit_on_graph(graph, codes)

    def fit_graph(self, graph, y):
        """Propagate ``y`` over a given graph.

        Parameters
        ----------
        graph : Graph, scipy sparse matrix, torch_geometric Data or networkx Graph
            Symmetric non-negative weights (checked).
        y : array-like of shape (n_nodes,)
            Labels; ``-1`` marks unlabeled nodes.

        Returns
        -------
        self
            ``predict(X)`` for new points needs features, so after ``fit_graph``
            use ``transduction_`` / ``label_distributions_`` instead.
        """
        self._validate_params_()
        self.classes_, codes = self._split_labels(y)
        self.X_fit_ = None
        if hasattr(self, "n_features_in_"):
            del self.n_features_in_
        return self._fit_on_graph(graph, codes)

    def predict_proba(self, X):
        """Class probabilities of new samples from their ``k`` nearest fitted samples.

        Each new sample averages the ``label_distributions_`` of its ``k``
        nearest fitted samples with the graph's kernel weights (bandwidth: its
        distance to the k-th of them).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "label_distributions_")
        if self.X_fit_ is None:
            raise ValueError(
                "this model was fitted with fit_graph and has no features to find neighbours "
                "of new points; use transduction_ / label_distributions_ for the graph's nodes."
            )
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        device = check_device(self.device) if self.device is not None else torch.device("cpu")
        fit = torch.from_numpy(np.ascontiguousarray(self.X_fit_)).to(device)
        new = torch.from_numpy(np.ascontiguousarray(X)).to(device=device, dtype=fit.dtype)
        k = min(self.k, fit.shape[0])
        idx, dist = _cross_knn(new, fit, k, self.metric)
        w = knn_weights(idx, dist, "uniform" if self.kernel == "uniform" else "gaussian").double().cpu().numpy()
        idx = idx.cpu()
        proba = (w[:, :, None] * self.label_distributions_[idx.numpy()]).sum(axis=1)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X):
        """Predicted labels of new samples (``classes_`` values)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _cross_knn(Q: torch.Tensor, R: torch.Tensor, k: int, metric: str, block: int | None = None):
    """k nearest rows of ``R`` for each row of ``Q`` (exact, torch, in row blocks)."""
    if metric == "cosine":
        Q = Q / Q.norm(dim=1, keepdim=True).clamp_min(1e-30)
        R = R / R.norm(dim=1, keepdim=True).clamp_min(1e-30)
    block = block or max(1, (16 * 1024 * 1024) // max(R.shape[0], 1))
    idx, dist = [], []
    for start in range(0, Q.shape[0], block):
        q = Q[start:start + block]
        D = (1.0 - q @ R.T).clamp_min(0.0) if metric == "cosine" else torch.cdist(q, R)
        d, i = torch.topk(D, k, dim=1, largest=False, sorted=True)
        idx.append(i)
        dist.append(d)
    return torch.cat(idx), torch.cat(dist)


_COMMON_DOC = """
    Parameters
    ----------
    k : int, default=10
        Neighbours per point of the k-NN graph built by ``fit``.
    kernel : {{"gaussian", "symgaussian", "uniform"}}, default="gaussian"
        Edge weights (DESIGN.md §2).
    metric : {{"euclidean", "cosine"}}, default="euclidean"
    backend : {{"auto", "torch", "keops", "faiss"}}, default="auto"
        Exact k-NN backend.
    device : str or torch.device, optional
        Where to build the graph and solve (default CPU).
    dtype : {{"float32", "float64"}}, default="float32"
    normalize : bool, default=False
        Per-class dispersion equalisation before the argmax.
{extra}    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule.
    class_priors : None, "labeled" or array-like of shape (n_classes,), default=None
        Class fractions (in ``classes_`` order) the predictions must respect:
        volume-constrained prediction as GraphLearning's ``predict`` with
        ``class_priors`` (class weights adjusted until the predicted class
        sizes match). ``"labeled"`` uses the fractions of the labeled samples.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    transduction_ : ndarray of shape (n_samples,)
        Label assigned to every fitted sample.
    label_distributions_ : ndarray of shape (n_samples, n_classes)
        Softmax of the class scores (temperature = their standard deviation);
        argmax-consistent with ``transduction_``, not calibrated.
    scores_ : ndarray of shape (n_samples, n_classes)
        The solver's raw class scores.
    graph_ : Graph
    uninformed_ : ndarray
        Samples in connected components with no labeled sample (uniform
        ``label_distributions_``; a warning names them).
    n_iter_ : int or None
        Stop time of the iterative solver.
    class_weights_ : ndarray of shape (n_classes,) or None
        Class weights found by the volume constraint (``class_priors`` only).
"""

_METHOD_PARAM = """    method : {"iterative", "exact"}, default="iterative"
        Stopped iteration (Calder's rule) or exact conjugate-gradient solve.
"""
_AMP_PARAM = """    amplification : float, default=1.0
        Total variance amplification ``a`` of the variance-enlarging step.
"""


class LaplaceClassifier(_GraphSSLClassifier):
    _kind = "laplace"

    def __init__(self, k=10, kernel="gaussian", metric="euclidean", backend="auto", device=None,
                 dtype="float32", normalize=False, method="iterative", min_iter=50, max_iter=1000,
                 class_priors=None):
        self.k = k
        self.kernel = kernel
        self.metric = metric
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.normalize = normalize
        self.method = method
        self.min_iter = min_iter
        self.max_iter = max_iter
        self.class_priors = class_priors

    def _solver_kwargs(self):
        return {"method": self.method}


class PoissonClassifier(LaplaceClassifier):
    _kind = "poisson"


class VLaplaceClassifier(_GraphSSLClassifier):
    _kind = "laplace"

    def __init__(self, k=10, kernel="gaussian", metric="euclidean", backend="auto", device=None,
                 dtype="float32", normalize=False, amplification=1.0, min_iter=50, max_iter=1000,
                 class_priors=None):
        self.k = k
        self.kernel = kernel
        self.metric = metric
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.normalize = normalize
        self.amplification = amplification
        self.min_iter = min_iter
        self.max_iter = max_iter
        self.class_priors = class_priors

    def _solver_kwargs(self):
        return {"amplification": float(self.amplification)}


class VPoissonClassifier(VLaplaceClassifier):
    _kind = "poisson"


LaplaceClassifier.__doc__ = "Laplace learning classifier (Zhu et al. 2003).\n" + _COMMON_DOC.format(extra=_METHOD_PARAM)
PoissonClassifier.__doc__ = "Poisson learning classifier (Calder et al. 2020).\n" + _COMMON_DOC.format(extra=_METHOD_PARAM)
VLaplaceClassifier.__doc__ = "Variance-enlarged Laplace classifier (DESIGN.md §3).\n" + _COMMON_DOC.format(extra=_AMP_PARAM)
VPoissonClassifier.__doc__ = "Variance-enlarged Poisson classifier (DESIGN.md §3).\n" + _COMMON_DOC.format(extra=_AMP_PARAM)
