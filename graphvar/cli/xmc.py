"""``graphvar xmc``: export a graph teacher, train a student, predict, evaluate scores, run the XMC demo.

Examples
--------
::

    graphvar xmc teacher --train train.txt --out teacher/ --k 10 --topk 50
    graphvar xmc student --train train.txt --test test.txt --teacher teacher/ --out student/
    graphvar xmc predict --model student/ --test test.txt --out scores.npz
    graphvar xmc evaluate --scores scores.npz --test test.txt --train train.txt
    graphvar xmc demo corel5k --seeds 3 --json results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["register"]


def _int_or_auto(v: str):
    if v == "auto":
        return v
    try:
        i = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {v!r}") from None
    if i < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {v!r}")
    return i


def _ks(v: str):
    try:
        ks = tuple(int(x) for x in v.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,3,5, got {v!r}") from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"k values must be positive, got {v!r}")
    return ks


def _add_teacher_options(p):
    g = p.add_argument_group("teacher")
    g.add_argument("--k", type=int, default=10, help="neighbours per training point (default 10)")
    g.add_argument("--solver", choices=("poisson", "vpoisson", "laplace"), default="poisson")
    g.add_argument("--n-steps", type=_int_or_auto, default=4, help="propagation steps or 'auto' (default 4)")
    g.add_argument("--topk", type=int, default=50, help="labels kept per row (default 50)")
    g.add_argument("--amplification", type=float, default=1.0, help="vpoisson amplification a (default 1)")
    g.add_argument("--source-weights", choices=("none", "propensity"), default="none",
                   help="inject labels with inverse-propensity weights (propensity) or 1 (none, default)")
    g.add_argument("--metric", choices=("auto", "cosine", "euclidean"), default="auto")
    g.add_argument("--kernel", choices=("gaussian", "symgaussian", "uniform"), default="gaussian")
    g.add_argument("--lambda", dest="lam", type=float, default=0.0, help="LEVER weight of y (default 0)")
    g.add_argument("--truth", choices=("mix", "one"), default="one",
                   help="target of true labels: lam + (1-lam) p̂ (mix, LEVER Eq. 6) or 1 (one, LEVER's code)")
    g.add_argument("--threshold", type=float, default=0.0, help="min p̂ of extra labels in the soft targets")
    g.add_argument("--max-extra", type=int, default=None, help="most extra labels per row (LEVER's tau)")
    loo = g.add_mutually_exclusive_group()
    loo.add_argument("--leave-one-out", dest="leave_one_out", action="store_true", default=True,
                     help="out-of-sample estimates by cross-fitting (default)")
    loo.add_argument("--no-leave-one-out", dest="leave_one_out", action="store_false")
    g.add_argument("--folds", type=int, default=3, help="cross-fitting folds (default 3)")
    g.add_argument("--calibration", choices=("isotonic", "platt", "none"), default="isotonic")
    g.add_argument("--seed", type=int, default=0)


def _teacher_kwargs(a) -> dict:
    return dict(k=a.k, solver=a.solver, n_steps=a.n_steps, topk=a.topk, amplification=a.amplification,
                source_weights=a.source_weights,
                metric=a.metric, kernel=a.kernel, lam=a.lam, truth=a.truth, threshold=a.threshold, max_extra=a.max_extra,
                leave_one_out=a.leave_one_out, n_folds=a.folds, calibration=a.calibration,
                random_state=a.seed)


def _load_label_features(path):
    import numpy as np

    from graphvar.xmc.formats import load_npz

    p = Path(path)
    if p.suffix == ".npy":
        return np.load(p)
    if p.suffix == ".npz":
        return load_npz(p)
    from graphvar.xmc.formats import read_xc

    return read_xc(p)[0]


def _cmd_teacher(a) -> int:
    from graphvar.xmc.export import export_teacher
    from graphvar.xmc.formats import read_xc
    from graphvar.xmc.teacher import Teacher

    X, Y = read_xc(a.train)
    Z = _load_label_features(a.label_features) if a.label_features else None
    teacher = Teacher(progress=not a.quiet, **_teacher_kwargs(a)).fit(X, Y, label_features=Z)
    formats = tuple(f.strip() for f in a.formats.split(","))
    man = export_teacher(teacher, a.out, formats=formats, delta=a.delta,
                         extra={"train": str(a.train), "label_features": a.label_features})
    print(f"teacher: {Y.shape[0]} rows, {Y.shape[1]} labels, {teacher.p_hat_.nnz} p̂ entries, "
          f"{man['timings_s']['total_s']:.1f} s; wrote {', '.join(man['files'])} and manifest.json to {a.out}")
    return 0


def _cmd_evaluate(a) -> int:
    from graphvar.xmc.formats import load_npz, read_lf, read_xc
    from graphvar.xmc.metrics import evaluate, inverse_propensity

    sp_path = Path(a.scores)
    S = load_npz(sp_path) if sp_path.suffix == ".npz" else read_lf(sp_path)
    _, Yte = read_xc(a.test)
    if S.shape != Yte.shape:
        print(f"error: scores have shape {S.shape} but the test labels have {Yte.shape}", file=sys.stderr)
        return 2
    if a.train:
        _, Ytr = read_xc(a.train)
        inv_p = inverse_propensity(Ytr, A=a.A, B=a.B)
    else:
        inv_p = None
        print("note: no --train given, PSP metrics use propensities from the test labels", file=sys.stderr)
        inv_p = inverse_propensity(Yte, A=a.A, B=a.B)
    res = evaluate(S, Yte, inv_p, ks=a.ks)
    if a.json:
        print(json.dumps({k: float(v) for k, v in res.items()}, indent=2))
    else:
        w = max(len(k) for k in res)
        for k, v in res.items():
            print(f"{k:<{w}}  {100 * float(v):6.2f}")
    return 0


def _cmd_demo(a) -> int:
    from graphvar.benchmark.xmc_demo import markdown_table, run_demo, summarize

    tp = _teacher_kwargs(a)
    tp.pop("random_state")
    sp_ = dict(epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, weight_decay=a.weight_decay)
    res = run_demo(a.dataset, seeds=a.seeds, teacher_params=tp, student_params=sp_, delta=a.delta,
                   progress=not a.quiet)
    print(f"{a.dataset}: {res['n_train']} train, {res['n_eval']} test, {res['n_labels']} labels, "
          f"{len(res['seeds'])} seeds (percent, mean ± std)")
    print(markdown_table(res))
    if a.json:
        res["summary"] = summarize(res)
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


def register(subparsers) -> None:
    """Add ``graphvar xmc {teacher,student,predict,evaluate,demo}``."""
    from .xmc_student import add_commands

    p = subparsers.add_parser("xmc", help="XMC teacher export, student, prediction, evaluation and demo",
                              description="Extreme multi-label classification with a graph teacher.")
    sub = p.add_subparsers(dest="xmc_command", metavar="XMC_COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    t = sub.add_parser("teacher", help="fit the graph teacher on a training file and export soft targets")
    t.add_argument("--train", required=True, help="training file (XC repository format)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--label-features", default=None, help="label features (.npz CSR, .npy, or XC file) for N+L rows")
    t.add_argument("--delta", type=float, default=0.1, help="Gandalf threshold for label rows (default 0.1)")
    t.add_argument("--formats", default="npz,lf", help="comma-separated subset of npz,lf (default both)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_teacher_options(t)
    t.set_defaults(func=_cmd_teacher)
    add_commands(sub)

    e = sub.add_parser("evaluate", help="P@k, PSP@k, nDCG@k, coverage@k of a score matrix")
    e.add_argument("--scores", required=True, help="scores (.npz CSR or LF text), one row per test point")
    e.add_argument("--test", required=True, help="test file (XC repository format)")
    e.add_argument("--train", default=None, help="training file, for the propensities (recommended)")
    e.add_argument("--ks", type=_ks, default=(1, 3, 5), help="cut-offs (default 1,3,5)")
    e.add_argument("--A", type=float, default=0.55, help="propensity A (default 0.55)")
    e.add_argument("--B", type=float, default=1.5, help="propensity B (default 1.5)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=_cmd_evaluate)

    d = sub.add_parser("demo", help="student vs student + graph teacher vs student + Gandalf")
    d.add_argument("dataset", help="dataset folder with train.txt/test.txt, or a name (corel5k, bibtex)")
    d.add_argument("--seeds", type=int, default=3)
    d.add_argument("--epochs", type=int, default=200, help="most student epochs (early-stopped; default 200)")
    d.add_argument("--lr", type=float, default=0.1)
    d.add_argument("--batch-size", type=int, default=256)
    d.add_argument("--weight-decay", type=float, default=1e-5)
    d.add_argument("--delta", type=float, default=0.1, help="Gandalf threshold (default 0.1)")
    d.add_argument("--json", default=None, help="write the per-seed results here")
    d.add_argument("--quiet", action="store_true")
    _add_teacher_options(d)
    d.set_defaults(func=_cmd_demo)
