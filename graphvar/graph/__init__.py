"""Graphs: the operator layer, the :class:`Graph` container, k-NN search (exact and approximate) and builders."""

from ..validation import check_device
from .build import directed_graph, epsilon_ball, knn_graph, symmetric_graph
from .graph import Graph, as_graph
from .kernels import KERNELS, knn_weights, radius_weights
from .knn import APPROXIMATE_MIN_SAMPLES, BACKENDS, METRICS, available_backends, knn_search
from .operator import Operator
from .validation import check_adjacency, check_features

__all__ = [
    "Operator",
    "Graph",
    "knn_graph",
    "knn_search",
    "knn_weights",
    "radius_weights",
    "symmetric_graph",
    "directed_graph",
    "epsilon_ball",
    "as_graph",
    "check_adjacency",
    "check_features",
    "check_device",
    "available_backends",
    "APPROXIMATE_MIN_SAMPLES",
    "BACKENDS",
    "KERNELS",
    "METRICS",
]
