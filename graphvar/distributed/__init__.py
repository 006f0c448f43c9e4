"""Graph-based learning past one machine: k-NN graph, propagation and the XMC teacher on Dask.

Install with ``pip install graphvar[dask]``. Everything runs on a
``distributed.Client`` passed as ``client=`` (a real cluster: dask-jobqueue,
dask-kubernetes, ``SSHCluster``), else the current client, else a local
cluster started on first use. See ``docs/distributed.md``.

:class:`DistributedGraph`
    The row-partitioned weight matrix, an :class:`~graphvar.graph.Operator`
    (one more operator for the engine's step kernel).
:func:`knn_graph`
    The k-NN graph of a (dask) array of rows, equal to :func:`graphvar.knn_graph`.
:func:`poisson`, :func:`vpoisson`, :func:`laplace`, :func:`vlaplace`
    The solvers with the single-machine signatures, returning numpy scores.
:func:`fit_teacher`
    The XMC teacher with its graph and propagation on the cluster.
"""

import importlib

from ._cluster import require_dask

require_dask()

_LAZY = {
    "DistributedGraph": "graphvar.distributed.graph",
    "RowScores": "graphvar.distributed.scores",
    "knn_graph": "graphvar.distributed.knn",
    "laplace": "graphvar.distributed.solvers",
    "poisson": "graphvar.distributed.solvers",
    "vlaplace": "graphvar.distributed.solvers",
    "vpoisson": "graphvar.distributed.solvers",
    "fit_teacher": "graphvar.distributed.teacher",
    "get_client": "graphvar.distributed._cluster",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphvar.distributed' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
