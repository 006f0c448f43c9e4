"""GNN baselines from PyTorch Geometric with fixed, standard hyper-parameters.

- GCN (Kipf & Welling, 2017): two ``GCNConv`` layers, 64 hidden units, ReLU,
  dropout 0.5, Adam lr 0.01, weight decay 5e-4.
- APPNP (Klicpera et al., 2019): a two-layer MLP (64 hidden, dropout 0.5)
  followed by ``APPNP(K=10, alpha=0.1)``, Adam lr 0.01, weight decay 5e-4.
- Label propagation (Zhou et al., 2004): PyG ``LabelPropagation`` with 50
  layers and ``alpha=0.9`` on the symmetrically normalised graph.

Sparse bag-of-words features stay sparse (CSR) in the first layer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import APPNP, GCNConv, LabelPropagation
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from ._sparse import feature_dropout, feature_linear

__all__ = ["GCN", "APPNPNet", "label_propagation", "BASELINE_PARAMS"]

#: The fixed hyper-parameters of every baseline (the same at every label rate).
BASELINE_PARAMS = {
    "gcn": {"hidden": 64, "dropout": 0.5, "lr": 0.01, "weight_decay": 5e-4},
    "appnp": {"hidden": 64, "dropout": 0.5, "K": 10, "alpha": 0.1, "lr": 0.01, "weight_decay": 5e-4},
    "labelprop": {"num_layers": 50, "alpha": 0.9},
}


class _SparseInputLinear(nn.Module):
    """``nn.Linear`` that accepts sparse CSR input."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return feature_linear(x, self.lin.weight) + self.lin.bias


class GCN(nn.Module):
    """Two-layer GCN; the first layer's feature transform accepts sparse input.

    ``GCNConv(x) = Â x Θ``; the product ``x Θ`` is done first (sparse-aware),
    then a ``GCNConv`` on the hidden width without its own transform (identity
    weight is equivalent to applying the layer to ``x Θ``).
    """

    def __init__(self, in_channels: int, n_classes: int, hidden: int = 64, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.lin1 = nn.Linear(in_channels, hidden, bias=False)
        self.prop1 = GCNConv(hidden, hidden, bias=True)
        self.conv2 = GCNConv(hidden, n_classes)
        with torch.no_grad():
            self.prop1.lin.weight.copy_(torch.eye(hidden))
        self.prop1.lin.weight.requires_grad_(False)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Return logits ``(n, c)``."""
        x = feature_dropout(x, self.dropout, self.training)
        h = F.relu(self.prop1(feature_linear(x, self.lin1.weight), edge_index, edge_weight))
        h = F.dropout(h, self.dropout, self.training)
        return self.conv2(h, edge_index, edge_weight)


class APPNPNet(nn.Module):
    """MLP (two layers) followed by personalised-PageRank propagation (APPNP)."""

    def __init__(self, in_channels: int, n_classes: int, hidden: int = 64, dropout: float = 0.5,
                 K: int = 10, alpha: float = 0.1):
        super().__init__()
        self.dropout = dropout
        self.lin1 = _SparseInputLinear(in_channels, hidden)
        self.lin2 = nn.Linear(hidden, n_classes)
        self.prop = APPNP(K=K, alpha=alpha)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Return logits ``(n, c)``."""
        x = feature_dropout(x, self.dropout, self.training)
        h = F.relu(self.lin1(x))
        h = F.dropout(h, self.dropout, self.training)
        return self.prop(self.lin2(h), edge_index, edge_weight)


def label_propagation(edge_index: Tensor, labels, train_idx, n_classes: int,
                      edge_weight: Tensor | None = None, num_layers: int = 50,
                      alpha: float = 0.9) -> np.ndarray:
    """Predict every node's label with PyG ``LabelPropagation``.

    Parameters
    ----------
    edge_index : LongTensor (2, E)
    labels : array-like of int (n,)
        Only the ``train_idx`` entries are read.
    train_idx : array-like of int
    n_classes : int
    edge_weight : Tensor (E,), optional
    num_layers, alpha : propagation depth and teleport weight.

    Returns
    -------
    numpy.ndarray (n,) of predicted labels.
    """
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=edge_index.device)
    n = labels.numel()
    mask = torch.zeros(n, dtype=torch.bool, device=edge_index.device)
    mask[torch.as_tensor(np.asarray(train_idx), dtype=torch.long, device=edge_index.device)] = True
    y = labels.clone()
    y[~mask] = 0
    # PyG normalises only when no edge_weight is given: normalise D^-1/2 W D^-1/2 here.
    edge_index, edge_weight = gcn_norm(edge_index, edge_weight, num_nodes=n, add_self_loops=False)
    lp = LabelPropagation(num_layers=num_layers, alpha=alpha)
    out = lp(F.one_hot(y, n_classes).float(), edge_index, mask=mask, edge_weight=edge_weight)
    return out.argmax(1).cpu().numpy()
