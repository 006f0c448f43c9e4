"""The graph Poisson propagation layer with attention and the variance step.

One :class:`PoissonConv` runs ``T`` steps of the engine's step kernel
(:func:`graphvar.engine.iterate`),

    u_{t+1} = P_att u_t + s D^{-1} b + alpha (u_t - ubar_t),     u_0 = 0,

on an attention operator: ``P_att`` is the row-normalised attention matrix
``P_att[i, j] = w_ij exp(e_ij) / sum_k w_ik exp(e_ik)`` with
``e_ij = LeakyReLU(a^T [W h_i || W h_j])`` (``w_ij`` the graph weights),
``b`` the Poisson source on the training nodes, ``D`` the graph degrees,
``ubar_t = sum_i d_i u_{t,i} / vol`` the degree-weighted mean,
``alpha = amplification / T`` and ``s`` a fixed scale (1 after
``reset_parameters``; see :meth:`PoissonConv.calibrate_source_scale`)
(``docs/design.md`` §3). A linear feature term ``X W_f`` is injected into the
state ``feature_step`` propagations before the end (a ``pre_step`` hook of the
kernel), as in the graph Poisson network of CGPN (Wan et al., NeurIPS 2021).
``amplification = 0`` is plain GPN; with all attention logits equal,
``P_att = D^{-1} W`` and the layer is exactly the Poisson iteration of Calder
et al. (2020).

With fixed attention the product ``P_att u`` is one fused sparse matrix
product per step (:meth:`PoissonConv.message_and_aggregate`, as PyG's
``APPNP``); with learned attention it is gather/scatter message passing, whose
gradient in the attention stays ``O(E)``. No ``n x n`` matrix either way.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter, softmax

from ..engine import iterate
from ..graph.graph import csr_tensor
from ..graph.operator import Operator
from ..validation import check_float, check_int
from ._sparse import feature_linear

__all__ = ["PoissonConv", "poisson_source", "AttentionOperator"]


def poisson_source(labels: Tensor, train_idx: Tensor, n_nodes: int, n_classes: int) -> Tensor:
    """Return the Poisson source ``b`` (one-hot minus class fraction on training nodes).

    The same source as :func:`graphvar.solvers.poisson_source`, for labels
    given as a training index.

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
    from ..solvers import parse_labels
    from ..solvers import poisson_source as _source

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
    codes = torch.full((n_nodes,), -1, dtype=torch.long, device=train_idx.device)
    codes[train_idx] = y_train
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class without training node is the caller's business here
        batch = parse_labels(codes, n_nodes, n_classes, device=train_idx.device)
    return _source(batch)[0]


