"""``graphvar bench``: the trials benchmark from the command line.

Example::

    graphvar bench fashionmnist --features vae --rates 1 2 3 4 5 --trials 20 \\
        --normalize both --priors both

prints a Markdown table (mean (std) accuracy, paired difference vs Poisson ±
standard error, seconds per labeled set) and writes
``<out>/<dataset>_<graph>_<features>_k<k>.{json,md}`` (and ``.png`` with
``--plot`` when matplotlib is installed). The JSON carries
:func:`graphvar.provenance.provenance` with the full command line, so the
record says exactly how to remake it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

__all__ = ["register", "run"]


def _methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give a comma-separated list, e.g. laplace,poisson,vpoisson")
    return names


def _priors(args: argparse.Namespace, graph_kind: str) -> str:
    """Resolve ``--priors auto``: off on a full citation graph (with a note), both elsewhere."""
    if args.priors != "auto":
        return args.priors
    if graph_kind == "citation" and not args.lcc:
        print(f"graphvar bench: class priors skipped on the full {args.dataset} citation graph: its components "
              "without a label score 0, so the class-prior projection cannot converge (12-50 % accuracy, "
              "minutes of work); pass --lcc, or --priors both to run them anyway.", file=sys.stderr)
        return "off"
    return "both"


def invocation(args: argparse.Namespace) -> list[str]:
    """The ``graphvar bench`` command line that reproduces ``args``, every option explicit.

    ``sys.argv`` is used when this process is the ``graphvar bench`` command
    itself; otherwise (``main([...])`` called from Python) the command is
    rebuilt from the parsed options.
    """
    if Path(sys.argv[0]).name == "graphvar" and sys.argv[1:2] == ["bench"]:
        return ["graphvar", *sys.argv[1:]]
    argv = ["graphvar", "bench", args.dataset]
    for key, value in vars(args).items():
        if key in ("func", "command", "dataset") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif key == "methods":
            argv += [flag, ",".join(value)]
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def register(subparsers) -> None:
    """Add the ``bench`` sub-command."""
    from ..benchmark.data import DATASETS, FEATURES, GRAPHS
    from . import positive_int

    p = subparsers.add_parser(
        "bench",
        help="run the trials benchmark (same seeded labeled sets for every method)",
        description=(
            "Run graph-based SSL methods on the same seeded, stratified labeled sets "
            "(1-5 labels per class) and report accuracy on the unlabeled nodes."
        ),
    )
    p.add_argument("dataset", choices=DATASETS, help="dataset to benchmark")
    p.add_argument(
        "--methods",
        type=_methods,
        default=["laplace", "poisson", "vlaplace", "vpoisson"],
        help="comma-separated methods: laplace, poisson, vlaplace, vpoisson (options as "
        "vpoisson:amplification=2), the MBO family (poisson_mbo, vpoisson_mbo, volume_mbo, multiclass_mbo, "
        "modularity_mbo: docs/mbo.md), GraphLearning's other methods (randomwalk, plaplace, amle, peikonal, "
        "wnll, poisson_spectral, ...: docs/methods.md) and GNN methods of graphvar.benchmark.gnn_methods "
        "(default: laplace,poisson,vlaplace,vpoisson)",
    )
    p.add_argument("--rates", type=positive_int, nargs="+", default=[1, 2, 3, 4, 5], help="labels per class (default: 1 2 3 4 5)")
    p.add_argument("--trials", type=positive_int, default=10, help="labeled sets per rate (default: 10)")
    p.add_argument("--features", choices=FEATURES, default=None, help="node features (default: vae for fashionmnist, raw otherwise)")
    p.add_argument("--k", type=positive_int, default=10, help="neighbours of the k-NN graph (default: 10)")
    p.add_argument("--metric", choices=("euclidean", "cosine"), default=None, help="k-NN metric (default: cosine for cora/citeseer, euclidean otherwise)")
    p.add_argument("--graph", choices=GRAPHS, default=None, help="graph: knn, or citation for cora/citeseer (default: citation there, knn otherwise)")
    p.add_argument("--lcc", action="store_true", help="citation graphs: keep only the largest connected component")
    p.add_argument("--normalize", choices=("off", "on", "both"), default="both", help="dispersion normalisation of the solver scores (default: both)")
    p.add_argument("--priors", choices=("auto", "off", "on", "both"), default="auto",
                   help="class-prior (volume-constrained) prediction (default auto: both, except off on the full "
                   "citation graphs, where the projection cannot converge)")
    p.add_argument("--seed", type=int, default=0, help="benchmark seed (default: 0)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="labeled sets solved together (default: all trials of a rate)")
    p.add_argument("--no-reorder", action="store_true", help="solve in the original node order (default: reverse Cuthill-McKee order, faster)")
    p.add_argument("--device", default=None, help="torch device of the graph and solvers (default: cpu)")
    p.add_argument("--root", default=None, help="data root (default: $GRAPHVAR_DATA or ./data)")
    p.add_argument("--no-cache", action="store_true", help="rebuild the k-NN graph instead of loading it from <root>/graphs/")
    p.add_argument("--out", default="benchmarks/results", help="folder of the JSON/Markdown output (default: benchmarks/results)")
    p.add_argument("--name", default=None, help="file stem of the outputs (default: derived from the options)")
    p.add_argument("--plot", action="store_true", help="also save a PNG plot (needs matplotlib)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``graphvar bench``; return the exit code."""
    import torch

    from ..benchmark.data import load_benchmark_data
    from ..benchmark.report import write_json
    from ..benchmark.runner import run_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    graph_kind, features, stem = _names(args)
    out = Path(args.out)
    argv = invocation(args)
    t0 = time.perf_counter()

    def checkpoint(record: dict) -> None:
        # a long run leaves its finished (method, rate) cells on disk as it goes
        write_json({**record, "partial": True}, out / f"{stem}.partial.json", argv=argv)
    try:
        data = load_benchmark_data(
            args.dataset,
            features=features,
            graph=graph_kind,
            k=args.k,
            metric=args.metric,
            root=args.root,
            cache=not args.no_cache,
            device=args.device,
            largest_component=args.lcc,
        )
        record = run_benchmark(
            data.graph,
            data.labels,
            dataset=args.dataset,
            methods=args.methods,
            rates=args.rates,
            trials=args.trials,
            seed=args.seed,
            features=data.features,
            normalize=args.normalize,
            priors=_priors(args, graph_kind),
            batch_size=args.batch_size,
            reorder=not args.no_reorder,
            on_result=checkpoint,
            config={**data.info, "cli_args": {k: v for k, v in vars(args).items() if k != "func"}},
            progress=not args.quiet,
        )
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"graphvar bench: {exc}", file=sys.stderr)
        return 2
    record["config"]["total_seconds"] = time.perf_counter() - t0
    _write_outputs(record, out, stem, argv, plot=args.plot)
    print(f"graphvar bench finished in {record['config']['total_seconds']:.1f} s")
    return 0


