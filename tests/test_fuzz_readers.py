"""Fuzz the file readers with random bytes, truncations and mutations: an error naming the file
(ValueError, or FileNotFoundError) or a valid matrix -- never a decode/gzip/zip crash."""

from __future__ import annotations

import gzip
import io

import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from graphvar.datasets import read_idx
from graphvar.xmc import evaluate, inverse_propensity, load_npz, read_lf, read_xc, save_npz, write_lf, write_xc

from fuzz_util import error_or_valid, fuzz_settings

rng = np.random.default_rng(0)
X0 = sp.random(12, 6, density=0.4, random_state=1, format="csr", dtype=np.float32)
Y0 = sp.csr_matrix((rng.random((12, 4)) < 0.4).astype(np.float32))


def _text(kind: str) -> bytes:
    buf = io.StringIO()
    write_xc(buf, X0, Y0) if kind == "xc" else write_lf(buf, X0)
    return buf.getvalue().encode()


GOOD = {"xc": _text("xc"), "lf": _text("lf")}


@st.composite
def damaged(draw, good: bytes):
    """Random bytes, a truncation, a mutated byte, an inserted empty line, or a re-encoding of ``good``."""
    kind = draw(st.sampled_from(["random", "truncate", "mutate", "blank", "utf16", "good"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "truncate":
        return good[: draw(st.integers(0, len(good)))]
    if kind == "mutate":
        i = draw(st.integers(0, len(good) - 1))
        return good[:i] + bytes([draw(st.integers(0, 255))]) + good[i + 1:]
    if kind == "blank":
        lines = good.split(b"\n")
        i = draw(st.integers(1, len(lines) - 1))
        return b"\n".join(lines[:i] + [b""] + lines[i:])
    if kind == "utf16":
        return good.decode().encode("utf-16")
    return good


def _valid_xc(out) -> bool:
    X, Y = out
    return X.shape[0] == Y.shape[0] and X.has_sorted_indices and (Y.data == 1).all()


@fuzz_settings(120)
@given(data=st.data(), kind=st.sampled_from(["xc", "lf"]), gz=st.booleans(), gz_cut=st.booleans())
def test_fuzz_text_readers(tmp_path_factory, data, kind, gz, gz_cut):
    raw = data.draw(damaged(GOOD[kind]))
    path = tmp_path_factory.mktemp("f") / ("data.txt.gz" if gz else "data.txt")
    if gz:
        comp = gzip.compress(raw)
        raw = comp[: data.draw(st.integers(0, len(comp)))] if gz_cut else comp
    path.write_bytes(raw)
    reader, check = (read_xc, _valid_xc) if kind == "xc" else (read_lf, lambda M: M.has_sorted_indices)
    error_or_valid(lambda: reader(path), check, errors=(ValueError,))
    try:  # and the message names the file
        reader(path)
    except ValueError as exc:
        assert str(path) in str(exc), str(exc)


@fuzz_settings(40)
@given(raw=st.binary(max_size=400), cut=st.integers(0, 2000), mode=st.sampled_from(["random", "npz"]))
def test_fuzz_load_npz(tmp_path_factory, raw, cut, mode):
    path = tmp_path_factory.mktemp("n") / "m.npz"
    if mode == "npz":
        save_npz(path, X0)
        raw = path.read_bytes()[:cut]
    path.write_bytes(raw)
    out = error_or_valid(lambda: load_npz(path), errors=(ValueError,))
    if out is not None:
        assert sp.isspmatrix_csr(out)


@fuzz_settings(40)
@given(raw=st.binary(max_size=120), header=st.booleans(), gz=st.booleans())
def test_fuzz_read_idx(tmp_path_factory, raw, header, gz):
    if header:
        raw = b"\x00\x00\x08\x02\x00\x00\x00\x03\x00\x00\x00\x02" + raw
    path = tmp_path_factory.mktemp("i") / ("a.gz" if gz else "a")
    path.write_bytes(gzip.compress(raw)[: len(raw)] if gz else raw)
    error_or_valid(lambda: read_idx(path), errors=(ValueError,))


@fuzz_settings(60)
@given(data=st.data(), sparse=st.booleans(), k=st.integers(-1, 6),
       scale=st.sampled_from([1.0, 0.0, 1e300, np.nan, -np.inf]))
def test_fuzz_xmc_metrics(data, sparse, k, scale):
    n, L = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    r = np.random.default_rng(data.draw(st.integers(0, 999)))
    with np.errstate(all="ignore"):
        S = r.random((n, L)) * scale
    Y = sp.csr_matrix((r.random((n if data.draw(st.booleans()) else n + 1, L)) < 0.5).astype(np.float32))
    S = sp.csr_matrix(S) if sparse else S
    out = error_or_valid(lambda: evaluate(S, Y, inverse_propensity(Y), ks=(k,)))
    if out is not None:
        assert all(0.0 <= v <= 1.0 + 1e-9 for v in out.values() if np.isfinite(v)), out
