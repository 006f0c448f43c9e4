"""graphvar: graph-based semi-supervised learning at extremely low label rates."""

__version__ = "0.1.0"

from .estimators import (  # noqa: E402
    LaplaceClassifier,
    PoissonClassifier,
    VLaplaceClassifier,
    VPoissonClassifier,
)
from .graph import Graph, as_graph, knn_graph, knn_search  # noqa: E402
from .solvers import laplace, poisson, vlaplace, vpoisson  # noqa: E402

__all__ = [
    "Graph",
    "as_graph",
    "knn_graph",
    "knn_search",
    "laplace",
    "poisson",
    "vlaplace",
    "vpoisson",
    "LaplaceClassifier",
    "PoissonClassifier",
    "VLaplaceClassifier",
    "VPoissonClassifier",
    "__version__",
]
