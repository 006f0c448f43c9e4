"""PoissonMBO and V-PoissonMBO beside GraphLearning 1.7.5's ``poisson_mbo``: same W, same labeled sets.

For one dataset, graphvar builds the graph once; GraphLearning gets it as a
scipy matrix (``graph.to_scipy()``). For every rate and trial (seeded
stratified labeled sets, :mod:`graphvar.benchmark.protocol`) the methods run
one labeled set at a time, interleaved (GraphLearning, then each graphvar
method, on the same set), with the true class fractions as priors:

* ``gl_poisson_mbo``: ``gl.ssl.poisson_mbo(W, class_priors).fit_predict`` (its
  projection's final class-fraction error is recorded per set);
* ``poisson_mbo``: :func:`graphvar.poisson_mbo` (exact projection);
* ``vpoisson_mbo:a``: :func:`graphvar.vpoisson_mbo` for each amplification ``a``
  (``a = 0``: the balanced V-Poisson start without the variance step);
* ``poisson+priors``: :func:`graphvar.poisson` then the exact projection.

Prints the standard tables (paired differences vs ``gl_poisson_mbo``) and
writes ``benchmarks/results/mbo_<dataset>.json`` (one record, provenance and
the load average next to every timing), rewritten after every trial so that
a long run (GraphLearning's PoissonMBO costs minutes per set at 70k nodes)
keeps what it measured. Run under ``flock /work/bench.lock``
with one thread::

    python benchmarks/bench_mbo.py --dataset digits --rates 1 2 3 4 5 --trials 10
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
from graphvar.benchmark.data import load_benchmark_data  # noqa: E402
from graphvar.benchmark.protocol import evaluation_mask, labeled_sets  # noqa: E402
from graphvar.benchmark.report import markdown_table, write_json  # noqa: E402
from graphvar.provenance import loadavg, provenance  # noqa: E402
from graphvar.solvers.volume import volume_projection  # noqa: E402


def load(dataset: str, features: str, root):
    """(graph, labels, description): citation LCC for Cora/CiteSeer, a k=10 k-NN graph otherwise."""
    if dataset in ("cora", "citeseer"):
        d = load_benchmark_data(dataset, graph="citation", largest_component=True, root=root, cache=False)
    else:
        d = load_benchmark_data(dataset, features=features, k=10, root=root, cache=False)
    return d.graph, d.labels, d.info.get("graph_desc", "")


def _timed(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    return out, time.perf_counter() - t0


def _record(dataset, desc, y, rates, trials, amplifications, gl_error, cells, methods) -> dict:
    return {"dataset": dataset,
            "config": {"graph_desc": desc, "n_nodes": int(y.size), "rates": list(rates), "trials": int(trials),
                       "trials_completed": {str(r): len(cells[(methods[0], r)]["accuracy"]) for r in rates},
                       "amplifications": list(amplifications), "threads": torch.get_num_threads(),
                       "gl_final_fraction_error": {str(r): v for r, v in gl_error.items()},
                       "class_priors": "true class fractions"},
            **provenance(packages=("graphlearning",)),
            "results": [cells[(m, r)] for m in methods for r in rates if cells[(m, r)]["accuracy"]]}


def run(graph, y, dataset, rates, trials, amplifications, desc, checkpoint=None):
    """All trials, interleaved per labeled set; ``checkpoint(record)`` after every trial (long runs)."""
    import graphlearning as gl

    W = graph.to_scipy().astype(np.float64)
    priors = np.bincount(y) / y.size
    methods = ["gl_poisson_mbo", "poisson_mbo"] + [f"vpoisson_mbo:{a:g}" for a in amplifications] + ["poisson+priors"]
    cells = {(m, r): {"method": m, "rate": r, "accuracy": [], "seconds": [], "loadavg": []} for m in methods
             for r in rates}
    gl_error = {r: [] for r in rates}
    sets = {rate: labeled_sets(y, rate, trials, seed=0, key=dataset) for rate in rates}
    for t in range(trials):  # trial-major: a run cut short still covers every rate
        for rate in rates:
            s = sets[rate][t]
            Y = np.full(y.size, -1)
            Y[s] = y[s]
            mask = evaluation_mask(y.size, s)
            model = gl.ssl.poisson_mbo(W, class_priors=priors)
            runs = {"gl_poisson_mbo": lambda: model.fit_predict(s, y[s]),
                    "poisson_mbo": lambda: gv.poisson_mbo(graph, Y, class_priors=priors).argmax(-1).numpy(),
                    "poisson+priors": lambda: volume_projection(gv.poisson(graph, Y), priors).numpy()}
            for a in amplifications:
                runs[f"vpoisson_mbo:{a:g}"] = (lambda a=a: gv.vpoisson_mbo(graph, Y, class_priors=priors,
                                                                           amplification=a).argmax(-1).numpy())
            for m in methods:
                pred, secs = _timed(runs[m])
                c = cells[(m, rate)]
                c["accuracy"].append(float(100 * np.mean(pred[mask] == y[mask])))
                c["seconds"].append(secs)
                c["loadavg"].append(loadavg())
            gl_error[rate].append(float(model.class_priors_error))
            print(f"{dataset} rate {rate} trial {t}: " + ", ".join(
                f"{m} {cells[(m, rate)]['accuracy'][-1]:.2f} ({cells[(m, rate)]['seconds'][-1]:.1f} s)"
                for m in methods), flush=True)
            if checkpoint is not None:
                checkpoint(_record(dataset, desc, y, rates, trials, amplifications, gl_error, cells, methods))
    return _record(dataset, desc, y, rates, trials, amplifications, gl_error, cells, methods)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, choices=("digits", "cora", "citeseer", "fashionmnist"))
    p.add_argument("--features", default="pca", help="FashionMNIST features (default PCA-50 of the pixels)")
    p.add_argument("--rates", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--amplifications", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--root", default=os.environ.get("GRAPHVAR_SHARED_DATA"))
    p.add_argument("--json", default=None, help="default benchmarks/results/mbo_<dataset>.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    graph, y, desc = load(args.dataset, args.features, args.root)
    path = args.json or ROOT / "benchmarks" / "results" / f"mbo_{args.dataset}.json"
    record = run(graph, y, args.dataset, args.rates, args.trials, args.amplifications, desc,
                 checkpoint=lambda rec: write_json(rec, path))
    print(markdown_table(record, baseline="gl_poisson_mbo", digits=2))
    out = write_json(record, path)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
