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

A long run splits over processes by trials and merges afterwards (paired
differences match labeled sets by their ``trial`` index, so GraphLearning may
run on fewer sets than graphvar, ``--peer-trials``)::

    python benchmarks/bench_mbo.py --dataset fashionmnist --features vae --trials 20 \\
        --trial-range 0 5 --peer-trials 5 --json a.json
    python benchmarks/bench_mbo.py --dataset fashionmnist --features vae --trials 20 \\
        --trial-range 5 20 --peer-trials 0 --json b.json
    python benchmarks/bench_mbo.py --merge a.json b.json --json benchmarks/results/mbo_fashionmnist.json
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


def load(dataset: str, features: str, root, graph: str = "citation"):
    """(graph, labels, description): Cora/CiteSeer's citation LCC (``graph="citation"``) or the 10-NN cosine
    graph of their raw features (``graph="knn"``); a k=10 k-NN graph of ``features`` otherwise."""
    if dataset in ("cora", "citeseer") and graph == "knn":
        d = load_benchmark_data(dataset, features="raw", graph="knn", k=10, metric="cosine", root=root, cache=False)
    elif dataset in ("cora", "citeseer"):
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
                       "trials_completed": {m: {str(r): len(cells[(m, r)]["accuracy"]) for r in rates}
                                            for m in methods},
                       "amplifications": list(amplifications), "threads": torch.get_num_threads(),
                       "gl_final_fraction_error": {str(r): v for r, v in gl_error.items()},
                       "class_priors": "true class fractions"},
            **provenance(packages=("graphlearning",)),
            "results": [cells[(m, r)] for m in methods for r in rates if cells[(m, r)]["accuracy"]]}


#: the method families of --methods (vpoisson_mbo: one row per --amplifications value).
FAMILIES = ("gl_poisson_mbo", "poisson_mbo", "vpoisson_mbo", "poisson+priors")


def _vname(a: float, inner: int = 40) -> str:
    """``vpoisson_mbo:<a>``, with ``:ns<inner>`` when the heat steps per MBO iteration are not the default 40."""
    return f"vpoisson_mbo:{a:g}" + ("" if inner == 40 else f":ns{inner}")


def _names(families, amplifications, inner: int = 40) -> list[str]:
    return [n for f in FAMILIES if f in families
            for n in ([_vname(a, inner) for a in amplifications] if f == "vpoisson_mbo" else [f])]


def _runs(graph, W, y, priors, s, amplifications, with_peer: bool, families=FAMILIES, inner: int = 40) -> dict:
    """The callables of one labeled set ``s``: each returns the predicted class of every node."""
    import graphlearning as gl

    Y = np.full(y.size, -1)
    Y[s] = y[s]
    runs = {}
    if with_peer and "gl_poisson_mbo" in families:
        model = gl.ssl.poisson_mbo(W, class_priors=priors)
        runs["gl_poisson_mbo"] = lambda: (model.fit_predict(s, y[s]), model)
    runs["poisson_mbo"] = lambda: gv.poisson_mbo(graph, Y, class_priors=priors).argmax(-1).numpy()
    for a in amplifications:
        runs[_vname(a, inner)] = (lambda a=a: gv.vpoisson_mbo(graph, Y, class_priors=priors, amplification=a,
                                                              n_inner=inner).argmax(-1).numpy())
    runs["poisson+priors"] = lambda: volume_projection(gv.poisson(graph, Y), priors).numpy()
    return {m: fn for m, fn in runs.items() if m in _names(families, amplifications, inner)}


def run(graph, y, dataset, rates, trials, amplifications, desc, checkpoint=None, trial_range=None,
        peer_trials=None, families=FAMILIES, inner: int = 40):
    """Trials ``trial_range`` (default all), interleaved per labeled set; ``checkpoint(record)`` after each.

    GraphLearning runs on the trials below ``peer_trials`` only (default: all);
    every cell records the index of each labeled set (``trial``) so that the
    paired differences match sets, not positions.
    """
    W = graph.to_scipy().astype(np.float64)
    priors = np.bincount(y) / y.size
    methods = _names(families, amplifications, inner)
    cells = {(m, r): {"method": m, "rate": r, "trial": [], "accuracy": [], "seconds": [], "loadavg": []}
             for m in methods for r in rates}
    gl_error = {r: [] for r in rates}
    sets = {rate: labeled_sets(y, rate, trials, seed=0, key=dataset) for rate in rates}
    start, stop = trial_range or (0, trials)
    for t in range(start, stop):  # trial-major: a run cut short still covers every rate
        for rate in rates:
            s = sets[rate][t]
            mask = evaluation_mask(y.size, s)
            runs = _runs(graph, W, y, priors, s, amplifications, peer_trials is None or t < peer_trials, families,
                         inner)
            for m, fn in runs.items():
                pred, secs = _timed(fn)
                if m == "gl_poisson_mbo":
                    pred, model = pred
                    gl_error[rate].append(float(model.class_priors_error))
                c = cells[(m, rate)]
                c["trial"].append(t)
                c["accuracy"].append(float(100 * np.mean(pred[mask] == y[mask])))
                c["seconds"].append(secs)
                c["loadavg"].append(loadavg())
            print(f"{dataset} rate {rate} trial {t}: " + ", ".join(
                f"{m} {cells[(m, rate)]['accuracy'][-1]:.2f} ({cells[(m, rate)]['seconds'][-1]:.1f} s)"
                for m in runs), flush=True)
            if checkpoint is not None:
                checkpoint(_record(dataset, desc, y, rates, trials, amplifications, gl_error, cells, methods))
    return _record(dataset, desc, y, rates, trials, amplifications, gl_error, cells, methods)