def _names(args: argparse.Namespace) -> tuple[str, str, str]:
    """``(graph kind, features, record stem)`` of a ``graphvar bench`` invocation."""
    citation = args.dataset in ("cora", "citeseer")
    graph_kind = args.graph or ("citation" if citation else "knn")
    features = args.features or ("vae" if args.dataset == "fashionmnist" else "raw")
    stem = args.name or (
        f"{args.dataset}_{graph_kind}" + ("_lcc" if args.lcc else "")
        + ("" if graph_kind == "citation" else f"_{features}_k{args.k}")
    )
    return graph_kind, features, stem


def _write_outputs(record: dict, out: Path, stem: str, argv, *, plot: bool) -> None:
    """Print the table; write the JSON record, the Markdown table and (``plot``) the accuracy plot."""
    from ..benchmark.report import markdown_table, plot_accuracy, write_json

    table = markdown_table(record)
    print(table)
    write_json(record, out / f"{stem}.json", argv=argv)
    (out / f"{stem}.partial.json").unlink(missing_ok=True)
    (out / f"{stem}.md").write_text(table)
    written = [out / f"{stem}.json", out / f"{stem}.md"]
    if plot:
        try:
            written.append(plot_accuracy(record, out / f"{stem}.png"))
        except ImportError as exc:
            print(f"graphvar bench: no plot ({exc})", file=sys.stderr)
    print("wrote " + ", ".join(os.fspath(p) for p in written))
