"""Edge-weight kernels of GraphLearning 1.7.5 (``weightmatrix.knn`` / ``epsilon_ball``), overflow-safe.

k-NN graphs, with ``d_k(x_i)`` the distance from ``x_i`` to its k-th neighbour:

============== ================================================ ==============
kernel         ``w_ij``                                          symmetrised by
============== ================================================ ==============
``gaussian``   ``exp(-4 |x_i-x_j|² / d_k(x_i)²)``                 ``(W + Wᵀ)/2``
``symgaussian````exp(-4 |x_i-x_j|² / (d_k(x_i) d_k(x_j)))``       elementwise max
``uniform``    ``1``                                              elementwise max
``distance``   ``|x_i-x_j|``                                      elementwise max
``singular``   ``1 / |x_i-x_j|`` (``1`` where the distance is 0)  elementwise max
callable eta   ``eta(|x_i-x_j|² / d_k(x_i)²)``                    ``(W + Wᵀ)/2``
============== ================================================ ==============

Epsilon-ball graphs use ``ε`` in place of ``d_k``: ``exp(-4 |x_i-x_j|²/ε²)``,
``eta(|x_i-x_j|²/ε²)``, ``|x_i-x_j|``, ``1/|x_i-x_j|``, ``1``.

Ratios are formed before squaring (``(d/d_k)²``, never ``d²/d_k²``), so
features near the float range cannot overflow; ``d_k = 0`` (duplicate points)
is floored at the smallest positive float, giving weight 1 to zero distances
where GraphLearning gives NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["KERNELS", "knn_weights", "radius_weights", "symmetrize_mode", "check_kernel"]

KERNELS = ("gaussian", "symgaussian", "uniform", "distance", "singular")
_MAX_MODE = ("symgaussian", "uniform", "distance", "singular")


def check_kernel(kernel, *, allowed: tuple[str, ...] = KERNELS):
    """Return ``kernel`` if it is a known name or a callable, else raise ``ValueError``."""
    if callable(kernel):
        return kernel
    if not isinstance(kernel, str) or kernel not in allowed:
        raise ValueError(f"kernel must be one of {allowed} or a callable eta(t), got {kernel!r}.")
    return kernel


def symmetrize_mode(kernel) -> str:
    """How GraphLearning symmetrises ``kernel``'s weights: ``"mean"`` or ``"max"``."""
    return "max" if isinstance(kernel, str) and kernel in _MAX_MODE else "mean"


def _apply_eta(eta: Callable, t: torch.Tensor) -> torch.Tensor:
    try:
        w = eta(t.detach().cpu().numpy())  # a numpy array, as GraphLearning passes it
    except Exception as exc:
        raise ValueError(f"kernel callable {eta!r} failed on an array of t = d²/scale² ({exc}); it must map "
                         "a numpy array of non-negative floats to weights of the same shape.") from exc
    w = torch.as_tensor(np.asarray(w, dtype=np.float64)).to(device=t.device, dtype=t.dtype)
    if w.shape != t.shape:
        raise ValueError(f"kernel callable returned shape {tuple(w.shape)} for input shape {tuple(t.shape)}; "
                         "it must act elementwise.")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("kernel callable returned negative, NaN or infinite weights; graph weights must be "
                         "finite and non-negative.")
    return w


def _inverse(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d == 0, torch.ones_like(d), 1.0 / d)


def knn_weights(indices: torch.Tensor, distances: torch.Tensor, kernel="gaussian") -> torch.Tensor:
    """Directed k-NN edge weights ``w_ij`` for ``j = indices[i, m]`` (table in the module docstring).

    Parameters
    ----------
    indices : LongTensor of shape (n, k)
        Neighbours of each point, self excluded, ascending distance.
    distances : Tensor of shape (n, k)
        Their distances; ``distances[:, -1]`` is ``d_k``.
    kernel : {"gaussian", "symgaussian", "uniform", "distance", "singular"} or callable
        A callable ``eta`` receives ``t = (|x_i - x_j| / d_k(x_i))²`` as a float64
        numpy array (as in GraphLearning) and returns non-negative weights of its shape.

    Returns
    -------
    Tensor of shape (n, k), the dtype of ``distances``.
    """
    kernel = check_kernel(kernel)
    if kernel == "uniform":
        return torch.ones_like(distances)
    if kernel == "distance":
        return distances.clone()
    if kernel == "singular":
        return _inverse(distances)
    tiny = torch.finfo(distances.dtype).tiny
    eps = distances[:, -1:].clamp_min(tiny)
    r = distances / eps  # <= 1: the k-th neighbour is the farthest
    if kernel == "symgaussian":
        t = r * (distances / eps.reshape(-1)[indices])
        return torch.exp(-4.0 * t)
    t = r * r
    return torch.exp(-4.0 * t) if kernel == "gaussian" else _apply_eta(kernel, t)


def radius_weights(distances: torch.Tensor, epsilon: float, kernel="gaussian") -> torch.Tensor:
    """Epsilon-ball edge weights for pair distances ``distances`` (all ``<= epsilon``)."""
    kernel = check_kernel(kernel, allowed=("gaussian", "uniform", "distance", "singular"))
    if kernel == "uniform":
        return torch.ones_like(distances)
    if kernel == "distance":
        return distances.clone()
    if kernel == "singular":
        return _inverse(distances)
    r = distances / epsilon
    return torch.exp(-4.0 * r * r) if kernel == "gaussian" else _apply_eta(kernel, r * r)
