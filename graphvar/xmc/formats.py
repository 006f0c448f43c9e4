"""Extreme-classification file formats: XC Repository text, LF text, ``.npz``.

XC Repository format (``train.txt``)::

    N D L
    l1,l2,... f:v f:v ...        <- one line per point, ids 0-based

LF format (``trn_X_Y.txt``, also used for soft targets)::

    N L
    label:value label:value ...

Both readers stream: the text is parsed about 256 kB at a time (vectorised
with numpy) into index/value buffers that grow in place; for a plain file on
disk a first pass counts the ``:`` and ``,`` separators so that the buffers are
allocated once at their final size. Neither the text nor Python lists for the
whole file are ever held: peak memory is about the size of the returned CSR
matrices. The writers stream in blocks of rows as well. Malformed input raises
:class:`ValueError` naming the file and the 1-based line number (the header is
line 1); an empty line among the declared rows is malformed (a row without
entries is a line holding a single space, as the writers write it). A file
that is not UTF-8 text (binary, UTF-16) or a corrupt or truncated ``.gz``
raises :class:`ValueError` naming the file. Paths ending in ``.gz`` are
(de)compressed transparently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm
from ._textparse import (
    _count_separators,
    _open_text,
    _parse_file,
    _read_header,
    _reading,
)

__all__ = ["read_xc", "write_xc", "read_lf", "write_lf", "save_npz", "load_npz"]

# --------------------------------------------------------------------------- public readers
def read_xc(path_or_file, *, progress: bool = False,
            allow_blank_rows: bool = False) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Read an Extreme Classification Repository text file.

    The first line is the header ``N D L``; each of the ``N`` following lines is
    ``l1,l2,... f:v f:v ...`` with 0-based ids. A point without labels has an
    empty label list (the line starts with a space, or directly with a feature
    token); a point with neither labels nor features is a line holding only
    whitespace (:func:`write_xc` writes a single space). Feature ids and label
    ids must be **strictly increasing** within a line (sorted, no duplicates),
    below ``D`` and ``L`` respectively; values must be finite numbers. An
    *empty* line among the ``N`` rows is an error (an accidental blank line
    shifts every later row); empty lines after the ``N`` rows are ignored.

    Parameters
    ----------
    path_or_file : str, os.PathLike or file object
        Path (``.gz`` is decompressed on the fly) or an open text/binary file.
    progress : bool, default=False
        Show a tqdm progress bar over the rows.
    allow_blank_rows : bool, default=False
        Read an empty line among the rows as a row without entries (for files
        from tools that write empty rows that way).

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (N, D), float32
        Features, with sorted indices.
    Y : scipy.sparse.csr_matrix of shape (N, L), float32
        Binary label matrix (stored entries are 1.0).

    Raises
    ------
    ValueError
        On a malformed header or line, naming the file and the 1-based line
        number (header = line 1): rows vs. header count, an empty line among
        the rows, malformed tokens, unsorted or duplicate ids, ids out of
        range, NaN/infinite values; and, naming the file, on a file that is not
        UTF-8 text (binary, UTF-16) or a corrupt or truncated ``.gz``.
    FileNotFoundError
        When the file does not exist.
    """
    with _reading(path_or_file):
        separators = _count_separators(path_or_file)
        with _open_text(path_or_file, "r") as (f, name):
            n_rows, n_features, n_labels = _read_header(f, name, 3, "N D L")
            return _parse_file(f, name, n_rows, n_features, n_labels, progress, "read_xc", separators,
                               blank_rows=allow_blank_rows)


