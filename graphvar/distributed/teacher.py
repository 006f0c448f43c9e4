"""The XMC teacher on a Dask cluster: the distributed k-NN graph, then :class:`graphvar.xmc.Teacher` on it.

:class:`~graphvar.xmc.Teacher` propagates on any operator; given a
:class:`~graphvar.distributed.DistributedGraph` its propagation
(:func:`graphvar.xmc.propagation.propagate_topk`) splits the top-k iterate
into the graph's row blocks (:mod:`graphvar.distributed.topk`), so every
step runs on the workers and only the ``(n, L)`` top-k scores come back.
Calibration and the export (:func:`graphvar.xmc.export.export_teacher`)
are the single-machine ones and write the same files.
"""

from __future__ import annotations

import time

import scipy.sparse as sp

from .knn import knn_graph

__all__ = ["fit_teacher"]


def fit_teacher(X, Y, *, label_features=None, client=None, n_blocks: int | None = None, **params):
    """Fit a :class:`~graphvar.xmc.Teacher` whose graph and propagation run on a Dask cluster.

    Parameters
    ----------
    X : dask array, ndarray or scipy sparse of shape (n, D)
        Training features (``metric="auto"``: cosine for sparse, Euclidean for dense).
    Y : scipy sparse of shape (n, L)
        Binary training labels.
    label_features : optional
        As :meth:`graphvar.xmc.Teacher.fit`.
    client : distributed.Client, optional
    n_blocks : int, optional
        Row blocks of the graph (default: one per worker).
    **params
        :class:`~graphvar.xmc.Teacher` parameters (``k``, ``solver``, ``topk``, ``kernel``,
        ``metric``, ``dtype``, ...; ``backend`` and ``device`` are the cluster's).

    Returns
    -------
    Teacher
        Fitted; ``graph_`` is the :class:`~graphvar.distributed.DistributedGraph`,
        ``graph_info_`` its build info, ``timings_["graph_s"]`` its build time.
    """
    from ..validation import check_dtype
    from ..xmc import Teacher

    teacher = Teacher(**params)
    teacher._validate_params()
    metric = teacher.metric if teacher.metric != "auto" else ("cosine" if sp.issparse(X) else "euclidean")
    t0 = time.perf_counter()
    graph = knn_graph(X, k=int(teacher.k), kernel=teacher.kernel, metric=metric,
                      dtype=check_dtype(teacher.dtype),
                      n_blocks=n_blocks, client=client)
    graph_s = time.perf_counter() - t0
    teacher.fit(X, Y, label_features=label_features, graph=graph)
    teacher.graph_info_ = dict(graph.info)
    teacher.timings_ = {**teacher.timings_, "graph_s": graph_s, "total_s": teacher.timings_["total_s"] + graph_s}
    return teacher
