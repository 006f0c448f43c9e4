"""graphvar: graph-based semi-supervised learning at extremely low label rates.

The solvers, the XMC teacher and the V-GPN layer are front-ends of one
propagation engine (:mod:`graphvar.engine`) running on the operator layer of
:mod:`graphvar.graph`. See ``docs/design.md``.
"""

__version__ = "0.2.0"

from .estimators import (  # noqa: E402
    GraphSSLClassifier,
    LaplaceClassifier,
    PoissonClassifier,
    VLaplaceClassifier,
    VPoissonClassifier,
)
from .graph import Graph, Operator, as_graph, knn_graph, knn_search  # noqa: E402
from .solvers import laplace, poisson, vlaplace, vpoisson  # noqa: E402

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
