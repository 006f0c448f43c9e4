"""The operator layer: a weight matrix seen only through its products.

Every propagation in graphvar (the solvers, the XMC teacher, the V-GPN layer,
the distributed solvers) touches the graph through an :class:`Operator`:

``matmul(U)``
    ``W U`` (the one primitive a subclass must provide);
``transition(U)``
    ``P U = D⁻¹ W U`` (rows of isolated nodes are zero);
``laplacian(U)``
    ``L U = D U − W U``;
``degrees``, ``inv_degrees``, ``volume``, ``connected``
    ``d = W 1``, ``D⁻¹`` with 0 on isolated nodes, ``vol = Σ dᵢ`` and the
    mask ``dᵢ > 0``, computed once and cached;
``mean(U)``
    the degree-weighted column mean ``Ū = dᵀU / vol``, a ``(1, m)`` row;
``informed(labeled)``
    nodes in a connected component holding a labeled node (needs the
    subclass's ``components``).

Subclasses: :class:`graphvar.graph.Graph` (a stored sparse CSR matrix; adds
connected components and a bandwidth-reducing renumbering),
:class:`graphvar.graph.kernel_operator.KNNKernelOperator` (the Gaussian k-NN
kernel graph, matrix-free with KeOps), the attention operator of
:class:`graphvar.nn.PoissonConv` and the row-partitioned operator of
:mod:`graphvar.distributed`. The maths is in ``docs/design.md`` §3 and §9.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np
import torch

__all__ = ["Operator"]


class Operator(ABC):
    """A symmetric non-negative ``(n, n)`` weight matrix ``W`` accessed through products.

    Subclasses implement :meth:`matmul` and the ``n_nodes``, ``device`` and
    ``dtype`` properties; they may override :meth:`transition` with a fused
    product and ``degrees`` with a cheaper formula. Everything derived from
    the degrees is cached on first use; an operator is immutable.
    """

    # ------------------------------------------------------------ interface
    @property
    @abstractmethod
    def n_nodes(self) -> int:
        """Number of nodes ``n``."""

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """Device the products run on."""

    @property
    @abstractmethod
    def dtype(self) -> torch.dtype:
        """Floating dtype of the weights."""

    @abstractmethod
    def matmul(self, U: torch.Tensor) -> torch.Tensor:
        """``W @ U`` for ``U`` of shape ``(n, m)`` (or a sparse ``(n, m)`` matrix where supported)."""

    # -------------------------------------------------------------- derived
    @cached_property
    def degrees(self) -> torch.Tensor:
        """Dense ``(n,)`` tensor ``d = W 1``."""
        ones = torch.ones(self.n_nodes, 1, dtype=self.dtype, device=self.device)
        return self.matmul(ones)[:, 0]

    @cached_property
    def inv_degrees(self) -> torch.Tensor:
        """``1 / d`` with 0 on isolated nodes (``d = 0``): no information reaches or leaves them."""
        d = self.degrees
        return torch.where(d > 0, 1.0 / torch.where(d > 0, d, torch.ones_like(d)), torch.zeros_like(d))

    @cached_property
    def volume(self) -> torch.Tensor:
        """``vol = Σ dᵢ`` as a 0-d tensor on the device (1 for an edgeless graph, so means are 0)."""
        vol = self.degrees.sum()
        return torch.where(vol > 0, vol, torch.ones_like(vol))

    @cached_property
    def connected(self) -> torch.Tensor:
        """BoolTensor ``(n,)``: nodes with at least one edge (``dᵢ > 0``)."""
        return self.degrees > 0

    # ------------------------------------------------------------- products
    def transition(self, U: torch.Tensor) -> torch.Tensor:
        """``P U = D⁻¹ W U``; rows of isolated nodes are zero."""
        return self.inv_degrees[:, None] * self.matmul(U)

    def matmul_into(self, U: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``W U``, written into the dense ``out`` (shape of the result) where the subclass can, else fresh.

        Loops that take one product per step pass the same two or three
        buffers around instead of a fresh ``(n, m)`` result each time (on a CPU
        a fresh 3 MB result costs its page faults: 70k x 10, one thread, 3.8
        against 2.4 ms per product). Never pass an ``out`` that overlaps ``U``.
        """
        return self.matmul(U)

    def matmul_add(self, U: torch.Tensor, C: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0):
        """``β C + α W U``, written over ``C`` (dense, not overlapping ``U``); returns ``C``.

        One fused pass where the subclass has one (a CSR ``addmm``), else
        ``C ← β C + α (W U)``. The explicit heat step of the MBO solvers.
        """
        return C.mul_(beta).add_(self.matmul(U), alpha=alpha)

    def transition_add(self, U: torch.Tensor, C: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0):
        """``β C + α P U``, written over ``C`` (dense, not overlapping ``U``); returns ``C``.

        One fused pass where the subclass has one (a CSR ``addmm``), else
        ``C ← β C + α (P U)``. The Chebyshev recurrence's step ``2 P X_j − X_{j−1}``.
        """
        return C.mul_(beta).add_(self.transition(U), alpha=alpha)

    def transition_rows(self, U, rows: slice):
        """Rows ``rows`` of ``P U`` (memory-bounded row blocks; ``U`` dense or sparse CSR)."""
        return self.transition(U)[rows]

    def laplacian(self, U: torch.Tensor) -> torch.Tensor:
        """``L U = D U − W U``."""
        return self.degrees[:, None] * U - self.matmul(U)

    def informed(self, labeled: np.ndarray) -> np.ndarray:
        """Bool array ``(B, n)`` (or ``(n,)``): nodes in a component holding a node of ``labeled``.

        Parameters
        ----------
        labeled : bool array of shape (n,) or (B, n)
        """
        labeled = np.asarray(labeled, dtype=bool)
        if not hasattr(self, "components"):
            raise TypeError(f"{type(self).__name__} does not know its connected components; "
                            "use a Graph or an operator that provides `components`.")
        n_comp, comp = self.components
        if n_comp == 1:
            return np.ones_like(labeled)
        rows = labeled[None] if labeled.ndim == 1 else labeled
        out = np.stack([np.isin(comp, np.unique(comp[m])) for m in rows])
        return out[0] if labeled.ndim == 1 else out

    def mean(self, U: torch.Tensor) -> torch.Tensor:
        """Degree-weighted column mean ``dᵀU / vol`` as a ``(1, m)`` row."""
        return (self.degrees @ U)[None, :] / self.volume
