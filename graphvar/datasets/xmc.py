"""XMC datasets in the Extreme Classification Repository's text format (Bibtex, Corel5k, tmc2007, ...).

A dataset is a folder holding ``train.txt`` and ``test.txt`` (header ``N D L``,
then ``l1,l2 f:v ...`` per row, read by :func:`graphvar.xmc.read_xc`). A name
is looked up as ``$GRAPHVAR_SHARED_DATA/xmc/<name>`` and
``$GRAPHVAR_SHARED_DATA/<name>``, then under the data root (``$GRAPHVAR_DATA``
or ``./data``) as ``xmc/<name>`` and ``<name>``. The files are not
checksummed: the repository publishes several variants of each dataset.
"""

from __future__ import annotations

from pathlib import Path

from ._root import DatasetNotFoundError, data_root, shared_data_root

__all__ = ["resolve_xmc_dataset", "load_xmc_dataset"]


def _candidates(name: str) -> list[Path]:
    shared = shared_data_root()
    out = [] if shared is None else [shared / "xmc" / name, shared / name]
    out += [data_root() / "xmc" / name, data_root() / name]
    return out


def resolve_xmc_dataset(name_or_dir) -> Path:
    """Folder holding ``train.txt`` and ``test.txt``: a path, or a dataset name under the data roots.

    Raises
    ------
    DatasetNotFoundError
        (a ``FileNotFoundError``) naming every folder looked in.
    """
    path = Path(name_or_dir)
    if (path / "train.txt").is_file() and (path / "test.txt").is_file():
        return path
    cands = _candidates(str(name_or_dir))
    for cand in cands:
        if (cand / "train.txt").is_file() and (cand / "test.txt").is_file():
            return cand
    raise DatasetNotFoundError(
        f"dataset {str(name_or_dir)!r} not found: pass a folder with train.txt and test.txt, or set "
        f"GRAPHVAR_SHARED_DATA / GRAPHVAR_DATA (looked in: {', '.join(str(c) for c in cands)}).")


def load_xmc_dataset(name_or_dir):
    """Read a dataset's ``train.txt`` / ``test.txt``.

    Parameters
    ----------
    name_or_dir : str or path
        A folder, or a name such as ``"bibtex"``, ``"corel5k"``, ``"tmc2007"``
        (see the module docstring for where names are looked up).

    Returns
    -------
    X_train, Y_train, X_test, Y_test : scipy.sparse.csr_matrix
    """
    from ..xmc.formats import read_xc

    root = resolve_xmc_dataset(name_or_dir)
    X_train, Y_train = read_xc(root / "train.txt")
    X_test, Y_test = read_xc(root / "test.txt")
    return X_train, Y_train, X_test, Y_test
