"""Validators shared by every public entry point of graphvar.

Each raises a ``TypeError`` or ``ValueError`` whose message names the
argument, shows the bad value and says how to fix it. Modules import these
instead of writing their own checks, so one kind of mistake gets one message
everywhere.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_device",
    "check_dtype",
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_class_ids",
    "check_label_matrix",
    "check_finite_output",
]

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "single": torch.float32,
    "double": torch.float64,
}


def check_device(device) -> torch.device:
    """Return ``torch.device(device)``, raising ``ValueError`` when it cannot be used here.

    ``None`` means the CPU.
    """
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device ({exc}); use 'cpu', 'cuda' or 'cuda:0'."
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available to torch {torch.__version__}; "
                "use device='cpu' or install a CUDA build of torch."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible.")
    return dev


def check_dtype(dtype, *, name: str = "dtype", default: torch.dtype = torch.float32) -> torch.dtype:
    """Resolve a floating dtype given as ``torch.float32``, ``"float64"``, ``np.float32`` or ``None``.

    Only float32 and float64 are accepted: every solver needs them (float16
    overflows degrees and the stopping rule's tolerance; integer weights
    would truncate the kernel to zero).
    """
    if dtype is None:
        return default
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif isinstance(dtype, str):
        resolved = _DTYPES.get(dtype.lower().replace("torch.", ""))
    else:
        try:
            resolved = _DTYPES.get(np.dtype(dtype).name)
        except TypeError:
            resolved = None
    if resolved not in (torch.float32, torch.float64):
        raise TypeError(
            f"{name}={dtype!r} is not supported; use torch.float32 (or 'float32', the default) "
            "or torch.float64 ('float64')."
        )
    return resolved


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer (not a bool) within ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    value = int(value)
    if minimum is not None and value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {what}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    return value


def check_float(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
                strict_minimum: bool = False) -> float:
    """Return ``value`` as a finite ``float`` within bounds (``strict_minimum``: ``> minimum``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    return value


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a bool (numpy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_choice(value: Any, name: str, choices) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")
    return value


def check_class_ids(y: Any, n_samples: int | None = None, *, name: str = "y", n_classes: int | None = None,
                    batched: bool = False) -> np.ndarray:
    """Validate integer class ids ``0..c-1`` with ``-1`` = unlabeled; return them as int64.

    This is the parser of the solver functions (:func:`graphvar.poisson` and
    friends), which take class ids; the estimators take any label values and
    encode them with :func:`graphvar.base.encode_labels` first.

    Parameters
    ----------
    y : array-like or Tensor of shape (n,) (or (B, n) when ``batched``)
        Integer-valued numbers (bools count as 0/1).
    n_samples : int, optional
        Expected length of the last axis.
    name : str
        Argument name used in messages.
    n_classes : int, optional
        Ids must be ``< n_classes``.
    batched : bool
        Also accept a ``(B, n)`` batch of labeled sets.

    Returns
    -------
    ndarray of int64, the shape of ``y``

    Raises
    ------
    TypeError
        Strings, objects, complex or non-integer values.
    ValueError
        NaN/inf, wrong shape or length, ids below -1 or ``>= n_classes``, or a
        labeled set without a labeled sample.
    """
    if isinstance(y, torch.Tensor):
        arr = y.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(y)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} could not be read as an array of class ids ({exc}).") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold integer class ids (0..c-1, -1 = unlabeled), got dtype {arr.dtype}; "
                        "encode string labels first (the estimators, e.g. PoissonClassifier, accept any labels).")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values; mark unlabeled samples with -1.")
        if not (arr == np.round(arr)).all():
            bad = arr[arr != np.round(arr)][:3].tolist()
            raise TypeError(f"{name} must hold integer class ids (-1 = unlabeled); got non-integer values {bad}.")
    ndims = (1, 2) if batched else (1,)
    if arr.ndim not in ndims:
        shapes = "(n,) or (B, n)" if batched else "(n,)"
        raise ValueError(f"{name} must have shape {shapes}, got {arr.shape}.")
    if n_samples is not None and arr.shape[-1] != n_samples:
        raise ValueError(f"{name} has length {arr.shape[-1]} but there are {n_samples} samples (graph nodes); "
                         "pass one label per node (-1 = unlabeled).")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < -1:
        bad = np.unique(arr[arr < -1])[:5].tolist()
        raise ValueError(f"{name} holds {bad}: class ids must be >= 0, with -1 (only) marking unlabeled samples.")
    sets = arr.reshape(-1, arr.shape[-1])
    empty = np.flatnonzero(~(sets >= 0).any(axis=1)).tolist()
    if empty:
        where = f" in labeled set(s) {empty}" if arr.ndim == 2 else ""
        raise ValueError(f"no labeled point{where}: {name} is -1 everywhere; give at least one point a class "
                         "id >= 0 (-1 marks unlabeled points).")
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        if arr.max() >= n_classes:
            raise ValueError(f"{name} holds class id {int(arr.max())}, out of range for n_classes={n_classes} "
                             f"(ids 0..{n_classes - 1}); raise n_classes or fix the labels.")
    return arr


def check_label_matrix(Y: Any, *, name: str = "Y", n_rows: int | None = None, binary: bool = True):
    """Validate a multi-label matrix ``(n, L)`` (XMC labels or soft targets); return float32 CSR.

    Parameters
    ----------
    Y : scipy sparse matrix or 2-D array-like of numbers
    name : str
        Argument name used in messages.
    n_rows : int, optional
        Expected number of rows (the feature matrix's).
    binary : bool, default=True
        Entries must be 0 or 1 (``False``: anywhere in ``[0, 1]``, e.g. LEVER soft targets).
    """
    import scipy.sparse as sp

    if not sp.issparse(Y):
        arr = np.asarray(Y) if isinstance(Y, np.ndarray) else None
        if arr is None or arr.ndim != 2:
            raise TypeError(f"{name} must be a scipy sparse (n, L) matrix or a 2-D ndarray, got "
                            f"{type(Y).__name__}" + (f" of shape {arr.shape}" if arr is not None else "") + ".")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}.")
        Y = sp.csr_matrix(arr)
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {Y.dtype}.")
    Y = sp.csr_matrix(Y, dtype=np.float32)
    Y.sum_duplicates()
    if n_rows is not None and Y.shape[0] != n_rows:
        raise ValueError(f"{name} has {Y.shape[0]} rows but X has {n_rows}; they must describe the same points.")
    if Y.nnz:
        if not np.isfinite(Y.data).all():
            raise ValueError(f"{name} contains NaN or infinite values.")
        lo, hi = float(Y.data.min()), float(Y.data.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} must hold values in [0, 1] ({'binary labels' if binary else 'soft targets'}), "
                             f"got range [{lo:g}, {hi:g}].")
        if binary and not np.isin(Y.data, (0.0, 1.0)).all():
            raise ValueError(f"{name} must be binary (0/1); got fractional entries. Pass soft targets where the "
                             "function takes them.")
    return Y


def check_finite_output(value, what: str, hint: str) -> None:
    """Raise ``ValueError`` when a computed array/tensor holds NaN or infinity.

    The rule of the package: finite input gives finite output or an error
    that says why. ``what`` names the result (e.g. "the solver's scores"),
    ``hint`` the likely cause and the fix.
    """
    if isinstance(value, torch.Tensor):
        ok = (not value.is_floating_point()) or bool(torch.isfinite(value).all())
    else:
        arr = np.asarray(value)
        ok = arr.dtype.kind not in "fc" or bool(np.isfinite(arr).all())
    if not ok:
        raise ValueError(f"{what} are not finite (NaN or infinity): {hint}")
