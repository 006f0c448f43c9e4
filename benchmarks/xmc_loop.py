"""The XMC teacher–student loop through the CLI: student, distillation, fusion, teacher, sklearn baseline.

Three modes, each row produced by ``graphvar xmc ...`` commands run in-process
(the commands are stored in the record, with ``TRAIN`` / ``TEST`` / ``OUT``
placeholders)::

    python benchmarks/xmc_loop.py --tune-student        # student lr, weight decay on a validation split
    python benchmarks/xmc_loop.py --variants            # tail-targeting teacher variants, validation split
    python benchmarks/xmc_loop.py --datasets bibtex corel5k tmc2007 --seeds 3   # test-set tables

The validation split is a fixed random 20 % of each training file (seed
12345), written as XC files, so tuning never sees the test set. Metrics are
``graphvar xmc evaluate``'s (propensities from the training labels, A=0.55,
B=1.5). The scikit-learn baseline is one-vs-rest ``LogisticRegression``
(liblinear) on the same L2-normalised features, ``C`` chosen in {1, 10, 100}
by P@1 on the student's validation rows. Writes
``benchmarks/results/xmc_loop_<dataset>.json`` (test), ``xmc_loop_tune.json``,
``xmc_loop_variants.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from graphvar.benchmark.report import write_json  # noqa: E402
from graphvar.cli import main as graphvar_main  # noqa: E402
from graphvar.datasets.xmc import resolve_xmc_dataset as resolve_dataset  # noqa: E402
from graphvar.xmc.formats import load_npz, read_xc, write_xc  # noqa: E402
from graphvar.xmc.metrics import evaluate, inverse_propensity  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("P@1", "P@3", "P@5", "nDCG@5", "PSP@1", "PSP@3", "PSP@5", "coverage@5")
# row -> (needs a teacher, extra student flags); None: not a `graphvar xmc student` row
ROWS = {
    "student": (False, []),
    "student + teacher (distillation)": (True, ["--no-fusion"]),
    "student ⊕ teacher (fusion)": (True, ["--no-distill"]),
    "student + teacher ⊕ teacher (both)": (True, []),
    "teacher alone": None,
    "sklearn one-vs-rest LR": None,
}
STUDENT_GRID = tuple((lr, wd) for lr in (0.01, 0.1) for wd in (0.0, 1e-6, 1e-5, 1e-4))  # (lr, weight decay)
VARIANTS = {  # name -> (teacher flags, student flags)
    "poisson (default)": ([], []),
    "propensity-weighted sources": (["--source-weights", "propensity"], []),
    "vpoisson a=1": (["--solver", "vpoisson", "--amplification", "1"], []),
    "vpoisson a=3": (["--solver", "vpoisson", "--amplification", "3"], []),
    "k=20": (["--k", "20"], []),
    "Gandalf label rows": ([], ["--label-rows"]),
}


def _run(argv: list[str], log: list) -> None:
    """Run ``graphvar <argv>`` in-process; record it; raise on a non-zero exit."""
    t0 = time.perf_counter()
    rc = graphvar_main(argv)
    log.append({"argv": ["graphvar", *argv], "seconds": time.perf_counter() - t0})
    if rc != 0:
        raise RuntimeError(f"graphvar {' '.join(argv)} exited with {rc}")


def _placeholders(argv: list[str], paths: dict) -> str:
    text = " ".join(argv)
    for name, p in paths.items():
        text = text.replace(str(p), name)
    return text


def _metrics(scores_path, Yte, inv_p) -> dict:
    r = evaluate(load_npz(scores_path), Yte, inv_p, ks=(1, 3, 5))
    return {k: 100.0 * float(r[k]) for k in METRICS}


def _sklearn_row(train, test, seed: int, val_fraction: float = 0.1) -> tuple[sp.csr_matrix, dict]:
    """One-vs-rest logistic regression, C by validation P@1 on the student's split; top-50 test scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import normalize

    from graphvar.xmc.pipeline import validation_split

    (X, Y), (Xte, _) = read_xc(train), read_xc(test)
    X, Xte = normalize(X), normalize(Xte)
    fit, val = validation_split(X.shape[0], val_fraction, seed)

    def scores(C, Xa, Ya, Xb):
        counts = np.asarray(Ya.sum(0)).ravel()
        cols = np.flatnonzero((counts > 0) & (counts < Ya.shape[0]))  # OvR needs both classes per column
        clf = OneVsRestClassifier(LogisticRegression(C=C, solver="liblinear"), n_jobs=1)
        clf.fit(Xa, Ya[:, cols].toarray())
        P = np.zeros((Xb.shape[0], Ya.shape[1]), dtype=np.float32)
        P[:, cols] = clf.predict_proba(Xb)
        return sp.csr_matrix(P)

    table = {C: float(evaluate(scores(C, X[fit], Y[fit], X[val]), Y[val], ks=(1,))["P@1"]) for C in (1.0, 10.0, 100.0)}
    C = max(table, key=table.get)
    return scores(C, X, Y, Xte), {"C": C, "validation_P@1": table}


