"""Feature maps for graph construction: raw features, PCA and a VAE embedding.

:func:`vae_features` trains the variational autoencoder of GraphLearning
(the embedding of the FashionMNIST/MNIST tables of Calder et al., ICML 2020),
caches the embedding in the data root and checkpoints its training every
epoch, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import numpy as np

from .basic import as_2d_float, pca_features
from .vae import VAE, vae_features

__all__ = ["pca_features", "vae_features", "compute_features", "VAE", "FEATURE_KINDS"]

FEATURE_KINDS = ("raw", "pca", "vae")


def compute_features(X, kind: str = "raw", **kwargs) -> np.ndarray:
    """Dispatch to raw features, :func:`pca_features` or :func:`vae_features`.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Input features.
    kind : {"raw", "pca", "vae"}
        Which map; ``kwargs`` go to the chosen function.

    Returns
    -------
    numpy.ndarray, float32
    """
    if kind == "raw":
        if kwargs:
            raise TypeError(f"raw features take no options, got {sorted(kwargs)}")
        return as_2d_float(X)
    if kind == "pca":
        return pca_features(X, **kwargs)
    if kind == "vae":
        return vae_features(X, **kwargs)
    raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}")
