"""Streaming, vectorised parsing of XC / LF text files (private helpers of :mod:`.formats`).

Lines are parsed about 256 kB at a time with numpy into buffers that grow in
place; malformed lines are diagnosed one by one to name the 1-based line.
"""

from __future__ import annotations

import gzip
import io
import os
import warnings
import zlib
from contextlib import contextmanager
from typing import IO, Any, Iterator

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

_CHUNK_CHARS = 1 << 18  # parse about 256 kB of text at a time
_CHUNK_LINES = 1 << 16
_COLON, _SPACE, _COMMA = ord(":"), ord(" "), ord(",")
_DIGIT_LO, _DIGIT_HI = ord("0"), ord("9")
_INT32_MAX = np.iinfo(np.int32).max


# --------------------------------------------------------------------------- I/O helpers
@contextmanager
def _open_text(path_or_file: Any, mode: str) -> Iterator[tuple[IO[str], str]]:
    """Yield ``(text_file, name)``; open paths (gzip for ``.gz``), wrap binary files."""
    if isinstance(path_or_file, (str, os.PathLike)):
        path = os.fspath(path_or_file)
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, mode + "t", encoding="utf-8", newline="") as f:
            yield f, path
        return
    if not (hasattr(path_or_file, "read") or hasattr(path_or_file, "write")):
        raise TypeError(
            f"expected a path or an open file, got {type(path_or_file).__name__}."
        )
    name = str(getattr(path_or_file, "name", "<stream>"))
    if isinstance(path_or_file, io.TextIOBase):
        yield path_or_file, name
        return
    wrapper = io.TextIOWrapper(path_or_file, encoding="utf-8", newline="")
    try:
        yield wrapper, name
    finally:
        if mode == "w":
            wrapper.flush()
        wrapper.detach()  # leave the caller's binary file open


def _sniff(path_or_file: Any) -> str:
    """A word on what a file that is not UTF-8 text looks like ("UTF-16 text", "binary data", "")."""
    if not isinstance(path_or_file, (str, os.PathLike)):
        return ""
    path = os.fspath(path_or_file)
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            head = f.read(4096)
    except (OSError, EOFError, zlib.error):
        return ""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16 text (it starts with a UTF-16 byte-order mark)"
    if b"\x00" in head:
        return "binary data (it holds NUL bytes)"
    return ""


@contextmanager
def _reading(path_or_file: Any) -> Iterator[None]:
    """Turn decoding, gzip and path errors of a reader into ``ValueError`` naming the file.

    ``FileNotFoundError`` (which names the file) passes through unchanged.
    """
    name = os.fspath(path_or_file) if isinstance(path_or_file, (str, os.PathLike)) else str(
        getattr(path_or_file, "name", "<stream>"))
    try:
        yield
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ValueError(f"{name} is a directory; pass the path of an XC/LF text file.") from None
    except UnicodeDecodeError as exc:
        what = _sniff(path_or_file)
        byte = exc.object[exc.start:exc.start + 1].hex()
        raise ValueError(
            f"{name}: not UTF-8 text" + (f"; it looks like {what}" if what else f" (byte 0x{byte} cannot be decoded)")
            + ". XC/LF files are ASCII text: check that this is the right file, or convert it "
            "(e.g. iconv -f UTF-16 -t UTF-8)."
        ) from None
    except EOFError as exc:
        raise ValueError(f"{name}: the gzip stream is truncated ({exc}); the file is incomplete, download or "
                         "compress it again.") from None
    except gzip.BadGzipFile as exc:
        raise ValueError(f"{name}: not a gzip file ({exc}), although its name ends in .gz; rename it without "
                         ".gz if it is plain text.") from None
    except zlib.error as exc:
        raise ValueError(f"{name}: corrupt gzip data ({exc}); download or compress the file again.") from None


def _chunks(f: IO[str]) -> Iterator[list[str]]:
    """Group the remaining lines of ``f`` into lists of about ``_CHUNK_CHARS`` characters."""
    buf: list[str] = []
    size = 0
    for line in f:
        buf.append(line)
        size += len(line)
        if size >= _CHUNK_CHARS or len(buf) >= _CHUNK_LINES:
            yield buf
            buf, size = [], 0
    if buf:
        yield buf


def _read_header(f: IO[str], name: str, n_fields: int, fields: str) -> list[int]:
    line = f.readline()
    if not line:
        raise ValueError(f"{name}: line 1: the file is empty; expected a header '{fields}'.")
    parts = line.split()
    if len(parts) != n_fields or not all(p.isdigit() for p in parts):
        raise ValueError(
            f"{name}: line 1: bad header {line.strip()!r}; expected {n_fields} non-negative "
            f"integers '{fields}'."
        )
    return [int(p) for p in parts]


