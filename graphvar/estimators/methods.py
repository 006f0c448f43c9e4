"""Classifiers of GraphLearning 1.7.5's other methods (docs/methods.md).

Each is :class:`GraphSSLClassifier` with another solver function. Their
solvers have their own options (``p``, ``alpha``, ``tol``, ...), passed in
``solver_params``; the base's ``method``, ``amplification``, ``min_iter`` and
``max_iter`` (Calder's stopping rule) do not apply to them. ``normalize`` and
``class_priors`` apply to all. The reweighted Laplace classifiers pass
``reweighting`` to :func:`graphvar.laplace` (``"properly"`` also the fitted
features).
"""

from __future__ import annotations

from ..solvers import (
    amle,
    centered_kernel,
    dynamic_label_propagation,
    graph_nearest_neighbor,
    peikonal,
    plaplace,
    randomwalk,
    sparse_label_propagation,
)
from ._base import GraphSSLClassifier
from .core import LaplaceClassifier

__all__ = [
    "RandomWalkClassifier",
    "GraphNearestNeighborClassifier",
    "PLaplaceClassifier",
    "AMLEClassifier",
    "PEikonalClassifier",
    "DynamicLabelPropagationClassifier",
    "CenteredKernelClassifier",
    "SparseLabelPropagationClassifier",
    "WNLLClassifier",
    "ProperlyWeightedLaplaceClassifier",
    "PoissonReweightedLaplaceClassifier",
]


class _OwnOptionsClassifier(GraphSSLClassifier):
    """A classifier whose solver takes only its own options (``solver_params``) and ``normalize``."""

    def _solver_kwargs(self) -> dict:
        return {"normalize": self.normalize, **(self.solver_params or {})}


class RandomWalkClassifier(_OwnOptionsClassifier):
    """Lazy random-walk classifier (Zhou, Schölkopf 2004). Solver: :func:`graphvar.randomwalk`."""

    _solver = staticmethod(randomwalk)


class GraphNearestNeighborClassifier(_OwnOptionsClassifier):
    """Graph geodesic nearest-neighbour classifier (weights as edge lengths).

    Solver: :func:`graphvar.graph_nearest_neighbor`.
    """

    _solver = staticmethod(graph_nearest_neighbor)


class PLaplaceClassifier(_OwnOptionsClassifier):
    """Game-theoretic p-Laplace classifier (Flores Rios, Calder, Lerman 2019), p = 10.

    Solver: :func:`graphvar.plaplace`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from graphvar import PLaplaceClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> labels = np.full_like(y, -1); labels[:50] = y[:50]
    >>> clf = PLaplaceClassifier(solver_params={"p": 10}).fit(X / 16, labels)
    >>> clf.transduction_.shape
    (1797,)
    """

    _solver = staticmethod(plaplace)


class AMLEClassifier(_OwnOptionsClassifier):
    """Absolutely minimal Lipschitz extension classifier (graph ∞-Laplace). Solver: :func:`graphvar.amle`."""

    _solver = staticmethod(amle)


class PEikonalClassifier(_OwnOptionsClassifier):
    """p-eikonal classifier, p = 1 (Calder, Ettehad 2022). Solver: :func:`graphvar.peikonal`."""

    _solver = staticmethod(peikonal)


class DynamicLabelPropagationClassifier(_OwnOptionsClassifier):
    """Dynamic label propagation classifier (Wang, Tu, Tsotsos 2013).

    Solver: :func:`graphvar.dynamic_label_propagation`.
    """

    _solver = staticmethod(dynamic_label_propagation)


class CenteredKernelClassifier(_OwnOptionsClassifier):
    """Centred kernel classifier (Mai, Couillet 2018). Solver: :func:`graphvar.centered_kernel`."""

    _solver = staticmethod(centered_kernel)


class SparseLabelPropagationClassifier(_OwnOptionsClassifier):
    """Sparse label propagation classifier (Jung, Hero, Mara, Jahromi 2016).

    Solver: :func:`graphvar.sparse_label_propagation`.
    """

    _solver = staticmethod(sparse_label_propagation)


class _ReweightedLaplaceClassifier(LaplaceClassifier):
    """Laplace learning on a reweighted graph; ``method="exact"`` by default (GraphLearning's solve:
    the stopped iteration mixes slowly on the heavy edges near the labels)."""

    _reweighting = "wnll"

    def __init__(self, *, k=10, kernel="gaussian", metric="euclidean", backend="auto", method="exact",
                 amplification=None, normalize=False, class_priors=None, min_iter=50, max_iter=1000,
                 solver_params=None, device=None, dtype="float32", progress=False):
        super().__init__(k=k, kernel=kernel, metric=metric, backend=backend, method=method,
                         amplification=amplification, normalize=normalize, class_priors=class_priors,
                         min_iter=min_iter, max_iter=max_iter, solver_params=solver_params, device=device,
                         dtype=dtype, progress=progress)

    def _solver_kwargs(self) -> dict:
        kwargs = {**super()._solver_kwargs(), "reweighting": self._reweighting}
        if self._reweighting == "properly" and "features" not in kwargs:
            if self.X_fit_ is None:
                raise ValueError("the properly weighted Laplacian needs features: use fit(X, y), or fit_graph "
                                 "with solver_params={'features': X}.")
            kwargs["features"] = self.X_fit_
        return kwargs


class WNLLClassifier(_ReweightedLaplaceClassifier):
    """Weighted nonlocal Laplacian classifier (Shi, Osher, Zhu 2017).

    Solver: :func:`graphvar.laplace` with ``reweighting="wnll"``.
    """

    _reweighting = "wnll"


class ProperlyWeightedLaplaceClassifier(_ReweightedLaplaceClassifier):
    """Properly weighted Laplacian classifier (Calder, Slepčev 2019).

    Solver: :func:`graphvar.laplace` with ``reweighting="properly"`` on the fitted features.
    """

    _reweighting = "properly"


class PoissonReweightedLaplaceClassifier(_ReweightedLaplaceClassifier):
    """Poisson-reweighted Laplace classifier (Calder et al. 2020): ``reweighting="poisson"``."""

    _reweighting = "poisson"
