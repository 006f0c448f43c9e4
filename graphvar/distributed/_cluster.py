"""Dask import and the client every distributed function runs on."""

from __future__ import annotations

import importlib

__all__ = ["require_dask", "get_client", "worker_addresses"]

_DEFAULT: dict = {}


def require_dask():
    """Import ``distributed`` or raise an ImportError that names the extra."""
    try:
        importlib.import_module("dask.array")
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(
            "graphvar.distributed needs Dask: pip install graphvar[dask] "
            "(or pip install 'dask[array]' distributed)."
        ) from exc


def get_client(client=None):
    """``client`` itself, else the current Dask client, else a default local cluster (started once).

    Parameters
    ----------
    client : distributed.Client, optional
        A client of a real cluster (dask-jobqueue, dask-kubernetes, SSHCluster, ...).
    """
    distributed = require_dask()
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}.")
        return client
    try:
        return distributed.get_client()
    except ValueError:
        pass
    if "client" not in _DEFAULT:
        _DEFAULT["client"] = distributed.Client(distributed.LocalCluster(threads_per_worker=1))
    return _DEFAULT["client"]


def worker_addresses(client) -> list[str]:
    """Addresses of the client's workers, sorted (the round-robin order of the blocks)."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"]) if _takes_n_workers(client) \
        else sorted(client.scheduler_info()["workers"])
    if not workers:
        raise RuntimeError("the Dask cluster has no workers; start some (cluster.scale(n)) and retry.")
    return workers


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters
