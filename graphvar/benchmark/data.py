"""Benchmark inputs: a dataset, its features and its graph, with a graph cache.

``load_benchmark_data("fashionmnist", features="vae", graph="knn", k=10)``
returns the graph every method uses, the true labels and the node features.
k-NN graphs of large datasets take minutes on a CPU, so they are cached as
scipy ``.npz`` files under ``<data root>/graphs/``, keyed by the dataset, the
features (name and a hash of their values), k, kernel and metric: a rerun
with the same inputs loads the graph in a second, and changed features
(a retrained VAE) never reuse a stale graph.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..provenance import relative_path
from ..validation import check_choice

__all__ = ["BenchData", "DATASETS", "FEATURES", "GRAPHS", "load_benchmark_data"]

DATASETS = ("digits", "fashionmnist", "cora", "citeseer")
FEATURES = ("raw", "pca", "vae")
GRAPHS = ("knn", "citation")


@dataclass
class BenchData:
    """What a benchmark runs on.

    Attributes
    ----------
    graph : graphvar.graph.Graph
    labels : numpy.ndarray of int64, shape (n,)
    features : numpy.ndarray of float32, shape (n, d)
    info : dict
        How it was made (dataset, features, graph kind, k, kernel, metric,
        seconds to build, cache file, a one-line description).
    """

    graph: Any
    labels: np.ndarray
    features: np.ndarray
    info: dict = field(default_factory=dict)


def _features(name: str, X: np.ndarray, features: str, n_components: int) -> np.ndarray:
    from ..features import pca_features, vae_features

    if features == "raw":
        return np.ascontiguousarray(X, dtype=np.float32)
    if features == "pca":
        return np.ascontiguousarray(pca_features(X, n_components=min(n_components, X.shape[1]), seed=0), dtype=np.float32)
    cache_name = {"fashionmnist": "fashion_mnist"}.get(name, name)
    return np.ascontiguousarray(vae_features(X, cache_name=cache_name), dtype=np.float32)


def _subfolder(root, name: str):
    """``<root>/<name>`` when a data root is given and holds that folder, else ``None``
    (the loaders' own search order: Debian / shared folders, the default data root)."""
    if root is None or not (Path(root) / name).is_dir():
        return None
    return Path(root) / name


def _fingerprint(Z: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(Z).tobytes()).hexdigest()[:12]


def load_benchmark_data(
    dataset: str,
    *,
    features: str = "raw",
    graph: str = "knn",
    k: int = 10,
    kernel: str = "gaussian",
    metric: str | None = None,
    n_components: int = 50,
    backend: str = "auto",
    root=None,
    cache: bool = True,
    device=None,
    largest_component: bool = False,
) -> BenchData:
    """Load a dataset, compute its features and build (or load) its graph.

    Parameters
    ----------
    dataset : {"digits", "fashionmnist", "cora", "citeseer"}
    features : {"raw", "pca", "vae"}, default="raw"
        Node features (PCA keeps ``n_components``; the VAE is 784-400-20 and
        cached by :func:`graphvar.features.vae_features`).
    graph : {"knn", "citation"}, default="knn"
        ``citation`` (Cora/CiteSeer only) uses the citation graph with unit
        weights; ``knn`` builds a k-NN graph on the features.
    k : int, default=10
    kernel : str, default="gaussian"
    metric : {"euclidean", "cosine"}, optional
        Default: cosine for the bag-of-words citation features, else euclidean.
    n_components : int, default=50
    backend : str, default="auto"
        k-NN search backend.
    root : str or Path, optional
        Data root (default :func:`graphvar.datasets.data_root`).
    cache : bool, default=True
        Cache k-NN graphs under ``<root>/graphs/``.
    device : str or torch.device, optional
        Device of the returned graph.
    largest_component : bool, default=False
        Citation graphs only: keep the largest connected component (Cora:
        2485 of 2708 nodes). On the full graphs, labels never reach most
        small components and Calder's random-walk stopping rule never fires.

    Returns
    -------
    BenchData
    """
    dataset = dataset.lower().replace("-", "").replace("_", "")
    check_choice(dataset, "dataset", DATASETS)
    check_choice(features, "features", FEATURES)
    check_choice(graph, "graph", GRAPHS)
    citation = dataset in ("cora", "citeseer")
    if graph == "citation" and not citation:
        raise ValueError(f"{dataset} has no citation graph: use graph='knn'")
    if metric is None:
        metric = "cosine" if citation else "euclidean"
    t0 = time.perf_counter()
    X, y, ds = _load_raw(dataset, root)
    Z = _features(dataset, np.asarray(X), features, n_components)
    info: dict[str, Any] = {"dataset": dataset, "features": features, "feature_dim": int(Z.shape[1]),
                            "features_sha1": _fingerprint(Z), "graph": graph,
                            "load_seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    if graph == "citation":
        g, y, Z = _citation_graph(ds, np.asarray(y, dtype=np.int64), Z, largest_component, info)
    else:
        info.update(k=int(k), kernel=kernel, metric=metric)
        feat_desc = {"raw": "raw", "pca": f"PCA-{Z.shape[1]}", "vae": f"VAE-{Z.shape[1]}"}[features]
        info["graph_desc"] = f"{feat_desc} features, {k}-NN {kernel} {metric} graph"
        g = _cached_knn_graph(Z, dataset, features, k, kernel, metric, backend, root if cache else False, info)
    if device is not None:
        g = g.to(device=device)
    info["graph_seconds"] = time.perf_counter() - t0
    return BenchData(g, np.asarray(y, dtype=np.int64), Z, info)


def _load_raw(dataset: str, root):
    """``(X, y, planetoid dataset or None)`` of a benchmark dataset."""
    from ..datasets import load_digits, load_fashion_mnist, load_planetoid

    if dataset in ("cora", "citeseer"):
        ds = load_planetoid(dataset, root=_subfolder(root, "planetoid"))
        return np.asarray(ds.x), np.asarray(ds.y), ds
    if dataset == "fashionmnist":
        X, y = load_fashion_mnist(root=_subfolder(root, "fashion-mnist"))
        return X, y, None
    X, y = load_digits()
    return X, y, None


def _citation_graph(ds, y: np.ndarray, Z: np.ndarray, largest_component: bool, info: dict):
    """The citation graph (unit weights), optionally its largest connected component."""
    from ..graph import Graph

    g = ds.to_graph()
    desc = "citation graph, unit weights"
    if largest_component:
        n_comp, comp = g.components
        keep = np.flatnonzero(comp == np.bincount(comp).argmax())
        A = g.to_scipy()
        g = Graph.from_scipy(A[keep][:, keep], validate=False, info=g.info)
        y, Z = y[keep], Z[keep]
        info["kept_nodes"] = int(keep.size)
        desc = f"citation graph, largest connected component ({keep.size} nodes), unit weights"
    info["graph_desc"] = desc
    return g, y, Z


def _cached_knn_graph(Z, dataset, features, k, kernel, metric, backend, root, info: dict):
    """The k-NN graph of ``Z``, from ``<root>/graphs/`` when cached (``root=False``: no cache)."""
    import scipy.sparse as sp

    from ..datasets import data_root
    from ..graph import Graph, knn_graph

    path = None
    if root is not False:
        folder = Path(root) if root is not None else Path(data_root())
        path = folder / "graphs" / f"{dataset}_{features}{Z.shape[1]}_{_fingerprint(Z)}_k{k}_{kernel}_{metric}.npz"
        info["cache_file"] = relative_path(path)
    if path is not None and path.exists():
        info["graph_cached"] = True
        return Graph.from_scipy(sp.load_npz(path), validate=False,
                                info={"k": k, "kernel": kernel, "metric": metric, "backend": "cache"})
    g = knn_graph(Z, k=k, kernel=kernel, metric=metric, backend=backend)
    info["graph_cached"] = False
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + f".tmp{os.getpid()}.npz")
        sp.save_npz(tmp, g.to_scipy())
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return g
