"""``graphvar xmc student`` and ``graphvar xmc predict``: the student half of the teacher–student loop.

Examples
--------
::

    graphvar xmc teacher --train train.txt --out teacher/
    graphvar xmc student --train train.txt --test test.txt --teacher teacher/ --out student/
    graphvar xmc evaluate --scores student/test_scores.npz --test test.txt --train train.txt
    graphvar xmc predict --model student/ --test new.txt --out new_scores.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import positive_int

__all__ = ["add_commands"]


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return v


def _write_scores(path, S) -> None:
    from graphvar.xmc.formats import save_npz, write_lf

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".npz":
        save_npz(p, S)
    else:
        write_lf(p, S)


def _cmd_student(a) -> int:
    from graphvar.xmc.export import load_teacher
    from graphvar.xmc.formats import read_xc
    from graphvar.xmc.pipeline import fit_student, predict_scores, save_student

    X, Y = read_xc(a.train)
    Xte, _ = read_xc(a.test)
    if Xte.shape[1] != X.shape[1]:
        raise ValueError(f"{a.test}: {Xte.shape[1]} features but {a.train} has {X.shape[1]}; they must match.")
    teacher = load_teacher(a.teacher) if a.teacher else None
    params = dict(epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, weight_decay=a.weight_decay,
                  patience=a.patience)
    student, info = fit_student(X, Y, teacher=teacher, distill=not a.no_distill, fusion=not a.no_fusion,
                                label_rows=a.label_rows, student_params=params,
                                validation_fraction=a.validation_fraction, max_p1_loss=a.max_p1_loss / 100,
                                k=a.k, random_state=a.seed, progress=not a.quiet)
    save_student(a.out, student, info, teacher_dir=a.teacher, extra={"train": str(a.train), "test": str(a.test)})
    S = predict_scores(Xte, student=student, teacher=teacher, fusion_weight=info["fusion_weight"], k=a.k)
    _write_scores(Path(a.out) / "test_scores.npz", S)
    fused = f", fusion weight {info['fusion_weight']:g}" if info["fusion_weight"] is not None else ""
    on = " on the teacher" if info["distilled"] else ""
    print(f"student: {X.shape[0] - info['validation_rows']} rows + {info['validation_rows']} validation, "
          f"best epoch {info['student_best_epoch']} of {info['student_epochs']}"
          f"{on}{fused}; wrote model.json, student_weights.npz "
          f"and test_scores.npz ({S.shape[0]} rows) to {a.out}")
    return 0


def _cmd_predict(a) -> int:
    from graphvar.xmc.formats import read_xc
    from graphvar.xmc.pipeline import load_model, predict_scores

    model = load_model(a.model)
    X, _ = read_xc(a.test)
    S = predict_scores(X, k=a.k, **model)
    _write_scores(a.out, S)
    kind = "student + teacher fusion" if model.get("fusion_weight") else "student" if "student" in model else "teacher"
    print(f"predict: {S.shape[0]} rows scored by the {kind} of {a.model}; wrote {a.out}")
    return 0


def add_commands(sub) -> None:
    """Add ``student`` and ``predict`` to the ``graphvar xmc`` sub-parsers ``sub``."""
    from graphvar.xmc.student import OneVsAllStudent

    d = OneVsAllStudent()
    s = sub.add_parser("student", help="train the one-vs-all student (on a teacher's soft targets) and score TEST",
                       description="Train the one-vs-all student, early-stopped on a validation split of TRAIN; "
                                   "with --teacher on its LEVER soft targets, fused with its scores at test time.")
    s.add_argument("--train", required=True, help="training file (XC repository format)")
    s.add_argument("--test", required=True, help="file of rows to score (XC format; labels may be empty)")
    s.add_argument("--teacher", default=None, help="folder written by `graphvar xmc teacher` on the same TRAIN")
    s.add_argument("--out", required=True, help="output folder (model.json, student_weights.npz, test_scores.npz)")
    s.add_argument("--no-fusion", action="store_true", help="with --teacher: distillation only, no test-time fusion")
    s.add_argument("--no-distill", action="store_true",
                   help="with --teacher: train on the labels, use the teacher only for test-time fusion")
    s.add_argument("--label-rows", action="store_true",
                   help="add Gandalf label rows (label centroids, co-occurrence targets) to the training rows")
    s.add_argument("--epochs", type=positive_int, default=d.epochs, help=f"most epochs (default {d.epochs})")
    s.add_argument("--patience", type=positive_int, default=d.patience,
                   help=f"early-stopping patience in epochs (default {d.patience})")
    s.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    s.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    s.add_argument("--weight-decay", type=float, default=d.weight_decay)
    s.add_argument("--validation-fraction", type=_fraction, default=0.1,
                   help="training rows held out for early stopping and the fusion weight (default 0.1)")
    s.add_argument("--max-p1-loss", type=float, default=0.5,
                   help="fusion: most validation P@1 (points) the teacher may cost (default 0.5)")
    s.add_argument("--k", type=positive_int, default=50, help="scores kept per test row (default 50)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_student)

    p = sub.add_parser("predict", help="score rows with a saved student (with its fusion) or teacher")
    p.add_argument("--model", required=True, help="folder of `graphvar xmc student` or `graphvar xmc teacher`")
    p.add_argument("--test", required=True, help="rows to score (XC format)")
    p.add_argument("--out", required=True, help="scores file: .npz (CSR) or LF text")
    p.add_argument("--k", type=positive_int, default=50, help="scores kept per row (default 50)")
    p.set_defaults(func=_cmd_predict)
