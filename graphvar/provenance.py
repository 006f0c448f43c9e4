"""Where a number came from: machine, load, versions, command line and git commit.

Every benchmark record, teacher manifest and feature cache written by
graphvar carries :func:`provenance` so that a reader knows what produced it.
Paths are stored relative to the repository (or the working directory), never
as absolute paths of the machine that wrote them.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["machine_info", "git_commit", "provenance", "relative_path", "loadavg"]


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or ``None`` where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover - not on every platform
        return None


def cpu_model() -> str | None:
    """The CPU's model name (Linux ``/proc/cpuinfo``), or ``None`` where it cannot be read.

    Recorded because float results of long trainings (the VAE features) differ
    between CPU models: a record's numbers are only comparable on the same one.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_info(packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """Machine, load and library versions, recorded with every result.

    Parameters
    ----------
    packages : tuple of str
        Extra distributions whose versions to record (e.g. ``("graphlearning",
        "faiss-cpu")``); absent ones are recorded as ``None``.

    Returns
    -------
    dict
        Date (UTC), platform, processor, CPU model, CPU count, load average, torch threads,
        ``OMP_WAIT_POLICY``, CUDA device name (or ``None``) and versions.
    """
    import torch

    base = ("graphvar", "torch", "numpy", "scipy", "scikit-learn")
    info: dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg": loadavg(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": {name: _version(name) for name in base + tuple(packages)},
    }
    return info


def _repo_root() -> Path | None:
    here = Path(__file__).resolve().parent.parent
    return here if (here / ".git").exists() or (here / "pyproject.toml").exists() else None


def git_commit() -> str | None:
    """The commit of the graphvar checkout (``+dirty`` with uncommitted changes), or ``None``."""
    root = _repo_root()
    if root is None:
        return None
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None


def relative_path(path) -> str:
    """``path`` relative to the repository root (or the working directory) when inside it.

    A path outside both is reduced to its last two components, so no record
    names a folder of the machine that wrote it.
    """
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    p = p.resolve()
    for base in (_repo_root(), Path.cwd().resolve()):
        if base is not None:
            try:
                return str(p.relative_to(base))
            except ValueError:
                pass
    return str(Path(*p.parts[-2:])) if len(p.parts) > 2 else p.name


def provenance(argv: list[str] | None = None, packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything a result needs to be traced: argv, git commit and :func:`machine_info`.

    Parameters
    ----------
    argv : list of str, optional
        The command line (default ``sys.argv``); absolute paths in it are made relative.
    packages : tuple of str
        Extra distributions to record (see :func:`machine_info`).
    """
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = relative_path(argv[0]) if os.path.isabs(argv[0]) else argv[0]
    argv = [relative_path(a) if os.path.isabs(a) else a for a in argv]
    return {"argv": argv, "git_commit": git_commit(), "machine": machine_info(packages)}
