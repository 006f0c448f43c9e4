"""The abstract base of graphvar's scikit-learn estimators (the contract is in the package docstring).

:class:`GraphSSLClassifier` holds everything the classifiers share — validation,
the k-NN graph, class priors, uninformed nodes, prediction for new points; a
subclass only names its solver function and its default amplification.
"""

from __future__ import annotations

import warnings
from abc import ABCMeta

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import _label_array, decode_labels, encode_labels, knn_average
from ..graph import as_graph, knn_graph
from ..graph.build import KERNELS
from ..graph.knn import BACKENDS, METRICS
from ..solvers import poisson
from ..solvers.methods import METHODS
from ..validation import check_bool, check_choice, check_device, check_dtype, check_float, check_int

__all__ = ["GraphSSLClassifier", "scores_to_proba"]


def scores_to_proba(scores: np.ndarray) -> np.ndarray:
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


class GraphSSLClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base of the graph-based semi-supervised classifiers (not instantiated directly).

    A subclass names its solver function (``_solver``, with the call shape of
    :func:`graphvar.poisson`) and its default amplification; everything else
    (validation, the k-NN graph, class priors, uninformed nodes, prediction
    for new points) lives here, once.

    Parameters
    ----------
    k : int, default=10
        Neighbours per point of the k-NN graph built by ``fit`` (and for new points).
    kernel : {"gaussian", "symgaussian", "uniform"}, default="gaussian"
        Edge weights (docs/design.md §2).
    metric : {"euclidean", "cosine"}, default="euclidean"
    backend : {"auto", "torch", "keops", "faiss"}, default="auto"
        Exact k-NN backend.
    method : {"iterative", "exact", "spectral"}, default="iterative"
        Stopped iteration (Calder's rule) or, for Laplace and Poisson with no
        amplification, the exact conjugate-gradient solve (``"spectral"``: Poisson only).
    amplification : float, optional
        Total variance amplification ``a`` of the variance-enlarging step
        (docs/design.md §3). ``None``: the classifier's default (0 for Laplace
        and Poisson, 1 for V-Laplace and V-Poisson).
    normalize : bool, default=False
        Per-class dispersion equalisation before the argmax.
    class_priors : None, "labeled" or array-like of shape (n_classes,), default=None
        Class fractions (in ``classes_`` order) the predictions must respect:
        volume-constrained prediction (class weights adjusted until the
        predicted class sizes match). ``"labeled"`` uses the labeled samples' fractions.
    min_iter, max_iter : int, default=50, 1000
        Bounds of Calder's random-walk stopping rule.
    solver_params : dict, optional
        Further keyword arguments of the solver function.
    device : str or torch.device, optional
        Where to build the graph and solve (default CPU).
    dtype : {"float32", "float64"} or torch dtype, default="float32"
    progress : bool, default=False
        Progress bars.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    transduction_ : ndarray of shape (n_samples,)
        Label of every fitted sample; samples in connected components without
        a labeled sample get ``-1`` (numeric classes) or ``None`` (other
        classes) — never a silent class.
    label_distributions_ : ndarray of shape (n_samples, n_classes)
        Softmax of the class scores (temperature = their standard deviation);
        argmax-consistent with ``transduction_``, not calibrated; uniform on
        uninformed samples.
    scores_ : ndarray of shape (n_samples, n_classes)
        The solver's raw class scores.
    graph_ : Graph
    uninformed_ : ndarray of int
        Samples in connected components with no labeled sample (a warning names them).
    n_iter_ : int or None
        Stop time of the iterative solver (or the solver's own iteration count:
        sweeps, CG iterations or steps; ``None`` for the spectral solve).
    solver_info_ : dict
        The solver's info (stop times, convergence, CG residual, ...).
    class_weights_ : ndarray of shape (n_classes,) or None
        Class weights found by the volume constraint (``class_priors`` only).
    """

    _solver = staticmethod(poisson)
    _default_amplification = 0.0

    def __init__(self, *, k=10, kernel="gaussian", metric="euclidean", backend="auto", method="iterative",
                 amplification=None, normalize=False, class_priors=None, min_iter=50, max_iter=1000,
                 solver_params=None, device=None, dtype="float32", progress=False):
        self.k = k
        self.kernel = kernel
        self.metric = metric
        self.backend = backend
        self.method = method
        self.amplification = amplification
        self.normalize = normalize
        self.class_priors = class_priors
        self.min_iter = min_iter
        self.max_iter = max_iter
        self.solver_params = solver_params
        self.device = device
        self.dtype = dtype
        self.progress = progress

    # ------------------------------------------------------------ parameters
    def _validate_params_(self):
        check_int(self.k, "k", minimum=1)
        check_choice(self.kernel, "kernel", KERNELS)
        check_choice(self.metric, "metric", METRICS)
        check_choice(self.backend, "backend", BACKENDS)
        check_choice(self.method, "method", METHODS)
        check_dtype(self.dtype)
        check_device(self.device)
        check_bool(self.normalize, "normalize")
        check_bool(self.progress, "progress")
        min_iter = check_int(self.min_iter, "min_iter", minimum=0)
        check_int(self.max_iter, "max_iter", minimum=max(min_iter, 1))
        if self.amplification is not None:
            check_float(self.amplification, "amplification", minimum=0.0)
        if self.solver_params is not None and not isinstance(self.solver_params, dict):
            raise TypeError(f"solver_params must be a dict of solver keyword arguments, got {self.solver_params!r}.")

    def _solver_kwargs(self) -> dict:
        """Keyword arguments of the solver call (a subclass whose solver differs overrides this)."""
        amp = self._default_amplification if self.amplification is None else float(self.amplification)
        return {"method": self.method, "amplification": amp, "min_iter": self.min_iter,
                "max_iter": self.max_iter, "normalize": self.normalize, "progress": self.progress,
                **(self.solver_params or {})}

    # ------------------------------------------------------------------ fit
    def _fit_on_graph(self, graph, codes: np.ndarray):
        graph = as_graph(graph, device=self.device, dtype=check_dtype(self.dtype))
        if graph.n_nodes != codes.shape[0]:
            raise ValueError(f"y has {codes.shape[0]} entries but the graph has {graph.n_nodes} nodes.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores, info = type(self)._solver(graph, codes, n_classes=len(self.classes_), return_info=True,
                                              **self._solver_kwargs())
        for w in caught:  # re-emit at the user's call site
            warnings.warn(w.message, w.category, stacklevel=3)
        informed = graph.informed(codes >= 0)
        self.uninformed_ = np.flatnonzero(~informed)
        S = scores.detach().cpu().double().numpy()
        self.graph_, self.scores_, self.solver_info_ = graph, S, info
        counts = [info[key] for key in ("iterations", "cg_iterations", "n_steps") if key in info]
        self.n_iter_ = int(info["stop_times"][0]) if info.get("stop_times") else (int(counts[0]) if counts else None)
        self.class_weights_ = None
        if self.class_priors is not None:
            S = self._balance(S, codes)
        self.label_distributions_ = scores_to_proba(S)
        self.label_distributions_[self.uninformed_] = 1.0 / len(self.classes_)
        self.transduction_ = self._labels_of(S.argmax(axis=1), informed)
        return self

    def _labels_of(self, codes: np.ndarray, informed: np.ndarray) -> np.ndarray:
        """``classes_[codes]`` with ``-1`` (numeric classes) or ``None`` where not informed."""
        return decode_labels(self.classes_, codes, informed)

    def _balance(self, S: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Volume-constrained scores (GraphLearning's ``predict`` with class priors)."""
        from ..solvers.priors import (check_class_priors, check_priors_cover_labels, class_priors_from_labels,
                                      volume_label_projection)

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
            check_priors_cover_labels(priors, codes)
        _, w, info = volume_label_projection(S, priors, return_weights=True, return_info=True)
        self.class_weights_ = w.numpy()
        self.solver_info_ = {**self.solver_info_, "class_priors": info}
        # GraphLearning rescales the scores to [0, 1] before weighting them
        span = S.max() - S.min()
        return (S - S.min()) / (span if span > 0 else 1.0) * self.class_weights_

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
        # _label_array keeps a list like ["a", -1] an object array (numpy would make "-1" a string)
        X, y = validate_data(self, X, _label_array(y), dtype=[np.float64, np.float32], ensure_min_samples=2,
                             y_numeric=False)
        self.classes_, codes = encode_labels(y)
        if self.k >= X.shape[0]:
            raise ValueError(f"k={self.k} must be smaller than n_samples={X.shape[0]}; "
                             "use a smaller k or more samples.")
        graph = knn_graph(X, k=self.k, kernel=self.kernel, metric=self.metric, backend=self.backend,
                          device=self.device, dtype=check_dtype(self.dtype))
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
        self.classes_, codes = encode_labels(y)
        self.X_fit_ = None
        if hasattr(self, "n_features_in_"):
            del self.n_features_in_
        return self._fit_on_graph(graph, codes)

    # -------------------------------------------------------------- predict
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
        return knn_average(X, self.X_fit_, self.label_distributions_, k=self.k, kernel=self.kernel,
                           metric=self.metric, device=self.device)

    def predict(self, X):
        """Predicted labels of new samples (``classes_`` values).

        A new sample whose ``k`` nearest fitted samples are all uninformed
        (``uninformed_``) gets ``-1`` (numeric classes) or ``None``, as those
        fitted samples do in ``transduction_``.
        """
        check_is_fitted(self, "label_distributions_")
        proba = self.predict_proba(X)
        informed = self._informed_new(X) if self.uninformed_.size else np.ones(proba.shape[0], dtype=bool)
        return self._labels_of(proba.argmax(axis=1), informed)

    def _informed_new(self, X) -> np.ndarray:
        """Whether each new sample has an informed sample among its ``k`` nearest fitted samples."""
        flag = np.ones((self.X_fit_.shape[0], 1))
        flag[self.uninformed_] = 0.0
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        reach = knn_average(X, self.X_fit_, flag, k=self.k, kernel=self.kernel, metric=self.metric,
                            device=self.device)
        return reach[:, 0] > 0

    def score(self, X, y, sample_weight=None):
        """Accuracy on the *labeled* samples of ``y`` (entries ``-1`` are ignored).

        This makes :class:`sklearn.model_selection.GridSearchCV` meaningful on
        semi-supervised data: each test fold is scored on its held-out labels
        only (see :mod:`graphvar.model_selection` and ``docs/model_selection.md``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True labels, ``-1`` for unlabeled samples.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
            Fraction of labeled samples predicted correctly.
        """
        from ..model_selection import labeled_accuracy

        return labeled_accuracy(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
