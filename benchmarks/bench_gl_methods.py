"""Every GraphLearning 1.7.5 ssl method graphvar re-implements, next to GraphLearning, in one run.

Same W, same labeled sets: graphvar builds the graph (digits: k-NN, k = 10,
Gaussian weights; Cora: the citation graph's largest component, unit
weights; FashionMNIST: k-NN of PCA-50 features, k = 10) and hands ``graph.to_scipy()`` to GraphLearning. For every labeled
set (``--trials`` per rate, seeded by :func:`graphvar.benchmark.labeled_sets`)
both packages solve it one set at a time, interleaved (GraphLearning first
on even sets, graphvar first on odd ones), ``torch.set_num_threads(1)``.
Recorded per method and rate: accuracy of each on the unlabeled nodes, the
tie-aware prediction agreement (:func:`graphvar.benchmark.parity.agreement`),
the fraction of tied nodes, seconds per labeled set (fit + predict) and the
load average before and after.

    python benchmarks/bench_gl_methods.py --datasets digits cora --trials 5

Prints a Markdown table and writes ``benchmarks/results/bench_gl_methods.json``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

import graphvar  # noqa: E402
from graphvar.benchmark import labeled_sets  # noqa: E402
from graphvar.benchmark.parity import agreement  # noqa: E402
from graphvar.provenance import loadavg  # noqa: E402

try:  # the reference package; benchmarks/report.py imports this file for markdown() without it
    import graphlearning as gl
except ImportError:  # pragma: no cover - depends on the environment
    gl = None

#: method -> (GraphLearning call, GraphLearning model from (W, X), graphvar call, graphvar scores from (g, y, X)).
METHODS = {
    "laplace": ("laplace()", lambda W, X: gl.ssl.laplace(W),
                "laplace(method='exact')", lambda g, y, X: graphvar.laplace(g, y, method="exact")),
    "wnll": ("laplace(reweighting='wnll')", lambda W, X: gl.ssl.laplace(W, reweighting="wnll"),
             "laplace(method='exact', reweighting='wnll')",
             lambda g, y, X: graphvar.laplace(g, y, method="exact", reweighting="wnll")),
    "properly": ("laplace(reweighting='properly', X=X)", lambda W, X: gl.ssl.laplace(W, reweighting="properly", X=X),
                 "laplace(method='exact', reweighting='properly', features=X, dtype=float64)",
                 lambda g, y, X: graphvar.laplace(g, y, method="exact", reweighting="properly", features=X,
                                                  dtype=torch.float64)),
    "laplace_poisson": ("laplace(reweighting='poisson')", lambda W, X: gl.ssl.laplace(W, reweighting="poisson"),
                        "laplace(method='exact', reweighting='poisson')",
                        lambda g, y, X: graphvar.laplace(g, y, method="exact", reweighting="poisson")),
    "laplace_randomwalk": ("laplace(normalization='randomwalk')",
                           lambda W, X: gl.ssl.laplace(W, normalization="randomwalk"),
                           "laplace(method='exact', normalization='randomwalk')",
                           lambda g, y, X: graphvar.laplace(g, y, method="exact", normalization="randomwalk")),
    "laplace_normalized": ("laplace(normalization='normalized')",
                           lambda W, X: gl.ssl.laplace(W, normalization="normalized"),
                           "laplace(method='exact', normalization='normalized')",
                           lambda g, y, X: graphvar.laplace(g, y, method="exact", normalization="normalized")),
    "poisson_cg": ("poisson()", lambda W, X: gl.ssl.poisson(W),
                   "poisson(method='exact')", lambda g, y, X: graphvar.poisson(g, y, method="exact")),
    "poisson_gd": ("poisson(solver='gradient_descent')", lambda W, X: gl.ssl.poisson(W, solver="gradient_descent"),
                   "poisson()", lambda g, y, X: graphvar.poisson(g, y)),
    "poisson_spectral": ("poisson(solver='spectral')", lambda W, X: gl.ssl.poisson(W, solver="spectral"),
                         "poisson(method='spectral')", lambda g, y, X: graphvar.poisson(g, y, method="spectral")),
    "randomwalk": ("randomwalk()", lambda W, X: gl.ssl.randomwalk(W),
                   "randomwalk()", lambda g, y, X: graphvar.randomwalk(g, y)),
    "graph_nearest_neighbor": ("graph_nearest_neighbor()", lambda W, X: gl.ssl.graph_nearest_neighbor(W),
                               "graph_nearest_neighbor()", lambda g, y, X: graphvar.graph_nearest_neighbor(g, y)),
    "plaplace": ("plaplace()", lambda W, X: gl.ssl.plaplace(W), "plaplace()", lambda g, y, X: graphvar.plaplace(g, y)),
    "amle": ("amle()", lambda W, X: gl.ssl.amle(W), "amle()", lambda g, y, X: graphvar.amle(g, y)),
    "peikonal": ("peikonal()", lambda W, X: gl.ssl.peikonal(W), "peikonal()", lambda g, y, X: graphvar.peikonal(g, y)),
    "dynamic_label_propagation": ("dynamic_label_propagation()", lambda W, X: gl.ssl.dynamic_label_propagation(W),
                                  "dynamic_label_propagation()",
                                  lambda g, y, X: graphvar.dynamic_label_propagation(g, y)),
    "centered_kernel": ("centered_kernel()", lambda W, X: gl.ssl.centered_kernel(W),
                        "centered_kernel()", lambda g, y, X: graphvar.centered_kernel(g, y)),
    "sparse_label_propagation": ("sparse_label_propagation()", lambda W, X: gl.ssl.sparse_label_propagation(W),
                                 "sparse_label_propagation()",
                                 lambda g, y, X: graphvar.sparse_label_propagation(g, y)),
}


#: --datasets name -> load_benchmark_data arguments (the citation graphs: their largest component, unit weights).
DATASETS = {
    "digits": dict(name="digits", features="raw", graph="knn", k=10, metric="euclidean"),
    "cora": dict(name="cora", graph="citation", largest_component=True),
    "citeseer": dict(name="citeseer", graph="citation", largest_component=True),
    "cora_knn": dict(name="cora", features="raw", graph="knn", k=10, metric="cosine"),
    "citeseer_knn": dict(name="citeseer", features="raw", graph="knn", k=10, metric="cosine"),
    "fashionmnist": dict(name="fashionmnist", features="vae", graph="knn", k=10, metric="euclidean"),
}


def load(dataset: str, features: str | None = None):
    """``(graph, scipy W, features, labels, info)``; ``features`` overrides FashionMNIST's (vae)."""
    from graphvar.benchmark.data import load_benchmark_data

    kw = dict(DATASETS[dataset])
    if features is not None and dataset == "fashionmnist":
        kw["features"] = features
    d = load_benchmark_data(kw.pop("name"), cache=False, **kw)
    return d.graph, sp.csr_matrix(d.graph.to_scipy().astype(np.float64)), d.features, d.labels, d.info


