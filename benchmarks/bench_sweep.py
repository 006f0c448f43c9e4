"""The full label-rate sweep of Poisson, Poisson + priors and PoissonMBO: graphvar whole, GraphLearning sampled.

One graph (FashionMNIST 70k: VAE-20 features, 10-NN Gaussian; or any dataset
of :func:`graphvar.benchmark.data.load_benchmark_data`), ``--rates`` ×
``--trials`` seeded labeled sets (:func:`graphvar.benchmark.labeled_sets`,
the same sets as ``bench_mbo.py`` and ``bench_gl_methods.py`` for the same
dataset key), the true class fractions as priors:

* graphvar solves **every** set, ``--batch`` sets per call (the batched path
  of the engine): ``poisson`` (its argmax), ``poisson+priors`` (the exact
  class-prior projection of the same scores; its time is Poisson's plus the
  projection's) and ``poisson_mbo``;
* GraphLearning 1.7.5 solves the first ``--peer-trials`` sets of each rate
  (one at a time, interleaved with graphvar's batches, same ``W``):
  ``ssl.poisson`` (its default CG), the same model's ``predict()`` with
  ``class_priors`` (its volume label projection loop) and ``ssl.poisson_mbo``.
  Its sweep time is **extrapolated**: mean seconds per measured set × the
  number of sets in the sweep.

Prints per-rate accuracies (graphvar over all sets; both packages on the
sets GraphLearning solved) and the sweep times with their ratio; writes
``benchmarks/results/sweep_<dataset>.json`` (checkpointed after every
batch). One thread (``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1``)::

    python benchmarks/bench_sweep.py --dataset fashionmnist --features vae --trials 100 --peer-trials 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import graphvar as gv  # noqa: E402
from graphvar.benchmark import labeled_sets  # noqa: E402
from graphvar.benchmark.data import load_benchmark_data  # noqa: E402
from graphvar.benchmark.report import write_json  # noqa: E402
from graphvar.provenance import loadavg, provenance  # noqa: E402
from graphvar.solvers.volume import volume_projection  # noqa: E402

METHODS = ("poisson", "poisson+priors", "poisson_mbo")


def _acc(pred: np.ndarray, y: np.ndarray, s: np.ndarray) -> float:
    mask = np.ones(y.size, dtype=bool)
    mask[s] = False
    return float(100 * np.mean(pred[mask] == y[mask]))


def ours(graph, y, priors, batch: np.ndarray) -> dict:
    """graphvar on one batch of labeled sets: per-method accuracies (one per set) and seconds for the batch."""
    Y = np.full((len(batch), y.size), -1)
    for b, s in enumerate(batch):
        Y[b, s] = y[s]
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stopping rule's "missed tol" warning is in the solver's info
        t0 = time.perf_counter()
        U = gv.poisson(graph, Y)
        t1 = time.perf_counter()
        pp = volume_projection(U, priors)
        t2 = time.perf_counter()
        mbo = gv.poisson_mbo(graph, Y, class_priors=priors)
        t3 = time.perf_counter()
    preds = {"poisson": U.argmax(-1).numpy(), "poisson+priors": np.asarray(pp), "poisson_mbo": mbo.argmax(-1).numpy()}
    secs = {"poisson": t1 - t0, "poisson+priors": t2 - t0, "poisson_mbo": t3 - t2}
    for m in METHODS:
        out[m] = ([_acc(preds[m][b], y, s) for b, s in enumerate(batch)], secs[m])
    return out


def peer(W, y, priors, s: np.ndarray) -> dict:
    """GraphLearning on one labeled set: ``{method: (accuracy, seconds)}``."""
    import graphlearning as gl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = gl.ssl.poisson(W)  # without priors: its fit would run the volume projection too
        u = model.fit(s, y[s])
        t1 = time.perf_counter()
        model.class_priors = priors
        model.volume_label_projection()  # what its fit runs when given class_priors
        pp = model.predict()
        t2 = time.perf_counter()
        mbo = gl.ssl.poisson_mbo(W, class_priors=priors).fit_predict(s, y[s])
        t3 = time.perf_counter()
    return {"poisson": (_acc(np.argmax(u, axis=1), y, s), t1 - t0),
            "poisson+priors": (_acc(pp, y, s), t2 - t0), "poisson_mbo": (_acc(mbo, y, s), t3 - t2)}


def sweep(graph, y, dataset: str, rates, trials: int, batch: int, peer_trials: int, checkpoint=None) -> dict:
    """Every (rate, batch) of graphvar, with GraphLearning on the first ``peer_trials`` sets per rate."""
    W = graph.to_scipy().astype(np.float64).tocsr()
    priors = np.bincount(y) / y.size
    rows = {r: {"rate": r, "sets": 0, "gv": {m: {"accuracy": [], "seconds": 0.0} for m in METHODS},
                "gl": {m: {"trial": [], "accuracy": [], "seconds": []} for m in METHODS}, "loadavg": []}
            for r in rates}
    for rate in rates:
        sets, row = labeled_sets(y, rate, trials, seed=0, key=dataset), rows[rate]
        for start in range(0, trials, batch):
            for t in range(start, min(start + batch, peer_trials)):
                for m, (acc, secs) in peer(W, y, priors, sets[t]).items():
                    cell = row["gl"][m]
                    cell["trial"].append(t)
                    cell["accuracy"].append(acc)
                    cell["seconds"].append(secs)
            for m, (accs, secs) in ours(graph, y, priors, sets[start:start + batch]).items():
                row["gv"][m]["accuracy"] += accs
                row["gv"][m]["seconds"] += secs
            row["sets"] = min(start + batch, trials)
            row["loadavg"].append(loadavg())
            print(f"{dataset} rate {rate}: {row['sets']} sets, " + ", ".join(
                f"{m} {np.mean(row['gv'][m]['accuracy']):.2f} ({row['gv'][m]['seconds']:.0f} s)" for m in METHODS),
                flush=True)
            if checkpoint is not None:
                checkpoint(_record(dataset, rates, trials, batch, peer_trials, rows))
    return _record(dataset, rates, trials, batch, peer_trials, rows)


def _record(dataset, rates, trials, batch, peer_trials, rows) -> dict:
    return {"dataset": dataset, "config": {"rates": list(rates), "trials": trials, "batch": batch,
                                           "peer_trials": peer_trials, "threads": torch.get_num_threads(),
                                           "class_priors": "true class fractions", "gl_poisson_timing": "fit"},
            **provenance(packages=("graphlearning",)), "rows": [rows[r] for r in rates]}


def markdown(record: dict) -> str:
    """Accuracy per rate and the sweep's seconds (graphvar measured, GraphLearning extrapolated)."""
    cfg = record["config"]
    partial = " (partial record: rates not yet reached are missing)" if record.get("partial") else ""
    lines = [f"**{record['dataset']}** ({record.get('graph_desc', '')}){partial}, {cfg['trials']} labeled sets per rate, "
             f"graphvar batches of {cfg['batch']}; GraphLearning on the first {cfg['peer_trials']} sets per rate:",
             "", "| method | labels/class | accuracy graphvar (all sets) | graphvar on GL's sets | GraphLearning "
             "| graphvar s (measured) | GraphLearning s/set | GraphLearning s (extrapolated) | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    total = {m: [0.0, 0.0] for m in METHODS}
    for row in (r for r in record["rows"] if r["sets"]):  # a partial record: the rates not reached yet are empty
        for m in METHODS:
            gv_cell, gl_cell = row["gv"][m], row["gl"][m]
            acc = np.asarray(gv_cell["accuracy"])
            same = acc[gl_cell["trial"]] if gl_cell["trial"] else np.array([np.nan])
            per_set = float(np.mean(gl_cell["seconds"])) if gl_cell["seconds"] else float("nan")
            est = per_set * row["sets"]
            total[m][0] += gv_cell["seconds"]
            total[m][1] += est
            lines.append(f"| {m} | {row['rate']} | {acc.mean():.2f} | {np.mean(same):.2f} | "
                         f"{np.mean(gl_cell['accuracy']) if gl_cell['accuracy'] else float('nan'):.2f} | "
                         f"{gv_cell['seconds']:.3g} | {per_set:.3g} | {est:.3g} | {est / gv_cell['seconds']:.1f}× |")
    lines += ["", "| method | whole sweep graphvar s (measured) | GraphLearning s (extrapolated) | ratio |",
              "|---|---:|---:|---:|"]
    for m, (ours_s, theirs_s) in total.items():
        lines.append(f"| {m} | {ours_s:.4g} | {theirs_s:.4g} | {theirs_s / ours_s:.1f}× |" if ours_s else f"| {m} | – | – | – |")
    if cfg.get("gl_poisson_timing") != "fit":
        lines += ["", "GraphLearning's `poisson` seconds in this record are its `fit` *with* the class priors, which "
                  "runs its volume projection too: an upper bound on its Poisson time (so its poisson ratio is one "
                  "too); `bench_gl_methods.json` times its Poisson CG without priors."]
    load = [row["loadavg"] for row in record["rows"] if row["loadavg"]]
    if load:
        flat = [a[0] for rows in load for a in rows]
        lines += ["", f"1-minute load average {min(flat):.2f}–{max(flat):.2f} on "
                  f"{record['machine'].get('cpu_count')} CPUs."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashionmnist")
    p.add_argument("--features", default="vae", help="features of a k-NN dataset (default vae)")
    p.add_argument("--rates", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--batch", type=int, default=10, help="labeled sets per graphvar call")
    p.add_argument("--peer-trials", type=int, default=2, help="GraphLearning's sets per rate")
    p.add_argument("--json", default=None, help="default benchmarks/results/sweep_<dataset>.json")
    args = p.parse_args(argv)
    if args.trials < 1 or args.batch < 1 or not 0 <= args.peer_trials <= args.trials:
        p.error("need --trials >= 1, --batch >= 1 and 0 <= --peer-trials <= --trials")
    torch.set_num_threads(1)
    d = load_benchmark_data(args.dataset, features=args.features, graph="knn", k=10)
    path = args.json or ROOT / "benchmarks" / "results" / f"sweep_{args.dataset}.json"

    def save(rec):
        write_json({**rec, "graph_desc": d.info["graph_desc"], "n_nodes": int(d.labels.size), "partial": True}, path)

    record = sweep(d.graph, d.labels, args.dataset, args.rates, args.trials, args.batch, args.peer_trials, save)
    record.update(graph_desc=d.info["graph_desc"], n_nodes=int(d.labels.size))
    write_json(record, path)
    print(markdown(record))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
