"""Data root, shared-data lookup, checksums and downloads.

Every loader in :mod:`graphvar.datasets` goes through these helpers, so the
rules are in one place:

* the *data root* is ``$GRAPHVAR_DATA`` when set, else ``./data`` relative to
  the current working directory (the repository's ``data/`` folder when run
  from a checkout);
* a read-only shared folder may be named by ``$GRAPHVAR_SHARED_DATA``;
* every file read is checked against the SHA-256 in :data:`SHA256` (the same
  table as ``data/README.md``) unless the caller passes ``verify=False``;
* downloads use :func:`urllib.request.urlopen` with a timeout and fail with a
  message that names the missing file and how to get it by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

__all__ = [
    "SHA256",
    "IDX_CONTENT_SHA256",
    "ChecksumError",
    "DatasetNotFoundError",
    "checksum_error",
    "data_root",
    "shared_data_root",
    "sha256sum",
    "verify_file",
    "download_file",
]

#: SHA-256 of every raw file a loader reads, keyed by file name. Keep in sync
#: with ``data/README.md``.
SHA256: dict[str, str] = {
    # Planetoid (Yang, Cohen, Salakhutdinov 2016), github.com/kimiyoung/planetoid
    "ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    "ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "ind.citeseer.x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "ind.citeseer.y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "ind.citeseer.tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "ind.citeseer.ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "ind.citeseer.allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "ind.citeseer.ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "ind.citeseer.graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "ind.citeseer.test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    # Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), github.com/zalandoresearch/fashion-mnist,
    # as shipped by the Debian package dataset-fashion-mnist. The upstream gz
    # files differ in their gzip header only, so the loader also accepts any
    # file whose *decompressed* content matches IDX_CONTENT_SHA256 below.
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}

#: SHA-256 of the decompressed IDX content of the Fashion-MNIST files (the
#: check that holds for the Debian gz, the upstream gz and gunzipped copies).
IDX_CONTENT_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


class ChecksumError(OSError):
    """A data file exists but its SHA-256 is not the published one."""


class DatasetNotFoundError(FileNotFoundError):
    """A data file is neither on disk nor downloadable right now."""


def data_root() -> Path:
    """Return the dataset root folder.

    Returns
    -------
    pathlib.Path
        ``$GRAPHVAR_DATA`` when that variable is set and non-empty, else
        ``./data`` resolved against the *current working directory* (so
        running from a repository checkout uses its ``data/`` folder). The
        folder is not created here; writers create the subfolders they need.
    """
    env = os.environ.get("GRAPHVAR_DATA")
    return Path(env).expanduser() if env else Path.cwd() / "data"


def shared_data_root() -> Path | None:
    """Return ``$GRAPHVAR_SHARED_DATA`` as a path, or ``None`` when unset."""
    env = os.environ.get("GRAPHVAR_SHARED_DATA")
    return Path(env).expanduser() if env else None


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hexadecimal SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_error(path: str | os.PathLike, actual: str, expected, hint: str = "",
                   what: str = "SHA-256") -> ChecksumError:
    """Build the :class:`ChecksumError` for ``path`` (shared wording)."""
    path = Path(path)
    expected = [expected] if isinstance(expected, str) else list(expected)
    size = path.stat().st_size if path.exists() else 0
    return ChecksumError(
        f"file {path} has {what} {actual}, expected "
        + (expected[0] if len(expected) == 1 else "one of " + ", ".join(expected))
        + f" (size {size} bytes): it is truncated, corrupt or a different version. "
        "Delete it and re-download it" + (f" ({hint})" if hint else "")
        + ", or pass verify=False to skip the check."
    )


def verify_file(path: str | os.PathLike, expected: str | None = None, hint: str = "") -> None:
    """Check a file's SHA-256 against the expected digest.

    Parameters
    ----------
    path : path-like
        File to check.
    expected : str, optional
        Expected hexadecimal digest. Defaults to ``SHA256[path.name]``; files
        whose name is not in the table are not checked.
    hint : str, optional
        How to obtain a good copy, appended to the error message.

    Raises
    ------
    ChecksumError
        When the digest differs (truncated, corrupt or a different version).
    """
    path = Path(path)
    if expected is None:
        expected = SHA256.get(path.name)
        if expected is None:
            return
    actual = sha256sum(path)
    if actual != expected:
        raise checksum_error(path, actual, expected, hint)


def download_file(url: str, dest: str | os.PathLike, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically (temporary file, then rename).

    Parameters
    ----------
    url : str
        Source address.
    dest : path-like
        Destination file; its parent folder is created.
    timeout : float, default=60
        Socket timeout in seconds.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DatasetNotFoundError
        When the download fails (offline, HTTP error, timeout); the message
        names the file, the address and where to put a copy made by hand.
    """
    dest = Path(dest)
    new_dirs = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        Path(tmp).unlink(missing_ok=True)
        for folder in new_dirs:  # leave no empty folders behind a failed download
            try:
                folder.rmdir()
            except OSError:
                break
        raise DatasetNotFoundError(
            f"{dest.name} is not on disk and could not be downloaded from {url} "
            f"({exc}). Download it by hand from that address and save it as {dest} "
            f"(or set GRAPHVAR_DATA to a folder that holds it)."
        ) from exc
    return dest
