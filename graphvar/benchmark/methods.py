"""The method registry of the trials benchmark.

Two kinds of method plug in:

* **score methods** — the core graph solvers (Laplace, Poisson, V-Laplace,
  V-Poisson). They take the graph and *all* labeled sets of one rate at once,
  as a ``(B, n)`` label matrix with ``-1`` for unlabeled nodes, and return
  scores ``(B, n, c)``: one wide sparse product per iteration serves every
  trial. The runner turns their scores into predictions with or without
  dispersion normalisation and class priors, so those variants cost no
  extra graph work beyond one solve per normalisation setting.
* **label methods** — any callable ``method(task: TrialTask) -> labels (n,)``,
  run once per trial. GNNs (V-GPN, GCN, APPNP, ...) come from
  ``graphvar.benchmark.gnn_methods.METHODS`` when that module is installed.

A score method may carry keyword options in its name:
``"vpoisson:amplification=2"`` calls ``vpoisson(..., amplification=2.0)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["ScoreMethod", "LabelMethod", "SCORE_SOLVERS", "SCORE_ALIASES", "PRIOR_SOLVERS", "PLAIN_SOLVERS",
           "available_methods", "get_method", "parse_method"]

#: Core solvers of :mod:`graphvar.solvers` usable as score methods.
SCORE_SOLVERS = ("laplace", "poisson", "vlaplace", "vpoisson")

#: GraphLearning 1.7.5's other methods (docs/methods.md), also score methods.
SCORE_SOLVERS += ("randomwalk", "graph_nearest_neighbor", "plaplace", "amle", "peikonal",
                  "dynamic_label_propagation", "centered_kernel", "sparse_label_propagation")

#: Named variants: ``name -> (solver, options)`` (GraphLearning's laplace reweightings and Poisson solvers;
#: ``laplace:reweighting=properly`` needs node features and is not a bench method).
SCORE_ALIASES = {
    "wnll": ("laplace", {"method": "exact", "reweighting": "wnll"}),
    "laplace_poisson": ("laplace", {"method": "exact", "reweighting": "poisson"}),
    "laplace_normalized": ("laplace", {"method": "exact", "normalization": "normalized"}),
    "laplace_randomwalk": ("laplace", {"method": "exact", "normalization": "randomwalk"}),
    "laplace_exact": ("laplace", {"method": "exact"}),
    "poisson_exact": ("poisson", {"method": "exact"}),
    "poisson_spectral": ("poisson", {"method": "spectral"}),
}

#: Score methods that take the class priors themselves (volume-constrained MBO, docs/mbo.md):
#: the runner hands them the benchmark's class priors and derives no prior/normalised variants.
PRIOR_SOLVERS = ("poisson_mbo", "vpoisson_mbo", "volume_mbo")

#: Score methods with neither priors nor normalisation (spectral MBO, one-hot labels): one variant each.
PLAIN_SOLVERS = ("multiclass_mbo", "modularity_mbo")


@dataclass
class ScoreMethod:
    """A batched graph solver: ``solve(graph, Y (B, n), normalize) -> (B, n, c)``.

    Attributes
    ----------
    name : str
        Name as written on the command line (options included).
    solver : str
        Function name in :mod:`graphvar.solvers`.
    options : dict
        Extra keyword arguments of the solver.
    """

    name: str
    solver: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def takes_priors(self) -> bool:
        """Whether the runner derives no prior/normalised variants (:data:`PRIOR_SOLVERS`, :data:`PLAIN_SOLVERS`)."""
        return self.solver in PRIOR_SOLVERS or self.solver in PLAIN_SOLVERS

    def solve(self, graph, Y, *, normalize: bool, n_classes: int, class_priors=None):
        """Run the solver on the ``(B, n)`` label matrix ``Y``.

        ``class_priors`` goes to the solvers that take it (``normalize`` does not).

        Returns
        -------
        (scores, info) : Tensor (B, n, c) and dict (``stop_times`` of the iterative solvers)
        """
        solvers = importlib.import_module("graphvar.solvers")
        fn = getattr(solvers, self.solver)
        extra = ({"class_priors": class_priors} if self.solver in PRIOR_SOLVERS else
                 {} if self.solver in PLAIN_SOLVERS else {"normalize": normalize})
        return fn(graph, Y, n_classes=n_classes, return_info=True, **extra, **self.options)


@dataclass
class LabelMethod:
    """A per-trial method: ``fn(task) -> predicted labels (n,)``."""

    name: str
    fn: Callable


def _gnn_methods() -> dict[str, Callable]:
    try:
        mod = importlib.import_module("graphvar.benchmark.gnn_methods")
    except ImportError:
        return {}
    return dict(getattr(mod, "METHODS", {}))


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_method(name: str) -> tuple[str, dict[str, Any]]:
    """Split ``"solver:key=value,key=value"`` into the base name and options.

    Parameters
    ----------
    name : str
        Method name, e.g. ``"poisson"`` or ``"vpoisson:amplification=2"``.

    Returns
    -------
    (base, options) : tuple of str and dict
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"method name must be a non-empty string, got {name!r}")
    base, _, rest = name.strip().partition(":")
    options: dict[str, Any] = {}
    if rest:
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"bad option {item!r} in method {name!r}: write key=value, e.g. vpoisson:amplification=2")
            options[key.strip()] = _parse_value(value.strip())
    return base.strip().lower(), options


def available_methods() -> list[str]:
    """Names accepted by :func:`get_method` (core solvers, then GNN methods)."""
    return (list(SCORE_SOLVERS) + list(SCORE_ALIASES) + list(PRIOR_SOLVERS) + list(PLAIN_SOLVERS)
            + sorted(_gnn_methods()))


def get_method(name: str) -> ScoreMethod | LabelMethod:
    """Look a method up by name.

    Parameters
    ----------
    name : str
        A solver of :data:`SCORE_SOLVERS` (core and GraphLearning methods), a
        variant of :data:`SCORE_ALIASES`, an MBO solver of :data:`PRIOR_SOLVERS` /
        :data:`PLAIN_SOLVERS` (optionally with ``:key=value`` options), or a GNN method registered in
        ``graphvar.benchmark.gnn_methods.METHODS``.

    Returns
    -------
    ScoreMethod or LabelMethod
    """
    base, options = parse_method(name)
    if base in SCORE_SOLVERS or base in PRIOR_SOLVERS or base in PLAIN_SOLVERS:
        return ScoreMethod(name=name.strip(), solver=base, options=options)
    if base in SCORE_ALIASES:
        solver, preset = SCORE_ALIASES[base]
        return ScoreMethod(name=name.strip(), solver=solver, options={**preset, **options})
    gnn = _gnn_methods()
    if base in gnn:
        if options:
            raise ValueError(f"method {base!r} takes no ':key=value' options on the command line")
        return LabelMethod(name=base, fn=gnn[base])
    raise ValueError(f"unknown method {name!r}; choose from {', '.join(available_methods())}")
