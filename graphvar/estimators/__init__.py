"""scikit-learn estimators: one abstract base and one small subclass per solver.

They follow :class:`sklearn.semi_supervised.LabelSpreading`'s contract:
``fit(X, y)`` with ``-1`` marking unlabeled samples, any label values
(``classes_``), ``transduction_`` and ``label_distributions_`` for the fitted
samples, and ``predict`` / ``predict_proba`` for new samples through their
k nearest fitted neighbours. ``fit_graph(graph, y)`` fits a given graph
(a :class:`~graphvar.graph.Graph`, scipy matrix, PyG ``Data`` or networkx
graph). The base, :class:`GraphSSLClassifier`, is in ``_base.py``; each
family of solvers has its module of small subclasses.
"""

from ._base import GraphSSLClassifier, scores_to_proba
from .core import LaplaceClassifier, PoissonClassifier, VLaplaceClassifier, VPoissonClassifier
from .methods import (
    RandomWalkClassifier,
    GraphNearestNeighborClassifier,
    PLaplaceClassifier,
    AMLEClassifier,
    PEikonalClassifier,
    DynamicLabelPropagationClassifier,
    CenteredKernelClassifier,
    SparseLabelPropagationClassifier,
    WNLLClassifier,
    ProperlyWeightedLaplaceClassifier,
    PoissonReweightedLaplaceClassifier,
)
from .mbo import (ModularityMBOClassifier, MulticlassMBOClassifier, PoissonMBOClassifier, VolumeMBOClassifier,
                  VPoissonMBOClassifier)

__all__ = [
    "GraphSSLClassifier",
    "scores_to_proba",
    "LaplaceClassifier",
    "PoissonClassifier",
    "VLaplaceClassifier",
    "VPoissonClassifier",
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
    "PoissonMBOClassifier",
    "VPoissonMBOClassifier",
    "VolumeMBOClassifier",
    "MulticlassMBOClassifier",
    "ModularityMBOClassifier",
]