# --------------------------------------------------------------------------- line diagnosis
def _diagnose_pairs(text: str, n_cols: int, what: str) -> str | None:
    """Explain what is wrong with a whitespace-separated ``id:value`` list (slow, exact)."""
    prev = -1
    for tok in text.split():
        if tok.count(":") != 1:
            return f"token {tok!r} is not of the form {what}_id:value"
        sid, sval = tok.split(":")
        if not (sid.isascii() and sid.isdigit()):
            return f"{what} id {sid!r} in {tok!r} is not a non-negative integer"
        idx = int(sid)
        try:
            val = float(sval)
        except ValueError:
            return f"value {sval!r} in {tok!r} is not a number"
        with np.errstate(over="ignore"):
            val32 = np.float32(val)
        if not np.isfinite(val32):
            return f"value {sval!r} in {tok!r} is NaN or infinite (or overflows float32)"
        if idx >= n_cols:
            return f"{what} id {idx} is out of range: the header declares {n_cols} {what}s (ids 0..{n_cols - 1})"
        if idx == prev:
            return f"duplicate {what} id {idx}; each id may appear once per line"
        if idx < prev:
            return f"{what} ids are not sorted ({idx} after {prev}); ids must be strictly increasing within a line"
        prev = idx
    return None


def _diagnose_labels(text: str, n_labels: int) -> str | None:
    prev = -1
    for tok in text.split(","):
        if not (tok.isascii() and tok.isdigit()):
            return f"label list {text!r} is malformed: {tok!r} is not a non-negative integer label id"
        idx = int(tok)
        if idx >= n_labels:
            return f"label id {idx} is out of range: the header declares {n_labels} labels (ids 0..{n_labels - 1})"
        if idx == prev:
            return f"duplicate label id {idx}; each label may appear once per line"
        if idx < prev:
            return f"label ids are not sorted ({idx} after {prev}); ids must be strictly increasing within a line"
        prev = idx
    return None


