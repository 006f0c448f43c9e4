"""Shared helpers of the fuzz tests: the property "a clear error or a finite, valid result"."""

from __future__ import annotations

import os
import traceback
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Examples per fuzz test; GRAPHVAR_FUZZ_EXAMPLES=500 (say) explores more, with random seeds.
EXAMPLES = int(os.environ.get("GRAPHVAR_FUZZ_EXAMPLES", "0"))


def fuzz_settings(n: int):
    """Hypothesis settings: ``n`` derandomized examples in CI (reproducible), more on request."""
    return settings(max_examples=EXAMPLES or n, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], database=None)


def _ours(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by a validation in graphvar (or scikit-learn's validation helpers)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    where = frames[-1].filename.replace("\\", "/")
    return "/graphvar/" in where or "/sklearn/utils/" in where


def error_or_valid(fn, check=None, errors=(ValueError, TypeError)):
    """Call ``fn``; pass if it raises one of ``errors`` from a graphvar check with a message, or if it
    returns a result whose arrays are finite and ``check(result)`` holds. Anything else fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except errors as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        assert _ours(exc), f"not raised by a graphvar check: {type(exc).__name__}: {exc}\n" + "".join(
            traceback.format_exception(exc))
        return None
    assert finite(out), f"non-finite result without an error: {out!r}"[:500]
    if check is not None:
        assert check(out), f"invalid result: {out!r}"[:500]
    return out


def finite(obj) -> bool:
    if isinstance(obj, torch.Tensor):
        return not obj.is_floating_point() or bool(torch.isfinite(obj).all())
    if sp.issparse(obj):
        return bool(np.isfinite(obj.data).all())
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind not in "fc" or bool(np.isfinite(obj).all())
    if isinstance(obj, (tuple, list)):
        return all(finite(o) for o in obj)
    if isinstance(obj, float):
        return bool(np.isfinite(obj))
    return True


MAGNITUDES = st.sampled_from([0.0, 1e-300, 1e-30, 1.0, 1e30, 1e300, np.nan, np.inf, -np.inf])
DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_, object,
                          np.complex128])


@st.composite
def feature_arrays(draw, max_n=14, max_d=4):
    """Random feature matrices: shapes (incl. empty and 1-D), dtypes and magnitudes (incl. NaN, inf)."""
    n = draw(st.integers(0, max_n))
    d = draw(st.integers(0, max_d))
    seed = draw(st.integers(0, 2**16))
    base = np.random.default_rng(seed).normal(size=(n, d))
    scale = draw(MAGNITUDES)
    with np.errstate(all="ignore"):
        X = base * scale if draw(st.booleans()) else base
        if n and d and draw(st.booleans()):
            X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(MAGNITUDES)
        dtype = draw(DTYPES)
        X = X.astype(dtype) if dtype is not object else X.astype(object)
    shape = draw(st.sampled_from(["2d", "2d", "2d", "1d", "3d"]))
    return X.ravel() if shape == "1d" else X[..., None] if shape == "3d" else X


@st.composite
def label_vectors(draw, n):
    """Label patterns: class ids, -1, -2, all unlabeled, strings, "-1", mixed, floats, NaN."""
    kind = draw(st.sampled_from(["ints", "ints", "ints", "all-1", "neg", "str", "str-1", "mixed", "float",
                                 "nan", "bool", "short"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y = rng.integers(-1, 3, size=n)
    if kind == "all-1":
        y[:] = -1
    elif kind == "neg":
        y[: max(1, n // 3)] = -2
    elif kind == "str":
        return np.where(y == -1, None, np.array(["a", "b", "c"])[np.maximum(y, 0)]).astype(object)
    elif kind == "str-1":
        return np.where(y == -1, "-1", y.astype(str))
    elif kind == "mixed":
        return [("x" if v == 1 else int(v)) for v in y]
    elif kind == "float":
        return y + draw(st.sampled_from([0.0, 0.5]))
    elif kind == "nan":
        return np.where(y == 2, np.nan, y.astype(float))
    elif kind == "bool":
        return y > 0
    elif kind == "short":
        return y[:-1]
    return y


@st.composite
def adjacency(draw, n):
    """Random weight matrices: symmetric or not, negative, isolated nodes, edgeless, huge or tiny, NaN."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    density = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
    A = rng.random((n, n)) * (rng.random((n, n)) < density)
    kind = draw(st.sampled_from(["sym", "sym", "sym", "asym", "neg", "isolated", "scaled", "nan"]))
    if kind != "asym":
        A = (A + A.T) / 2
    if kind == "neg":
        A = -A
    elif kind == "isolated" and n:
        A[0, :] = A[:, 0] = 0
    elif kind == "scaled":
        with np.errstate(all="ignore"):
            A = A * draw(MAGNITUDES)
    elif kind == "nan" and n > 1:
        A[0, 1] = A[1, 0] = np.nan
    np.fill_diagonal(A, 0)
    return sp.csr_matrix(A) if draw(st.booleans()) else A
