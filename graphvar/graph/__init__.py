"""Graphs: the operator layer, the :class:`Graph` container, k-NN search and k-NN graph builders."""

from ..validation import check_device
from .build import KERNELS, knn_graph, knn_weights, symmetric_graph
from .graph import Graph, as_graph
from .knn import BACKENDS, METRICS, available_backends, knn_search
from .operator import Operator
from .validation import check_adjacency, check_features

__all__ = [
    "Operator",
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
