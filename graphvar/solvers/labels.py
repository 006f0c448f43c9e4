"""Label vectors with ``-1`` for unlabeled nodes: parsing, one-hot encoding, checks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

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
        Non-integer labels.
    ValueError
        Wrong length, labels below -1 or ``>= n_classes``, or a labeled set
        with no labeled node.
    """
    if isinstance(y, torch.Tensor):
        t = y.detach()
    else:
        arr = np.asarray(y)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
                                       or arr.dtype == np.bool_):
            raise TypeError(f"labels must be integers (class ids, -1 = unlabeled), got dtype {arr.dtype}.")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_floating_point():
        if not bool(torch.isfinite(t).all()) or not bool((t == t.round()).all()):
            raise TypeError("labels must be integer class ids (-1 = unlabeled); got non-integer values.")
    t = t.long()
    batched = t.ndim == 2
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2:
        raise ValueError(f"labels must have shape (n,) or (B, n), got {tuple(t.shape)}.")
    if t.shape[1] != n_nodes:
        raise ValueError(f"labels have length {t.shape[1]} but the graph has {n_nodes} nodes.")
    if t.numel() and int(t.min()) < -1:
        raise ValueError("labels must be class ids >= 0, or -1 for unlabeled nodes.")
    mask = t >= 0
    empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            "no labeled point" + (f" in labeled set(s) {empty}" if batched else "")
            + ": give at least one node a class id >= 0 (-1 marks unlabeled nodes)."
        )
    top = int(t.max()) + 1
    if n_classes is None:
        n_classes = top
    elif top > n_classes:
        raise ValueError(f"label {top - 1} is out of range for n_classes={n_classes}.")
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
