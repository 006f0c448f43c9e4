"""``graphvar demo``: the methods to pick, on scikit-learn's digits at 1, 3 and 5 labels per class.

PoissonMBO, V-PoissonMBO and Poisson with class priors (the most accurate at
these rates, docs/mbo.md) beside Poisson and Laplace; the priors are the true
class fractions, as in GraphLearning's examples. The digits data ships with
scikit-learn, so the demo needs no download. Every method sees the same
seeded labeled sets (:mod:`graphvar.benchmark.protocol`); the table reports
mean (std) accuracy on unlabeled points and each method's paired difference
vs Poisson with its standard error.
"""

from __future__ import annotations

import argparse
import time

__all__ = ["register", "run_demo"]

METHODS = ("laplace", "poisson", "poisson_mbo", "vpoisson_mbo")


def run_demo(rates=(1, 3, 5), trials: int = 10, k: int = 10, seed: int = 0, progress: bool = True) -> dict:
    """Run the demo benchmark and return its record (see :mod:`graphvar.benchmark.report`)."""
    from ..benchmark.runner import run_benchmark
    from ..datasets import load_digits
    from ..graph import knn_graph
    from ..validation import check_int

    trials = check_int(trials, "trials", minimum=1)
    rates = [check_int(r, "rates", minimum=1) for r in rates]
    X, y = load_digits()
    t0 = time.perf_counter()
    graph = knn_graph(X, k=k)
    record = run_benchmark(
        graph, y, dataset="digits", methods=METHODS, rates=rates, trials=trials, seed=seed, priors="both",
        config={"graph_desc": f"k={k} Gaussian k-NN graph, {graph.info['backend']} backend",
                "graph_seconds": graph.info["seconds"]},
        progress=progress,
    )
    record["config"]["total_seconds"] = time.perf_counter() - t0
    return record


def _main(args: argparse.Namespace) -> int:
    from ..benchmark.report import markdown_table, write_json

    t0 = time.perf_counter()
    record = run_demo(rates=args.rates, trials=args.trials, k=args.k, seed=args.seed, progress=not args.quiet)
    print(markdown_table(record, baseline="poisson"))
    if args.json:
        write_json(record, args.json)
        print(f"wrote {args.json}")
    print(f"graphvar demo finished in {time.perf_counter() - t0:.1f} s")
    return 0


def register(subparsers) -> None:
    from . import positive_int

    p = subparsers.add_parser(
        "demo",
        help="PoissonMBO / V-PoissonMBO / Poisson (+ priors) / Laplace on sklearn digits (no download)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rates", type=positive_int, nargs="+", default=[1, 3, 5], help="labels per class")
    p.add_argument("--trials", type=positive_int, default=10, help="labeled sets per rate")
    p.add_argument("--k", type=positive_int, default=10, help="neighbours of the k-NN graph")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the record to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)
