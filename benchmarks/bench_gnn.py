"""V-GPN vs GPN, GCN, APPNP, label propagation, Poisson and V-Poisson on Cora / CiteSeer.

Protocol (issue 4): for each rate r in {1, 2, 3, 5} labels per class and each
of ``--trials`` seeded trials, the labeled set is the benchmark protocol's
``labeled_sets(labels, r, trials, seed, key=dataset)``; a validation set of 5
nodes per class is drawn from the remaining nodes (its own seeded generator,
``trial_rng(seed, dataset + "/val", r, t)``); accuracy is measured on every
node outside both sets, identical for every method and for both GNN modes:

- ``es``: GNNs keep the epoch with the best validation accuracy (patience
  ``--patience``, at most ``--epochs`` epochs);
- ``fixed``: GNNs train exactly ``--epochs`` epochs and never see the
  validation labels.

Non-GNN methods (label propagation, Poisson, V-Poisson) use no validation data
and appear once. Paired differences (mean and standard error over trials) are
reported against GPN (amplification 0), GCN and APPNP.

Usage::

    python benchmarks/bench_gnn.py --dataset cora --rates 1 2 3 5 --trials 20 --early-stopping both

prints Markdown tables and writes ``benchmarks/results/gnn_<dataset>.json`` and
``.md`` (rewritten after every rate, so a long run leaves partial results).
``--timing-only`` just times one 500-epoch V-GPN training (2708 nodes for Cora).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
GNN = ("gpn", "vgpn", "gcn", "appnp")
DEFAULT_METHODS = ["gpn", "vgpn-a1", "vgpn-a2", "gcn", "appnp", "labelprop", "poisson", "vpoisson"]


def _is_gnn(name: str) -> bool:
    return name.split("-")[0] in GNN


def _val_set(labels, train, seed, key, rate, trial, per_class=5):
    from graphvar.benchmark.protocol import trial_rng

    rng = trial_rng(seed, key + "/val", rate, trial)
    free = np.setdiff1d(np.arange(labels.size), train)
    picked = []
    for c in range(int(labels.max()) + 1):
        pool = free[labels[free] == c]
        picked.append(rng.choice(pool, size=min(per_class, pool.size - 1), replace=False))
    return np.sort(np.concatenate(picked))


def _machine():
    import platform

    import scipy

    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def _paired(a, b):
    d = np.asarray(a) - np.asarray(b)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0


def markdown(record: dict) -> str:
    """Accuracy tables (mean (std), %) and paired differences vs GPN and GCN."""
    rates = record["rates"]
    rows = record["results"]
    lines = [f"### {record['dataset']} — {record['trials']} trials, "
             f"validation {record['val_per_class']} per class; load "
             f"{[round(x, 2) for x in record['machine']['loadavg']]}", ""]
    modes = [m for m in ("es", "fixed") if any(r["mode"] == m for r in rows)]
    for mode in modes:
        title = ("with validation-based early stopping" if mode == "es"
                 else f"without early stopping ({record['epochs']} epochs)")
        keyed = {(r["method"], r["rate"]): r for r in rows if r["mode"] in (mode, "none")}
        names = list(dict.fromkeys(r["method"] for r in rows if r["mode"] in (mode, "none")))
        lines += [f"**Accuracy (%), GNNs {title}**", "",
                  "| method | " + " | ".join(f"{r}/class" for r in rates) + " |",
                  "|---|" + "---|" * len(rates)]
        for name in names:
            cells = []
            for r in rates:
                e = keyed.get((name, r))
                if e is None:
                    cells.append("–")
                else:
                    acc = 100 * np.asarray(e["accuracy"])
                    cells.append(f"{acc.mean():.1f} ({acc.std(ddof=1) if acc.size > 1 else 0:.1f})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        for ref in ("gpn", "gcn", "appnp"):
            if not any(k[0] == ref for k in keyed):
                continue
            lines += [f"**Paired difference vs {ref} (points, mean ± SE), {title}**", "",
                      "| method | " + " | ".join(f"{r}/class" for r in rates) + " |",
                      "|---|" + "---|" * len(rates)]
            for name in names:
                if name == ref:
                    continue
                cells = []
                for r in rates:
                    a, b = keyed.get((name, r)), keyed.get((ref, r))
                    if a is None or b is None or len(a["accuracy"]) != len(b["accuracy"]):
                        cells.append("–")
                    else:
                        m, se = _paired(a["accuracy"], b["accuracy"])
                        cells.append(f"{100 * m:+.1f} ± {100 * se:.1f}")
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
    if record.get("timing"):
        t = record["timing"]
        lines += [f"Training time, V-GPN on {t['n_nodes']} nodes, {t['epochs']} epochs "
                  f"(no early stopping, 1 thread, load {t['loadavg']}): {t['seconds']:.1f} s", ""]
    return "\n".join(lines)


def time_training(x, graph, labels, epochs: int = 500) -> dict:
    """Seconds to train V-GPN (default settings, 20 labels per class) for ``epochs`` epochs."""
    from graphvar.nn import VGPNClassifier

    rng = np.random.default_rng(0)
    y = np.full(labels.size, -1)
    for c in range(int(labels.max()) + 1):
        idx = rng.choice(np.flatnonzero(labels == c), 20, replace=False)
        y[idx] = c
    clf = VGPNClassifier(epochs=epochs, val_size=0)
    start = time.perf_counter()
    clf.fit_graph(graph, y, X=x)
    return {"n_nodes": int(labels.size), "epochs": epochs, "seconds": time.perf_counter() - start,
            "loadavg": [round(v, 2) for v in os.getloadavg()]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["cora", "citeseer"], default="cora")
    p.add_argument("--rates", type=int, nargs="+", default=[1, 2, 3, 5])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS)
    p.add_argument("--early-stopping", choices=["both", "on", "off"], default="both")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-epochs", type=int, default=500,
                   help="also time one V-GPN training of this many epochs (0: skip)")
    p.add_argument("--timing-only", action="store_true",
                   help="only time the V-GPN training; write results/gnn_timing_<dataset>.json")
    p.add_argument("--render", type=Path, default=None, help="re-render the Markdown of a result JSON and exit")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default results/gnn_<dataset>.json)")
    args = p.parse_args(argv)
    if args.render is not None:
        record = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(markdown(record) + "\n")
        print(markdown(record))
        return 0
    torch.set_num_threads(int(os.environ.get("GRAPHVAR_THREADS", "1")))

    from graphvar.benchmark.protocol import TrialTask, evaluation_mask, labeled_sets
    from graphvar.benchmark.report import write_json
    from graphvar.datasets import load_planetoid
    from graphvar.benchmark import gnn_methods as bench_methods

    ds = load_planetoid(args.dataset)
    graph, labels = ds.to_graph(), ds.y.astype(np.int64)
    n = labels.size
    modes = {"both": ["es", "fixed"], "on": ["es"], "off": ["fixed"]}[args.early_stopping]
    out = args.out or RESULTS / f"gnn_{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "gnn", "dataset": args.dataset, "rates": args.rates, "trials": args.trials,
        "seed": args.seed, "val_per_class": 5, "epochs": args.epochs, "patience": args.patience,
        "methods": args.methods, "modes": modes,
        "hyperparameters": {"vgpn": bench_methods.VGPN_PARAMS,
                            **{k: v for k, v in bench_methods.BASELINE_PARAMS.items()},
                            "features": "row-normalised (L1)"},
        "machine": _machine(), "results": [],
    }
    if args.time_epochs or args.timing_only:
        record["timing"] = time_training(ds.x, graph, labels, args.time_epochs or 500)
        print(f"timing: {record['timing']}", file=sys.stderr, flush=True)
    if args.timing_only:
        path = RESULTS / f"gnn_timing_{args.dataset}.json"
        write_json({"timing": record["timing"], "machine": record["machine"]}, path)
        t = record["timing"]
        print(f"| dataset | nodes | epochs | seconds | load |\n|---|---|---|---|---|\n"
              f"| {args.dataset} | {t['n_nodes']} | {t['epochs']} | {t['seconds']:.1f} | {t['loadavg']} |")
        return 0

    for rate in args.rates:
        sets = labeled_sets(labels, rate, args.trials, seed=args.seed, key=args.dataset)
        vals = [_val_set(labels, s, args.seed, args.dataset, rate, t) for t, s in enumerate(sets)]
        for name in args.methods:
            for mode in (modes if _is_gnn(name) else ["none"]):
                fn = bench_methods.get_method(name, early_stopping=mode == "es", epochs=args.epochs,
                                              patience=args.patience) if _is_gnn(name) \
                    else bench_methods.get_method(name)
                accs, secs = [], []
                for t, (train, val) in enumerate(zip(sets, vals)):
                    task = TrialTask(graph, ds.x, labels, train, val, seed=args.seed * 100_003 + t)
                    start = time.perf_counter()
                    pred = np.asarray(fn(task))
                    secs.append(time.perf_counter() - start)
                    mask = evaluation_mask(n, train, val)
                    accs.append(float((pred[mask] == labels[mask]).mean()))
                record["results"].append({"method": name, "mode": mode, "rate": rate,
                                          "accuracy": accs, "seconds": secs})
                print(f"{args.dataset} rate={rate} {name} [{mode}] acc={100 * np.mean(accs):.1f} "
                      f"({100 * np.std(accs, ddof=1):.1f}) {np.mean(secs):.1f}s/trial", file=sys.stderr, flush=True)
        record["machine_end"] = _machine()
        write_json(record, out)
        out.with_suffix(".md").write_text(markdown(record) + "\n")
    print(markdown(record))
    print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
