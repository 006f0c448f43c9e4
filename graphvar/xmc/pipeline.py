"""The teacher–student loop behind ``graphvar xmc student`` and ``graphvar xmc predict``.

:func:`fit_student` trains the one-vs-all student on the training rows minus a
validation split (on the ground truth, or on a fitted teacher's LEVER soft
targets), early-stopped on that split. With a teacher it also chooses the
weight ``w`` of the test-time fusion ``(1 − w)·student + w·teacher``
(:func:`fuse`) on the same split, the teacher scoring each validation row
with its own row left out of its neighbours (:meth:`Teacher.predict`,
``exclude=``). The rule (:func:`choose_fusion_weight`): the largest PSP@5
among the weights whose validation P@1 is at most ``max_p1_loss`` below the
student's own (``w = 0``).

Features are L2-normalised per row before the student sees them (as in the
benchmarks); the teacher keeps the features it was fitted on.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ..validation import check_float

__all__ = ["FUSION_WEIGHTS", "fuse", "choose_fusion_weight", "fit_student", "predict_scores", "validation_split"]

#: Weights tried by :func:`choose_fusion_weight`.
FUSION_WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))


def validation_split(n: int, fraction: float, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(fit_rows, validation_rows)`` of ``n`` rows, a random ``fraction`` held out."""
    check_float(fraction, "validation_fraction", minimum=0.0, maximum=1.0, strict_minimum=True)
    n_val = int(round(fraction * n))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"a validation fraction of {fraction} of {n} rows leaves no validation or no training rows.")
    val = np.sort(np.random.default_rng(random_state).permutation(n)[:n_val])
    return np.setdiff1d(np.arange(n), val), val