def run_seed(train, test, out: Path, seed: int, rows, teacher_flags=(), student_flags=()) -> dict:
    """All ``rows`` for one seed; returns ``{row: {"metrics", "commands", ...}}``."""
    _, Ytr = read_xc(train)
    _, Yte = read_xc(test)
    inv_p = inverse_propensity(Ytr)
    paths = {"TRAIN": train, "TEST": test, "OUT": out}
    res, tdir = {}, out / "teacher"
    needs_teacher = any(ROWS[r] and ROWS[r][0] for r in rows) or "teacher alone" in rows
    teacher_log: list = []
    if needs_teacher:
        _run(["xmc", "teacher", "--train", str(train), "--out", str(tdir), "--seed", str(seed), "--formats", "npz",
              "--quiet", *teacher_flags], teacher_log)
    for i, r in enumerate(rows):
        log = list(teacher_log) if (ROWS[r] and ROWS[r][0]) or r == "teacher alone" else []
        extra = {}
        t0 = time.perf_counter()
        if r == "teacher alone":
            _run(["xmc", "predict", "--model", str(tdir), "--test", str(test), "--out", str(out / "t.npz")], log)
            path = out / "t.npz"
        elif r == "sklearn one-vs-rest LR":
            S, extra = _sklearn_row(train, test, seed)
            path = out / "sk.npz"
            sp.save_npz(path, S)
            log.append({"argv": ["(python) OneVsRestClassifier(LogisticRegression(C, solver='liblinear'))"],
                        "seconds": time.perf_counter() - t0})
        else:
            sdir = out / f"s{i}"
            argv = ["xmc", "student", "--train", str(train), "--test", str(test), "--out", str(sdir), "--seed",
                    str(seed), "--quiet", *student_flags, *(["--teacher", str(tdir)] if ROWS[r][0] else []),
                    *ROWS[r][1]]
            _run(argv, log)
            path = sdir / "test_scores.npz"
            import json

            man = json.loads((sdir / "model.json").read_text())
            extra = {k: man[k] for k in ("student_epochs", "student_best_epoch", "stopped_early", "fusion_weight")}
        res[r] = {"metrics": _metrics(path, Yte, inv_p), **extra,
                  "commands": [_placeholders(c["argv"], paths) for c in log],
                  "seconds": sum(c["seconds"] for c in log)}
        print(f"  seed {seed} {r}: " + " ".join(f"{k} {res[r]['metrics'][k]:.2f}" for k in METRICS), flush=True)
    return res


def summarize(per_seed: list[dict]) -> dict:
    """``{row: {metric: [mean, std]}}`` over seeds (std with ddof=1; 0 for one seed)."""
    out = {}
    for r in per_seed[0]:
        out[r] = {}
        for k in METRICS:
            v = np.array([s[r]["metrics"][k] for s in per_seed])
            out[r][k] = [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0]
    return out


def markdown(rec: dict) -> str:
    """The table of one record (percent, mean ± std over seeds)."""
    lines = ["| row | " + " | ".join(METRICS) + " |", "|---|" + "---:|" * len(METRICS)]
    for r, m in rec["summary"].items():
        lines.append(f"| {r} | " + " | ".join(f"{m[k][0]:.2f} ± {m[k][1]:.2f}" for k in METRICS) + " |")
    return "\n".join(lines)


def commands_markdown(rec: dict) -> str:
    """The commands behind each row (seed 0)."""
    first = rec["per_seed"][0]
    return "\n".join(f"- {r}: " + "; ".join(f"`{c}`" for c in first[r]["commands"]) for r in first)


