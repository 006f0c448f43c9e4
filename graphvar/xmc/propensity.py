"""Label propensities of Jain et al. (2016) for propensity-scored XMC metrics.

The propensity of label ``l`` is ``p_l = 1 / (1 + C (n_l + B)^(-A))`` with
``C = (ln N - 1)(B + 1)^A``, where ``N`` is the number of rows of the *binary*
training label matrix and ``n_l`` its column sums. PSP@k and PSnDCG@k weight
each correct prediction by the inverse propensity ``1 / p_l``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

__all__ = ["propensity_presets", "inverse_propensity", "propensity"]

#: ``(A, B)`` pairs used in the literature (pyxclib / XC Repository conventions).
propensity_presets: dict[str, tuple[float, float]] = {
    "default": (0.55, 1.5),
    "wikipedia": (0.5, 0.4),
    "amazon": (0.6, 2.6),
}


def _label_counts(Y_train) -> tuple[int, np.ndarray]:
    """Return ``(N, n_l)`` of the binarised label matrix."""
    if sp.issparse(Y_train):
        Y = sp.csr_matrix(Y_train)
        if Y.ndim != 2:
            raise ValueError(f"Y_train must be 2-D, got shape {Y.shape}.")
        Y = Y.copy()
        Y.sum_duplicates()
        Y.eliminate_zeros()
        counts = np.bincount(Y.indices, minlength=Y.shape[1])
        return Y.shape[0], counts.astype(np.float64)
    arr = np.asarray(Y_train)
    if arr.ndim != 2:
        raise ValueError(f"Y_train must be a 2-D (N, L) label matrix, got shape {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"Y_train must be numeric, got dtype {arr.dtype}.")
    return arr.shape[0], np.count_nonzero(arr, axis=0).astype(np.float64)


def inverse_propensity(Y_train, A: float = 0.55, B: float = 1.5, *, preset: str | None = None) -> np.ndarray:
    """Inverse propensities ``1 + C (n_l + B)^(-A)``, ``C = (ln N - 1)(B + 1)^A``.

    Parameters
    ----------
    Y_train : scipy sparse or array-like of shape (N, L)
        Training label matrix; it is binarised first (every nonzero counts as 1),
        so soft targets give the same result as the ground truth they came from.
    A, B : float
        Dataset constants; see :data:`propensity_presets`. Both must be positive.
    preset : {"default", "wikipedia", "amazon"}, optional
        Take ``(A, B)`` from :data:`propensity_presets` (overrides ``A`` and ``B``).

    Returns
    -------
    numpy.ndarray of shape (L,), float64
        ``1 / p_l`` for every label; labels never seen in training get the
        largest weight ``1 + C B^(-A)``.
    """
    if preset is not None:
        if preset not in propensity_presets:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(propensity_presets)}.")
        A, B = propensity_presets[preset]
    if not (np.isfinite(A) and A > 0 and np.isfinite(B) and B > 0):
        raise ValueError(f"A and B must be positive finite numbers, got A={A!r}, B={B!r}.")
    n, counts = _label_counts(Y_train)
    if n == 0:
        raise ValueError("Y_train has no rows; propensities need the training label matrix.")
    if np.log(n) <= 1:
        warnings.warn(
            f"Y_train has only {n} rows (ln N <= 1), so C <= 0 and the inverse propensities are "
            "not meaningful; compute them on the full training label matrix.",
            RuntimeWarning,
            stacklevel=2,
        )
    C = (np.log(n) - 1.0) * (B + 1.0) ** A
    return 1.0 + C * np.power(counts + B, -A)


def propensity(Y_train, A: float = 0.55, B: float = 1.5, *, preset: str | None = None) -> np.ndarray:
    """Propensities ``p_l = 1 / inverse_propensity(...)`` (same parameters).

    Returns
    -------
    numpy.ndarray of shape (L,), float64
    """
    return 1.0 / inverse_propensity(Y_train, A, B, preset=preset)
