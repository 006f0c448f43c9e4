"""XC Repository / LF text formats and npz: round trips, strict validation, real files."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from graphvar.xmc import _textparse
from graphvar.xmc.formats import load_npz, read_lf, read_xc, save_npz, write_lf, write_xc


# --------------------------------------------------------------------------- helpers
def naive_read_xc(path):
    """Independent reference parser: plain loops, no validation."""
    with open(path) as f:
        n, d, L = map(int, f.readline().split())
        xr, xc, xv, yr, yc = [], [], [], [], []
        for i, line in enumerate(f):
            line = line.rstrip("\n")
            toks = line.split(" ")
            if toks[0] and ":" not in toks[0]:
                for lab in toks[0].split(","):
                    yr.append(i)
                    yc.append(int(lab))
                toks = toks[1:]
            for tok in toks:
                if tok:
                    a, b = tok.split(":")
                    xr.append(i)
                    xc.append(int(a))
                    xv.append(float(b))
    X = sp.csr_matrix((np.array(xv, dtype=np.float32), (xr, xc)), shape=(n, d))
    Y = sp.csr_matrix((np.ones(len(yr), dtype=np.float32), (yr, yc)), shape=(n, L))
    return X, Y


def assert_same(A, B):
    assert A.shape == B.shape
    A, B = sp.csr_matrix(A), sp.csr_matrix(B)
    A.sort_indices()
    B.sort_indices()
    np.testing.assert_array_equal(A.indptr, B.indptr)
    np.testing.assert_array_equal(A.indices, B.indices)
    np.testing.assert_array_equal(A.data, B.data)


@st.composite
def sparse_matrices(draw, n_rows=None, binary=False, max_cols=25):
    n = draw(st.integers(0, 12)) if n_rows is None else n_rows
    d = draw(st.integers(1, max_cols))
    mask = np.array(draw(st.lists(st.booleans(), min_size=n * d, max_size=n * d)), dtype=bool).reshape(n, d)
    if binary:
        vals = np.ones(mask.sum(), dtype=np.float32)
    else:
        finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
        nnz = int(mask.sum())
        vals = np.array(draw(st.lists(finite, min_size=nnz, max_size=nnz)), dtype=np.float32)
    r, c = np.nonzero(mask)
    return sp.csr_matrix((vals, (r, c)), shape=(n, d), dtype=np.float32)


# --------------------------------------------------------------------------- round trips
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_xc_round_trip(data):
    X = data.draw(sparse_matrices())
    Y = data.draw(sparse_matrices(n_rows=X.shape[0], binary=True))
    buf = io.StringIO()
    write_xc(buf, X, Y)
    buf.seek(0)
    X2, Y2 = read_xc(buf)
    assert X2.dtype == np.float32 and Y2.dtype == np.float32
    assert_same(X2, X)  # explicit float32 equality: the writer's format round-trips exactly
    assert_same(Y2, Y)


@settings(max_examples=60, deadline=None)
@given(Y=sparse_matrices())
def test_lf_round_trip(Y):
    buf = io.StringIO()
    write_lf(buf, Y)
    buf.seek(0)
    assert_same(read_lf(buf), Y)


def test_round_trip_across_chunks_and_gzip(tmp_path, monkeypatch):
    monkeypatch.setattr(_textparse, "_CHUNK_LINES", 3)
    rng = np.random.default_rng(0)
    X = sp.random(50, 40, density=0.2, random_state=1, format="csr", dtype=np.float32)
    X.data = rng.standard_normal(X.nnz).astype(np.float32)
    Y = sp.random(50, 7, density=0.3, random_state=2, format="csr")
    Y.data[:] = 1
    X = sp.csr_matrix(X.toarray())  # drop zero rows' structure noise; empty rows remain
    for name in ("a.txt", "a.txt.gz"):
        write_xc(tmp_path / name, X, Y)
        X2, Y2 = read_xc(tmp_path / name)
        assert_same(X2, X)
        assert_same(Y2, Y)
        write_lf(tmp_path / ("lf_" + name), X)
        assert_same(read_lf(tmp_path / ("lf_" + name)), X)
    with gzip.open(tmp_path / "a.txt.gz", "rb") as f:  # a binary file object works too
        assert_same(read_xc(f)[0], X)
    with open(tmp_path / "a.txt", "rb") as f:
        assert_same(read_xc(f)[1], Y)


def test_float_format_and_dense_input():
    buf = io.StringIO()
    write_lf(buf, np.array([[0.1, 0.0], [0.0, 2.5]]), float_format="%.3f")
    assert buf.getvalue() == "2 2\n0:0.100\n1:2.500\n"
    buf = io.StringIO()
    write_lf(buf, np.array([[0.1, 0.0], [0.0, 1 / 3]]))  # shortest float32 round trip
    assert buf.getvalue() == "2 2\n0:0.1\n1:0.333333343\n"


def test_lines_without_labels_or_features():
    text = "5 4 3\n 1:2 3:0.5\n2:1\n0,2\n \n1\t0:1e-3\n"
    X, Y = read_xc(io.StringIO(text))
    np.testing.assert_array_equal(
        X.toarray(),
        np.array([[0, 2, 0, 0.5], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1e-3, 0, 0, 0]], np.float32),
    )
    np.testing.assert_array_equal(Y.toarray(), [[0, 0, 0], [0, 0, 0], [1, 0, 1], [0, 0, 0], [0, 1, 0]])


def test_crlf_and_trailing_blank_lines():
    X, Y = read_xc(io.StringIO("2 3 2\r\n1 0:1 2:2 \r\n0,1 1:3\r\n\n\n"))
    np.testing.assert_array_equal(X.toarray(), [[1, 0, 2], [0, 3, 0]])
    np.testing.assert_array_equal(Y.toarray(), [[0, 1], [1, 1]])


def test_npz_round_trip(tmp_path):
    M = sp.random(20, 30, density=0.1, random_state=0, format="coo", dtype=np.float32)
    save_npz(tmp_path / "m.npz", M)
    out = load_npz(tmp_path / "m.npz")
    assert isinstance(out, sp.csr_matrix)
    assert_same(out, M)


# --------------------------------------------------------------------------- strict validation
XC_BAD = [
    ("", 1, "empty"),
    ("3 4\n0 1:1\n", 1, "bad header"),
    ("3 x 2\n0 1:1\n", 1, "bad header"),
    ("3 4 2\n0 1:1\n1 2:1\n", 4, "truncated"),
    ("1 4 2\n0 1:1\n1 2:1\n", 3, "more"),
    ("2 4 2\n0 1:1\n1 2:1 0:3\n", 3, "not sorted"),
    ("2 4 2\n0 1:1\n1 2:1 2:3\n", 3, "duplicate feature id 2"),
    ("2 4 2\n1,0 1:1\n1 2:1\n", 2, "label ids are not sorted"),
    ("2 4 2\n0,0 1:1\n1 2:1\n", 2, "duplicate label id 0"),
    ("2 4 2\n0 1:1\n2 2:1\n", 3, "label id 2 is out of range"),
    ("2 4 2\n0 1:1\n1 4:1\n", 3, "feature id 4 is out of range"),
    ("2 4 2\n0 -1:1\n1 2:1\n", 2, "not a non-negative integer"),
    ("2 4 2\n-1 1:1\n1 2:1\n", 2, "label"),
    ("2 4 2\n0 1:abc\n1 2:1\n", 2, "not a number"),
    ("2 4 2\n0 1:nan\n1 2:1\n", 2, "NaN"),
    ("2 4 2\n0 1:1e60\n1 2:1\n", 2, "overflows float32"),
    ("2 4 2\n0 1:1:2 3\n1 2:1\n", 2, "not of the form"),
    ("2 4 2\n0 1:\n1 2:1\n", 2, "not a number"),
    ("2 4 2\n0 1:1\n1 2\n", 3, "not of the form"),
    ("2 4 2\n0,,1 1:1\n1 2:1\n", 2, "malformed"),
    ("2 4 2\n0 x:1\n1 2:1\n", 2, "not a non-negative integer"),
]


@pytest.mark.parametrize("text,line,fragment", XC_BAD)
def test_read_xc_rejects_malformed(tmp_path, text, line, fragment):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        read_xc(path)
    msg = str(err.value)
    assert f"{path}: line {line}:" in msg
    assert fragment in msg


LF_BAD = [
    ("2 3 1\n0:1\n", 1, "bad header"),
    ("2 3\n0:1\n", 3, "truncated"),
    ("2 3\n0:1\n2:1 1:1\n", 3, "not sorted"),
    ("2 3\n0:1 0:2\n1:1\n", 2, "duplicate label id 0"),
    ("2 3\n0:1\n3:1\n", 3, "label id 3 is out of range"),
    ("2 3\n0:1\n1:inf\n", 3, "NaN or infinite"),
    ("2 3\n0,1\n1:1\n", 2, "not of the form"),
]


@pytest.mark.parametrize("text,line,fragment", LF_BAD)
def test_read_lf_rejects_malformed(text, line, fragment):
    with pytest.raises(ValueError, match=f"line {line}:.*{fragment}"):
        read_lf(io.StringIO(text))


def test_error_line_numbers_in_later_chunks(monkeypatch):
    monkeypatch.setattr(_textparse, "_CHUNK_LINES", 4)
    rows = [f"{i % 3} {i}:1" for i in range(20)]
    rows[12] = "1 5:1 3:1"  # file line 14
    with pytest.raises(ValueError, match="line 14: feature ids are not sorted"):
        read_xc(io.StringIO("20 30 3\n" + "\n".join(rows) + "\n"))
    rows[12] = "7 5:1"
    with pytest.raises(ValueError, match="line 14: label id 7 is out of range"):
        read_xc(io.StringIO("20 30 3\n" + "\n".join(rows) + "\n"))
    rows[12] = "1 5:1"
    with pytest.raises(ValueError, match="line 17: the file ends after 15 rows"):
        read_xc(io.StringIO("20 30 3\n" + "\n".join(rows[:15]) + "\n"))


def test_writers_validate():
    X = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="rows"):
        write_xc(io.StringIO(), X, np.ones((2, 2)))
    with pytest.raises(ValueError, match="binary"):
        write_xc(io.StringIO(), X, 0.5 * np.ones((3, 2)))
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_lf(io.StringIO(), bad)
    with pytest.raises(TypeError, match="path or an open file"):
        read_xc(42)


# --------------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.parametrize(
    "name,shape,n_labels",
    [("corel5k", (4500, 499), 374), ("bibtex", (4880, 1836), 159)],
)
def test_real_train_files(shared_data, name, shape, n_labels):
    path = shared_data / "xmc" / name / "train.txt"
    X, Y = read_xc(path)
    assert X.shape == shape and Y.shape == (shape[0], n_labels)
    assert X.dtype == np.float32 and Y.dtype == np.float32
    Xr, Yr = naive_read_xc(path)
    assert_same(X, Xr)
    assert_same(Y, Yr)
    assert Y.nnz > shape[0]  # multi-label: more than one label per point on average
    assert np.all(np.diff(Y.indptr) >= 0) and X.nnz > 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "-", "+"]),
            st.text("0123456789", min_size=1, max_size=8),
            st.sampled_from(["", "."]),
            st.text("0123456789", max_size=8),
            st.sampled_from(["", "", "e-3", "E+2", "e-41"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_values_parse_like_python_float(parts):
    """Plain decimals take a vectorised path, the rest numpy's parser: both must equal float()."""
    vals = ["".join(p) for p in parts]
    text = f"1 {len(vals)}\n" + " ".join(f"{j}:{v}" for j, v in enumerate(vals)) + "\n"
    got = read_lf(io.StringIO(text)).toarray().ravel()
    np.testing.assert_array_equal(got, np.array([float(v) for v in vals], dtype=np.float64).astype(np.float32))


