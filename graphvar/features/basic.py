"""Dense feature checks and the PCA map."""

from __future__ import annotations

import numpy as np
import torch

from ..validation import check_int

__all__ = ["as_2d_float", "pca_features"]


def as_2d_float(X, name: str = "X") -> np.ndarray:
    """Validate a dense 2-D finite array and return it as float32."""
    if torch.is_tensor(X):
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on ragged input
            raise TypeError(f"{name} must be array-like, got {type(X).__name__} ({exc})") from None
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {X.dtype}")
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 rows and 1 column, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean them first")
    with np.errstate(over="ignore"):
        X32 = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        big = float(np.abs(X).max())
        raise ValueError(f"{name} holds values up to {big:.3g}, beyond float32 (3.4e38); rescale it, "
                         "e.g. X / abs(X).max()")
    return X32


def pca_features(X, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """Project onto the leading principal components (scikit-learn ``PCA``).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Dense features.
    n_components : int, default=50
        Number of components, ``1 <= n_components <= min(n, d)``.
    seed : int, default=0
        ``random_state`` of the randomized solver; the result is a
        deterministic function of ``(X, n_components, seed)``.

    Returns
    -------
    numpy.ndarray of shape (n, n_components), float32
        Centred data in the principal basis (component signs fixed by
        scikit-learn's ``svd_flip``).
    """
    from sklearn.decomposition import PCA

    X = as_2d_float(X)
    n_components = check_int(n_components, "n_components", minimum=1)
    if n_components > min(X.shape):
        raise ValueError(f"n_components must be between 1 and min(n, d) = {min(X.shape)}, got {n_components}")
    pca = PCA(n_components=n_components, random_state=check_int(seed, "seed", minimum=0))
    return pca.fit_transform(X.astype(np.float64)).astype(np.float32)
