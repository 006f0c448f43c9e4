"""Time the edge-tensor methods (graph nearest neighbour, p-eikonal, p-Laplace, AMLE, sparse label propagation).

These are the methods built on ``Graph.neighbour_reduce`` (row-wise sum / min /
max of a tensor with one row per stored edge). The script uses only the public
solvers and the benchmark loaders, which every version shares, so that
``benchmarks/before_after.py`` can run it on an older commit::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/before_after.py --before 901a699 \\
        --script benchmarks/time_edge_methods.py --rounds 2 --name edge_methods_fashionmnist \\
        -- --dataset fashionmnist

Every method solves the same ``--sets`` seeded labeled sets (``--rate`` labels
per class) one at a time; a row is a method's mean seconds per set, and the
predictions' fingerprint is stored so that two versions can be checked to
agree. Writes a JSON with ``rows`` (stage, impl, seconds) to ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

DATASETS = ("digits", "cora", "citeseer", "cora_knn", "citeseer_knn", "fashionmnist")
METHODS = ("graph_nearest_neighbor", "peikonal", "plaplace", "amle", "sparse_label_propagation")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashionmnist", choices=DATASETS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--rate", type=int, default=1, help="labels per class")
    ap.add_argument("--sets", type=int, default=1, help="labeled sets per method")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import graphvar  # first: the version on PYTHONPATH (before_after.py's "before" tree), not this checkout's
    from graphvar.benchmark.data import load_benchmark_data
    from graphvar.benchmark.protocol import labeled_sets

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_gl_methods import DATASETS as SPECS  # the one table of the benchmark graphs

    spec = dict(SPECS[args.dataset])
    d = load_benchmark_data(spec.pop("name"), **spec)
    y = np.asarray(d.labels)
    sets = labeled_sets(y, args.rate, args.sets, seed=0, key=args.dataset)
    rows = []
    for method in args.methods:
        solve, seconds, digest = getattr(graphvar, method), [], hashlib.sha1()
        for s in sets:
            Y = np.full(y.size, -1)
            Y[s] = y[s]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                scores = solve(d.graph, Y)
                seconds.append(time.perf_counter() - t0)
            digest.update(scores.argmax(-1).cpu().numpy().astype(np.int64).tobytes())
        rows.append({"stage": f"{args.dataset} {method} (rate {args.rate})", "impl": "defaults, one set per call",
                     "seconds": float(np.mean(seconds)), "predictions_sha1": digest.hexdigest()[:12]})
        print(f"{rows[-1]['stage']}: {rows[-1]['seconds']:.3g} s per set", flush=True)
    record = {"benchmark": "time_edge_methods", "dataset": args.dataset, "n": int(y.size), "rate": args.rate,
              "sets": args.sets, "rows": rows, "loadavg": list(os.getloadavg())}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
