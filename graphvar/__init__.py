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

#: Names loaded on first access: name -> module that defines it.
_LAZY = {
    "GraphSSLClassifier": "graphvar.estimators",
    "LaplaceClassifier": "graphvar.estimators",
    "PoissonClassifier": "graphvar.estimators",
    "VLaplaceClassifier": "graphvar.estimators",
    "VPoissonClassifier": "graphvar.estimators",
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
