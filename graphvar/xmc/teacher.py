"""The XMC teacher: label propagation over a k-NN graph of the training points.

``Teacher(...).fit(X, Y)`` builds a k-NN graph over the training points,
propagates the label matrix with :func:`graphvar.xmc.propagation.propagate_topk`
(the engine's step kernel, top-k per row at every step, on ``device``), calibrates the scores to ``[0, 1]`` and holds:

* ``p_hat_``: calibrated relevance estimates p̂(label | point), top-k per row;
* :meth:`Teacher.soft_targets`: the LEVER targets ``λ·y + (1−λ)·p̂``;
* :meth:`Teacher.predict`: scores of unseen rows, the kernel-weighted mean of
  the soft targets of their ``k`` nearest training rows
  (:mod:`graphvar.xmc.inductive`), so the teacher is a predictor on its own.

Leave-one-out (``leave_one_out=True``, the default) is exact cross-fitting:
the training rows are split into ``n_folds`` random folds and fold ``f`` is
estimated by a propagation whose sources are the *other* folds only, so a
row's own labels never enter its estimate (a label that occurs in one row only
gets no mass in that row). It costs ``n_folds`` propagations.

Calibration is fitted on (score, is-true-label) pairs of held-out training
rows: with leave-one-out every row is out-of-sample, and a random
``calibration_fraction`` of the rows is used; without it, an extra propagation
with those rows removed from the sources scores them. ``"isotonic"``
(sklearn ``IsotonicRegression``, clipped to [0, 1]) or ``"platt"`` (logistic
regression on the score).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ..engine import topk_per_row
from ..validation import (check_bool, check_choice, check_device, check_dtype, check_float, check_int,
                          check_label_matrix)
from .propagation import SOLVERS, propagate_topk

__all__ = ["Teacher", "CALIBRATIONS", "lever_targets"]

CALIBRATIONS = ("isotonic", "platt", "none")


def _check_labels(Y, n=None, name="Y") -> sp.csr_matrix:
    """Labels in [0, 1] as float32 CSR (the shared multi-label validator)."""
    return check_label_matrix(Y, name=name, n_rows=n, binary=False)


def lever_targets(Y, p_hat, lam: float = 0.5, threshold: float = 0.0, max_extra: int | None = None,
                  truth: str = "mix"):
    """LEVER soft targets ``λ·y + (1−λ)·p̂`` (LEVER Eq. 6 as a single BCE target).

    Parameters
    ----------
    Y : scipy sparse of shape (n, L)
        Binary ground truth.
    p_hat : scipy sparse of shape (n, L)
        Teacher estimates in [0, 1].
    lam : float, default=0.5
        Weight of the ground truth.
    threshold : float, default=0.0
        Extra labels (not in ``Y``) with ``p̂ < threshold`` are dropped.
    max_extra : int, optional
        Keep at most this many extra labels per row (the largest p̂).
    truth : {"mix", "one"}, default="mix"
        ``"mix"``: true labels get ``λ + (1−λ)p̂`` (Eq. 6). ``"one"``: true labels
        stay at 1.0, as LEVER's released code writes them.

    Returns
    -------
    scipy.sparse.csr_matrix, float32
        True labels get ``λ + (1−λ)p̂`` (≥ λ) or 1, extra labels ``(1−λ)p̂``.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}.")
    if truth not in ("mix", "one"):
        raise ValueError(f"truth must be 'mix' or 'one', got {truth!r}.")
    Y = _check_labels(Y)
    p_hat = sp.csr_matrix(p_hat, dtype=np.float32)
    if p_hat.shape != Y.shape:
        raise ValueError(f"p_hat has shape {p_hat.shape} but Y has {Y.shape}.")
    Yb = Y.copy()
    Yb.data[:] = 1.0
    extra = p_hat - p_hat.multiply(Yb)  # p̂ off the ground truth
    extra = sp.csr_matrix(extra)
    extra.data[extra.data < threshold] = 0.0
    extra.eliminate_zeros()
    if max_extra is not None:
        extra = _keep_largest(extra, int(max_extra))
    if truth == "one":
        T = Yb + (1.0 - lam) * extra
    else:
        T = lam * Yb + (1.0 - lam) * (sp.csr_matrix(p_hat.multiply(Yb)) + extra)
    T = sp.csr_matrix(T, dtype=np.float32)
    T.eliminate_zeros()
    T.sort_indices()
    return T


