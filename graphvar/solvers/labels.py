"""Label vectors with ``-1`` for unlabeled nodes: parsing, one-hot encoding, checks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from ..validation import check_class_ids

__all__ = ["LabelBatch", "parse_labels"]


@dataclass
class LabelBatch:
    """``B`` labeled sets on one graph.

    Attributes
    ----------
    labels : LongTensor (B, n)
        Class ids ``0..c-1``, ``-1`` where unlabeled.
    mask : BoolTensor (B, n)
        Labeled nodes.
    onehot : Tensor (B, n, c)
        One-hot rows on labeled nodes, zero elsewhere.
    n_classes : int
    batched : bool
        Whether the caller passed a ``(B, n)`` batch (else ``B == 1``).
    """

    labels: torch.Tensor
    mask: torch.Tensor
    onehot: torch.Tensor
    n_classes: int
    batched: bool

    @property
    def n_sets(self) -> int:
        return int(self.labels.shape[0])


def parse_labels(y, n_nodes: int, n_classes: int | None = None, *, device=None,
                 dtype: torch.dtype = torch.float32) -> LabelBatch:
    """Validate ``y`` of shape ``(n,)`` or ``(B, n)`` (``-1`` = unlabeled).

    Raises
    ------
    TypeError
        Non-integer labels (see :func:`graphvar.validation.check_class_ids`).
    ValueError
        Wrong length, labels below -1 or ``>= n_classes``, or a labeled set
        with no labeled node.
    """
    arr = check_class_ids(y, n_nodes, name="y", n_classes=n_classes, batched=True)
    batched = arr.ndim == 2
    t = torch.from_numpy(arr if batched else arr[None, :])
    mask = t >= 0
    if n_classes is None:
        n_classes = int(t.max()) + 1
    t = t.to(device) if device is not None else t
    mask = mask.to(t.device)
    onehot = torch.zeros(t.shape[0], t.shape[1], n_classes, dtype=dtype, device=t.device)
    onehot[mask] = torch.nn.functional.one_hot(t[mask], n_classes).to(dtype)
    counts = onehot.sum(dim=1)  # (B, c)
    missing = (counts == 0).any(dim=0).nonzero().flatten().tolist()
    if missing:
        warnings.warn(
            f"class(es) {missing} have no labeled node in at least one labeled set; their "
            "scores carry no information there.",
            UserWarning,
            stacklevel=3,
        )
    return LabelBatch(labels=t, mask=mask, onehot=onehot, n_classes=int(n_classes), batched=batched)
