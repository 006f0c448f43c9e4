"""Graph-based semi-supervised solvers (DESIGN.md §3).

``laplace``, ``poisson``, ``vlaplace`` and ``vpoisson`` return class scores;
they share one propagation loop (:mod:`.propagation`), one stopping rule
(:mod:`.stopping`) and one dispersion normalisation (:mod:`.normalize`).
"""

from .labels import LabelBatch, parse_labels, uninformed_nodes
from .methods import laplace, poisson, solve, vlaplace, vpoisson
from .normalize import equalize_dispersion
from .priors import check_class_priors, class_priors_from_labels, volume_label_projection
from .propagation import propagate
from .stopping import random_walk_stop_times

__all__ = [
    "laplace",
    "poisson",
    "vlaplace",
    "vpoisson",
    "solve",
    "propagate",
    "random_walk_stop_times",
    "equalize_dispersion",
    "parse_labels",
    "uninformed_nodes",
    "LabelBatch",
    "volume_label_projection",
    "class_priors_from_labels",
    "check_class_priors",
]
