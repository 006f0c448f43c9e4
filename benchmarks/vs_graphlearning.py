"""graphvar next to GraphLearning 1.7.5 (Calder's reference package), in one run.

Part 1 — same weight matrix, same labeled sets. graphvar builds the k-NN
graph; its ``graph.to_scipy()`` is handed to GraphLearning as ``W``. For each
seeded labeled set both toolkits solve:

* Poisson, the stopped iteration (GraphLearning ``solver="gradient_descent"``
  vs graphvar ``poisson``): the same algorithm, so predictions should agree;
* Poisson, GraphLearning's default conjugate-gradient solver vs graphvar's
  ``poisson(method="exact")`` (different algorithms: CG on the normalised
  Laplacian with tol 1e-3 vs CG to 1e-5 on ``L u = b``);
* Laplace (GraphLearning CG vs graphvar ``laplace(method="exact")``);
* Poisson with class priors (GraphLearning's volume label projection vs
  :func:`graphvar.solvers.priors.volume_label_projection`).

It reports the agreement of the predicted labels (% of unlabeled nodes), the
accuracy of each, and the solve time.

Part 2 — end to end (features → graph → labels for all labeled sets), each
toolkit with its own default k-NN: GraphLearning ``weightmatrix.knn(X, k)``
(annoy, approximate) then one solve per labeled set; graphvar ``knn_graph``
(exact) then one batched solve of all labeled sets. Reported as a ratio.

Run (GraphLearning lives in a separate environment, never a graphvar dependency)::

    python3 -m venv /work/gl-venv
    /work/gl-venv/bin/pip install torch==2.13.0 graphlearning==1.7.5 annoy
    /work/gl-venv/bin/pip install -e .            # or PYTHONPATH=.
    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 /work/gl-venv/bin/python \\
        benchmarks/vs_graphlearning.py --dataset fashionmnist --features vae --trials 5

Prints Markdown tables and writes ``benchmarks/results/vs_graphlearning_<dataset>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import graphlearning as gl
except ImportError:  # pragma: no cover - depends on the environment
    gl = None


def _need_graphlearning() -> None:
    if gl is None:
        print(
            "vs_graphlearning: graphlearning is not importable in this environment.\n"
            "Install it in a separate benchmark environment (never into graphvar's):\n"
            "  python3 -m venv /work/gl-venv && /work/gl-venv/bin/pip install torch==2.13.0 "
            "graphlearning==1.7.5 annoy && /work/gl-venv/bin/pip install -e .\n"
            "then run this script with /work/gl-venv/bin/python.",
            file=sys.stderr,
        )
        sys.exit(2)


def _acc(pred, labels, mask):
    return 100.0 * float(np.mean(pred[mask] == labels[mask]))


def _agree(a, b, mask):
    return 100.0 * float(np.mean(a[mask] == b[mask]))


def _gl_fit(model, train, labels):
    """GraphLearning fit + predict, seconds."""
    t0 = time.perf_counter()
    model.fit(train, labels[train])
    pred = model.predict()
    return pred, time.perf_counter() - t0


def same_graph(data, rates, trials, seed, with_priors: bool = True) -> list[dict]:
    """Part 1: both toolkits on graphvar's weight matrix and the same labeled sets."""
    import torch

    from graphvar.benchmark import evaluation_mask, labeled_sets
    from graphvar.solvers import laplace, poisson
    from graphvar.solvers.priors import class_priors_from_labels, volume_label_projection

    W = data.graph.to_scipy().astype(np.float64)
    g64 = data.graph.to(dtype=torch.float64)
    y = data.labels
    n, c = y.size, int(y.max()) + 1
    priors = class_priors_from_labels(y)
    pairs = {
        "Poisson (iteration)": [],
        "Poisson (GL CG vs graphvar exact)": [],
        "Laplace (exact)": [],
        "Poisson + class priors": [],
    }
    rows = []
    for rate in rates:
        sets = labeled_sets(y, rate, trials, seed=seed, key=data.info["dataset"])
        stats = {k: {"agree": [], "acc_gl": [], "acc_gv": [], "s_gl": [], "s_gv": []} for k in pairs}
        for s in sets:
            mask = evaluation_mask(n, s)
            ym = np.full(n, -1)
            ym[s] = y[s]
            # graphvar, float64 like GraphLearning
            t0 = time.perf_counter()
            U = poisson(g64, ym, n_classes=c)
            gv_pois, t_pois = U.argmax(-1).numpy(), time.perf_counter() - t0
            if with_priors:
                t0 = time.perf_counter()
                gv_prior = volume_label_projection(U, priors).numpy()
                t_prior = t_pois + time.perf_counter() - t0
            t0 = time.perf_counter()
            gv_exact = poisson(g64, ym, method="exact", n_classes=c).argmax(-1).numpy()
            t_exact = time.perf_counter() - t0
            t0 = time.perf_counter()
            gv_lap = laplace(g64, ym, method="exact", n_classes=c).argmax(-1).numpy()
            t_lap = time.perf_counter() - t0
            # GraphLearning on the same W
            gl_pois, s_pois = _gl_fit(gl.ssl.poisson(W, solver="gradient_descent"), s, y)
            gl_cg, s_cg = _gl_fit(gl.ssl.poisson(W), s, y)
            gl_lap, s_lap = _gl_fit(gl.ssl.laplace(W), s, y)
            compared = [
                ("Poisson (iteration)", gl_pois, gv_pois, s_pois, t_pois),
                ("Poisson (GL CG vs graphvar exact)", gl_cg, gv_exact, s_cg, t_exact),
                ("Laplace (exact)", gl_lap, gv_lap, s_lap, t_lap),
            ]
            if with_priors:
                gl_prior, s_prior = _gl_fit(gl.ssl.poisson(W, solver="gradient_descent", class_priors=priors), s, y)
                compared.append(("Poisson + class priors", gl_prior, gv_prior, s_prior, t_prior))
            for key, a, b, sa, sb in compared:
                st = stats[key]
                st["agree"].append(_agree(a, b, mask))
                st["acc_gl"].append(_acc(a, y, mask))
                st["acc_gv"].append(_acc(b, y, mask))
                st["s_gl"].append(sa)
                st["s_gv"].append(sb)
        for key, st in stats.items():
            if not st["agree"]:
                continue
            rows.append({"solver": key, "rate": int(rate), **{k: list(map(float, v)) for k, v in st.items()}})
            print(f"  rate {rate}: {key}: agreement {np.mean(st['agree']):.2f} %", flush=True)
    return rows


