"""The graph Poisson propagation layer with attention and the variance step.

One :class:`PoissonConv` runs ``T`` steps of

    u_{t+1} = P_att u_t + s D^{-1} b + alpha (u_t - ubar_t),     u_0 = 0,

where ``P_att`` is the row-normalised attention matrix
``P_att[i, j] = w_ij exp(e_ij) / sum_k w_ik exp(e_ik)`` with
``e_ij = LeakyReLU(a^T [W h_i || W h_j])`` (``w_ij`` the graph weights),
``b`` the Poisson source on the training nodes, ``D`` the graph degrees and
``ubar_t = sum_i d_i u_{t,i} / vol`` the degree-weighted mean, ``s`` a learned
scale (1 after ``reset_parameters``, not trained; see :meth:`PoissonConv.calibrate_source_scale`)
(``../shared/DESIGN.md`` §3). A linear feature term ``X W_f`` is injected into
the state ``feature_step`` propagations before the end, as in the graph Poisson
network of CGPN (Wan et al., NeurIPS 2021). ``alpha = 0`` is plain GPN; with all
attention logits equal, ``P_att = D^{-1} W`` and the layer is exactly the
Poisson iteration of Calder et al. (2020).

Everything is sparse message passing over the edge list (``O(E)`` memory per
step): no ``n x n`` matrix is ever built.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter, softmax

from ._sparse import feature_linear

__all__ = ["PoissonConv", "poisson_source"]


def poisson_source(labels: Tensor, train_idx: Tensor, n_nodes: int, n_classes: int) -> Tensor:
    """Return the Poisson source ``b`` (one-hot minus class fraction on training nodes).

    Parameters
    ----------
    labels : LongTensor of shape (n,) or (len(train_idx),)
        Class ids ``0..c-1``; only the entries of ``train_idx`` are read when the
        length is ``n``.
    train_idx : LongTensor of shape (m,)
        Training nodes.
    n_nodes, n_classes : int
        Shape of the result.

    Returns
    -------
    Tensor of shape (n_nodes, n_classes)
        ``b_i = e_{y_i} - ybar`` for ``i`` in ``train_idx`` (``ybar`` the class
        fractions among the training nodes), zero elsewhere. Columns sum to zero.
    """
    train_idx = torch.as_tensor(train_idx, dtype=torch.long)
    labels = torch.as_tensor(labels, dtype=torch.long, device=train_idx.device)
    if train_idx.numel() == 0:
        raise ValueError("train_idx is empty: the Poisson source needs at least one labeled node.")
    y_train = labels[train_idx] if labels.numel() == n_nodes else labels
    if y_train.numel() != train_idx.numel():
        raise ValueError(
            f"labels has {labels.numel()} entries; pass one per node ({n_nodes}) or one per "
            f"training node ({train_idx.numel()})."
        )
    if int(y_train.min()) < 0 or int(y_train.max()) >= n_classes:
        raise ValueError(f"training labels must lie in 0..{n_classes - 1}, got {y_train.unique().tolist()}")
    onehot = F.one_hot(y_train, n_classes).float()
    b = torch.zeros(n_nodes, n_classes, device=train_idx.device)
    b[train_idx] = onehot - onehot.mean(dim=0, keepdim=True)
    return b


class PoissonConv(MessagePassing):
    r"""Graph Poisson propagation with learned attention and a variance step.

    Parameters
    ----------
    in_channels : int
        Node feature dimension ``d``.
    out_channels : int
        Number of classes ``c`` (width of the Poisson source and of the output).
    hidden_channels : int, default=64
        Width of the attention projection ``W``.
    steps : int, default=10
        Number of propagation steps ``T``.
    alpha : float, default=0.0
        Variance-step coefficient per step (``alpha = amplification / T``);
        ``0`` gives plain GPN.
    feature_step : int or None, default=3
        Inject the linear feature term ``X W_f`` into the state this many
        propagation steps before the end (``0``: add it to the output;
        ``steps``: start from it). ``None`` disables the feature term.
    attention : bool, default=True
        Learn attention logits. ``False`` fixes them all equal, so that
        ``P_att = D^{-1} W`` (the Poisson iteration).
    negative_slope : float, default=0.2
        Slope of the LeakyReLU of the attention logits.
    dropout : float, default=0.0
        Dropout applied to the state right after the feature term is injected.
    attention_dropout : float, default=0.0
        Dropout on the normalised attention coefficients during training (as in GAT).
    zero_init : bool, default=True
        Start the feature term at zero (as the attention vectors always are), so
        an untrained layer is exactly the Poisson iteration and training moves
        away from it only as far as the loss asks. ``False``: Glorot.

    Shapes
    ------
    - x: ``(n, in_channels)``, dense or sparse CSR; source: ``(n, out_channels)``;
      edge_index: ``(2, E)`` (messages flow ``edge_index[0] -> edge_index[1]``);
      edge_weight: ``(E,)`` positive, optional (unit weights).
    - output: ``(n, out_channels)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 64,
        steps: int = 10,
        alpha: float = 0.0,
        feature_step: int | None = 3,
        attention: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        zero_init: bool = True,
    ):
        super().__init__(aggr="add", flow="source_to_target")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("hidden_channels", hidden_channels), ("steps", steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if feature_step is not None and not (0 <= int(feature_step) <= steps):
            raise ValueError(f"feature_step must be None or in 0..steps={steps}, got {feature_step!r}")
        for name, p in (("dropout", dropout), ("attention_dropout", attention_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        self.attention_dropout = float(attention_dropout)
        self.zero_init = bool(zero_init)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.steps = steps
        self.alpha = float(alpha)
        self.feature_step = None if feature_step is None else int(feature_step)
        self.attention = bool(attention)
        self.negative_slope = float(negative_slope)
        self.dropout = float(dropout)
        # a^T [W h_i || W h_j] = a_dst . W h_i + a_src . W h_j  (i = target node)
        self.lin_att = nn.Linear(in_channels, hidden_channels, bias=False)
        self.att_dst = nn.Parameter(torch.empty(hidden_channels))
        self.att_src = nn.Parameter(torch.empty(hidden_channels))
        self.lin_feat = (nn.Linear(in_channels, out_channels, bias=False)
                         if self.feature_step is not None else None)
        # Fixed scale s of the source term s D^-1 b (log; 0 at reset, set by calibrate_source_scale).
        self.register_buffer("log_source_scale", torch.zeros(()))
        self.reset_parameters()

    def reset_parameters(self):
        """Glorot-initialise ``W``; zero attention vectors (uniform start) and feature term (``zero_init``)."""
        super().reset_parameters()
        nn.init.xavier_uniform_(self.lin_att.weight)
        # Zero attention vectors: every logit is 0, so training starts from the
        # Poisson iteration P = D^-1 W and learns to move away from it.
        nn.init.zeros_(self.att_dst)
        nn.init.zeros_(self.att_src)
        if self.lin_feat is not None:
            if self.zero_init:
                nn.init.zeros_(self.lin_feat.weight)
            else:
                nn.init.xavier_uniform_(self.lin_feat.weight)
        nn.init.zeros_(self.log_source_scale)

    @torch.no_grad()
    def calibrate_source_scale(self, source: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                               deg: Tensor | None = None) -> float:
        """Set the source scale so that the uniform-attention Poisson iterate has unit std.

        Runs the ``T`` steps with ``P = D^{-1} W``, no feature term and no
        variance step, and sets ``s = 1 / std(u_T)``: the label term then starts
        on the same footing as the feature term whatever the graph's degrees.
        Returns ``s``.
        """
        n = source.size(0)
        if deg is None:
            deg = self.degrees(edge_index, edge_weight, n)
        deg = deg.to(source.dtype)
        deg_inv = torch.where(deg > 0, 1.0 / deg.clamp_min(torch.finfo(deg.dtype).tiny), torch.zeros_like(deg))
        logits = torch.zeros(edge_index.size(1), dtype=source.dtype, device=source.device)
        if edge_weight is not None:
            logits = logits + torch.log(edge_weight.to(source.dtype))
        att = softmax(logits, edge_index[1], num_nodes=n)
        u = torch.zeros_like(source)
        db = deg_inv.unsqueeze(-1) * source
        for _ in range(self.steps):
            u = self.propagate(edge_index, u=u, att=att, size=(n, n)) + db
        std = float(u.std())
        scale = 1.0 / std if std > 0 and np.isfinite(std) else 1.0
        self.log_source_scale.fill_(float(np.log(scale)))
        return scale

    # ----------------------------------------------------------------- pieces
    def _project(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Return ``(W h, X W_f)`` from one product (``x`` dense or sparse CSR)."""
        weights = ([self.lin_att.weight] if self.attention else []) + (
            [self.lin_feat.weight] if self.lin_feat is not None else [])
        if not weights:
            return None, None
        out = feature_linear(x, torch.cat(weights, dim=0))
        h = out[:, : self.hidden_channels] if self.attention else None
        feat = out[:, -self.out_channels:] if self.lin_feat is not None else None
        return h, feat

    def attention_weights(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                          h: Tensor | None = None) -> Tensor:
        """Return ``P_att`` on the edges: ``(E,)``, summing to one over each target's in-edges."""
        n = x.size(0)
        src, dst = edge_index[0], edge_index[1]
        if self.attention:
            if h is None:
                h = feature_linear(x, self.lin_att.weight)
            logits = F.leaky_relu((h @ self.att_dst)[dst] + (h @ self.att_src)[src], self.negative_slope)
        else:
            logits = torch.zeros(src.numel(), dtype=torch.float32, device=edge_index.device)
        if edge_weight is not None:
            logits = logits + torch.log(edge_weight.to(logits.dtype))
        att = softmax(logits, dst, num_nodes=n)
        return F.dropout(att, self.attention_dropout, self.training)

    @staticmethod
    def degrees(edge_index: Tensor, edge_weight: Tensor | None, n_nodes: int) -> Tensor:
        """Weighted in-degree ``d_i = sum_j w_ji`` (the row sums of ``W`` for a symmetric graph)."""
        w = edge_weight if edge_weight is not None else torch.ones(
            edge_index.size(1), device=edge_index.device)
        return scatter(w, edge_index[1], dim=0, dim_size=n_nodes, reduce="sum")

    def message(self, u_j: Tensor, att: Tensor) -> Tensor:  # noqa: D102
        return att.unsqueeze(-1) * u_j

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        x: Tensor,
        source: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        deg: Tensor | None = None,
    ) -> Tensor:
        """Run the ``T`` propagation steps and return the state ``u_T`` of shape ``(n, c)``.

        Parameters
        ----------
        x : Tensor of shape (n, in_channels)
            Node features (attention and feature term).
        source : Tensor of shape (n, out_channels)
            Poisson source ``b`` (see :func:`poisson_source`).
        edge_index : LongTensor of shape (2, E)
            Both directions of every undirected edge, no self-loops needed.
        edge_weight : Tensor of shape (E,), optional
            Positive graph weights ``w_ij`` (unit when omitted).
        deg : Tensor of shape (n,), optional
            Graph degrees (computed from the edges when omitted). Isolated
            nodes (degree 0) get ``D^{-1} = 0``, as in the core solvers: no
            label information reaches or leaves them (only the feature term).
        """
        n = x.size(0)
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"x must have shape (n, {self.in_channels}), got {tuple(x.shape)}")
        if source.shape != (n, self.out_channels):
            raise ValueError(f"source must have shape ({n}, {self.out_channels}), got {tuple(source.shape)}")
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
        if deg is None:
            deg = self.degrees(edge_index, edge_weight, n)
        deg = deg.to(source.dtype)
        deg_inv = torch.where(deg > 0, 1.0 / deg.clamp_min(torch.finfo(deg.dtype).tiny), torch.zeros_like(deg))
        db = (self.log_source_scale.exp() * deg_inv).unsqueeze(-1) * source
        vol = deg.sum()
        h, feat = self._project(x)
        att = self.attention_weights(x, edge_index, edge_weight, h=h)

        u = torch.zeros_like(source)
        for t in range(self.steps):
            if feat is not None and self.steps - t == self.feature_step:
                u = F.dropout(u + feat, self.dropout, self.training)
            new = self.propagate(edge_index, u=u, att=att, size=(n, n)) + db
            if self.alpha != 0.0:
                ubar = (deg @ u) / vol
                new = new + self.alpha * (u - ubar)
            u = new
        if feat is not None and self.feature_step == 0:
            u = F.dropout(u + feat, self.dropout, self.training)
        return u

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"hidden={self.hidden_channels}, steps={self.steps}, alpha={self.alpha:g}, "
                f"feature_step={self.feature_step}, attention={self.attention})")