class PeerTimeout(Exception):
    """GraphLearning ran past ``--peer-timeout`` on one labeled set."""


def _alarm(signum, frame):
    raise PeerTimeout


def _gl_run(make, W, X, train, y, timeout: int = 0):
    """GraphLearning's fit + predict on one set: ``(model, pred, seconds)``; PeerTimeout past ``timeout`` s.

    The alarm interrupts Python code only: a call inside GraphLearning's C
    extensions ends first, so a timed-out set may have run longer than ``timeout``.
    """
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm) if timeout else None
    signal.alarm(timeout)
    try:
        model = make(W, X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(train, y[train])
        pred = model.predict()
    finally:
        signal.alarm(0)
        if old is not None:
            signal.signal(signal.SIGALRM, old)
    return model, pred, time.perf_counter() - t0


def _gv_run(fn, g, X, train, y):
    labels = np.full(y.shape[0], -1)
    labels[train] = y[train]
    t0 = time.perf_counter()
    scores = fn(g, labels, X).double().numpy()
    return scores, time.perf_counter() - t0


def _peer(row, make_gl, W, X, train, y, timeout):
    """One GraphLearning run, or None when it times out (then GraphLearning is skipped on later sets)."""
    try:
        return _gl_run(make_gl, W, X, train, y, timeout)
    except PeerTimeout:
        row["peer_timeout"] = {"after_sets": len(row["s_gl"]), "limit_s": timeout}
        return None


def one_method(name, g, W, X, y, sets, gl_sets: int, timeout: int = 0) -> dict:
    """Both packages on every labeled set (GraphLearning on the first ``gl_sets`` only, within ``timeout``)."""
    _, make_gl, _, run_gv = METHODS[name]
    row = {"method": name, "acc_gl": [], "acc_gv": [], "agree": [], "ties": [], "s_gl": [], "s_gv": [],
           "gl_sets": min(gl_sets, len(sets)), "sets": len(sets), "loadavg": loadavg()}
    for i, train in enumerate(sets):
        unl = np.ones(y.shape[0], dtype=bool)
        unl[train] = False
        run_peer = i < gl_sets and "peer_timeout" not in row
        peer = _peer(row, make_gl, W, X, train, y, timeout) if run_peer and i % 2 == 0 else None
        try:
            scores, s_gv = _gv_run(run_gv, g, X, train, y)
        except ValueError as exc:  # graphvar refuses the input (e.g. a spectral solve on a disconnected graph)
            row["gv_error"] = str(exc)
            break
        if run_peer and i % 2 == 1:
            peer = _peer(row, make_gl, W, X, train, y, timeout)
        row["acc_gv"].append(100 * float(np.mean(scores.argmax(1)[unl] == y[unl])))
        row["s_gv"].append(s_gv)
        if peer is not None:
            model, pred, s_gl = peer
            theirs = model.prob if model.similarity else -model.prob
            agree, ties = agreement(theirs, scores, unl)
            row["acc_gl"].append(100 * float(np.mean(pred[unl] == y[unl])))
            row["agree"].append(100 * agree)
            row["ties"].append(100 * ties)
            row["s_gl"].append(s_gl)
    row["gl_sets"] = len(row["s_gl"])
    row["loadavg_end"] = loadavg()
    return row


def markdown(record: dict) -> str:
    lines = []
    for ds in record["datasets"]:
        lines += [f"**{ds['dataset']}** ({ds['graph_desc']}; {ds['trials']} labeled sets per rate, same W and "
                  "sets for both; agreement and ties in % of unlabeled nodes, tie-aware; accuracies on the sets "
                  "both solved; s/set graphvar over all sets, the ratio on the sets both solved, interleaved):", "",
                  "| method | labels/class | agreement % (min) | ties % | accuracy GraphLearning | accuracy graphvar "
                  "| s/set GraphLearning | s/set graphvar | GraphLearning / graphvar | load |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in ds["rows"]:
            if "gv_error" in r and not r["acc_gv"]:
                lines.append(f"| {r['method']} | {r['rate']} | graphvar raises: {r['gv_error']} | – | – | – | – | – "
                             f"| – | {r['loadavg'][0]:.2f}–{r['loadavg_end'][0]:.2f} |")
                continue
            if not r["gl_sets"]:
                why = (f"timed out after {r['peer_timeout']['limit_s']} s on its first set" if "peer_timeout" in r
                       else r.get("peer_skipped", "not run"))
                lines.append(f"| {r['method']} | {r['rate']} | GraphLearning {why} | – | – | "
                             f"{np.mean(r['acc_gv']):.2f} | – | {np.mean(r['s_gv']):.3g} | – | "
                             f"{r['loadavg'][0]:.2f}–{r['loadavg_end'][0]:.2f} |")
                continue
            peer = f" ({r['gl_sets']} of {r['sets']} sets)" if r["gl_sets"] < r["sets"] else ""
            if "peer_timeout" in r:
                peer += f", then timed out ({r['peer_timeout']['limit_s']} s)"
            s_gl, s_gv = np.mean(r["s_gl"]), np.mean(r["s_gv"])
            paired = np.mean(r["s_gv"][:r["gl_sets"]])  # the ratio: on the sets both solved, interleaved
            acc_gv = f"{np.mean(r['acc_gv'][:r['gl_sets']]):.2f}"  # on the sets GraphLearning solved
            if len(r["acc_gv"]) > r["gl_sets"]:
                acc_gv += f" (all {len(r['acc_gv'])}: {np.mean(r['acc_gv']):.2f})"
            lines.append(
                f"| {r['method']} | {r['rate']} | {np.mean(r['agree']):.2f} ({np.min(r['agree']):.2f}){peer} | "
                f"{np.mean(r['ties']):.2f} | {np.mean(r['acc_gl']):.2f} | {acc_gv} | "
                f"{s_gl:.3g} | {s_gv:.3g} | {s_gl / paired:.2f} | {r['loadavg'][0]:.2f}–{r['loadavg_end'][0]:.2f} |")
        lines.append("")
    m = record["provenance"]["machine"] if "provenance" in record else {}
    if m:
        lines.append(f"{m.get('cpu_count')} CPUs, torch threads 1, {m.get('date_utc')}.")
    return "\n".join(lines) + "\n"


def one_dataset(dataset, args, caps, checkpoint=None) -> dict:
    """Every ``--methods`` × ``--rates`` row of one dataset; ``checkpoint(ds)`` after each row."""
    g, W, X, y, info = load(dataset, args.features)
    ds = {"dataset": dataset, "graph_desc": info["graph_desc"], "features_sha1": info["features_sha1"],
          "n_nodes": int(g.n_nodes), "trials": args.trials, "rows": []}
    for name in args.methods:
        for rate in args.rates:
            sets = labeled_sets(y, rate, args.trials, seed=args.seed, key=dataset)[args.first_trial:]
            skip = name == "dynamic_label_propagation" and g.n_nodes > 5000
            cap = 0 if skip or args.no_peer else caps.get((dataset, name), len(sets))
            row = one_method(name, g, W, X, y, sets, cap, args.peer_timeout)
            if skip:  # GraphLearning 1.7.5 prints "Cannot use ... on large datasets" and returns zero scores
                row["peer_skipped"] = "refuses graphs over 5,000 nodes (returns zero scores)"
            row["rate"], row["first_trial"] = rate, args.first_trial
            ds["rows"].append(row)
            peer = f"gl {np.mean(row['s_gl']):.3g}s agree {np.mean(row['agree']):.2f}" if row["s_gl"] else "gl -"
            print(f"{dataset} {name} rate {rate}: {peer} gv {np.mean(row['s_gv']):.3g}s", flush=True)
            if checkpoint is not None:
                checkpoint(ds)
    return ds


def _extend(old: dict, new: dict) -> dict:
    """``old``'s row with graphvar's runs on the later sets of ``new`` (a ``--first-trial`` run without peer)."""
    if new["first_trial"] != old["sets"] or new["gl_sets"]:
        raise ValueError(f"{new['method']} rate {new['rate']}: a run from labeled set {new['first_trial']} with "
                         f"{new['gl_sets']} GraphLearning sets cannot extend a row of {old['sets']} sets; "
                         f"use --first-trial {old['sets']} --no-peer")
    grown = {**old, "acc_gv": old["acc_gv"] + new["acc_gv"], "s_gv": old["s_gv"] + new["s_gv"],
             "sets": old["sets"] + new["sets"], "loadavg_later": new["loadavg"], "loadavg_end": new["loadavg_end"]}
    if "gv_error" in new:
        grown["gv_error"] = new["gv_error"]
    return grown


def _merge_into(old: dict, new: dict, methods: list[str]) -> dict:
    """``old`` with ``new``'s rows: a new dataset is added, an existing one gets ``new``'s (method, rate) rows
    and keeps its others (rows in method order, then rate); a row of a ``--first-trial`` run extends the
    stored row instead (:func:`_extend`). Both runs' provenance is kept under ``pieces``."""
    kept = {d["dataset"]: d for d in old["datasets"]}
    for d in new["datasets"]:
        if d["dataset"] in kept:
            stored = {(r["method"], r["rate"]): r for r in kept[d["dataset"]]["rows"]}
            for r in d["rows"]:
                key = (r["method"], r["rate"])
                stored[key] = _extend(stored[key], r) if r.get("first_trial") else r
            d = {**kept[d["dataset"]], **{k: v for k, v in d.items() if k != "rows"},
                 "rows": sorted(stored.values(), key=lambda r: (list(METHODS).index(r["method"]), r["rate"]))}
        kept[d["dataset"]] = d
    old["datasets"] = list(kept.values())
    pieces = old.pop("pieces", None) or [{"methods": "all", "provenance": old["provenance"]}]
    old["pieces"] = pieces + [{"datasets": sorted(d["dataset"] for d in new["datasets"]), "methods": methods,
                               "rates": new["rates"], "trials": new["trials"], "provenance": new["provenance"]}]
    old["provenance"] = {**new["provenance"], "note": "the rows of pieces[-1] (its datasets x methods x rates) were "
                         "measured by this command, the others by the earlier pieces (each with its own provenance)."}
    return old


def merge_pieces(out: str, pieces: list[str]) -> int:
    """``--merge``: fold finished runs of this script into the record ``out`` (see :func:`_merge_into`)."""
    from graphvar.benchmark.report import read_json, write_json

    record = read_json(out)
    for path in pieces:
        piece = read_json(path)
        if piece.get("partial"):
            raise SystemExit(f"{path} is a checkpoint of an unfinished run; merge it when the run has ended")
        methods = sorted({r["method"] for d in piece["datasets"] for r in d["rows"]}, key=list(METHODS).index)
        record = _merge_into(record, piece, methods)
        for d in piece["datasets"]:
            print(f"{path}: {len(d['rows'])} {d['dataset']} rows ({', '.join(methods)})")
    write_json(record, out, argv=sys.argv)
    print(f"merged into {out}; benchmarks/report.py prints the tables")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["digits", "cora"], choices=list(DATASETS))
    p.add_argument("--features", default=None, choices=("pca", "vae"),
                   help="FashionMNIST features (default vae: the VAE-20 embedding, trained once and cached)")
    p.add_argument("--rates", type=int, nargs="+", default=[1, 5])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first-trial", type=int, default=0,
                   help="skip the first labeled sets of --trials: with --no-peer, a run that --merge appends to "
                        "the stored rows (graphvar on more sets than GraphLearning)")
    p.add_argument("--no-peer", action="store_true", help="graphvar only (GraphLearning on none of the sets)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--peer-cap", nargs="*", default=["cora:laplace_randomwalk=1"],
                   help="dataset:method=N runs GraphLearning on the first N sets only (its CG on the "
                        "non-symmetric random-walk Laplacian takes ~1 min per set on Cora)")
    p.add_argument("--peer-timeout", type=int, default=0,
                   help="seconds: a GraphLearning set running longer is abandoned and GraphLearning skipped on "
                        "that row's later sets (recorded as peer_timeout; 0 = no limit)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_gl_methods.json"))
    p.add_argument("--replace", action="store_true",
                   help="re-measure --methods only and replace their rows in the existing --out record (the "
                        "old and new runs' provenance are kept under 'pieces')")
    p.add_argument("--append", action="store_true",
                   help="add --datasets to the existing --out record (replacing datasets of the same name)")
    p.add_argument("--merge", nargs="+", default=None, metavar="PIECE",
                   help="measure nothing: merge these records (runs of this script, e.g. on other cores) into "
                        "--out, each one's (dataset, method, rate) rows replacing the stored ones, or extending "
                        "them when the run was --first-trial K --no-peer")
    args = p.parse_args(argv)
    if args.merge:
        return merge_pieces(args.out, args.merge)
    if not 0 <= args.first_trial < args.trials:
        p.error(f"--first-trial must be in [0, --trials) = [0, {args.trials})")
    if gl is None:
        p.error("graphlearning is not importable: pip install graphlearning==1.7.5 (a test dependency)")
    torch.set_num_threads(1)
    from graphvar.benchmark.report import read_json, write_json
    from graphvar.provenance import provenance

    caps = {tuple(c.split("=")[0].split(":")): int(c.split("=")[1]) for c in args.peer_cap}
    record = {"graphlearning": "1.7.5", "rates": args.rates, "trials": args.trials, "seed": args.seed,
              "datasets": []}
    partial = (args.out if not (args.replace or args.append)  # never a second *.json beside the records
               else ROOT / "benchmarks" / "results" / "pieces" / (Path(args.out).stem + ".partial.json"))
    for dataset in args.datasets:
        done = list(record["datasets"])
        record["datasets"].append(one_dataset(dataset, args, caps, checkpoint=lambda ds: write_json(
            {**record, "datasets": done + [ds], "partial": True}, partial, argv=sys.argv)))
    record["provenance"] = provenance(packages=("graphlearning",))
    if args.replace or args.append:
        record = _merge_into(read_json(args.out), record, args.methods)
    write_json(record, args.out, argv=sys.argv)
    print(markdown(record))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