def end_to_end(Z, labels, dataset, k, rate, trials, seed) -> dict:
    """Part 2: features → graph → labels, each toolkit with its own default k-NN."""
    import torch

    from graphvar.benchmark import evaluation_mask, labeled_sets
    from graphvar.graph import knn_graph
    from graphvar.solvers import poisson

    sets = labeled_sets(labels, rate, trials, seed=seed, key=dataset)
    n = labels.size
    out: dict = {"rate": rate, "trials": trials, "k": k}

    t0 = time.perf_counter()
    W = gl.weightmatrix.knn(Z, k)
    t_knn = time.perf_counter() - t0
    acc, t_solve = [], 0.0
    for s in sets:
        pred, sec = _gl_fit(gl.ssl.poisson(W, solver="gradient_descent"), s, labels)
        t_solve += sec
        acc.append(_acc(pred, labels, evaluation_mask(n, s)))
    out["graphlearning"] = {"knn_s": t_knn, "solve_s": t_solve, "total_s": t_knn + t_solve,
                            "accuracy": acc, "knn": "weightmatrix.knn (annoy)", "solver": "poisson gradient_descent"}

    t0 = time.perf_counter()
    g = knn_graph(Z, k=k)
    t_knn = time.perf_counter() - t0
    Y = np.full((trials, n), -1)
    for b, s in enumerate(sets):
        Y[b, s] = labels[s]
    t0 = time.perf_counter()
    pred = poisson(g, torch.from_numpy(Y)).argmax(-1).numpy()
    t_solve = time.perf_counter() - t0
    acc = [_acc(pred[b], labels, evaluation_mask(n, s)) for b, s in enumerate(sets)]
    out["graphvar"] = {"knn_s": t_knn, "solve_s": t_solve, "total_s": t_knn + t_solve, "accuracy": acc,
                       "knn": f"knn_graph (exact, {g.info.get('backend')})", "solver": "poisson, all sets batched"}
    # one labeled set alone, to separate batching from per-solve speed
    t0 = time.perf_counter()
    poisson(g, Y[0])
    out["graphvar"]["solve_one_s"] = time.perf_counter() - t0
    out["ratio_total"] = out["graphlearning"]["total_s"] / out["graphvar"]["total_s"]
    return out


