"""Graphs: the :class:`Graph` container, exact k-NN search and k-NN graph builders."""

from .build import KERNELS, knn_graph, knn_weights, symmetric_graph
from .graph import Graph
from .knn import BACKENDS, METRICS, available_backends, knn_search
from .validation import as_graph, check_adjacency, check_device, check_features

__all__ = [
    "Graph",
    "knn_graph",
    "knn_search",
    "knn_weights",
    "symmetric_graph",
    "as_graph",
    "check_adjacency",
    "check_features",
    "check_device",
    "available_backends",
    "BACKENDS",
    "KERNELS",
    "METRICS",
]
