"""scikit-learn's handwritten digits (1797 images of 8x8 pixels, 10 classes)."""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load :func:`sklearn.datasets.load_digits` scaled to [0, 1].

    The data ship inside scikit-learn, so no download or checksum is needed.

    Returns
    -------
    X : numpy.ndarray of shape (1797, 64), float32
        Pixel intensities (0..16) divided by 16.
    y : numpy.ndarray of shape (1797,), int64
        Digit labels 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    data = _sk_load_digits()
    X = (data.data / 16.0).astype(np.float32)
    return X, data.target.astype(np.int64)
