"""Planetoid citation graphs (Cora, CiteSeer) read from the raw ``ind.*`` files.

The raw files are those of Yang, Cohen & Salakhutdinov (ICML 2016),
``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}``; the result matches
``torch_geometric.datasets.Planetoid`` on the same files node for node and edge
for edge (tested): Cora 2708 nodes / 7 classes / 10556 directed edges,
CiteSeer 3327 / 6 / 9104, with the standard public split.
"""

from __future__ import annotations

import os
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._root import DatasetNotFoundError, data_root, download_file, shared_data_root, verify_file

__all__ = ["PlanetoidDataset", "load_planetoid", "PLANETOID_NAMES", "PLANETOID_URL"]

PLANETOID_NAMES = ("cora", "citeseer")
PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data/"
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


@dataclass
class PlanetoidDataset:
    """A Planetoid citation graph with node features, labels and split masks.

    Attributes
    ----------
    name : str
        ``"cora"`` or ``"citeseer"``.
    x : numpy.ndarray of shape (n, d), float32
        Bag-of-words node features (rows of isolated CiteSeer test nodes are 0).
    y : numpy.ndarray of shape (n,), int64
        Class labels ``0..num_classes-1`` (label 0 for the 15 CiteSeer nodes
        missing from the test files, as in PyG).
    edge_index : numpy.ndarray of shape (2, E), int64
        Directed edges, both directions of every undirected edge, no
        self-loops or duplicates, sorted by (source, target).
    num_classes : int
    train_mask, val_mask, test_mask : numpy.ndarray of shape (n,), bool
        Standard split: 20 labeled nodes per class, the next 500 nodes, and
        the 1000 nodes of ``ind.<name>.test.index``.
    raw_dir : pathlib.Path
        Folder the raw files were read from.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    edge_index: np.ndarray
    num_classes: int
    train_mask: np.ndarray
    val_mask: np.ndarray
    test_mask: np.ndarray
    raw_dir: Path = field(default=None, repr=False)

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``n``."""
        return int(self.y.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of directed edges (twice the undirected edge count)."""
        return int(self.edge_index.shape[1])

    def adjacency(self) -> sp.csr_matrix:
        """Return the symmetric 0/1 adjacency matrix as scipy CSR (float32)."""
        n = self.num_nodes
        row, col = self.edge_index
        return sp.csr_matrix((np.ones(row.size, dtype=np.float32), (row, col)), shape=(n, n))

    def to_graph(self, device=None, dtype=None):
        """Return the citation graph as a :class:`graphvar.graph.Graph` with unit weights.

        Parameters
        ----------
        device : str or torch.device, optional
            Device of the weight matrix (default CPU).
        dtype : torch.dtype, optional
            Weight dtype (default float32).
        """
        import torch

        from graphvar.graph import Graph

        graph = Graph.from_scipy(self.adjacency(), device=device, dtype=dtype or torch.float32)
        if isinstance(getattr(graph, "info", None), dict):
            graph.info.update({"source": f"planetoid:{self.name}", "kernel": "citation"})
        return graph

    def to_pyg(self):
        """Return a ``torch_geometric.data.Data`` with x, y, edge_index and the masks."""
        import torch
        from torch_geometric.data import Data

        data = Data(x=torch.from_numpy(self.x), y=torch.from_numpy(self.y),
                    edge_index=torch.from_numpy(self.edge_index))
        for name in ("train_mask", "val_mask", "test_mask"):
            data[name] = torch.from_numpy(getattr(self, name))
        return data

    def __repr__(self) -> str:
        return (f"PlanetoidDataset(name={self.name!r}, num_nodes={self.num_nodes}, "
                f"num_features={self.x.shape[1]}, num_classes={self.num_classes}, "
                f"num_edges={self.num_edges})")


def _files(name: str) -> list[str]:
    return [f"ind.{name}.{part}" for part in _PARTS]


def _locate(name: str, raw_dir, download: bool) -> Path:
    """Find (or download) a folder holding all eight raw files of ``name``."""
    files = _files(name)
    if raw_dir is not None:
        folder = Path(raw_dir)
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise DatasetNotFoundError(
                f"{folder} lacks the Planetoid file(s) {', '.join(missing)}; download them "
                f"from {PLANETOID_URL} into that folder, or pass root=None to search the "
                "data root."
            )
        return folder
    candidates = [data_root() / "planetoid"]
    shared = shared_data_root()
    if shared is not None:
        candidates.append(shared / "planetoid")
    for folder in candidates:
        if all((folder / f).is_file() for f in files):
            return folder
    target = candidates[0]
    missing = [f for f in files if not (target / f).is_file()]
    how = (f"download {', '.join(missing)} from {PLANETOID_URL} into {target}, or set "
           "GRAPHVAR_DATA / GRAPHVAR_SHARED_DATA to a folder whose planetoid/ subfolder holds them")
    if not download:
        raise DatasetNotFoundError(
            f"Planetoid {name} file {missing[0]} not found (looked in "
            f"{', '.join(str(c) for c in candidates)}): {how}."
        )
    for fname in missing:
        try:
            download_file(PLANETOID_URL + fname, target / fname)
        except DatasetNotFoundError as exc:
            raise DatasetNotFoundError(f"{exc} To get every file: {how}.") from exc.__cause__
    return target


def _read(folder: Path, name: str, part: str):
    path = folder / f"ind.{name}.{part}"
    if part == "test.index":
        return np.loadtxt(path, dtype=np.int64).reshape(-1)
    with open(path, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            obj = pickle.load(handle, encoding="latin1")
        except Exception as exc:
            raise ValueError(f"{path} could not be unpickled ({exc!r}); re-download it") from exc
    if part == "graph":
        return obj
    return np.asarray(obj.todense() if sp.issparse(obj) else obj, dtype=np.float32)


def load_planetoid(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    raw_dir: str | os.PathLike | None = None,
    verify: bool = True,
    download: bool = True,
) -> PlanetoidDataset:
    """Load Cora or CiteSeer with the standard Planetoid split.

    Search order for the raw files: ``root``/``raw_dir`` when given (only
    there), else ``$GRAPHVAR_DATA/planetoid`` (``./data/planetoid`` when the
    variable is unset), else ``$GRAPHVAR_SHARED_DATA/planetoid``, else a
    download from the Planetoid GitHub repository into the data root.

    The raw files are Python pickles; their SHA-256 is checked before they are
    unpickled (``verify=True``), which also protects against unpickling a
    substituted file.

    Parameters
    ----------
    name : {"cora", "citeseer"}
        Dataset name (case-insensitive).
    root, raw_dir : path-like, optional
        Folder holding ``ind.<name>.*`` (two spellings of the same argument).
    verify : bool, default=True
        Check each file's SHA-256 against the published table.
    download : bool, default=True
        Download missing files; with ``False`` a missing file is an error.

    Returns
    -------
    PlanetoidDataset
    """
    if not isinstance(name, str) or name.lower() not in PLANETOID_NAMES:
        raise ValueError(f"name must be one of {PLANETOID_NAMES}, got {name!r}")
    if root is not None and raw_dir is not None:
        raise TypeError("pass the folder as root= or raw_dir=, not both")
    name = name.lower()
    folder = _locate(name, root if root is not None else raw_dir, download)
    if verify:
        for fname in _files(name):
            verify_file(folder / fname, hint=f"from {PLANETOID_URL}{fname}")
    x, tx, allx, y, ty, ally, graph, test_index = (_read(folder, name, p) for p in _PARTS)

    sorted_test = np.sort(test_index)
    if name == "citeseer":
        # Isolated CiteSeer nodes are missing from tx/ty, leaving holes in the
        # test-index range: pad with zero rows at those positions (as PyG does).
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext = np.zeros((span, tx.shape[1]), dtype=tx.dtype)
        ty_ext = np.zeros((span, ty.shape[1]), dtype=ty.dtype)
        tx_ext[sorted_test - test_index.min()] = tx
        ty_ext[sorted_test - test_index.min()] = ty
        tx, ty = tx_ext, ty_ext

    features = np.concatenate([allx, tx])
    features[test_index] = features[sorted_test]
    labels = np.concatenate([ally, ty]).argmax(axis=1).astype(np.int64)
    labels[test_index] = labels[sorted_test]
    n = labels.shape[0]

    rows = np.fromiter((k for k, vs in graph.items() for _ in vs), dtype=np.int64)
    cols = np.fromiter((v for vs in graph.values() for v in vs), dtype=np.int64)
    keep = rows != cols
    # Symmetric 0/1 pattern: union of both directions, duplicates merged.
    A = sp.coo_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).tocoo()
    order = np.lexsort((A.col, A.row))
    edge_index = np.stack([A.row[order], A.col[order]]).astype(np.int64)

    masks = {m: np.zeros(n, dtype=bool) for m in ("train", "val", "test")}
    masks["train"][: y.shape[0]] = True
    masks["val"][y.shape[0]: y.shape[0] + 500] = True
    masks["test"][test_index] = True
    return PlanetoidDataset(
        name=name, x=features.astype(np.float32), y=labels, edge_index=edge_index,
        num_classes=int(ally.shape[1]), train_mask=masks["train"], val_mask=masks["val"],
        test_mask=masks["test"], raw_dir=folder,
    )