def fuse(student_scores, teacher_scores, weight: float) -> sp.csr_matrix:
    """``(1 − w)·student + w·teacher`` on the union of both sparse score matrices."""
    w = check_float(weight, "weight", minimum=0.0, maximum=1.0)
    S = sp.csr_matrix(student_scores, dtype=np.float32)
    T = sp.csr_matrix(teacher_scores, dtype=np.float32)
    if S.shape != T.shape:
        raise ValueError(f"student scores have shape {S.shape} but teacher scores {T.shape}.")
    out = sp.csr_matrix((1.0 - w) * S + w * T, dtype=np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def choose_fusion_weight(student_scores, teacher_scores, Y_val, inv_propensity, *, weights=FUSION_WEIGHTS,
                         max_p1_loss: float = 0.005) -> tuple[float, list[dict]]:
    """The fusion weight with the best validation PSP@5 among those losing at most ``max_p1_loss`` P@1.

    Returns
    -------
    weight : float
    table : list of dict
        ``{"weight", "P@1", "PSP@5", "coverage@5"}`` of every weight tried (fractions, not percent).
    """
    from .metrics import evaluate

    table = []
    for w in weights:
        r = evaluate(fuse(student_scores, teacher_scores, w), Y_val, inv_propensity, ks=(1, 5))
        table.append({"weight": float(w), "P@1": float(r["P@1"]), "PSP@5": float(r["PSP@5"]),
                      "coverage@5": float(r["coverage@5"])})
    base = next(t["P@1"] for t in table if t["weight"] == min(weights))
    ok = [t for t in table if t["P@1"] >= base - max_p1_loss]
    best = max(ok, key=lambda t: (t["PSP@5"], -t["weight"]))
    return best["weight"], table


def fit_student(X, Y, *, teacher=None, distill: bool = True, fusion: bool = True, label_rows: bool = False,
                student_params: dict | None = None,
                validation_fraction: float = 0.1, max_p1_loss: float = 0.005, k: int = 50,
                random_state: int = 0, progress: bool = False) -> tuple:
    """Train the student (and choose the fusion weight) on training rows ``(X, Y)``.

    Parameters
    ----------
    X, Y : scipy sparse of shape (n, D), (n, L)
        Training rows (raw features; normalised here) and binary labels.
    teacher : Teacher, optional
        Fitted on the same rows: the student learns its soft targets, and fusion is available.
    distill : bool, default=True
        Train on the teacher's soft targets (``False``: on ``Y``; the teacher only fuses).
    fusion : bool, default=True
        Choose a fusion weight (needs ``teacher``).
    label_rows : bool, default=False
        Add Gandalf's label rows to the student's training rows: one per label, its features the
        label centroid (:func:`~graphvar.xmc.gandalf.label_centroid_features`), its targets the
        co-occurrence soft labels (:func:`~graphvar.xmc.gandalf.gandalf_soft_labels`, δ = 0.1).
    student_params : dict, optional
        :class:`~graphvar.xmc.student.OneVsAllStudent` options.
    validation_fraction : float, default=0.1
        Rows held out for early stopping and the fusion weight.
    max_p1_loss : float, default=0.005
        Fusion: the most validation P@1 (a fraction) the teacher may cost.
    k : int, default=50
        Scores kept per row when fusing.

    Returns
    -------
    student : OneVsAllStudent
    info : dict
        ``validation_rows``, ``fusion_weight`` (or ``None``), ``fusion_table``, the student's epochs.
    """
    from .metrics import inverse_propensity
    from .student import OneVsAllStudent

    if teacher is not None and teacher.Y_.shape != Y.shape:
        raise ValueError(f"the teacher was fitted on {teacher.Y_.shape[0]} rows and {teacher.Y_.shape[1]} labels "
                         f"but the training file has {Y.shape[0]} and {Y.shape[1]}; fit it on the same file.")
    fit, val = validation_split(X.shape[0], validation_fraction, random_state)
    Xn = normalize(sp.csr_matrix(X, dtype=np.float32))
    T = teacher.soft_targets() if teacher is not None and distill else sp.csr_matrix(Y, dtype=np.float32)
    params = {**(student_params or {}), "early_stopping": True}
    student = OneVsAllStudent(random_state=random_state, progress=progress, **params)
    Xf, Tf = _with_label_rows(Xn[fit], T[fit], Y[fit]) if label_rows else (Xn[fit], T[fit])
    student.fit(Xf, Tf, validation=(Xn[val], T[val]))
    info = {"validation_rows": int(val.size), "distilled": teacher is not None and distill,
            "label_rows": bool(label_rows), "student_epochs": student.n_epochs_,
            "student_best_epoch": student.best_epoch_, "stopped_early": student.stopped_early_,
            "fusion_weight": None, "fusion_table": None}
    if teacher is not None and fusion:
        kk = min(int(k), Y.shape[1])
        w, table = choose_fusion_weight(student.predict_topk(Xn[val], k=kk),
                                        teacher.predict(X[val], exclude=val, topk=kk), Y[val],
                                        inverse_propensity(Y[fit]), max_p1_loss=max_p1_loss)
        info.update(fusion_weight=w, fusion_table=table)
    return student, info


def _with_label_rows(X, T, Y):
    """``[X; Z]`` and ``[T; S]`` over the labels seen in ``Y`` (Gandalf's label rows)."""
    from .gandalf import gandalf_soft_labels, label_centroid_features

    Z = label_centroid_features(X, Y)
    S = gandalf_soft_labels(Y, delta=0.1)
    seen = np.flatnonzero(np.diff(S.indptr) > 0)
    return sp.vstack([X, Z[seen]], format="csr"), sp.vstack([T, S[seen]], format="csr")


def predict_scores(X, *, student=None, teacher=None, fusion_weight: float | None = None, k: int = 50):
    """Top-``k`` scores of new rows from a student, a teacher, or their fusion."""
    if student is None and teacher is None:
        raise ValueError("pass a student, a teacher, or both.")
    L = student.n_labels_ if student is not None else teacher.Y_.shape[1]
    kk = min(int(k), L)
    S = student.predict_topk(normalize(sp.csr_matrix(X, dtype=np.float32)), k=kk) if student is not None else None
    if teacher is None or (student is not None and not fusion_weight):
        return S
    Tt = teacher.predict(X, topk=kk)
    return Tt if S is None else fuse(S, Tt, fusion_weight)


def save_student(directory, student, info: dict, *, teacher_dir=None, extra: dict | None = None) -> dict:
    """Write ``student_weights.npz`` and ``model.json`` (parameters, fusion weight, teacher folder)."""
    import json
    from pathlib import Path

    from ..provenance import provenance
    from .export import _jsonable

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(d / "student_weights.npz", weight=student.weight_.cpu().numpy(),
                        bias=student.bias_.cpu().numpy())
    man = _jsonable({"kind": "graphvar.xmc.OneVsAllStudent", "params": student.get_params(),
                     "features": "rows L2-normalised before the student",
                     "teacher_dir": None if teacher_dir is None else str(Path(teacher_dir).resolve()),
                     **info, "environment": provenance(), "extra": extra or {}})
    with open(d / "model.json", "w") as fh:
        json.dump(man, fh, indent=2)
    return man


def load_model(directory) -> dict:
    """A saved student (``model.json``) or teacher (``manifest.json``) as ``predict_scores`` keywords."""
    import json
    from pathlib import Path

    import torch

    from .export import load_teacher
    from .student import OneVsAllStudent

    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: no such model folder; pass a folder written by `graphvar xmc student` "
                                "or `graphvar xmc teacher`.")
    if not (d / "model.json").is_file():
        return {"teacher": load_teacher(d)}
    with open(d / "model.json") as fh:
        man = json.load(fh)
    with np.load(d / "student_weights.npz") as z:
        W, b = torch.from_numpy(z["weight"]), torch.from_numpy(z["bias"])
    known = set(OneVsAllStudent().get_params())
    student = OneVsAllStudent(**{k: v for k, v in man["params"].items() if k in known})
    student.weight_, student.bias_ = W, b
    student.n_features_in_, student.n_labels_ = W.shape
    out = {"student": student}
    if man.get("fusion_weight") and man.get("teacher_dir"):
        out.update(teacher=load_teacher(man["teacher_dir"]), fusion_weight=float(man["fusion_weight"]))
    return out