def read_lf(path_or_file, *, progress: bool = False, allow_blank_rows: bool = False) -> sp.csr_matrix:
    """Read an LF-format label (or soft-target) matrix such as ``trn_X_Y.txt``.

    The first line is the header ``N L``; each of the ``N`` following lines is
    ``label:value label:value ...`` (0-based label ids, strictly increasing
    within a line, finite values); a line holding only whitespace is a row
    without entries (:func:`write_lf` writes a single space), an *empty* line
    among the rows is an error (see :func:`read_xc`).

    Parameters
    ----------
    path_or_file : str, os.PathLike or file object
        Path (``.gz`` is decompressed on the fly) or an open text/binary file.
    progress : bool, default=False
        Show a tqdm progress bar over the rows.
    allow_blank_rows : bool, default=False
        Read an empty line among the rows as a row without entries.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (N, L), float32, with sorted indices.

    Raises
    ------
    ValueError
        On a malformed header or line, naming the file and the 1-based line
        number, or on a file that is not UTF-8 text or a corrupt ``.gz``
        (naming the file).
    FileNotFoundError
        When the file does not exist.
    """
    with _reading(path_or_file):
        separators = _count_separators(path_or_file)
        with _open_text(path_or_file, "r") as (f, name):
            n_rows, n_labels = _read_header(f, name, 2, "N L")
            return _parse_file(f, name, n_rows, n_labels, None, progress, "read_lf", separators,
                               blank_rows=allow_blank_rows)


