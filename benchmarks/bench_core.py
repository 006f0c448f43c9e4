"""Time graph construction and every solver on FashionMNIST 70k (PCA-50 features).

Each stage is compared with a real peer on the same input in the same run:

* k-NN graph: graphvar's backends vs scikit-learn's exact brute-force
  ``NearestNeighbors`` (same k, same points);
* Poisson: graphvar's torch-CSR iteration vs the same iteration written with
  scipy CSR products (GraphLearning's CPU algorithm, ``u = Db + P u``), on the
  same graph, labeled set and number of steps (the outputs are checked equal).

Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_core.py [--n 70000] [--threads 2]

Prints a Markdown table and writes ``benchmarks/results/bench_core.{json,md}`` (the JSON with
:func:`graphvar.provenance.provenance`).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
import torch
from sklearn.neighbors import NearestNeighbors

import graphvar
from graphvar.benchmark.protocol import labeled_sets
from graphvar.benchmark.report import write_json
from graphvar.datasets import load_fashion_mnist, pca_features
from graphvar.graph import available_backends, knn_graph
from graphvar.solvers import laplace, poisson, random_walk_stop_times, vlaplace, vpoisson

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _accuracy(scores: torch.Tensor, y: np.ndarray, Y: np.ndarray) -> float:
    pred = scores.argmax(-1).cpu().numpy().reshape(Y.shape)
    unl = Y < 0
    return float((pred[unl] == np.broadcast_to(y, Y.shape)[unl]).mean())


def scipy_poisson(W: sp.csr_matrix, labels: np.ndarray, T: int) -> np.ndarray:
    """GraphLearning's CPU Poisson loop with scipy CSR (the peer implementation)."""
    d = np.asarray(W.sum(axis=1)).ravel()
    lab = labels >= 0
    onehot = np.eye(labels.max() + 1, dtype=W.dtype)[labels[lab]]
    b = np.zeros((W.shape[0], onehot.shape[1]), dtype=W.dtype)
    b[lab] = onehot - onehot.mean(axis=0)
    P = sp.diags(1.0 / d).astype(W.dtype) @ W
    Db = b / d[:, None]
    u = np.zeros_like(b)
    for _ in range(T):
        u = Db + P @ u
    return u


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=70000, help="points (first n of train+test)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--pca", type=int, default=50)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batch", type=int, default=10, help="labeled sets in the batched solve")
    ap.add_argument("--backends", nargs="+", default=[b for b in ("faiss", "torch") if b in available_backends()])
    ap.add_argument("--skip-sklearn", action="store_true", help="skip the sklearn k-NN peer")
    ap.add_argument("--out", default=str(RESULTS / "bench_core"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    X, y = load_fashion_mnist()
    X, y = X[: args.n], y[: args.n]
    Z, t_pca = _timed(pca_features, X, n_components=args.pca, seed=0)
    rows: list[dict] = [{"stage": f"PCA-{args.pca} features", "impl": "graphvar (sklearn PCA)", "seconds": t_pca}]

    graph = None
    for backend in args.backends:
        g, secs = _timed(knn_graph, Z, k=args.k, backend=backend)
        rows.append({"stage": f"k-NN graph (k={args.k})", "impl": f"graphvar {backend}", "seconds": secs,
                     "search_seconds": g.info["search_seconds"]})
        graph = graph or g
    if not args.skip_sklearn:
        nn = NearestNeighbors(n_neighbors=args.k + 1, algorithm="brute")
        (_, ref_idx), secs = _timed(lambda: nn.fit(Z).kneighbors(Z))
        rows.append({"stage": f"k-NN search (k={args.k})", "impl": "peer: sklearn brute NearestNeighbors",
                     "seconds": secs})

    sets1 = labeled_sets(y, 1, args.batch, seed=0, key="fashionmnist")
    Y = np.full((args.batch, len(y)), -1, dtype=np.int64)
    for b, s in enumerate(sets1):
        Y[b, s] = y[s]
    single = Y[0]
    solvers = [
        ("laplace (iterative)", laplace, {}),
        ("laplace (exact CG)", laplace, {"method": "exact"}),
        ("laplace + dispersion norm.", laplace, {"normalize": True}),
        ("poisson (iterative)", poisson, {}),
        ("poisson (exact CG)", poisson, {"method": "exact"}),
        ("vlaplace a=1", vlaplace, {"amplification": 1.0}),
        ("vpoisson a=1", vpoisson, {"amplification": 1.0}),
    ]
    for name, fn, kw in solvers:
        S, secs = _timed(fn, graph, single, **kw)
        row = {"stage": f"{name}, 1 labeled set", "impl": "graphvar torch CSR", "seconds": secs,
               "accuracy": _accuracy(S, y, single[None])}
        if "method" not in kw:
            SB, secs_b = _timed(fn, graph, Y, **kw)
            row["batch_seconds_per_set"] = secs_b / args.batch
            row["batch_accuracy"] = _accuracy(SB, y, Y)
        rows.append(row)

    T = int(random_walk_stop_times(graph, torch.from_numpy(single >= 0)).item())
    W = graph.to_scipy().astype(np.float32)
    u_ref, secs = _timed(scipy_poisson, W, single, T)
    u_ours = poisson(graph, single).numpy()
    rows.append({"stage": "poisson (iterative), 1 labeled set", "impl": "peer: scipy CSR loop", "seconds": secs,
                 "accuracy": _accuracy(torch.from_numpy(u_ref), y, single[None]),
                 "max_abs_diff_vs_graphvar": float(np.abs(u_ref - u_ours).max()), "steps": T})

    record = {
        "benchmark": "bench_core",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {"n": int(len(y)), "k": args.k, "pca": args.pca, "threads": args.threads,
                   "batch": args.batch, "labels_per_class": 1, "poisson_steps": T},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "loadavg": list(os.getloadavg()),
                    "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
        "versions": {"graphvar": graphvar.__version__, "torch": torch.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "sklearn": sklearn.__version__, "python": platform.python_version()},
        "rows": rows,
    }
    md = render(record)
    print(md)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(record, out.with_suffix(".json"))
    out.with_suffix(".md").write_text(md)
    return record


def render(record: dict) -> str:
    cfg, mach = record["config"], record["machine"]
    lines = [
        f"FashionMNIST n={cfg['n']}, PCA-{cfg['pca']}, k={cfg['k']}, {cfg['threads']} thread(s), "
        f"1 label/class; batched = {cfg['batch']} labeled sets in one solve. Load average "
        f"{mach['loadavg'][0]:.2f} on {mach['cpu_count']} CPUs, {record['date']}.",
        "",
        "| stage | implementation | seconds | accuracy % | batched s/set | peer s / graphvar s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    peers = {r["stage"].replace("search", "graph"): r["seconds"] for r in record["rows"] if r["impl"].startswith("peer")}
    for r in record["rows"]:
        acc = f"{100 * r['accuracy']:.1f}" if "accuracy" in r else ""
        batch = f"{r['batch_seconds_per_set']:.3g}" if "batch_seconds_per_set" in r else ""
        peer = peers.get(r["stage"])
        ratio = f"{peer / r['seconds']:.2f}" if peer and not r["impl"].startswith("peer") else ""
        lines.append(f"| {r['stage']} | {r['impl']} | {r['seconds']:.3g} | {acc} | {batch} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
