"""Graph-based semi-supervised solvers (docs/design.md §3).

``laplace``, ``poisson``, ``vlaplace`` and ``vpoisson`` return class scores;
they are front-ends of the engine's one step kernel and stopping rule
(:mod:`graphvar.engine`), with one dispersion normalisation (:mod:`.normalize`)
and one class-prior projection (:mod:`.priors` on the exact solver of
:mod:`.volume`). The MBO family (:mod:`.mbo`, :mod:`.mbo_spectral`,
:mod:`.mbo_volume`; docs/mbo.md) runs on the same kernel. The rest of
GraphLearning 1.7.5's methods (docs/methods.md) share the front-end of
:mod:`.frontend`: :mod:`.propagation` (random walk, centred kernel, dynamic
label propagation), :mod:`.lipschitz` (p-Laplace, AMLE), :mod:`.distance`
(graph nearest neighbour, p-eikonal) and :mod:`.sparse_lp`; Laplace's
reweightings live in :mod:`.reweight`, Poisson's spectral solver in
:mod:`.spectral`.
"""

from ..engine import random_walk_stop_times
from .labels import LabelBatch, parse_labels
from .methods import laplace, poisson, poisson_source, solve, vlaplace, vpoisson
from .distance import graph_nearest_neighbor, peikonal
from .lipschitz import amle, plaplace
from .normalize import equalize_dispersion
from .propagation import centered_kernel, dynamic_label_propagation, randomwalk
from .sparse_lp import sparse_label_propagation
from .priors import check_class_priors, class_priors_from_labels, volume_label_projection
from .mbo import poisson_mbo, vpoisson_mbo
from .mbo_spectral import modularity_mbo, multiclass_mbo
from .mbo_volume import volume_mbo
from .volume import volume_projection

__all__ = [
    "laplace",
    "poisson",
    "vlaplace",
    "vpoisson",
    "solve",
    "poisson_source",
    "random_walk_stop_times",
    "equalize_dispersion",
    "parse_labels",
    "LabelBatch",
    "volume_label_projection",
    "class_priors_from_labels",
    "check_class_priors",
    "randomwalk",
    "graph_nearest_neighbor",
    "plaplace",
    "amle",
    "peikonal",
    "dynamic_label_propagation",
    "centered_kernel",
    "sparse_label_propagation",
    "volume_projection",
    "poisson_mbo",
    "vpoisson_mbo",
    "volume_mbo",
    "multiclass_mbo",
    "modularity_mbo",
]
