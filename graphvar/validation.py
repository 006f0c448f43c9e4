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