# --------------------------------------------------------------------------- files that are not XC/LF text
GOOD = {"xc": "3 4 2\n0 0:1 2:0.5\n1 1:2\n0,1 3:1\n", "lf": "3 4\n0:1 2:0.5\n1:2\n3:1\n"}
NOT_TEXT = {
    "bin.txt": (lambda good: b"\x00\x01\x02\xff\xfe" * 40, "not UTF-8 text"),
    "u16.txt": (lambda good: good.encode("utf-16"), "UTF-16"),
    "latin.txt": (lambda good: good.encode().replace(b"0:1", b"0:\xe91"), "not UTF-8 text"),
    "corrupt.txt.gz": (lambda good: b"\x1f\x8b\x08\x00" + b"\x13" * 50, "gzip"),
    "trunc.txt.gz": (lambda good: gzip.compress(good.encode())[:-12], "truncated"),
    "plain.txt.gz": (lambda good: good.encode(), "not a gzip file"),
}


@pytest.mark.parametrize("kind", ["xc", "lf"])
@pytest.mark.parametrize("name", sorted(NOT_TEXT))
def test_readers_name_the_file_that_is_not_text(tmp_path, kind, name):
    make, fragment = NOT_TEXT[name]
    path = tmp_path / name
    path.write_bytes(make(GOOD[kind]))
    with pytest.raises(ValueError, match=fragment) as err:
        (read_xc if kind == "xc" else read_lf)(path)
    assert str(path) in str(err.value)


