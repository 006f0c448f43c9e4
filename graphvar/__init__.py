"""graphvar: graph-based semi-supervised learning at extremely low label rates.

The solvers, the XMC teacher and the V-GPN layer are front-ends of one
propagation engine (:mod:`graphvar.engine`) running on the operator layer of
:mod:`graphvar.graph`. See ``docs/design.md``.

``import graphvar`` loads the graph and solver layers only; the estimators
(scikit-learn), the PyG layers, datasets and XMC tools load on first use
(``graphvar.PoissonClassifier``, ``graphvar.nn``, ...), so that the first
import stays fast.
"""

import importlib

__version__ = "0.2.0"

from .graph import Graph, Operator, as_graph, knn_graph, knn_search  # noqa: E402
from .solvers import laplace, poisson, vlaplace, vpoisson  # noqa: E402
from .solvers import (  # noqa: E402
    amle,
    centered_kernel,
    dynamic_label_propagation,
    graph_nearest_neighbor,
    peikonal,
    plaplace,
    randomwalk,
    sparse_label_propagation,
)

#: Names loaded on first access: name -> module that defines it.
_LAZY = {
    "GraphSSLClassifier": "graphvar.estimators",
    "LaplaceClassifier": "graphvar.estimators",
    "PoissonClassifier": "graphvar.estimators",
    "VLaplaceClassifier": "graphvar.estimators",
    "VPoissonClassifier": "graphvar.estimators",
    "RandomWalkClassifier": "graphvar.estimators",
    "GraphNearestNeighborClassifier": "graphvar.estimators",
    "PLaplaceClassifier": "graphvar.estimators",
    "AMLEClassifier": "graphvar.estimators",
    "PEikonalClassifier": "graphvar.estimators",
    "DynamicLabelPropagationClassifier": "graphvar.estimators",
    "CenteredKernelClassifier": "graphvar.estimators",
    "SparseLabelPropagationClassifier": "graphvar.estimators",
    "WNLLClassifier": "graphvar.estimators",
    "ProperlyWeightedLaplaceClassifier": "graphvar.estimators",
    "PoissonReweightedLaplaceClassifier": "graphvar.estimators",
    "PoissonMBOClassifier": "graphvar.estimators",
    "VPoissonMBOClassifier": "graphvar.estimators",
    "poisson_mbo": "graphvar.solvers",
    "vpoisson_mbo": "graphvar.solvers",
    "volume_mbo": "graphvar.solvers",
    "VolumeMBOClassifier": "graphvar.estimators",
    "multiclass_mbo": "graphvar.solvers",
    "modularity_mbo": "graphvar.solvers",
    "MulticlassMBOClassifier": "graphvar.estimators",
    "ModularityMBOClassifier": "graphvar.estimators",
}
_SUBMODULES = ("base", "benchmark", "cli", "datasets", "engine", "estimators", "features", "graph",
               "model_selection", "nn", "provenance", "solvers", "validation", "xmc", "distributed")

__all__ = [
    "Graph",
    "Operator",
    "as_graph",
    "knn_graph",
    "knn_search",
    "laplace",
    "poisson",
    "vlaplace",
    "vpoisson",
    "GraphSSLClassifier",
    "LaplaceClassifier",
    "PoissonClassifier",
    "VLaplaceClassifier",
    "VPoissonClassifier",
    "randomwalk",
    "graph_nearest_neighbor",
    "plaplace",
    "amle",
    "peikonal",
    "dynamic_label_propagation",
    "centered_kernel",
    "sparse_label_propagation",
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
    "poisson_mbo",
    "vpoisson_mbo",
    "PoissonMBOClassifier",
    "VPoissonMBOClassifier",
    "volume_mbo",
    "multiclass_mbo",
    "modularity_mbo",
    "VolumeMBOClassifier",
    "MulticlassMBOClassifier",
    "ModularityMBOClassifier",
    "__version__",
]


def __getattr__(name: str):
    """Import the estimators and the sub-packages on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"graphvar.{name}")
    else:
        raise AttributeError(f"module 'graphvar' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
