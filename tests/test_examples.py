"""The fast examples run as a user runs them (a subprocess, from the repository root) and print results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _row(out: str, name: str) -> list[float]:
    line = next(ln for ln in out.splitlines() if ln.startswith(f"| {name} |"))
    return [float(c) for c in line.strip("|").split("|")[1:]]


@pytest.mark.slow
def test_digits_example():
    out = _run("digits.py", "--trials", "1")
    # Poisson at 3 labels per class: transduction and induction both well above chance (10 %)
    rows = [ln for ln in out.splitlines() if ln.startswith("| PoissonClassifier | 3 |")]
    trans, pred = (float(c) for c in rows[0].strip("|").split("|")[2:4])
    assert trans > 85 and pred > 85
    assert "scores (1, 1797, 10)" in out


@pytest.mark.slow
def test_cora_example():
    if not os.environ.get("GRAPHVAR_SHARED_DATA"):
        pytest.skip("GRAPHVAR_SHARED_DATA is not set (Cora's raw Planetoid files)")
    out = _run("cora.py")
    assert "2708 nodes" in out and "largest component: 2485 nodes" in out
    poisson = _row(out, "poisson")
    assert len(poisson) == 3 and poisson[1] > 50        # 3 labels per class on Cora's largest component
