"""Shared test fixtures.

The real datasets are never committed: tests find them in the folder named by
``GRAPHVAR_SHARED_DATA`` (CI sets it to ``../shared/data``), falling back to
``../shared/data`` beside the checkout, and skip when neither exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Two cores shared with other processes: one torch thread keeps tests stable.
torch.set_num_threads(1)


def _shared_data_dir() -> Path | None:
    env = os.environ.get("GRAPHVAR_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder holding ``planetoid/`` and ``xmc/`` (skips the test if absent)."""
    path = _shared_data_dir()
    if path is None:
        pytest.skip("shared datasets not found: set GRAPHVAR_SHARED_DATA")
    return path