def _keep_largest(M: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest stored entries of every row of ``M`` (``k = 0``: none)."""
    if k <= 0 or M.nnz == 0:
        return sp.csr_matrix(M.shape, dtype=M.dtype)
    M = sp.csr_matrix(M)
    M.sort_indices()
    rows = torch.from_numpy(np.repeat(np.arange(M.shape[0]), np.diff(M.indptr)))
    keep = topk_per_row(rows, torch.from_numpy(M.data), k, M.shape[0]).numpy()
    out = sp.csr_matrix((M.data[keep], (rows.numpy()[keep], M.indices[keep])), shape=M.shape)
    out.sort_indices()
    return out


class Teacher:
    """Graph label-propagation teacher for extreme multi-label classification.

    Parameters
    ----------
    k : int, default=10
        Neighbours per training point in the k-NN graph.
    solver : {"poisson", "vpoisson", "laplace"}, default="poisson"
        Propagation (see :mod:`graphvar.xmc.propagation`).
    n_steps : int or "auto", default=4
        Iterations; ``"auto"`` uses Calder's random-walk mixing rule
        (:func:`graphvar.solvers.random_walk_stop_times`, at least 50 steps).
    topk : int, default=50
        Labels kept per row at every step and in ``p_hat_``.
    amplification : float, default=1.0
        Variance amplification ``a`` (``vpoisson`` only).
    source_weights : {"none", "propensity"}, default="none"
        ``"propensity"``: label ``l`` is injected with weight ``1/p_l ÷ max 1/p`` (the inverse
        propensity of :func:`graphvar.xmc.inverse_propensity`), so rare labels spread further
        up the ranking; calibration still fits the ground truth.
    kernel : str, default="gaussian"
        Edge weights (see :func:`graphvar.graph.knn_graph`).
    metric : {"auto", "cosine", "euclidean"}, default="auto"
        ``auto``: cosine for scipy sparse features (TF-IDF), Euclidean for dense.
    backend : str, default="auto"
        k-NN search backend.
    approximate : bool or "auto", default="auto"
        Approximate k-NN search for the graph (:func:`graphvar.graph.knn_search`; ``"auto"``: from
        200k dense points on the CPU); ``graph_info_`` holds its measured recall.
    leave_one_out : bool, default=True
        Exact out-of-sample estimates by ``n_folds`` cross-fitting (module docstring).
    n_folds : int, default=3
        Folds for leave-one-out.
    calibration : {"isotonic", "platt", "none"}, default="isotonic"
        Map from scores to [0, 1]; ``"none"`` divides by the largest score.
    calibration_fraction : float, default=0.2
        Fraction of training rows whose estimates fit the calibration.
    lam : float, default=0.0
        LEVER mixing weight λ of the ground truth (0 with ``truth="one"``: true labels 1, extra labels p̂;
        chosen on validation splits of Bibtex and Corel5k, ``docs/xmc.md``).
    threshold : float, default=0.0
        Minimum calibrated p̂ for an extra (non ground-truth) label in the soft targets.
    max_extra : int or None, default=None
        Most extra labels per row in the soft targets (LEVER's τ).
    truth : {"mix", "one"}, default="one"
        Target of ground-truth labels: ``λ + (1−λ)p̂`` or 1 (see :func:`lever_targets`).
    block_rows : int, default=8192
        Rows per sparse product block.
    random_state : int, default=0
        Seed of the fold split and calibration rows.
    device : str or torch.device, optional
        Device of the k-NN search and of the propagation (default CPU).
    dtype : torch.dtype or str, default=torch.float32
        Precision of the propagation.
    progress : bool, default=False
        Progress bars.

    Attributes
    ----------
    graph_ : Graph
        Training k-NN graph (on ``device``).
    scores_ : scipy.sparse.csr_matrix
        Raw propagation scores (top-k per row).
    p_hat_ : scipy.sparse.csr_matrix
        Calibrated estimates in [0, 1] (top-k per row).
    n_steps_ : int
        Steps actually run (with ``n_steps="auto"``, ``stop_rule_info_`` holds the
        stopping rule's convergence and residual; a warning says when it missed its tolerance).
    timings_ : dict
        Seconds spent in graph building, propagation and calibration.
    calibration_info_ : dict
        Rows, pairs and positive rate used to fit the calibration.
    calibration_rows_ : ndarray
        Training rows whose (score, is-true) pairs fitted the calibration.
    folds_ : ndarray or None
        Fold of every row under leave-one-out.
    """

    def __init__(self, *, k: int = 10, solver: str = "poisson", n_steps: int | str = 4, topk: int = 50,
                 amplification: float = 1.0, source_weights: str = "none", kernel: str = "gaussian", metric: str = "auto",
                 backend: str = "auto", approximate: bool | str = "auto", leave_one_out: bool = True, n_folds: int = 3,
                 calibration: str = "isotonic", calibration_fraction: float = 0.2,
                 lam: float = 0.0, threshold: float = 0.0, max_extra: int | None = None,
                 truth: str = "one", block_rows: int = 8192, random_state: int = 0, device=None,
                 dtype=torch.float32, progress: bool = False):
        self.k = k
        self.solver = solver
        self.n_steps = n_steps
        self.topk = topk
        self.amplification = amplification
        self.source_weights = source_weights
        self.kernel = kernel
        self.metric = metric
        self.backend = backend
        self.approximate = approximate
        self.leave_one_out = leave_one_out
        self.n_folds = n_folds
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.lam = lam
        self.threshold = threshold
        self.max_extra = max_extra
        self.truth = truth
        self.block_rows = block_rows
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}.")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}.")
        if self.n_steps != "auto":
            check_int(self.n_steps, "n_steps (or 'auto')", minimum=1)
        if self.leave_one_out:
            check_int(self.n_folds, "n_folds (leave-one-out)", minimum=2)
        if not 0.0 < self.calibration_fraction <= 1.0:
            raise ValueError(f"calibration_fraction must lie in (0, 1], got {self.calibration_fraction}.")
        if self.metric not in ("auto", "cosine", "euclidean"):
            raise ValueError(f"metric must be 'auto', 'cosine' or 'euclidean', got {self.metric!r}.")
        for name in ("k", "topk", "block_rows"):
            check_int(getattr(self, name), name, minimum=1)
        if self.max_extra is not None:
            check_int(self.max_extra, "max_extra", minimum=0)
        check_float(self.lam, "lam", minimum=0.0, maximum=1.0)
        check_float(self.threshold, "threshold", minimum=0.0, maximum=1.0)
        check_float(self.amplification, "amplification", minimum=0.0)
        check_choice(self.truth, "truth", ("mix", "one"))
        check_choice(self.source_weights, "source_weights", ("none", "propensity"))
        for name in ("leave_one_out", "progress"):
            check_bool(getattr(self, name), name)
        check_dtype(self.dtype)
        check_device(self.device)

    def _metric(self, X) -> str:
        if self.metric != "auto":
            return self.metric
        return "cosine" if sp.issparse(X) else "euclidean"

    def _build_graph(self, X):
        from ..graph import knn_graph

        metric = self._metric(X)
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=np.float32)
        g = knn_graph(X, k=int(self.k), kernel=self.kernel, metric=metric, backend=self.backend,
                      device=self.device, dtype=self.dtype, approximate=self.approximate)
        self.graph_info_ = dict(g.info)
        return g

    def _resolve_steps(self, graph) -> int:
        if self.n_steps != "auto":
            return int(self.n_steps)
        from ..engine import random_walk_stop_times

        stops, info = random_walk_stop_times(graph, torch.ones(graph.n_nodes, dtype=torch.bool), return_info=True)
        self.stop_rule_info_ = info
        if not all(info["converged"]):
            import warnings

            warnings.warn(f"n_steps='auto': the random-walk stopping rule did not reach its tolerance "
                          f"{info['tol']:.3g} within 1000 steps (residual {max(info['residual']):.3g}); "
                          "propagating 1000 steps. Pass an integer n_steps to choose.", UserWarning, stacklevel=3)
        return int(stops.max())

    # --------------------------------------------------------------- fitting
    def fit(self, X, Y, label_features=None, graph=None) -> "Teacher":
        """Build the graph, propagate ``Y``, calibrate.

        Parameters
        ----------
        X : scipy sparse or array of shape (n, D)
            Training features (ignored when ``graph`` is given, except for augmentation).
        Y : scipy sparse of shape (n, L)
            Binary training labels.
        label_features : scipy sparse or array of shape (L, D), optional
            Kept for :meth:`augmented` (LEVER's N+L rows).
        graph : Graph, scipy sparse, PyG Data or networkx, optional
            A precomputed symmetric ``(n, n)`` graph to use instead of building one.

        Returns
        -------
        self
        """
        self._validate_params()
        n = X.shape[0] if X is not None else None
        Y = _check_labels(Y, n)
        n, L = Y.shape
        if label_features is not None and label_features.shape[0] != L:
            raise ValueError(f"label_features has {label_features.shape[0]} rows but Y has {L} labels.")
        self.X_, self.Y_, self.label_features_ = X, Y, label_features
        self._X_dense = None  # predict()'s dense copy of X_, made on first use
        t0 = time.perf_counter()
        if graph is None:
            if X is None:
                raise ValueError("pass features X or a precomputed graph.")
            self.graph_ = self._build_graph(X)
        else:
            from ..graph import as_graph

            self.graph_ = as_graph(graph, device=self.device, dtype=self.dtype)
            self.graph_info_ = {"given": True}
            if self.graph_.n_nodes != n:
                raise ValueError(f"graph has {self.graph_.n_nodes} nodes but Y has {n} rows.")
        t1 = time.perf_counter()
        self.n_steps_ = self._resolve_steps(self.graph_)
        scores, cal_scores, cal_rows = self._cross_fit(Y)
        scores.eliminate_zeros()
        self.scores_ = sp.csr_matrix(scores, dtype=np.float32)
        t2 = time.perf_counter()
        self._fit_calibration(cal_scores, Y, cal_rows)
        self.p_hat_ = self.calibrate(self.scores_)
        t3 = time.perf_counter()
        self.timings_ = {"graph_s": t1 - t0, "propagate_s": t2 - t1, "calibrate_s": t3 - t2,
                         "total_s": t3 - t0}
        return self

    def _cross_fit(self, Y):
        """``(scores, calibration scores, calibration rows)``: the fold propagations (or full + held-out)."""
        n = Y.shape[0]
        rng = np.random.default_rng(self.random_state)
        kw = dict(solver=self.solver, n_steps=self.n_steps_, topk=int(self.topk),
                  amplification=self.amplification, block_rows=self.block_rows, progress=self.progress)
        n_cal = max(1, int(round(self.calibration_fraction * n)))
        cal_rows = np.sort(rng.choice(n, size=n_cal, replace=False))
        self.calibration_rows_ = cal_rows
        self.folds_ = None
        Y_src = Y
        if self.source_weights == "propensity":
            from .propensity import inverse_propensity

            ip = inverse_propensity(Y)
            Y_src = sp.csr_matrix(Y @ sp.diags((ip / ip.max()).astype(np.float32)))
        if self.leave_one_out:
            folds = rng.permutation(np.arange(n) % int(self.n_folds))
            self.folds_ = folds
            parts = []
            for f in range(int(self.n_folds)):
                U = propagate_topk(self.graph_, Y_src, sources=folds != f, desc=f"fold {f + 1}/{self.n_folds}", **kw)
                parts.append(sp.diags((folds == f).astype(np.float32)) @ U)
            scores = sp.csr_matrix(sum(parts[1:], parts[0]))
            cal_scores = scores
        else:
            scores = propagate_topk(self.graph_, Y_src, desc="propagate", **kw)
            src = np.ones(n, dtype=bool)
            src[cal_rows] = False
            cal_scores = propagate_topk(self.graph_, Y_src, sources=src, desc="calibration", **kw)
        return scores, cal_scores, cal_rows

    def _fit_calibration(self, scores, Y, rows):
        S = sp.csr_matrix(scores[rows])
        T = sp.csr_matrix(Y[rows])
        x = S.data.astype(np.float64)
        # is-true flag of every stored score: match (row, label) keys against the labels
        keyS = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr)).astype(np.int64) * S.shape[1] + S.indices
        keyT = np.repeat(np.arange(T.shape[0]), np.diff(T.indptr)).astype(np.int64) * S.shape[1] + T.indices
        flag = np.isin(keyS, keyT).astype(np.float64)
        self.calibration_info_ = {"method": self.calibration, "rows": int(len(rows)), "pairs": int(S.nnz),
                                  "positive_rate": float(flag.mean()) if flag.size else 0.0,
                                  "held_out": "cross-fitted folds" if self.leave_one_out
                                  else "rows removed from the sources of a separate propagation"}
        self.max_score_ = float(np.abs(x).max()) if x.size else 1.0
        if self.calibration == "none" or x.size == 0 or flag.min() == flag.max():
            self.calibrator_ = None
            if self.calibration != "none":
                self.calibration_info_["note"] = "degenerate calibration data; fell back to score / max"
            return
        if self.calibration == "isotonic":
            self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, flag)
        else:
            self.calibrator_ = LogisticRegression().fit(x[:, None] / self.max_score_, flag)

    def calibrate(self, scores) -> sp.csr_matrix:
        """Map raw scores to calibrated probabilities in [0, 1] (zeros dropped)."""
        S = sp.csr_matrix(scores, dtype=np.float32, copy=True)
        x = S.data.astype(np.float64)
        if self.calibrator_ is None:
            p = np.clip(x / max(self.max_score_, 1e-30), 0.0, 1.0)
        elif isinstance(self.calibrator_, IsotonicRegression):
            p = self.calibrator_.predict(x)
        else:
            p = self.calibrator_.predict_proba(x[:, None] / self.max_score_)[:, 1]
        S.data = p.astype(np.float32)
        S.eliminate_zeros()
        return S

    # -------------------------------------------------------------- outputs
    def _check_fitted(self):
        if not hasattr(self, "p_hat_"):
            raise RuntimeError("this Teacher is not fitted yet; call fit(X, Y) first.")

    def soft_targets(self, lam: float | None = None, threshold: float | None = None,
                     max_extra: int | None | str = "default", truth: str | None = None) -> sp.csr_matrix:
        """LEVER soft targets ``λ·y + (1−λ)·p̂`` for the training rows (see :func:`lever_targets`)."""
        self._check_fitted()
        return lever_targets(self.Y_, self.p_hat_, self.lam if lam is None else lam,
                             self.threshold if threshold is None else threshold,
                             self.max_extra if max_extra == "default" else max_extra,
                             self.truth if truth is None else truth)

    def predict(self, X, *, k: int | None = None, topk: int | None = None, exclude=None) -> sp.csr_matrix:
        """Scores of new rows: the kernel-weighted mean of their nearest training rows' soft targets.

        Parameters
        ----------
        X : scipy sparse or array of shape (m, D)
            New rows, in the features the teacher was fitted on.
        k : int, optional
            Neighbours (default ``2 k``, as measured best on Corel5k's validation split).
        topk : int, optional
            Labels kept per row (default ``topk``).
        exclude : int array of shape (m,), optional
            The training row each of ``X`` is (it is dropped from its own neighbours): scores
            training rows as if unseen, e.g. a validation split.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (m, L), float32, values in [0, 1]
        """
        self._check_fitted()
        if self.X_ is None:
            raise ValueError("predict() needs the training features; this teacher was fitted on a graph only.")
        from .inductive import dense_rows, knn_scores

        if getattr(self, "_X_dense", None) is None:
            self._X_dense = dense_rows(self.X_)
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=np.int64)
            if exclude.shape != (X.shape[0],) or exclude.min(initial=0) < 0 or exclude.max(initial=0) >= self.Y_.shape[0]:
                raise ValueError(f"exclude must hold one training row index per row of X ({X.shape[0]}).")
        return knn_scores(X, self._X_dense, self.soft_targets(), k=2 * int(self.k) if k is None else k,
                          kernel=self.kernel, metric=self._metric(self.X_),
                          topk=int(self.topk) if topk is None else topk, exclude=exclude, device=self.device)

    def augmented(self, delta: float = 0.1):
        """LEVER's N+L training rows: training rows plus one row per label feature.

        The label rows carry Gandalf targets ``P[y_i | y_j]`` (thresholded at ``delta``).

        Returns
        -------
        X_aug : sparse or array of shape (n + L, D)
        T_aug : scipy.sparse.csr_matrix of shape (n + L, L)
        """
        self._check_fitted()
        if self.label_features_ is None:
            raise ValueError("augmented() needs label_features: pass them to fit().")
        from .gandalf import augment_with_label_features

        return augment_with_label_features(self.X_, self.soft_targets(), self.label_features_, self.Y_, delta)

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (for the manifest)."""
        names = ("k", "solver", "n_steps", "topk", "amplification", "source_weights", "kernel", "metric", "backend", "approximate",
                 "leave_one_out", "n_folds", "calibration", "calibration_fraction", "lam", "threshold",
                 "max_extra", "truth", "block_rows", "random_state")
        return {k: getattr(self, k) for k in names}
