"""Fashion-MNIST: IDX parsing and an offline-first loader.

Search order for the four ``*-ubyte.gz`` files (or gunzipped copies): ``root=`` when given, else the
Debian package folder ``/usr/share/datasets/fashion-mnist/``
(``apt install dataset-fashion-mnist``), else ``<data root>/fashion-mnist/``,
else a download into ``<data root>/fashion-mnist/`` from the Zalando Research
GitHub repository.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from ._root import (
    IDX_CONTENT_SHA256,
    SHA256,
    DatasetNotFoundError,
    checksum_error,
    data_root,
    download_file,
    sha256sum,
)

__all__ = [
    "read_idx",
    "parse_idx",
    "load_fashion_mnist",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_URL",
]

#: Canonical source of the gz IDX files (also mirrored by torchvision on S3).
FASHION_MNIST_URL = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
)
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

# IDX type codes (third byte of the magic number) -> numpy big-endian dtype.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed when ``.gz``) bytes of ``path``."""
    if not path.name.endswith(".gz"):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (EOFError, OSError, zlib.error) as exc:  # truncated or not gzip
        raise ValueError(f"{path} is not a complete gzip file ({exc}); re-download it") from exc


def parse_idx(
    raw: bytes, expected_magic: int | None = None, source: str = "IDX data"
) -> np.ndarray:
    """Parse the bytes of an IDX file; see :func:`read_idx`."""
    if len(raw) < 4:
        raise ValueError(f"{source} is too short ({len(raw)} bytes) to be an IDX file")
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{source} has IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}: "
            "wrong file (images vs labels?) or not an IDX file"
        )
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{source} has IDX magic number 0x{magic:08x}, which is not a valid IDX header"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{source} is truncated inside its IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{source} holds {len(raw) - header} data bytes but its header announces shape "
            f"{shape} ({expected} bytes): the file is truncated or corrupt; re-download it"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzip-compressed or raw.

    The header is a 4-byte big-endian magic number ``0x0000TTDD`` (``TT`` the
    element type, ``DD`` the number of dimensions), then ``DD`` big-endian
    uint32 sizes, then the data. Images are ``0x00000803`` (uint8, 3-D),
    labels ``0x00000801`` (uint8, 1-D).

    Parameters
    ----------
    path : path-like
        File to read; a name ending in ``.gz`` is decompressed.
    expected_magic : int, optional
        When given, the magic number must equal it.

    Returns
    -------
    numpy.ndarray
        Array of the stored shape and (native-endian) dtype.

    Raises
    ------
    ValueError
        Bad magic number, unknown type code, incomplete gzip stream, or a
        payload whose length does not match the header's sizes.
    """
    path = Path(path)
    return parse_idx(_read_bytes(path), expected_magic, source=str(path))


def _read_verified(path: Path, verify: bool, expected_magic: int) -> np.ndarray:
    """Read an IDX file, checking its SHA-256 (file or decompressed content)."""
    hint = f"from {FASHION_MNIST_URL} or the dataset-fashion-mnist package"
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    if verify and SHA256.get(path.name) == sha256sum(path):
        verify = False  # the exact file published in data/README.md
    try:
        raw = _read_bytes(path)
    except ValueError as exc:
        if verify:
            expected = SHA256.get(path.name, IDX_CONTENT_SHA256[stem])
            raise checksum_error(path, sha256sum(path), expected, hint,
                                 what="an incomplete gzip stream and SHA-256") from exc
        raise
    if verify:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != IDX_CONTENT_SHA256[stem]:
            raise checksum_error(path, actual, IDX_CONTENT_SHA256[stem], hint,
                                 what="decompressed-content SHA-256")
    return parse_idx(raw, expected_magic, source=str(path))


def _find_file(name: str, root: Path | None, download: bool) -> Path:
    """Return a path to ``name`` (``.gz``, or its gunzipped copy) per the search order."""
    folders = [Path(root)] if root is not None else [DEBIAN_DIR, data_root() / "fashion-mnist"]
    for folder in folders:
        for candidate in (folder / name, folder / name[:-3]):
            if candidate.is_file():
                return candidate
    target = folders[-1] / name
    how = (
        f"install the Debian package dataset-fashion-mnist, or download "
        f"{FASHION_MNIST_URL}{name} and save it as {target}"
    )
    if not download:
        raise DatasetNotFoundError(
            f"Fashion-MNIST file {name} not found (looked in "
            f"{', '.join(str(f) for f in folders)}): {how}."
        )
    try:
        return download_file(FASHION_MNIST_URL + name, target)
    except DatasetNotFoundError as exc:
        raise DatasetNotFoundError(f"{exc} Alternatively, {how}.") from exc.__cause__


def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    split: str = "all",
    verify: bool = True,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST as flat float32 images in [0, 1] and int64 labels.

    Parameters
    ----------
    root : path-like, optional
        Folder holding the four ``*-ubyte.gz`` files. When ``None``, look in
        ``/usr/share/datasets/fashion-mnist/``, then ``<data root>/fashion-mnist/``,
        then download there.
    split : {"all", "train", "test"}, default="all"
        ``"all"`` returns the 60,000 training images followed by the 10,000
        test images (70,000 rows, the setting of Calder et al. 2020).
    verify : bool, default=True
        Check each file against ``data/README.md``: either the SHA-256 of the
        Debian gz file, or the SHA-256 of its decompressed IDX content (which
        also covers the upstream gz files and gunzipped copies).
    download : bool, default=True
        Download missing files; with ``False`` a missing file is an error.

    Returns
    -------
    X : numpy.ndarray of shape (n, 784), float32
        Pixel intensities divided by 255.
    y : numpy.ndarray of shape (n,), int64
        Class labels 0..9.
    """
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    parts = ("train", "test") if split == "all" else (split,)
    xs, ys = [], []
    for part in parts:
        images_name, labels_name = FASHION_MNIST_FILES[part]
        images_path = _find_file(images_name, root, download)
        labels_path = _find_file(labels_name, root, download)
        images = _read_verified(images_path, verify, expected_magic=0x00000803)
        labels = _read_verified(labels_path, verify, expected_magic=0x00000801)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{images_path} has {images.shape[0]} images but {labels_path} has "
                f"{labels.shape[0]} labels"
            )
        xs.append(images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0))
        ys.append(labels.astype(np.int64))
    return np.concatenate(xs), np.concatenate(ys)
