"""Run one benchmark script on two commits, alternating, and compare stage by stage.

The *before* commit is checked out in a temporary git worktree (a script it
does not have yet is taken from this checkout); each round
runs the before script (with the before package on ``PYTHONPATH``) and then
the after one, so both see the same machine load. The benchmark must write a
JSON with a ``rows`` list of ``{"stage", "impl", "seconds", ...}`` records
(``benchmarks/bench_core.py`` does) to the path given by ``--out``; other
numeric keys ending in ``seconds``/``_s`` are compared too.

Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/before_after.py --before 4f696a6 \\
        --script benchmarks/bench_core.py --rounds 2 --name bench_core_engine -- --threads 1

Prints a Markdown table (min over rounds, after / before) and writes
``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graphvar.provenance import provenance  # noqa: E402


def _run(tree: Path, script: str, out: Path, extra: list[str]) -> dict:
    """Run ``script`` (from ``tree``, or from this checkout when ``tree`` lacks it) on ``tree``'s package."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    path = tree / script if (tree / script).exists() else ROOT / script
    cmd = [sys.executable, str(path), "--out", str(out), *extra]
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    path = out if out.suffix == ".json" else out.with_suffix(".json")
    return json.loads(path.read_text())


def _timings(record: dict) -> dict[str, float]:
    out = {}
    for r in record.get("rows", []):
        key = f"{r['stage']} | {r['impl']}"
        out[key] = float(r["seconds"])
        if r.get("batch_seconds_per_set") is not None:
            out[key + " | batched s/set"] = float(r["batch_seconds_per_set"])
    return out


def compare(before: list[dict], after: list[dict]) -> list[dict]:
    """Per stage: the minimum seconds over rounds of each, and their ratio."""
    keys = list(_timings(after[0]))
    rows = []
    for k in keys:
        b = [_timings(r).get(k) for r in before]
        a = [_timings(r).get(k) for r in after]
        b, a = [x for x in b if x is not None], [x for x in a if x is not None]
        if not b or not a:
            continue
        rows.append({"stage": k, "before_s": min(b), "after_s": min(a), "after_over_before": min(a) / min(b)})
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="commit of the 'before' run")
    ap.add_argument("--script", required=True, help="benchmark script, relative to the repository")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--name", required=True, help="result stem under benchmarks/results/")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="arguments after -- go to the script")
    args = ap.parse_args(argv)
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    prov = provenance(argv=[Path(__file__).name, *(argv if argv is not None else sys.argv[1:])])
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            before, after = [], []
            for i in range(args.rounds):
                before.append(_run(old, args.script, Path(tmp) / f"b{i}.json", extra))
                after.append(_run(ROOT, args.script, Path(tmp) / f"a{i}.json", extra))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    rows = compare(before, after)
    from graphvar.provenance import loadavg

    record = {"benchmark": "before_after", "script": args.script, "before": args.before,
              "rounds": args.rounds, "script_args": extra, "provenance": prov, "loadavg_end": loadavg(), "rows": rows}
    lines = ["| stage | before s | after s | after / before |", "|---|---:|---:|---:|"]
    lines += [f"| {r['stage']} | {r['before_s']:.3g} | {r['after_s']:.3g} | {r['after_over_before']:.2f} |"
              for r in rows]
    print("\n".join(lines))
    out = ROOT / "benchmarks" / "results" / f"{args.name}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
