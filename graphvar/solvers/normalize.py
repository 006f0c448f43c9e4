"""Per-class dispersion equalisation of score matrices (docs/design.md §3)."""

from __future__ import annotations

import torch

__all__ = ["equalize_dispersion"]


def equalize_dispersion(scores: torch.Tensor, unlabeled: torch.Tensor) -> torch.Tensor:
    """Centre each class column over unlabeled nodes and divide by its standard deviation.

    Degenerate solvers (Laplace at one label per class) give one class a
    larger spread than the others, so the argmax picks it everywhere;
    equalising the per-class dispersion over the unlabeled nodes removes that
    bias (FashionMNIST 70k, 1 label: 25.6 → 57.8 %, docs/design.md §3).

    Parameters
    ----------
    scores : Tensor (B, n, c)
    unlabeled : BoolTensor (B, n)

    Returns
    -------
    Tensor (B, n, c): the transformed scores (all nodes, statistics from unlabeled ones).
    """
    w = unlabeled.to(scores.dtype)[:, :, None]
    count = w.sum(dim=1, keepdim=True).clamp_min(1.0)
    mean = (scores * w).sum(dim=1, keepdim=True) / count
    var = (((scores - mean) ** 2) * w).sum(dim=1, keepdim=True) / count
    std = var.sqrt()
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (scores - mean) / std
