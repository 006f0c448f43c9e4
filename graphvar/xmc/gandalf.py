"""Gandalf soft labels: label co-occurrence targets for label-feature rows.

Gandalf (Kharbanda et al., 2024) adds one training row per label, whose
features are the label's features and whose soft targets are the co-occurrence
conditionals ``P[y_i = 1 | y_j = 1] ≈ G_ij / G_jj`` with ``G = YᵀY``,
thresholded at ``δ`` (0.1 as in LEVER). Everything here is sparse end to end:
``G`` is formed a block of label columns at a time and thresholded before the
next block, so memory is bounded by one block of ``G`` plus the output.

Without label text, :func:`label_centroid_features` gives each label the
normalised mean of its training points' features (PIFA, as in PECOS/XR-Linear).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from tqdm.auto import tqdm

__all__ = ["gandalf_soft_labels", "label_centroid_features", "augment_with_label_features"]


def _binary_csr(Y, name="Y") -> sp.csr_matrix:
    if not sp.issparse(Y):
        raise TypeError(f"{name} must be a scipy sparse (n, L) binary matrix, got {type(Y).__name__}; "
                        "wrap it with scipy.sparse.csr_matrix.")
    Y = sp.csr_matrix(Y, dtype=np.float64, copy=True)
    Y.sum_duplicates()
    Y.eliminate_zeros()
    Y.data[:] = 1.0
    return Y


def gandalf_soft_labels(Y, delta: float = 0.1, block_size: int = 4096, progress: bool = False) -> sp.csr_matrix:
    """Co-occurrence soft labels ``S[j, i] = P[y_i | y_j] = G_ij / G_jj`` (``G = YᵀY``).

    Parameters
    ----------
    Y : scipy sparse of shape (n, L)
        Binary training labels (non-zeros are treated as 1).
    delta : float, default=0.1
        Entries below ``delta`` are dropped (the diagonal, 1, always stays for
        labels seen in training).
    block_size : int, default=4096
        Label columns of ``G`` formed at a time.
    progress : bool, default=False
        Progress bar over blocks.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (L, L), float32
        Row ``j``: soft targets of label ``j``'s feature row. Rows of labels with
        no training point are empty.
    """
    if not 0.0 <= delta <= 1.0:
        raise ValueError(f"delta must lie in [0, 1], got {delta}.")
    Y = _binary_csr(Y)
    L = Y.shape[1]
    Yc = sp.csc_matrix(Y)
    counts = np.asarray(Y.sum(axis=0)).ravel()  # G_jj
    blocks = []
    for a in tqdm(range(0, L, block_size), desc="gandalf", disable=not progress, leave=False):
        b = min(L, a + block_size)
        # rows a..b of G = (Y[:, a:b])ᵀ Y, which is G[a:b, :] by symmetry
        Gb = sp.csr_matrix(sp.csr_matrix(Yc[:, a:b].T) @ Y)
        rows = np.repeat(np.arange(a, b), np.diff(Gb.indptr))
        Gb.data = Gb.data / counts[rows]
        Gb.data[Gb.data < delta] = 0.0
        Gb.eliminate_zeros()
        blocks.append(Gb)
    S = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, L))
    S = sp.csr_matrix(S, dtype=np.float32)
    S.sort_indices()
    return S


def label_centroid_features(X, Y):
    """Label features as the L2-normalised mean of each label's training rows (PIFA).

    Parameters
    ----------
    X : scipy sparse or array of shape (n, D)
    Y : scipy sparse of shape (n, L)

    Returns
    -------
    Same kind as ``X`` (CSR if sparse) of shape (L, D); rows of unseen labels are zero.
    """
    Y = _binary_csr(Y)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}.")
    Xn = normalize(X if sp.issparse(X) else np.asarray(X, dtype=np.float64))
    Z = Y.T @ Xn
    return normalize(sp.csr_matrix(Z, dtype=np.float32)) if sp.issparse(Z) else normalize(Z).astype(np.float32)


def augment_with_label_features(X, targets, label_features, Y, delta: float = 0.1):
    """Stack LEVER/Gandalf's N+L rows: ``[X; Z]`` with targets ``[T; S]``.

    Parameters
    ----------
    X : sparse or array of shape (n, D)
    targets : sparse of shape (n, L)
        Targets of the training rows (binary ``Y`` or LEVER soft targets).
    label_features : sparse or array of shape (L, D)
    Y : sparse of shape (n, L)
        Binary training labels for the co-occurrence statistics.
    delta : float, default=0.1

    Returns
    -------
    X_aug : (n + L, D), sparse CSR if either input is sparse
    T_aug : scipy.sparse.csr_matrix of shape (n + L, L)
    """
    Z = label_features
    if Z.shape[1] != X.shape[1]:
        raise ValueError(f"label_features have {Z.shape[1]} columns but X has {X.shape[1]}.")
    if targets.shape[1] != Z.shape[0]:
        raise ValueError(f"targets have {targets.shape[1]} labels but label_features has {Z.shape[0]} rows.")
    S = gandalf_soft_labels(Y, delta=delta)
    if sp.issparse(X) or sp.issparse(Z):
        X_aug = sp.vstack([sp.csr_matrix(X, dtype=np.float32), sp.csr_matrix(Z, dtype=np.float32)], format="csr")
    else:
        X_aug = np.vstack([np.asarray(X, dtype=np.float32), np.asarray(Z, dtype=np.float32)])
    T_aug = sp.vstack([sp.csr_matrix(targets, dtype=np.float32), S], format="csr")
    return X_aug, T_aug
