"""Datasets: Planetoid citation graphs, Fashion-MNIST, sklearn digits, XMC text-format folders (feature maps: :mod:`graphvar.features`).

Loaders are offline-first: they read local copies (an explicit folder, the
data root ``$GRAPHVAR_DATA`` or ``./data``, shared or system folders), check
each file's SHA-256, and only then download. See ``data/README.md`` for the
sources, licences and checksums.
"""

from ._root import (
    SHA256,
    ChecksumError,
    DatasetNotFoundError,
    data_root,
    sha256sum,
    shared_data_root,
    verify_file,
)
from .digits import load_digits
from .fashion_mnist import load_fashion_mnist, read_idx
from .planetoid import PlanetoidDataset, load_planetoid
from .xmc import load_xmc_dataset, resolve_xmc_dataset

# the feature maps live in graphvar.features; re-exported here, where they used to be
from ..features import compute_features, pca_features, vae_features  # noqa: E402

__all__ = [
    "SHA256",
    "ChecksumError",
    "DatasetNotFoundError",
    "PlanetoidDataset",
    "compute_features",
    "data_root",
    "load_digits",
    "load_fashion_mnist",
    "load_planetoid",
    "load_xmc_dataset",
    "resolve_xmc_dataset",
    "pca_features",
    "read_idx",
    "sha256sum",
    "shared_data_root",
    "vae_features",
    "verify_file",
]