def _validation_files(name: str, tmp: Path, fraction: float = 0.2) -> tuple[Path, Path]:
    """A fixed 20 % of the training file as a pseudo test set, written as XC files."""
    X, Y = read_xc(resolve_dataset(name) / "train.txt")
    perm = np.random.default_rng(12345).permutation(X.shape[0])
    n_val = int(round(fraction * X.shape[0]))
    val, trn = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    d = tmp / f"{name}_val"
    d.mkdir(parents=True, exist_ok=True)
    write_xc(d / "train.txt", X[trn], Y[trn])
    write_xc(d / "test.txt", X[val], Y[val])
    return d / "train.txt", d / "test.txt"


def tune_student(datasets, tmp: Path) -> dict:
    """Student alone at each (lr, weight decay), early-stopped, on every dataset's validation split."""
    table = []
    for name in datasets:
        tr, te = _validation_files(name, tmp)
        for lr, wd in STUDENT_GRID:
            flags = ["--lr", str(lr), "--weight-decay", str(wd)]
            r = run_seed(tr, te, tmp / f"{name}_{lr}_{wd}", 0, ["student"], student_flags=flags)["student"]
            table.append({"dataset": name, "lr": lr, "weight_decay": wd, **r})
    score = {f"lr={lr} wd={wd:g}": float(np.mean([t["metrics"]["P@1"] for t in table
                                                  if (t["lr"], t["weight_decay"]) == (lr, wd)]))
             for lr, wd in STUDENT_GRID}
    best = max(STUDENT_GRID, key=lambda g: score[f"lr={g[0]} wd={g[1]:g}"])
    return {"table": table, "mean_validation_P@1": score, "chosen": {"lr": best[0], "weight_decay": best[1]},
            "rule": "largest mean validation P@1 over the datasets"}


def variants(datasets, tmp: Path, seeds) -> dict:
    """Each teacher variant: distillation + fusion and fusion alone, validation split, against the student."""
    out = {}
    for name in datasets:
        tr, te = _validation_files(name, tmp)
        out[name] = {}
        for s in seeds:
            base = run_seed(tr, te, tmp / f"{name}_base{s}", s, ["student"])
            out[name].setdefault("student", []).append(base["student"])
            for v, (tf, sf) in VARIANTS.items():
                r = run_seed(tr, te, tmp / f"{name}_{len(out[name])}_{s}", s,
                             ["student ⊕ teacher (fusion)", "student + teacher ⊕ teacher (both)"], tf, sf)
                for row, val in r.items():
                    out[name].setdefault(f"{v}: {row}", []).append(val)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["bibtex", "corel5k", "tmc2007"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--tune-student", action="store_true")
    p.add_argument("--variants", action="store_true")
    p.add_argument("--teacher-flags", default="", help="extra `graphvar xmc teacher` flags for the test rows")
    p.add_argument("--student-flags", default="", help="extra `graphvar xmc student` flags for the test rows")
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xmc_loop_") as tmp:
        tmp = Path(tmp)
        if a.tune_student:
            rec = tune_student(a.datasets, tmp)
            write_json({**rec, "datasets": a.datasets, "seconds": time.perf_counter() - t0},
                       Path(a.out) / "xmc_loop_tune.json")
            print(rec["mean_validation_P@1"], "chosen", rec["chosen"])
            return 0
        if a.variants:
            rec = {"datasets": a.datasets, "seeds": list(range(a.seeds)), "variants": variants(a.datasets, tmp, range(a.seeds))}
            rec["summary"] = {n: summarize([{r: v[i] for r, v in d.items()} for i in range(a.seeds)])
                              for n, d in rec["variants"].items()}
            write_json({**rec, "seconds": time.perf_counter() - t0}, Path(a.out) / "xmc_loop_variants.json")
            for n in a.datasets:
                print(f"### {n} (validation)\n" + markdown({"summary": rec["summary"][n]}))
            return 0
        for name in a.datasets:
            root = resolve_dataset(name)
            per_seed = [run_seed(root / "train.txt", root / "test.txt", tmp / f"{name}{s}", s, a.rows,
                                 a.teacher_flags.split(), a.student_flags.split()) for s in range(a.seeds)]
            rec = {"dataset": name, "seeds": list(range(a.seeds)), "rows": a.rows, "per_seed": per_seed,
                   "summary": summarize(per_seed), "teacher_flags": a.teacher_flags, "student_flags": a.student_flags,
                   "seconds": time.perf_counter() - t0}
            write_json(rec, Path(a.out) / f"xmc_loop_{name}.json")
            print(f"### {name} (test, {a.seeds} seeds)\n{markdown(rec)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