def markdown(record: dict) -> str:
    lines = [
        f"**{record['dataset']}** ({record['graph_desc']}; {record['trials']} labeled sets per rate, "
        "same W and same sets for both): agreement = % of unlabeled nodes with the same predicted label.",
        "",
        "| solver | labels/class | agreement % | accuracy GraphLearning | accuracy graphvar | s/set GraphLearning | s/set graphvar |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in record["same_graph"]:
        f = lambda v: f"{np.mean(v):.2f}"  # noqa: E731
        lines.append(
            f"| {r['solver']} | {r['rate']} | {f(r['agree'])} (min {np.min(r['agree']):.2f}) | {f(r['acc_gl'])} | "
            f"{f(r['acc_gv'])} | {np.mean(r['s_gl']):.3g} | {np.mean(r['s_gv']):.3g} |"
        )
    e = record.get("end_to_end")
    if e:
        a, b = e["graphlearning"], e["graphvar"]
        lines += [
            "",
            f"End to end (features → {e['k']}-NN graph → Poisson labels for {e['trials']} labeled sets at "
            f"{e['rate']} label/class), each toolkit with its own default k-NN:",
            "",
            "| toolkit | k-NN | k-NN s | solve s | total s | mean accuracy |",
            "|---|---|---:|---:|---:|---:|",
            f"| GraphLearning 1.7.5 | {a['knn']} | {a['knn_s']:.2f} | {a['solve_s']:.2f} | {a['total_s']:.2f} | {np.mean(a['accuracy']):.2f} |",
            f"| graphvar | {b['knn']} | {b['knn_s']:.2f} | {b['solve_s']:.2f} | {b['total_s']:.2f} | {np.mean(b['accuracy']):.2f} |",
            "",
            f"Speed ratio (GraphLearning total / graphvar total): **{e['ratio_total']:.2f}×**; "
            f"graphvar one labeled set alone: {b['solve_one_s']:.2f} s.",
        ]
    m = record["machine"]
    lines += ["", f"Load average {m['loadavg'][0]:.2f} / {m['loadavg'][1]:.2f} / {m['loadavg'][2]:.2f} "
              f"(end {m['loadavg_end'][0]:.2f}) on {m['cpu_count']} CPUs, torch threads {m['torch_threads']}, "
              f"{m['date_utc']}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="fashionmnist", choices=("digits", "fashionmnist", "cora", "citeseer"))
    p.add_argument("--features", default=None, choices=("raw", "pca", "vae"),
                   help="default: vae for fashionmnist, raw otherwise")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--rates", type=int, nargs="+", default=[1, 5])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--e2e-trials", type=int, default=None, help="labeled sets of the end-to-end run (default: --trials)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-e2e", action="store_true", help="skip the end-to-end timing")
    p.add_argument("--no-priors", action="store_true",
                   help="skip the class-prior comparison (GraphLearning's loop takes minutes per set on 70k nodes)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    _need_graphlearning()

    import torch

    torch.set_num_threads(1)
    from graphvar.benchmark.data import load_benchmark_data
    from graphvar.benchmark.report import machine_info, write_json

    features = args.features or ("vae" if args.dataset == "fashionmnist" else "raw")
    metric = "euclidean"  # GraphLearning's default similarity, for both toolkits
    data = load_benchmark_data(args.dataset, features=features, graph="knn", k=args.k, metric=metric)
    record = {
        "dataset": args.dataset,
        "graph_desc": data.info["graph_desc"],
        "trials": args.trials,
        "rates": args.rates,
        "seed": args.seed,
        "graphlearning": getattr(gl, "__version__", "1.7.5"),
        "machine": machine_info(),
    }
    print(f"same graph: {data.info['graph_desc']}, n={data.labels.size}", flush=True)
    record["same_graph"] = same_graph(data, args.rates, args.trials, args.seed, with_priors=not args.no_priors)
    if not args.no_e2e:
        print("end to end ...", flush=True)
        record["end_to_end"] = end_to_end(data.features, data.labels, args.dataset, args.k, args.rates[0],
                                          args.e2e_trials or args.trials, args.seed)
    record["machine"]["loadavg_end"] = machine_info()["loadavg"]
    table = markdown(record)
    print(table)
    out = Path(args.out)
    write_json(record, out / f"vs_graphlearning_{args.dataset}.json")
    (out / f"vs_graphlearning_{args.dataset}.md").write_text(table)
    print(f"wrote {out / f'vs_graphlearning_{args.dataset}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
