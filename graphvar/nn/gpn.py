"""V-GPN: the variance-enlarged graph Poisson network (``amplification = 0`` is GPN)."""

from __future__ import annotations

from torch import Tensor, nn

from ._sparse import feature_dropout
from .poisson_conv import PoissonConv

__all__ = ["VGPN"]


class VGPN(nn.Module):
    """Graph Poisson network with the variance step (V-GPN).

    Input dropout, then one :class:`~graphvar.nn.poisson_conv.PoissonConv`
    (learned attention, Poisson source on the training nodes, ``n_steps``
    propagation steps, linear feature term, variance step). The output is the
    propagated state, used as class logits.

    Parameters
    ----------
    in_channels : int
        Node feature dimension.
    n_classes : int
        Number of classes.
    hidden : int, default=64
        Width of the attention projection.
    n_steps : int, default=10
        Propagation steps ``T``.
    amplification : float, default=0.0
        Total variance amplification ``a``; the per-step coefficient is
        ``alpha = a / T`` (docs/design.md §3). ``0`` gives plain GPN.
    dropout : float, default=0.5
        Dropout on the input features and on the state after the feature term.
    feature_step : int or None, default=3
        Where the linear feature term enters (see ``PoissonConv``).
    attention : bool, default=True
        Learn attention (``False``: ``P = D^{-1} W``).
    attention_dropout : float, default=0.0
        Dropout on the attention coefficients while training.
    zero_init : bool, default=True
        Zero-initialise the feature term: the untrained network is the Poisson iteration.
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        hidden: int = 64,
        *,
        n_steps: int = 10,
        amplification: float = 0.0,
        dropout: float = 0.5,
        feature_step: int | None = 3,
        attention: bool = True,
        attention_dropout: float = 0.0,
        zero_init: bool = True,
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.amplification = float(amplification)
        self.conv = PoissonConv(
            in_channels,
            n_classes,
            hidden_channels=hidden,
            n_steps=n_steps,
            amplification=float(amplification),
            feature_step=feature_step,
            attention=attention,
            dropout=dropout,
            attention_dropout=attention_dropout,
            zero_init=zero_init,
        )

    def reset_parameters(self):
        """Re-initialise the layer."""
        self.conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, source: Tensor,
                edge_weight: Tensor | None = None, deg: Tensor | None = None) -> Tensor:
        """Return the class logits ``(n, c)``; ``source`` from :func:`poisson_source`."""
        x = feature_dropout(x, self.dropout, self.training)
        return self.conv(x, edge_index, source, edge_weight, deg)