def merge(paths: list[str]) -> dict:
    """One record from pieces of one run split by trials (``--trial-range``) over processes."""
    from graphvar.benchmark.report import merge_records, read_json

    records = [read_json(p) for p in paths]
    merged = merge_records(records, sources=[Path(p).name for p in paths])
    cfg = merged["config"]
    errors = {r: [] for r in cfg["gl_final_fraction_error"]}
    for rec in records:
        for r, v in rec["config"]["gl_final_fraction_error"].items():
            errors.setdefault(r, []).extend(v)
    cfg["gl_final_fraction_error"] = errors
    cfg["amplifications"] = sorted({a for rec in records for a in rec["config"]["amplifications"]
                                    if any(e["method"] == _vname(a) for e in rec["results"])})
    cfg["trials_completed"] = {e["method"]: {} for e in merged["results"]}
    for e in merged["results"]:
        cfg["trials_completed"][e["method"]][str(e["rate"])] = len(e["accuracy"])
    merged["note"] = (f"merge of {len(paths)} pieces split by trials; each piece's command line, commit, "
                      "machine and load are in pieces[i] (and every timing's load in its cell's loadavg)")
    return merged


def _default_json(args) -> Path:
    knn = "_knn" if args.dataset in ("cora", "citeseer") and args.graph == "knn" else ""
    return ROOT / "benchmarks" / "results" / f"mbo_{args.dataset}{knn}.json"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("digits", "cora", "citeseer", "fashionmnist"))
    p.add_argument("--features", default="pca", help="FashionMNIST features: pca (PCA-50 of the pixels) or vae")
    p.add_argument("--graph", default="citation", choices=("citation", "knn"),
                   help="Cora/CiteSeer: the citation graph's largest component or the 10-NN cosine graph")
    p.add_argument("--rates", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--trial-range", type=int, nargs=2, metavar=("START", "STOP"),
                   help="run trials START..STOP-1 of the --trials sets only (pieces for --merge)")
    p.add_argument("--peer-trials", type=int, default=None,
                   help="run GraphLearning on the trials below this index only (default: every trial)")
    p.add_argument("--methods", nargs="+", default=list(FAMILIES), choices=FAMILIES,
                   help="the method families to run (pieces for --merge; default all)")
    p.add_argument("--amplifications", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    p.add_argument("--inner-steps", type=int, default=40,
                   help="heat steps per MBO iteration of the vpoisson_mbo rows (n_inner; rows named "
                        "vpoisson_mbo:<a>:ns<N> when not the default 40)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--root", default=os.environ.get("GRAPHVAR_SHARED_DATA"))
    p.add_argument("--json", default=None, help="default benchmarks/results/mbo_<dataset>.json")
    p.add_argument("--merge", nargs="+", metavar="PIECE",
                   help="merge these records (pieces of one run split by --trial-range) into --json")
    args = p.parse_args(argv)
    if args.merge:
        if not args.json:
            p.error("--merge needs --json (the merged record's path)")
        record = merge(args.merge)
    else:
        if not args.dataset:
            p.error("--dataset is required (unless --merge)")
        if args.trial_range and not 0 <= args.trial_range[0] < args.trial_range[1] <= args.trials:
            p.error(f"--trial-range must satisfy 0 <= START < STOP <= --trials ({args.trials})")
        torch.set_num_threads(args.threads)
        graph, y, desc = load(args.dataset, args.features, args.root, args.graph)
        path = args.json or _default_json(args)
        record = run(graph, y, args.dataset, args.rates, args.trials, args.amplifications, desc,
                     checkpoint=lambda rec: write_json(rec, path), trial_range=args.trial_range,
                     peer_trials=args.peer_trials, families=args.methods, inner=args.inner_steps)
    print(markdown_table(record, baseline="gl_poisson_mbo", digits=2))
    out = write_json(record, args.json or _default_json(args))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
