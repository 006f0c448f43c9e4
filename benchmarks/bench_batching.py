"""Seconds per labeled set: one set per call vs B sets per call, on FashionMNIST 70k.

The same seeded labeled sets (1 label per class) are solved one per call and
in batches of ``B`` (one wide ``(n, B·c)`` product per step, each set leaving
the product at its own stop time), with graphvar's automatic RCM renumbering
(``graphvar.solvers.methods.REORDER_MIN_NODES``) and without it. Timings
include the stopping rule. Cells are interleaved so all see the same load.

Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_batching.py [--threads 1] [--sets 10]

Prints a Markdown table and writes ``benchmarks/results/bench_batching.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import graphvar.solvers.methods as methods  # noqa: E402
from graphvar.benchmark.data import load_benchmark_data  # noqa: E402
from graphvar.benchmark.protocol import labeled_sets  # noqa: E402
from graphvar.provenance import loadavg, provenance  # noqa: E402


def _time_per_set(solver, graph, Y: np.ndarray, batch: int, **kw) -> float:
    t0 = time.perf_counter()
    for start in range(0, Y.shape[0], batch):
        solver(graph, Y[start:start + batch], **kw)
    return (time.perf_counter() - t0) / Y.shape[0]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sets", type=int, default=10, help="labeled sets (1 label per class)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--solvers", nargs="+", default=["poisson", "vpoisson", "laplace"])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_batching.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    prov = provenance()
    data = load_benchmark_data("fashionmnist", features="vae", graph="knn", k=10)
    sets = labeled_sets(data.labels, 1, args.sets, seed=0, key="fashionmnist")
    Y = np.full((len(sets), data.labels.size), -1, dtype=np.int64)
    for b, s in enumerate(sets):
        Y[b, s] = data.labels[s]
    rows = []
    for name in args.solvers:
        solver = getattr(methods, name)
        for reorder in (True, False):
            methods.REORDER_MIN_NODES = 20_000 if reorder else 10**12
            data.graph.reordered()  # the one-off renumbering is not part of a solve
            for batch in args.batches:
                secs = _time_per_set(solver, data.graph, Y, batch)
                rows.append({"solver": name, "rcm": reorder, "batch": batch, "seconds_per_set": secs,
                             "loadavg": loadavg()})
                print(rows[-1], flush=True)
    methods.REORDER_MIN_NODES = 20_000
    record = {"benchmark": "bench_batching", "provenance": prov, "threads": args.threads, "n_sets": len(sets),
              "graph": data.info.get("graph_desc"), "rows": rows, "loadavg_end": loadavg()}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(render(record))
    return record


def render(record: dict) -> str:
    """Markdown: seconds per set by solver × renumbering × batch size, and the gain over one per call."""
    batches = sorted({r["batch"] for r in record["rows"]})
    lines = [f"FashionMNIST 70k ({record['graph']}), {record['n_sets']} labeled sets at 1 label/class, "
             f"{record['threads']} thread(s); seconds per labeled set (stopping rule included).", "",
             "| solver | RCM | " + " | ".join(f"B={b}" for b in batches) + " | one per call / best batch |",
             "|---|---|" + "---:|" * (len(batches) + 1)]
    keys = sorted({(r["solver"], r["rcm"]) for r in record["rows"]}, key=lambda k: (k[0], not k[1]))
    for solver, rcm in keys:
        cells = {r["batch"]: r["seconds_per_set"] for r in record["rows"] if (r["solver"], r["rcm"]) == (solver, rcm)}
        gain = cells[batches[0]] / min(cells.values())
        lines.append(f"| {solver} | {'yes' if rcm else 'no'} | " + " | ".join(f"{cells[b]:.2f}" for b in batches)
                     + f" | {gain:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
