"""Graph-based semi-supervised solvers (docs/design.md §3).

``laplace``, ``poisson``, ``vlaplace`` and ``vpoisson`` return class scores;
they are front-ends of the engine's one step kernel and stopping rule
(:mod:`graphvar.engine`), with one dispersion normalisation (:mod:`.normalize`)
and one class-prior projection (:mod:`.priors`, :mod:`.volume`); the MBO
family (:mod:`.mbo`) runs on the same kernel.
"""

from ..engine import random_walk_stop_times
from .labels import LabelBatch, parse_labels
from .methods import laplace, poisson, poisson_source, solve, vlaplace, vpoisson
from .normalize import equalize_dispersion
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
    "volume_projection",
    "poisson_mbo",
    "vpoisson_mbo",
    "volume_mbo",
    "multiclass_mbo",
    "modularity_mbo",
]
