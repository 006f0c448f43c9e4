"""Helpers shared by ``benchmarks/report.py`` and ``benchmarks/report_mbo.py``: paths, record lookup, table rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphvar.benchmark.report import (  # noqa: E402
    paired_accuracies, paired_difference, read_json, record_machine, summary)

RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
RATES = [1, 2, 3, 4, 5]


def _script(name: str):
    """Import ``benchmarks/<name>.py`` (for its renderer)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rec(stem: str) -> dict:
    return read_json(RESULTS / f"{stem}.json")


def _cell(record: dict, method: str, rate: int) -> str:
    mu, sd = summary(record)[(method, rate)]
    return f"{mu:.1f} ({sd:.1f})"


def _entry(record: dict, method: str, rate: int) -> dict:
    return next(e for e in record["results"] if e["method"] == method and e["rate"] == rate)


def _paired(a: dict, ma: str, b: dict, mb: str, rates=RATES) -> list[str]:
    """Paired difference cells (matched by labeled-set index where the records carry it)."""
    return ["{:+.2f} ± {:.2f}".format(*paired_difference(*paired_accuracies(_entry(a, ma, r), _entry(b, mb, r))))
            for r in rates]


def _row(name: str, cells) -> str:
    return f"| {name} | " + " | ".join(cells) + " |"


def _source(*stems: str) -> str:
    return ", ".join(f"`benchmarks/results/{s}.json`" for s in stems)


def _load(record: dict) -> str:
    m = record_machine(record)
    load = m.get("loadavg")
    return f"load {load[0]:.1f} on {m.get('cpu_count')} CPUs" if load else "load not recorded"
