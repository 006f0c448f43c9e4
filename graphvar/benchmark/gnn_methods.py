"""Benchmark methods ``method(task) -> predictions`` for the GNN comparison.

Every method follows :class:`graphvar.benchmark.protocol.TrialTask`: it sees the
graph, the node features, the true labels of ``train_idx`` (and of ``val_idx``
for early stopping only) and returns a predicted label for every node.

Node features are row-normalised (L1, as PyG's ``NormalizeFeatures``) for every
GNN. With ``early_stopping=True`` and a task that has ``val_idx``, the GNNs keep
the weights of the epoch with the best validation accuracy (patience
``patience``); otherwise they train exactly ``epochs`` epochs and ignore
``val_idx`` (its nodes are still excluded from the accuracy).

Names: ``vgpn`` (default amplification), ``vgpn-a<a>`` (e.g. ``vgpn-a2``),
``gpn`` (amplification 0), any of these with ``-att`` appended (learned attention), ``gcn``, ``appnp``, ``labelprop``, ``poisson``,
``vpoisson`` (core solvers, Calder's stopping rule, amplification 1).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from ..nn._sparse import as_features
from ..nn.baselines import BASELINE_PARAMS, GCN, APPNPNet, label_propagation
from ..nn.classifier import DEFAULT_AMPLIFICATION, VGPNClassifier
from ..nn.training import fit_transductive, seeded

__all__ = ["METHODS", "get_method", "GNN_EPOCHS", "GNN_PATIENCE", "VGPN_PARAMS"]

#: Training schedule shared by every GNN in the benchmark.
GNN_EPOCHS = 100
GNN_PATIENCE = 30
#: V-GPN / GPN hyper-parameters used by the benchmark (fixed across rates).
VGPN_PARAMS = {"n_steps": 10, "hidden": 64, "dropout": 0.8, "feature_step": 3, "attention": False,
               "calibrate": False, "lr": 0.05, "weight_decay": 1e-2}

_FEATURE_CACHE: dict = {}


def _features(task):
    """Row-normalised features as a (sparse when sparse) tensor, cached per array."""
    X = task.features
    if X is None:
        raise ValueError("GNN methods need node features: the TrialTask has features=None")
    key = id(X)
    hit = _FEATURE_CACHE.get(key)
    if hit is not None and hit[0] is X:
        return hit[1]
    Xs = sp.csr_matrix(X, dtype=np.float32) if not isinstance(X, torch.Tensor) else sp.csr_matrix(X.cpu().numpy())
    s = np.asarray(abs(Xs).sum(axis=1)).ravel()
    s[s == 0] = 1.0
    Xs = sp.diags(1.0 / s).astype(np.float32) @ Xs
    x = as_features(Xs)
    _FEATURE_CACHE.clear()
    _FEATURE_CACHE[key] = (X, x)
    return x


def _val(task, early_stopping: bool):
    if early_stopping and task.val_idx is not None and len(task.val_idx):
        return np.asarray(task.val_idx, dtype=np.int64)
    return None


def _vgpn(task, amplification: float, early_stopping: bool = True, epochs: int = GNN_EPOCHS,
          patience: int = GNN_PATIENCE, **params) -> np.ndarray:
    val = _val(task, early_stopping)
    y = task.y_masked()
    if val is not None:
        y[val] = task.labels[val]
    kw = {**VGPN_PARAMS, **params}
    clf = VGPNClassifier(amplification=amplification, epochs=epochs, patience=patience,
                         val_size=0, random_state=task.seed, **kw)
    clf.fit_graph(task.graph, y, X=_features(task), val_idx=val if val is not None else np.empty(0, int))
    return clf.transduction_


def _baseline(task, kind: str, early_stopping: bool = True, epochs: int = GNN_EPOCHS,
              patience: int = GNN_PATIENCE) -> np.ndarray:
    x = _features(task)
    pyg = task.graph.to_pyg()
    c = task.n_classes
    labels = torch.as_tensor(task.labels, dtype=torch.long)
    train = torch.as_tensor(task.train_idx, dtype=torch.long)
    val = _val(task, early_stopping)
    val = torch.as_tensor(val) if val is not None else None
    p = BASELINE_PARAMS[kind]
    with seeded(task.seed):
        if kind == "gcn":
            model = GCN(x.shape[1], c, hidden=p["hidden"], dropout=p["dropout"])
        else:
            model = APPNPNet(x.shape[1], c, hidden=p["hidden"], dropout=p["dropout"], K=p["K"], alpha=p["alpha"])

        def forward():
            return model(x, pyg.edge_index, pyg.edge_weight)

        fit_transductive(model, forward, labels, train, val, epochs=epochs, patience=patience,
                         lr=p["lr"], weight_decay=p["weight_decay"])
        with torch.no_grad():
            return forward().argmax(1).numpy()


def _labelprop(task, early_stopping: bool = True) -> np.ndarray:
    pyg = task.graph.to_pyg()
    p = BASELINE_PARAMS["labelprop"]
    return label_propagation(pyg.edge_index, task.labels, task.train_idx, task.n_classes,
                             edge_weight=pyg.edge_weight, num_layers=p["num_layers"], alpha=p["alpha"])


def _core(task, amplification: float, early_stopping: bool = True) -> np.ndarray:
    from ..solvers import poisson, vpoisson

    y = task.y_masked()
    if amplification:
        scores = vpoisson(task.graph, y, amplification=amplification, n_classes=task.n_classes)
    else:
        scores = poisson(task.graph, y, n_classes=task.n_classes)
    return scores.argmax(-1).cpu().numpy()


def get_method(name: str, early_stopping: bool = True, **kwargs) -> Callable:
    """Return the benchmark callable ``method(task) -> predictions`` called ``name``.

    Parameters
    ----------
    name : str
        One of ``vgpn``, ``vgpn-a<a>``, ``gpn``, ``gcn``, ``appnp``,
        ``labelprop``, ``poisson``, ``vpoisson``.
    early_stopping : bool, default=True
        GNNs stop on the task's ``val_idx`` (ignored by the non-GNN methods).
    **kwargs
        Overrides of the GNN schedule (``epochs``, ``patience``) or of
        ``VGPN_PARAMS`` (V-GPN only).
    """
    name = name.lower()
    if name.endswith("-att") and name.split("-")[0] in ("gpn", "vgpn"):  # learned attention
        kwargs = {**kwargs, "attention": True}
        name = name[: -len("-att")]
    if name == "gpn":
        return partial(_vgpn, amplification=0.0, early_stopping=early_stopping, **kwargs)
    if name == "vgpn":
        return partial(_vgpn, amplification=DEFAULT_AMPLIFICATION, early_stopping=early_stopping, **kwargs)
    if name.startswith("vgpn-a"):
        try:
            a = float(name[len("vgpn-a"):])
        except ValueError:
            raise ValueError(f"cannot read the amplification in {name!r}; write e.g. 'vgpn-a0.5'") from None
        return partial(_vgpn, amplification=a, early_stopping=early_stopping, **kwargs)
    if name in ("gcn", "appnp"):
        return partial(_baseline, kind=name, early_stopping=early_stopping, **kwargs)
    if name == "labelprop":
        return partial(_labelprop, early_stopping=early_stopping)
    if name == "poisson":
        return partial(_core, amplification=0.0, early_stopping=early_stopping)
    if name == "vpoisson":
        return partial(_core, amplification=1.0, early_stopping=early_stopping)
    raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)} or 'vgpn-a<amplification>'")


#: Default GNN / label-propagation callables for ``graphvar.benchmark`` (early stopping on the
#: task's ``val_idx`` when it has one; Poisson and V-Poisson are the benchmark's own core solvers).
METHODS = {name: get_method(name) for name in ("vgpn", "gpn", "gcn", "appnp", "labelprop")}