# --------------------------------------------------------------------------- writers
def _as_csr(M: Any, name: str) -> sp.csr_matrix:
    if sp.issparse(M):
        M = sp.csr_matrix(M)
    else:
        arr = np.asarray(M)
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix, got shape {arr.shape}.")
        M = sp.csr_matrix(arr)
    if not (np.issubdtype(M.dtype, np.number) or M.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {M.dtype}.")
    if not M.has_canonical_format:
        M = M.copy()
        M.sum_duplicates()  # also sorts the indices
    if M.dtype != np.bool_ and not np.all(np.isfinite(M.data)):
        raise ValueError(f"{name} contains NaN or infinite values, which the text formats cannot hold.")
    return M


def _format_values(vals: np.ndarray, float_format: str | None) -> list[str]:
    """Format values; by default the shortest of 7 or 9 significant digits that reads back exactly in float32."""
    if float_format is not None:
        return [float_format % v for v in vals.tolist()]
    v32 = vals.astype(np.float32)
    short = ["%.7g" % v for v in v32.tolist()]
    if short:
        back = np.fromstring(" ".join(short), dtype=np.float64, sep=" ").astype(np.float32)
        bad = np.flatnonzero(back != v32)
        for j, text in zip(bad.tolist(), ["%.9g" % v for v in v32[bad].tolist()]):
            short[j] = text
    return short


def _write_rows(f, M: sp.csr_matrix, labels: sp.csr_matrix | None, float_format, progress, desc) -> None:
    n = M.shape[0]
    block = 4096
    for a in tqdm(range(0, n, block), desc=desc, unit="blocks", disable=not progress, leave=False):
        b = min(a + block, n)
        s, e = int(M.indptr[a]), int(M.indptr[b])
        toks = [f"{i}:{v}" for i, v in zip(M.indices[s:e].tolist(), _format_values(M.data[s:e], float_format))]
        ptr = (M.indptr[a : b + 1] - s).tolist()
        out = []
        if labels is None:
            for r in range(b - a):  # a row without entries is a single space (an empty line is an error)
                out.append(" ".join(toks[ptr[r] : ptr[r + 1]]) or " ")
        else:
            lptr = labels.indptr[a : b + 1].tolist()
            lids = labels.indices[lptr[0] : lptr[-1]].tolist()
            l0 = lptr[0]
            for r in range(b - a):
                lab = ",".join(map(str, lids[lptr[r] - l0 : lptr[r + 1] - l0]))
                feat = " ".join(toks[ptr[r] : ptr[r + 1]])
                out.append(f"{lab} {feat}" if feat else lab or " ")
        f.write("\n".join(out))
        f.write("\n")


def write_xc(path_or_file, X, Y, *, float_format: str | None = None, progress: bool = False) -> None:
    """Write features and binary labels in the Extreme Classification Repository format.

    Parameters
    ----------
    path_or_file : str, os.PathLike or text file object
        Destination; a path ending in ``.gz`` is gzip-compressed.
    X : scipy sparse or array-like of shape (N, D)
        Features; stored entries are written (explicit zeros included).
    Y : scipy sparse or array-like of shape (N, L)
        Binary labels: every nonzero entry must equal 1 (write soft targets with
        :func:`write_lf`).
    float_format : str, optional
        ``%``-format for values (e.g. ``"%.6g"``). By default each value is written
        with the shortest of 7 or 9 significant digits that reads back to exactly
        the same float32 (what :func:`read_xc` returns).
    progress : bool, default=False
        Show a tqdm progress bar.
    """
    X = _as_csr(X, "X")
    Y = _as_csr(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; they must describe the same points.")
    Y = Y.copy()
    Y.eliminate_zeros()
    if Y.nnz and not np.all(Y.data == 1):
        raise ValueError("Y must be binary (0/1) for the XC format; write soft targets with write_lf().")
    with _open_text(path_or_file, "w") as (f, _):
        f.write(f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}\n")
        _write_rows(f, X, Y, float_format, progress, "write_xc")


def write_lf(path_or_file, Y, *, float_format: str | None = None, progress: bool = False) -> None:
    """Write a label or soft-target matrix in the LF format (``N L`` header, ``label:value`` pairs).

    Parameters
    ----------
    path_or_file : str, os.PathLike or text file object
        Destination; a path ending in ``.gz`` is gzip-compressed.
    Y : scipy sparse or array-like of shape (N, L)
        Stored entries are written (a dense input stores its nonzeros).
    float_format : str, optional
        ``%``-format for values; by default the shortest float32 round-trip form
        (see :func:`write_xc`).
    progress : bool, default=False
        Show a tqdm progress bar.
    """
    Y = _as_csr(Y, "Y")
    with _open_text(path_or_file, "w") as (f, _):
        f.write(f"{Y.shape[0]} {Y.shape[1]}\n")
        _write_rows(f, Y, None, float_format, progress, "write_lf")


# --------------------------------------------------------------------------- npz
def save_npz(path, M, *, compressed: bool = True) -> None:
    """Save a sparse matrix as CSR with :func:`scipy.sparse.save_npz`.

    Parameters
    ----------
    path : str or os.PathLike
        Destination (``.npz`` is appended by scipy when missing).
    M : scipy sparse or array-like of shape (N, L)
    compressed : bool, default=True
    """
    sp.save_npz(path, _as_csr(M, "M"), compressed=compressed)


def load_npz(path) -> sp.csr_matrix:
    """Load a matrix saved by :func:`save_npz` (or scipy) and return it as ``csr_matrix``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    scipy.sparse.csr_matrix

    Raises
    ------
    ValueError
        Naming the file, when it is not a ``.npz`` of a scipy sparse matrix.
    FileNotFoundError
        When the file does not exist.
    """
    import zipfile

    try:
        M = sp.load_npz(path)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory; pass the path of a .npz file.") from None
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a .npz file ({exc}); it is corrupt, truncated or of another "
                         "format (text scores are read with read_lf).") from None
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise ValueError(f"{path} does not hold a scipy sparse matrix ({exc}); write one with "
                             "graphvar.xmc.save_npz or scipy.sparse.save_npz.") from None
        raise ValueError(f"{path} is not a .npz file (numpy reads it as a pickle, which it refuses to load); "
                         "it is corrupt, truncated or of another format (text scores are read with "
                         "read_lf).") from None
    except (KeyError, OSError, EOFError) as exc:
        raise ValueError(f"{path} does not hold a scipy sparse matrix ({type(exc).__name__}: {exc}); "
                         "write one with graphvar.xmc.save_npz or scipy.sparse.save_npz.") from None
    return sp.csr_matrix(M)
