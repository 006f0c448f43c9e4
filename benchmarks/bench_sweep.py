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

``--methods`` restricts the sweep (e.g. ``--methods poisson poisson+priors``
after a change to Poisson alone; the record's config names them).

Prints per-rate accuracies (graphvar over all sets; both packages on the
sets GraphLearning solved) and the sweep times with their ratio; writes
``benchmarks/results/sweep_<dataset>.json`` (checkpointed after every
batch). One thread (``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1``)::

    python benchmarks/bench_sweep.py --dataset fashionmnist --features vae --trials 100 --peer-trials 2

On two cores, split the labeled sets: one process on sets 0..K-1 (with
GraphLearning's: ``--end-trial K``), one on sets K.. (``--first-trial K``;
GraphLearning only on sets below ``--peer-trials``), each with its own ``--json``; then
``--merge PIECE…`` joins them into ``--json`` (same dataset, graph, trials,
batch and peer trials; per rate the pieces' sets must follow each other
from set 0 to the last), e.g. ``--end-trial 50`` on one core and
``--first-trial 50`` on the other.
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


def ours(graph, y, priors, batch: np.ndarray, methods=METHODS) -> dict:
    """graphvar on one batch of labeled sets: per-method accuracies (one per set) and seconds for the batch."""
    Y = np.full((len(batch), y.size), -1)
    for b, s in enumerate(batch):
        Y[b, s] = y[s]
    preds, secs = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stopping rule's "missed tol" warning is in the solver's info
        if "poisson" in methods or "poisson+priors" in methods:
            t0 = time.perf_counter()
            U = gv.poisson(graph, Y)
            secs["poisson"] = time.perf_counter() - t0
            preds["poisson"] = U.argmax(-1).numpy()
            preds["poisson+priors"] = np.asarray(volume_projection(U, priors))
            secs["poisson+priors"] = time.perf_counter() - t0
        if "poisson_mbo" in methods:
            t2 = time.perf_counter()
            preds["poisson_mbo"] = gv.poisson_mbo(graph, Y, class_priors=priors).argmax(-1).numpy()
            secs["poisson_mbo"] = time.perf_counter() - t2
    return {m: ([_acc(preds[m][b], y, s) for b, s in enumerate(batch)], secs[m]) for m in methods}


def peer(W, y, priors, s: np.ndarray, methods=METHODS) -> dict:
    """GraphLearning on one labeled set: ``{method: (accuracy, seconds)}``."""
    import graphlearning as gl

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "poisson" in methods or "poisson+priors" in methods:
            t0 = time.perf_counter()
            model = gl.ssl.poisson(W)  # without priors: its fit would run the volume projection too
            u = model.fit(s, y[s])
            out["poisson"] = (_acc(np.argmax(u, axis=1), y, s), time.perf_counter() - t0)
            if "poisson+priors" in methods:
                model.class_priors = priors
                model.volume_label_projection()  # what its fit runs when given class_priors
                out["poisson+priors"] = (_acc(model.predict(), y, s), time.perf_counter() - t0)
        if "poisson_mbo" in methods:
            t2 = time.perf_counter()
            mbo = gl.ssl.poisson_mbo(W, class_priors=priors).fit_predict(s, y[s])
            out["poisson_mbo"] = (_acc(mbo, y, s), time.perf_counter() - t2)
    return {m: out[m] for m in methods}


def sweep(graph, y, dataset: str, rates, trials: int, batch: int, peer_trials: int, checkpoint=None,
          first_trial: int = 0, end_trial: int | None = None, methods=METHODS) -> dict:
    """Every (rate, batch) of graphvar on sets ``first_trial..end_trial-1`` of ``trials``, with GraphLearning on
    those of the first ``peer_trials`` sets per rate."""
    end = trials if end_trial is None else end_trial
    W = graph.to_scipy().astype(np.float64).tocsr()
    priors = np.bincount(y) / y.size
    rows = {r: {"rate": r, "first_trial": first_trial, "sets": 0,
                "gv": {m: {"accuracy": [], "seconds": 0.0} for m in methods},
                "gl": {m: {"trial": [], "accuracy": [], "seconds": []} for m in methods}, "loadavg": []}
            for r in rates}
    for rate in rates:
        sets, row = labeled_sets(y, rate, trials, seed=0, key=dataset), rows[rate]
        for start in range(first_trial, end, batch):
            for t in range(start, min(start + batch, peer_trials, end)):
                for m, (acc, secs) in peer(W, y, priors, sets[t], methods).items():
                    cell = row["gl"][m]
                    cell["trial"].append(t)
                    cell["accuracy"].append(acc)
                    cell["seconds"].append(secs)
            for m, (accs, secs) in ours(graph, y, priors, sets[start:min(start + batch, end)], methods).items():
                row["gv"][m]["accuracy"] += accs
                row["gv"][m]["seconds"] += secs
            row["sets"] = min(start + batch, end) - first_trial
            row["loadavg"].append(loadavg())
            print(f"{dataset} rate {rate}: {row['sets']} sets, " + ", ".join(
                f"{m} {np.mean(row['gv'][m]['accuracy']):.2f} ({row['gv'][m]['seconds']:.0f} s)" for m in methods),
                flush=True)
            if checkpoint is not None:
                checkpoint(_record(dataset, rates, trials, batch, peer_trials, rows, first_trial, end, methods))
    return _record(dataset, rates, trials, batch, peer_trials, rows, first_trial, end, methods)


def _record(dataset, rates, trials, batch, peer_trials, rows, first_trial=0, end_trial=None,
            methods=METHODS) -> dict:
    return {"dataset": dataset, "config": {"methods": list(methods), "rates": list(rates), "trials": trials,
                                           "first_trial": first_trial,
                                           "end_trial": trials if end_trial is None else end_trial,
                                           "batch": batch, "peer_trials": peer_trials,
                                           "threads": torch.get_num_threads(),
                                           "class_priors": "true class fractions", "gl_poisson_timing": "fit"},
            **provenance(packages=("graphlearning",)), "rows": [rows[r] for r in rates]}


def markdown(record: dict) -> str:
    """Accuracy per rate and the sweep's seconds (graphvar measured, GraphLearning extrapolated)."""
    cfg = record["config"]
    methods = cfg.get("methods", METHODS)
    partial = " (partial record: rates not yet reached are missing)" if record.get("partial") else ""
    lines = [f"**{record['dataset']}** ({record.get('graph_desc', '')}){partial}, {cfg['trials']} labeled sets per rate, "
             f"graphvar batches of {cfg['batch']}; GraphLearning on the first {cfg['peer_trials']} sets per rate:",
             "", "| method | labels/class | accuracy graphvar (all sets) | graphvar on GL's sets | GraphLearning "
             "| graphvar s (measured) | GraphLearning s/set | GraphLearning s (extrapolated) | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    total = {m: [0.0, 0.0] for m in methods}
    for row in (r for r in record["rows"] if r["sets"]):  # a partial record: the rates not reached yet are empty
        for m in methods:
            gv_cell, gl_cell = row["gv"][m], row["gl"][m]
            acc = np.asarray(gv_cell["accuracy"])
            same = (acc[np.asarray(gl_cell["trial"]) - row.get("first_trial", 0)] if gl_cell["trial"]
                    else np.array([np.nan]))
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


SAME = ("dataset", "graph_desc", "features_sha1", "n_nodes")
SAME_CONFIG = ("methods", "trials", "batch", "peer_trials", "threads", "class_priors", "gl_poisson_timing")


def _join_rows(rows: list[dict], trials: int, methods=METHODS) -> dict:
    """One rate's rows of several pieces, in set order: accuracies concatenated, seconds summed."""
    rows = sorted(rows, key=lambda r: r.get("first_trial", 0))
    at = 0
    for r in rows:
        if r.get("first_trial", 0) != at:
            raise ValueError(f"rate {r['rate']}: a piece starts at labeled set {r.get('first_trial', 0)} where "
                             f"the previous ones end at {at}; run the missing sets with --first-trial {at}")
        at += r["sets"]
    if at != trials:
        raise ValueError(f"rate {rows[0]['rate']}: the pieces cover labeled sets 0..{at - 1}, not all {trials}")
    out = {"rate": rows[0]["rate"], "first_trial": 0, "sets": at, "loadavg": [a for r in rows for a in r["loadavg"]],
           "gv": {m: {"accuracy": [a for r in rows for a in r["gv"][m]["accuracy"]],
                      "seconds": sum(r["gv"][m]["seconds"] for r in rows)} for m in methods},
           "gl": {m: {k: [v for r in rows for v in r["gl"][m][k]] for k in ("trial", "accuracy", "seconds")}
                  for m in methods}}
    return out


def _complete_rates(piece: dict) -> dict:
    """A stopped run's checkpoint restricted to the rates it finished (every set of its range solved)."""
    cfg = piece["config"]
    planned = cfg["trials"] - cfg.get("first_trial", 0) if cfg.get("end_trial") is None \
        else cfg["end_trial"] - cfg.get("first_trial", 0)
    rows = [r for r in piece["rows"] if r["sets"] == planned]
    if not rows:
        raise SystemExit("a stopped run's checkpoint finished no rate; nothing of it can be merged")
    kept = [r["rate"] for r in rows]
    return {**{k: v for k, v in piece.items() if k != "partial"}, "rows": rows,
            "config": {**cfg, "rates": kept, "stopped_after_rates": kept}}


def merge_pieces(paths: list[str], stopped: list[str] = ()) -> dict:
    """``--merge``: one record from finished runs on other sets (``--first-trial``) or other rates (``--rates``)
    of the same sweep; the checkpoints in ``stopped`` (runs stopped on purpose) give their finished rates."""
    from graphvar.benchmark.report import read_json

    pieces = [read_json(p) for p in paths]
    for i, (path, piece) in enumerate(zip(paths, pieces)):
        if piece.get("partial") and path in stopped:
            pieces[i] = piece = _complete_rates(piece)
        if piece.get("partial"):
            raise SystemExit(f"{path} is a checkpoint of an unfinished run; merge it when the run has ended "
                             "(or, for a run stopped on purpose, name it in --stopped to keep its finished rates)")
        for key in SAME:
            if piece.get(key) != pieces[0].get(key):
                raise ValueError(f"{path}: {key} {piece.get(key)!r} differs from {paths[0]}'s "
                                 f"{pieces[0].get(key)!r}; pieces must be runs of one sweep on one graph")
        for key in SAME_CONFIG:
            if piece["config"].get(key) != pieces[0]["config"].get(key):
                raise ValueError(f"{path}: --{key.replace('_', '-')} {piece['config'].get(key)!r} differs from "
                                 f"{paths[0]}'s {pieces[0]['config'].get(key)!r}")
    cfg = pieces[0]["config"]
    by_rate: dict = {}
    for piece in pieces:
        for row in piece["rows"]:
            by_rate.setdefault(row["rate"], []).append(row)
    rates = sorted(by_rate)
    record = {**{k: pieces[0].get(k) for k in SAME}, "machine": pieces[0]["machine"],
              "config": {**cfg, "rates": rates, "first_trial": 0, "end_trial": cfg["trials"]},
              "rows": [_join_rows(by_rate[r], cfg["trials"], cfg.get("methods", METHODS)) for r in rates],
              "pieces": [{"file": Path(p).name, "config": piece["config"], "provenance": piece["provenance"]}
                         for p, piece in zip(paths, pieces)]}
    return record


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashionmnist")
    p.add_argument("--features", default="vae", help="features of a k-NN dataset (default vae)")
    p.add_argument("--rates", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--batch", type=int, default=10, help="labeled sets per graphvar call")
    p.add_argument("--peer-trials", type=int, default=2, help="GraphLearning's sets per rate")
    p.add_argument("--first-trial", type=int, default=0,
                   help="start at this labeled set of --trials (the other core runs the sets before it)")
    p.add_argument("--end-trial", type=int, default=None,
                   help="stop before this labeled set of --trials (default: --trials; the other core runs the rest)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                   help="methods to sweep (default all three; poisson+priors includes poisson's time)")
    p.add_argument("--json", default=None, help="default benchmarks/results/sweep_<dataset>.json")
    p.add_argument("--merge", nargs="+", default=None, metavar="PIECE",
                   help="measure nothing: join these finished runs (--first-trial or --rates pieces of one "
                        "sweep) into --json")
    p.add_argument("--stopped", nargs="+", default=[], metavar="PIECE",
                   help="with --merge: these pieces are checkpoints of runs stopped on purpose; only the rates "
                        "they finished are merged (the record's pieces say so)")
    args = p.parse_args(argv)
    path = args.json or ROOT / "benchmarks" / "results" / f"sweep_{args.dataset}.json"
    if args.merge:
        unknown = set(args.stopped) - set(args.merge)
        if unknown:
            p.error(f"--stopped names files that are not merged: {sorted(unknown)}")
        record = merge_pieces(args.merge, args.stopped)
        write_json(record, path, argv=sys.argv if argv is None else ["bench_sweep.py", *argv])
        print(markdown(record))
        return 0
    if args.trials < 1 or args.batch < 1 or not 0 <= args.peer_trials <= args.trials:
        p.error("need --trials >= 1, --batch >= 1 and 0 <= --peer-trials <= --trials")
    end = args.trials if args.end_trial is None else args.end_trial
    if not 0 <= args.first_trial < end <= args.trials:
        p.error(f"need 0 <= --first-trial < --end-trial <= --trials, got {args.first_trial}, {end}, {args.trials}")
    torch.set_num_threads(1)
    d = load_benchmark_data(args.dataset, features=args.features, graph="knn", k=10)
    meta = {"graph_desc": d.info["graph_desc"], "features_sha1": d.info.get("features_sha1"),
            "n_nodes": int(d.labels.size)}

    def save(rec):
        write_json({**rec, **meta, "partial": True}, path)

    methods = [m for m in METHODS if m in args.methods]
    record = sweep(d.graph, d.labels, args.dataset, args.rates, args.trials, args.batch, args.peer_trials, save,
                   first_trial=args.first_trial, end_trial=end, methods=methods)
    record.update(meta)
    write_json(record, path)
    print(markdown(record))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