# --------------------------------------------------------------------------- vectorised parsing
def _to_int(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Integer value of each field ``buf[s:e]``; ``None`` unless every field is 1-18 plain digits."""
    m = int((ends - starts).max())
    if m > 18:
        return None
    pos = ends[:, None] - m + np.arange(m)  # right-aligned bytes of each field, padded with '0'
    chars = np.where(pos >= starts[:, None], buf[np.maximum(pos, 0)], _DIGIT_LO)
    if np.any(chars < _DIGIT_LO) or np.any(chars > _DIGIT_HI):
        return None
    return (chars - _DIGIT_LO).astype(np.int64) @ (10 ** np.arange(chars.shape[1] - 1, -1, -1, dtype=np.int64))


def _to_float(buf: np.ndarray, starts: np.ndarray, colons: np.ndarray, n_tokens: int) -> np.ndarray | None:
    """Values after the colons (numpy's C parser with the ``id:`` parts blanked); ``None`` if not numbers."""
    mark = np.zeros(buf.size + 1, dtype=np.int8)
    mark[starts] += 1
    mark[colons + 1] -= 1
    blank = buf.copy()
    blank[np.cumsum(mark[:-1], dtype=np.int8) > 0] = _SPACE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            vals = np.fromstring(blank.tobytes(), dtype=np.float64, sep=" ")
    except (ValueError, DeprecationWarning):
        return None
    return vals if vals.size == n_tokens else None


def _ascii(joined: str) -> np.ndarray | None:
    try:
        return np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None


def _parse_pairs(joined: str, n_tokens: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse ``'i:v i:v ...'`` (single spaces) into int64 ids and float64 values; ``None`` if malformed."""
    if n_tokens == 0:
        return np.empty(0, np.int64), np.empty(0)
    buf = _ascii(joined)
    if buf is None:
        return None
    colons, spaces = np.flatnonzero(buf == _COLON), np.flatnonzero(buf == _SPACE)
    if colons.size != n_tokens or spaces.size != n_tokens - 1:
        return None
    starts, ends = np.r_[0, spaces + 1], np.r_[spaces, buf.size]
    # one colon per token, with a non-empty id before it and a non-empty value after it
    if np.any(colons <= starts) or np.any(colons + 1 >= ends):
        return None
    ids = _to_int(buf, starts, colons)
    if ids is None:
        return None
    vals = _to_float(buf, starts, colons, n_tokens)
    if vals is None:
        return None
    return ids, vals


def _parse_label_ids(joined: str, n_ids: int) -> np.ndarray | None:
    """Parse ``'l,l,l'`` into int64 ids; ``None`` if malformed."""
    if n_ids == 0:
        return np.empty(0, dtype=np.int64)
    buf = _ascii(joined)
    if buf is None:
        return None
    commas = np.flatnonzero(buf == _COMMA)
    if commas.size != n_ids - 1:
        return None
    starts, ends = np.r_[0, commas + 1], np.r_[commas, buf.size]
    return None if np.any(ends <= starts) else _to_int(buf, starts, ends)


def _ids_ok(ids: np.ndarray, counts: np.ndarray, n_cols: int) -> bool:
    """Vectorised check: ids below ``n_cols`` and strictly increasing within each row."""
    if ids.size == 0:
        return True
    if ids.max() >= n_cols:
        return False
    starts = np.zeros(ids.size, dtype=bool)
    starts[(np.cumsum(counts) - counts)[counts > 0]] = True
    return not np.any((np.diff(ids) <= 0) & ~starts[1:])


class _Buffer:
    """Append-only array grown in place (``realloc``), so no second copy is ever made.

    With an exact ``capacity`` (counted beforehand) it is allocated once and
    untouched pages cost no memory; otherwise it grows by 1.5x.
    """

    def __init__(self, dtype, capacity: int = 0) -> None:
        self.arr = np.empty(max(int(capacity), 1024), dtype=dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        end = self.size + values.size
        if end > self.arr.size:
            self.arr.resize(max(end, self.arr.size * 3 // 2), refcheck=False)
        self.arr[self.size : end] = values
        self.size = end

    def finish(self) -> np.ndarray:
        self.arr.resize(self.size, refcheck=False)
        return self.arr


def _count_separators(path_or_file) -> tuple[int, int] | None:
    """``(colons, commas)`` of a plain (not gzipped) file on disk, read in 16 MB blocks; else ``None``."""
    if not isinstance(path_or_file, (str, os.PathLike)) or os.fspath(path_or_file).endswith(".gz"):
        return None
    colons = commas = 0
    with open(path_or_file, "rb") as f:
        while block := f.read(1 << 24):
            colons += block.count(b":")
            commas += block.count(b",")
    return colons, commas


def _split_xc_line(line: str) -> tuple[str, str]:
    """Return ``(labels, features)`` of an XC line without its newline."""
    if not line or line[0].isspace():
        return "", line
    parts = line.split(None, 1)
    if ":" in parts[0]:  # no label list: the line starts directly with features
        return "", line
    return parts[0], parts[1] if len(parts) > 1 else ""


def _check_no_empty_line(name: str, first_lineno: int, rows: list[str], n_rows: int) -> None:
    """Raise on the first empty line among the declared rows (a whitespace-only line is an empty row)."""
    for j, s in enumerate(rows):
        if not s:
            raise ValueError(
                f"{name}: line {first_lineno + j}: empty line among the {n_rows} rows declared by the header "
                "(line 1). Remove it (a row without entries is written as a single space), fix the header if "
                "the file ends early, or pass allow_blank_rows=True if this file marks empty rows with empty "
                "lines."
            )


def _chunk_rows(name: str, lines: list[str], first_lineno: int, keep: int, n_rows: int, blank_rows: bool) -> list[str]:
    """The chunk's lines that are rows (at most ``keep``), newline-free; only blank lines may follow the last row."""
    stripped = [ln.rstrip("\r\n") for ln in lines]
    for j, s in enumerate(stripped[keep:]):
        if s.strip():
            raise ValueError(
                f"{name}: line {first_lineno + keep + j}: the header (line 1) declares {n_rows} rows "
                "but the file has more; fix the header or remove the extra lines."
            )
    stripped = stripped[:keep]
    if not blank_rows:
        _check_no_empty_line(name, first_lineno, stripped, n_rows)
    return stripped


def _parse_feature_chunk(name: str, first_lineno: int, feats: list[str], n_cols: int, what: str):
    """``(ids, values float32, counts per row)`` of the ``id:value`` pairs of a chunk's rows."""
    counts = np.fromiter((s.count(":") for s in feats), dtype=np.int64, count=len(feats))
    parsed = _parse_pairs(" ".join(s for s in feats if s), int(counts.sum()))
    if parsed is None:  # maybe just tabs or repeated spaces: normalise the whitespace and retry
        feats = [" ".join(s.split()) for s in feats]
        parsed = _parse_pairs(" ".join(s for s in feats if s), int(counts.sum()))
    if parsed is None:
        _raise_first(name, first_lineno, feats, lambda s: _diagnose_pairs(s, n_cols, what), _pairs_fast_ok)
    ids, vals = parsed
    with np.errstate(over="ignore"):
        vals32 = vals.astype(np.float32)
    if not _ids_ok(ids, counts, n_cols) or not np.all(np.isfinite(vals32)):
        _raise_first(name, first_lineno, feats, lambda s: _diagnose_pairs(s, n_cols, what), _pairs_fast_ok)
    return ids, vals32, counts


def _parse_label_chunk(name: str, first_lineno: int, labs: list[str], n_labels: int):
    """``(label ids, counts per row)`` of a chunk's comma-separated label lists."""
    lcounts = np.fromiter((s.count(",") + 1 if s else 0 for s in labs), dtype=np.int64, count=len(labs))
    lids = _parse_label_ids(",".join(s for s in labs if s), int(lcounts.sum()))
    if lids is None or not _ids_ok(lids, lcounts, n_labels):
        diagnose = lambda s: _diagnose_labels(s, n_labels) if s else None  # noqa: E731
        _raise_first(name, first_lineno, labs, diagnose, _labels_fast_ok)
    return lids, lcounts


def _parse_file(f, name, n_rows, n_cols, n_labels, progress, desc, separators=None, blank_rows=False):
    """Shared streaming parser; ``n_labels`` is ``None`` for LF files (no label list).

    ``separators`` = ``(colons, commas)`` counted beforehand gives exact
    (features) or upper-bound (labels: commas + rows) buffer sizes. An empty
    line among the rows is an error unless ``blank_rows``.
    """
    n_pairs, n_lab = (0, 0) if separators is None else (separators[0], separators[1] + n_rows)
    wide = n_pairs >= _INT32_MAX or n_cols >= _INT32_MAX
    feat = (_Buffer(np.int64 if wide else np.int32, n_pairs), _Buffer(np.float32, n_pairs), _Buffer(np.int64, n_rows))
    if n_labels is not None:
        lab_idx = _Buffer(np.int32 if max(n_labels, n_lab) < _INT32_MAX else np.int64, n_lab)
        lab_cnt = _Buffer(np.int64, n_rows)
    what = "feature" if n_labels is not None else "label"
    row, lineno = 0, 1
    bar = tqdm(total=n_rows, desc=desc, unit="rows", disable=not progress, leave=False)
    for lines in _chunks(f):
        first_lineno = lineno + 1
        lineno += len(lines)
        rows = _chunk_rows(name, lines, first_lineno, max(n_rows - row, 0), n_rows, blank_rows)
        if n_labels is not None:
            split = [_split_xc_line(s) for s in rows]
            lids, lcounts = _parse_label_chunk(name, first_lineno, [a for a, _ in split], n_labels)
            lab_idx.append(lids)
            lab_cnt.append(lcounts)
            feats = [b.strip() for _, b in split]
        else:
            feats = [s.strip() for s in rows]
        for buffer, part in zip(feat, _parse_feature_chunk(name, first_lineno, feats, n_cols, what)):
            buffer.append(part)
        row += len(rows)
        bar.update(len(rows))
    bar.close()
    if row < n_rows:
        raise ValueError(
            f"{name}: line {lineno + 1}: the file ends after {row} rows but the header (line 1) "
            f"declares {n_rows}; the file is truncated or the header is wrong."
        )
    X = _to_csr(*feat, n_rows, n_cols)
    if n_labels is None:
        return X
    lab_val = _Buffer(np.float32, lab_idx.size)
    lab_val.append(np.ones(lab_idx.size, dtype=np.float32))
    Y = _to_csr(lab_idx, lab_val, lab_cnt, n_rows, n_labels)
    return X, Y


def _pairs_fast_ok(text: str) -> bool:
    return _parse_pairs(text, text.count(":")) is not None


def _labels_fast_ok(text: str) -> bool:
    return not text or _parse_label_ids(text, text.count(",") + 1) is not None


def _raise_first(name: str, first_lineno: int, texts: list[str], diagnose, fast_ok) -> None:
    """Find the first bad line of a chunk (exact diagnosis, else the fast parser per line) and raise."""
    for j, s in enumerate(texts):
        msg = diagnose(s)
        if msg is None and not fast_ok(s):
            msg = f"malformed content {s[:80]!r}"
        if msg is not None:
            raise ValueError(f"{name}: line {first_lineno + j}: {msg}.")
    raise ValueError(  # pragma: no cover - the chunk checks and the per-line checks agree
        f"{name}: lines {first_lineno}-{first_lineno + len(texts) - 1}: malformed content."
    )


def _to_csr(idx: _Buffer, val: _Buffer, cnt: _Buffer, n_rows: int, n_cols: int) -> sp.csr_matrix:
    indices, data = idx.finish(), val.finish()
    if indices.size >= _INT32_MAX and indices.dtype != np.int64:
        indices = indices.astype(np.int64)  # only for streams too large for int32 offsets
    indptr = np.zeros(n_rows + 1, dtype=indices.dtype)
    np.cumsum(cnt.finish(), out=indptr[1:])
    M = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols), copy=False)
    M.has_sorted_indices = True
    return M


