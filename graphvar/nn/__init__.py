"""Graph neural networks: V-GPN (variance-enlarged graph Poisson network) and GNN baselines.

- :class:`PoissonConv`: the PyG ``MessagePassing`` layer (attention-weighted
  Poisson propagation, linear feature term, variance step).
- :class:`VGPN`: the network; :class:`VGPNClassifier`: the estimator
  (``fit(X, y)`` / ``fit_graph(graph, y, X=...)``, ``-1`` = unlabeled).
- :mod:`graphvar.nn.baselines`: GCN, APPNP and label propagation from PyG.
- the benchmark protocol's GNN methods live in :mod:`graphvar.benchmark.gnn_methods`.
"""

from .baselines import GCN, APPNPNet, label_propagation
from .classifier import VGPNClassifier
from .gpn import VGPN
from .poisson_conv import PoissonConv, poisson_source

__all__ = ["PoissonConv", "poisson_source", "VGPN", "VGPNClassifier", "GCN", "APPNPNet", "label_propagation"]