def test_reader_on_a_directory_or_missing_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        read_xc(tmp_path)
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        read_lf(tmp_path / "absent.txt")


def test_empty_line_among_rows_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("3 4 2\n0 0:1 2:0.5\n\n1 1:2\n")  # the count matches: once silently an empty row
    with pytest.raises(ValueError, match=f"{path}: line 3: empty line"):
        read_xc(path)
    X, Y = read_xc(path, allow_blank_rows=True)
    assert X.shape == (3, 4) and X[1].nnz == 0 and Y[1].nnz == 0
    with pytest.raises(ValueError, match="line 3: empty line"):
        read_lf(io.StringIO("3 4\n0:1\n\n1:1\n"))
    assert read_lf(io.StringIO("3 4\n0:1\n\n1:1\n"), allow_blank_rows=True)[1].nnz == 0
    with pytest.raises(ValueError, match="line 3: empty line"):  # a short file with trailing empty lines
        read_lf(io.StringIO("3 4\n0:1\n\n\n"))


def test_writers_write_empty_rows_as_a_space():
    Y = sp.csr_matrix(np.array([[0, 1.0], [0, 0], [1.0, 0]]))
    buf = io.StringIO()
    write_lf(buf, Y)
    assert buf.getvalue() == "3 2\n1:1\n \n0:1\n"
    buf = io.StringIO()
    write_xc(buf, sp.csr_matrix((3, 2)), Y)
    assert buf.getvalue() == "3 2 2\n1\n \n0\n"
    buf.seek(0)
    assert_same(read_xc(buf)[1], Y)


def test_load_npz_on_garbage_names_the_file(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"not a zip file at all" * 10)
    np.savez(tmp_path / "dense.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="g.npz is not a .npz file"):
        load_npz(tmp_path / "g.npz")
    with pytest.raises(ValueError, match="dense.npz does not hold a scipy sparse matrix"):
        load_npz(tmp_path / "dense.npz")
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "absent.npz")