class AttentionOperator(Operator):
    """``P_att`` of a :class:`PoissonConv` as an engine operator (graph degrees for the mean).

    Parameters
    ----------
    conv : PoissonConv
        Its ``propagate`` computes the product (fused sparse product).
    edge_index : LongTensor (2, E)
        Messages flow ``edge_index[0] -> edge_index[1]``.
    att : Tensor (E,)
        Normalised attention per edge (sums to one over each target's in-edges).
    edge_weight : Tensor (E,), optional
        Graph weights ``w`` (unit when omitted), for :meth:`matmul`.
    deg : Tensor (n,)
        Graph degrees ``d`` (the weights of the variance step's mean).
    """

    def __init__(self, conv: PoissonConv, edge_index: Tensor, att: Tensor, edge_weight: Tensor | None,
                 deg: Tensor):
        self._conv, self._n, self._deg = conv, deg.numel(), deg
        self.edge_index, self.att = edge_index, att
        order = torch.argsort(edge_index[1] * self._n + edge_index[0])
        dst, src = edge_index[1][order], edge_index[0][order]
        crow = torch.zeros(self._n + 1, dtype=torch.long, device=deg.device)
        crow[1:] = torch.cumsum(torch.bincount(dst, minlength=self._n), 0)
        self.adj = csr_tensor(crow, src, att[order].to(deg.dtype), self._n)  # P_att[dst, src]
        w = torch.ones_like(att) if edge_weight is None else edge_weight
        self._weights = csr_tensor(crow, src, w[order].to(deg.dtype), self._n)

    @property
    def n_nodes(self) -> int:
        return self._n

    @property
    def device(self) -> torch.device:
        return self._deg.device

    @property
    def dtype(self) -> torch.dtype:
        return self._deg.dtype

    @cached_property
    def degrees(self) -> Tensor:
        return self._deg

    def matmul(self, U: Tensor) -> Tensor:
        """``W U`` with the graph weights (``W[dst, src] = w``)."""
        return self._weights @ U

    def transition(self, U: Tensor) -> Tensor:
        """``P_att U`` through the layer's ``propagate``.

        One fused sparse product when the attention is fixed; gather/scatter
        messages when it is learned (the sparse product's gradient in its
        values would be dense ``n x n``).
        """
        if self.att.requires_grad:
            return self._conv.attention_product(self.edge_index, U, self.att)
        return self._conv.attention_product(self.adj, U, self.att)


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
    n_steps : int, default=10
        Number of propagation steps ``T``.
    amplification : float, default=0.0
        Total variance amplification ``a`` (per step ``alpha = a / T``);
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
    - x: ``(n, in_channels)``, dense or sparse CSR; edge_index: ``(2, E)``
      (messages flow ``edge_index[0] -> edge_index[1]``); source:
      ``(n, out_channels)``; edge_weight: ``(E,)`` positive, optional (unit weights).
    - output: ``(n, out_channels)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 64,
        *,
        n_steps: int = 10,
        amplification: float = 0.0,
        feature_step: int | None = 3,
        attention: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        zero_init: bool = True,
    ):
        super().__init__(aggr="add", flow="source_to_target")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("hidden_channels", hidden_channels), ("n_steps", n_steps)):
            check_int(value, name, minimum=1)
        if feature_step is not None:
            check_int(feature_step, "feature_step", minimum=0, maximum=n_steps)
        for name, p in (("dropout", dropout), ("attention_dropout", attention_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        self.attention_dropout = float(attention_dropout)
        self.zero_init = bool(zero_init)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.n_steps = n_steps
        self.amplification = check_float(amplification, "amplification", minimum=0.0)
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
    def calibrate_source_scale(self, edge_index: Tensor, source: Tensor, edge_weight: Tensor | None = None,
                               deg: Tensor | None = None) -> float:
        """Set the source scale so that the uniform-attention Poisson iterate has unit std.

        Runs the ``T`` steps with ``P = D^{-1} W``, no feature term and no
        variance step, and sets ``s = 1 / std(u_T)``: the label term then starts
        on the same footing as the feature term whatever the graph's degrees.
        Returns ``s``.
        """
        n = source.size(0)
        deg = (self.degrees(edge_index, edge_weight, n) if deg is None else deg).to(source.dtype)
        logits = torch.zeros(edge_index.size(1), dtype=source.dtype, device=source.device)
        if edge_weight is not None:
            logits = logits + torch.log(edge_weight.to(source.dtype))
        op = AttentionOperator(self, edge_index, softmax(logits, edge_index[1], num_nodes=n), edge_weight, deg)
        u = iterate(op, torch.zeros_like(source), self.n_steps, source=op.inv_degrees[:, None] * source)
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

    def attention_product(self, edge_index: Tensor, u: Tensor, att: Tensor) -> Tensor:
        """``P_att u`` through PyG's ``propagate`` (``edge_index``: the edges, or the CSR ``P_att``)."""
        return self.propagate(edge_index, u=u, att=att)

    def message_and_aggregate(self, adj_t: Tensor, u: Tensor) -> Tensor:
        """``P_att u`` as one sparse product (``adj_t`` the CSR attention matrix)."""
        return adj_t @ u

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        source: Tensor,
        edge_weight: Tensor | None = None,
        deg: Tensor | None = None,
    ) -> Tensor:
        """Run the ``T`` propagation steps and return the state ``u_T`` of shape ``(n, c)``.

        Parameters
        ----------
        x : Tensor of shape (n, in_channels)
            Node features (attention and feature term).
        edge_index : LongTensor of shape (2, E)
            Both directions of every undirected edge, no self-loops needed.
        source : Tensor of shape (n, out_channels)
            Poisson source ``b`` (see :func:`poisson_source`).
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
        if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
            raise ValueError(f"edge_index holds node ids in [{int(edge_index.min())}, {int(edge_index.max())}] "
                             f"but x has {n} rows (ids 0..{n - 1}); fix edge_index or pass all node features.")
        if edge_weight is not None:
            if tuple(edge_weight.shape) != (edge_index.size(1),):
                raise ValueError(f"edge_weight must have shape ({edge_index.size(1)},), one per edge, got "
                                 f"{tuple(edge_weight.shape)}")
            if not bool(torch.isfinite(edge_weight).all()) or bool((edge_weight < 0).any()):
                raise ValueError("edge_weight must be finite and non-negative (graph weights); got "
                                 f"values in [{float(edge_weight.min()):g}, {float(edge_weight.max()):g}].")
        deg = (self.degrees(edge_index, edge_weight, n) if deg is None else deg).to(source.dtype)
        h, feat = self._project(x)
        op = AttentionOperator(self, edge_index, self.attention_weights(x, edge_index, edge_weight, h=h),
                               edge_weight, deg)
        db = (self.log_source_scale.exp() * op.inv_degrees).unsqueeze(-1) * source

        def inject(t: int, u: Tensor) -> Tensor:  # the feature term, feature_step steps before the end
            if feat is not None and self.n_steps - (t - 1) == self.feature_step:
                u = F.dropout(u + feat, self.dropout, self.training)
            return u

        u = iterate(op, torch.zeros_like(source), self.n_steps, source=db, amplification=self.amplification,
                    pre_step=inject)
        if feat is not None and self.feature_step == 0:
            u = F.dropout(u + feat, self.dropout, self.training)
        return u

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"hidden={self.hidden_channels}, n_steps={self.n_steps}, amplification={self.amplification:g}, "
                f"feature_step={self.feature_step}, attention={self.attention})")
