"""Bad-input survey: ~300 wrong calls over every public entry point, each classified.

For each call the outcome is one of

* ``error``   a ``ValueError``/``TypeError`` (or ``FileNotFoundError``, a dataset
  error) whose message names what was wrong (a keyword of the case);
* ``valid``   a finite, valid result where one is acceptable;
* ``unclear`` the right exception type, but the message does not say what was wrong;
* ``crash``   any other exception (``RuntimeError`` from torch, ``AttributeError``,
  ``UnicodeDecodeError``, ``gzip.BadGzipFile``, a CLI traceback, ...);
* ``silent``  a result that is non-finite or wrong (NaN scores, a class for
  unlabeled nodes, the string ``"-1"`` taken as a class) without an error.

The before/after table of issue 12 (the *before* column from a temporary
checkout of the commit given, run by this same script)::

    python benchmarks/bad_input_survey.py --before-commit e7d0499 --json benchmarks/results/bad_input_survey.json

The cases use only the public API, so the same script runs on both versions.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import torch

OK_ERRORS = (ValueError, TypeError, FileNotFoundError)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bad_input_cases import CASES, Case, finite, given_graph_cases, graph_cases, estimator_cases, nn_cases, solver_cases  # noqa: E402,E501
from bad_input_files import cli_cases, dataset_cases, xmc_cases  # noqa: E402


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run_case(c: Case, timeout: int = 60) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = c.fn()
        signal.alarm(0)
    except Timeout:
        c.outcome, c.detail = "crash", f"hang > {timeout} s"
        return
    except BaseException as exc:  # noqa: BLE001 - classifying every failure is the point
        signal.alarm(0)
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
        c.detail = msg
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, OK_ERRORS) or type(exc).__name__ in ("ChecksumError", "NotFittedError"):
            text = str(exc).lower()
            named = not c.keys or any(k.lower() in text for k in c.keys)
            c.outcome = "error" if named else "unclear"
        else:
            c.outcome = "crash"
        return
    c.extra["warnings"] = [str(w.message)[:120] for w in caught]
    ok = finite(result) and (c.check is None or bool(c.check(result)))
    if c.expect == "either" and ok:
        c.outcome = "valid"
    elif c.expect == "cli":
        c.outcome, c.detail = result
    else:
        c.outcome = "silent"
        c.detail = "returned " + ("a non-finite result" if not finite(result) else
                                  "a result (expected an error)" if c.check is None or ok else "a wrong result")
        if caught:
            c.detail += f" (warned: {str(caught[0].message)[:100]})"


def build_cases(tmp: Path):
    for f in (graph_cases, given_graph_cases, solver_cases, estimator_cases, nn_cases):
        f()
    for f in (dataset_cases, xmc_cases, cli_cases):
        f(tmp)


def summarize(cases) -> dict:
    by = defaultdict(Counter)
    for c in cases:
        by[c.category][c.outcome] += 1
    return {k: dict(v) for k, v in by.items()}


def _scrub(text: str) -> str:
    """Messages without this machine's folders: the data roots and the temporary folder by name."""
    import re

    folders = [(os.environ.get(v), f"${v}") for v in ("GRAPHVAR_SHARED_DATA", "GRAPHVAR_DATA")]
    for folder, name in folders + [(tempfile.gettempdir(), "$TMP")]:
        if folder:
            for form in {str(Path(folder).resolve()), folder}:
                text = re.sub(re.escape(form) + r"(?![\w.-])", lambda m: name, text)
    return text


def _run_before(commit: str) -> str:
    """Run this script on a temporary checkout of ``commit``; return the path of its JSON."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _checkout import checkout

    out = Path(tempfile.mkdtemp()) / "before.json"
    with checkout(commit) as tree:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--json", str(out)], cwd=tree, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    return str(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None, help="write every case and its outcome here")
    p.add_argument("--compare", default=None, help="a JSON of an earlier run: print before -> after")
    p.add_argument("--before-commit", default=None, help="run the cases on this commit first (temporary "
                   "checkout) and compare")
    p.add_argument("--only", default=None, help="substring of the entry point to run")
    p.add_argument("--bad", action="store_true", help="list only the cases that are not error/valid")
    a = p.parse_args(argv)
    if a.before_commit:
        a.compare = _run_before(a.before_commit)
    torch.set_num_threads(1)
    os.environ.setdefault("GRAPHVAR_DATA", tempfile.mkdtemp())
    with tempfile.TemporaryDirectory() as d:
        build_cases(Path(d))
        cases = [c for c in CASES if a.only is None or a.only in c.entry]
        for c in cases:
            run_case(c)
            c.detail = _scrub(c.detail)
    counts = Counter(c.outcome for c in cases)
    print(f"{len(cases)} cases: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    before, before_record = {}, None
    if a.compare:
        before_record = json.loads(Path(a.compare).read_text())
        for r in before_record["cases"]:
            before[(r["entry"], r["desc"])] = r
    print("\n| category | entry point | input | before | after | message / detail |")
    print("|---|---|---|---|---|---|")
    for c in cases:
        b = before.get((c.entry, c.desc), {}).get("outcome", "")
        if a.bad and c.outcome in ("error", "valid") and b in ("", "error", "valid"):
            continue
        print(f"| {c.category} | {c.entry} | {c.desc} | {b} | {c.outcome} | {c.detail[:140].replace('|', '/')} |")
    if a.json:
        from graphvar.provenance import provenance

        record = {"provenance": provenance(), "counts": dict(counts), "by_category": summarize(cases),
                  "cases": [{"category": c.category, "entry": c.entry, "desc": c.desc, "outcome": c.outcome,
                             "before": before.get((c.entry, c.desc), {}).get("outcome"),
                             "detail": c.detail, **c.extra} for c in cases]}
        if before_record is not None:
            record["before"] = {"commit": a.before_commit or before_record["provenance"].get("git_commit"),
                                "counts": before_record["counts"], "by_category": before_record["by_category"],
                                "provenance": before_record["provenance"]}
        from graphvar.benchmark.report import write_json

        write_json(json.loads(json.dumps(record, default=str)), a.json)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
