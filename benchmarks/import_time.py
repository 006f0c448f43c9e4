"""Time of ``import graphvar`` beyond torch's own import, this checkout vs another, interleaved.

Each round starts a fresh interpreter per checkout (alternating, so both see the
same load) that imports torch, then graphvar, and prints both times; the table
gives the median over rounds. Also lists which heavy optional packages the
import pulled in::

    python benchmarks/import_time.py --before-commit e7d0499 --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CODE = """
import json, sys, time
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
import graphvar; t2 = time.perf_counter()
heavy = [m for m in ("sklearn", "torch_geometric", "pykeops", "faiss", "matplotlib", "networkx") if m in sys.modules]
print(json.dumps({"torch_s": t1 - t0, "graphvar_s": t2 - t1, "file": graphvar.__file__, "heavy": heavy}))
"""


def measure(root: str) -> dict:
    env = {**os.environ, "PYTHONPATH": root, "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True,
                         cwd=root)
    return json.loads(out.stdout)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before-commit", required=True, help="commit to compare with (checked out in a temporary "
                   "worktree)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json", default="benchmarks/results/import_time.json")
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from graphvar.provenance import provenance

    from _checkout import checkout

    record = {"provenance": provenance(), "before_commit": a.before_commit, "rounds": a.rounds,
              "runs": {"before": [], "after": []}}
    after = str(Path(__file__).resolve().parents[1])
    with checkout(a.before_commit) as tree:
        before = str(tree)
        measure(before), measure(after)  # warm the file cache
        for _ in range(a.rounds):
            for name, root in (("before", before), ("after", after)):
                record["runs"][name].append(measure(root))
    print("| checkout | torch import, s (median) | graphvar beyond torch, s (median) | heavy modules loaded |")
    print("|---|---:|---:|---|")
    for name, runs in record["runs"].items():
        for r in runs:
            r.pop("file")
        med = {k: statistics.median(r[k] for r in runs) for k in ("torch_s", "graphvar_s")}
        record[f"{name}_median"] = med
        print(f"| {name} | {med['torch_s']:.2f} | {med['graphvar_s']:.2f} | {', '.join(runs[0]['heavy']) or '-'} |")
    record["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    print(f"load average before {record['provenance']['machine']['loadavg']}, after {record['loadavg_after']}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
