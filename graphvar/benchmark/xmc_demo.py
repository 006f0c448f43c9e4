"""The XMC demo loop: student alone vs student + graph teacher vs student + Gandalf.

Used by ``graphvar xmc demo`` and ``benchmarks/xmc_demo.py``. For every seed:

1. ``student``: :class:`~graphvar.xmc.student.OneVsAllStudent` on ``(X, Y)``;
2. ``student + graph teacher``: the same student on LEVER soft targets
   ``λ·y + (1−λ)·p̂`` from :class:`~graphvar.xmc.teacher.Teacher`;
3. ``student + Gandalf``: the student on ``[X; Z]`` with targets ``[Y; S]``,
   ``Z`` the label-centroid features (PIFA; these datasets have no label
   text) and ``S`` the co-occurrence soft labels.

Features are L2-normalised per row. Propensities come from the binary
training matrix only. The seed drives the teacher's folds and calibration
rows and the student's shuffling.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ..datasets.xmc import load_xmc_dataset

__all__ = ["run_demo", "summarize", "markdown_table", "ROWS", "METRIC_KEYS",
           "DEFAULT_TEACHER", "DEFAULT_STUDENT"]

ROWS = ("student", "student + graph teacher", "student + Gandalf")
METRIC_KEYS = ("P@1", "P@3", "P@5", "PSP@1", "PSP@3", "PSP@5", "nDCG@5", "coverage@5")
DEFAULT_TEACHER = dict(k=10, solver="poisson", n_steps=4, topk=50, lam=0.0, truth="one", threshold=0.0,
                       max_extra=None)
DEFAULT_STUDENT = dict(epochs=200, lr=0.1, batch_size=256, weight_decay=1e-5)


def _fit_score(X, T, Xte, student_params, seed, k=5):
    from ..xmc.student import OneVsAllStudent

    st = OneVsAllStudent(random_state=seed, **student_params).fit(X, T)
    return st.predict_topk(Xte, k=k)


def run_demo(dataset, seeds=3, teacher_params=None, student_params=None, delta: float = 0.1,
             rows=ROWS, split=None, progress: bool = False, data=None) -> dict:
    """Run the three-row comparison over ``seeds`` and return per-seed metrics.

    Parameters
    ----------
    dataset : str or Path
        Name (``corel5k``, ``bibtex``) or folder; ignored when ``data`` is given.
    seeds : int or sequence of int, default=3
    teacher_params, student_params : dict, optional
        Override :data:`DEFAULT_TEACHER` / :data:`DEFAULT_STUDENT`.
    delta : float, default=0.1
        Gandalf threshold.
    rows : sequence of str
        Subset of :data:`ROWS` to run.
    split : float, optional
        If given, evaluate on a random ``split`` fraction of the *training* rows
        (a validation split, for tuning) instead of the test set.
    data : tuple, optional
        ``(X_train, Y_train, X_test, Y_test)`` already loaded.

    Returns
    -------
    dict
        ``{"runs": {row: [metrics per seed]}, "params": ..., "timings_s": ...}``.
    """
    from ..xmc.gandalf import gandalf_soft_labels, label_centroid_features
    from ..xmc.metrics import evaluate, inverse_propensity
    from ..xmc.teacher import Teacher

    tp = {**DEFAULT_TEACHER, **(teacher_params or {})}
    spar = {**DEFAULT_STUDENT, **(student_params or {})}
    seeds = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else list(seeds)
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise ValueError(f"unknown rows {sorted(unknown)}; choose from {ROWS}.")
    Xtr, Ytr, Xte, Yte = data if data is not None else load_xmc_dataset(dataset)
    Ytr = sp.csr_matrix(Ytr, dtype=np.float32)
    if split is not None:
        rng = np.random.default_rng(12345)
        perm = rng.permutation(Xtr.shape[0])
        n_val = int(round(split * Xtr.shape[0]))
        val, trn = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        Xtr, Ytr, Xte, Yte = Xtr[trn], Ytr[trn], Xtr[val], Ytr[val]
    Xtr = normalize(sp.csr_matrix(Xtr, dtype=np.float32))
    Xte = normalize(sp.csr_matrix(Xte, dtype=np.float32))
    inv_p = inverse_propensity(Ytr)
    runs = {r: [] for r in rows}
    timings = {r: [] for r in rows}
    for seed in seeds:
        for r in rows:
            t0 = time.perf_counter()
            if r == "student":
                scores = _fit_score(Xtr, Ytr, Xte, spar, seed)
            elif r == "student + graph teacher":
                teacher = Teacher(random_state=seed, progress=progress, **tp).fit(Xtr, Ytr)
                scores = _fit_score(Xtr, teacher.soft_targets(), Xte, spar, seed)
            else:
                Z = label_centroid_features(Xtr, Ytr)
                S = gandalf_soft_labels(Ytr, delta=delta)
                seen = np.flatnonzero(np.diff(S.indptr) > 0)
                X_aug = sp.vstack([Xtr, Z[seen]], format="csr")
                T_aug = sp.vstack([Ytr, S[seen]], format="csr")
                scores = _fit_score(X_aug, T_aug, Xte, spar, seed)
            res = evaluate(scores, Yte, inv_p, ks=(1, 3, 5))
            runs[r].append({k: float(res[k]) for k in METRIC_KEYS})
            timings[r].append(time.perf_counter() - t0)
    return {"dataset": str(dataset), "seeds": seeds, "runs": runs, "timings_s": timings,
            "teacher_params": tp, "student_params": spar, "gandalf_delta": delta,
            "evaluated_on": "test" if split is None else f"validation split {split} of train",
            "n_train": int(Xtr.shape[0]), "n_eval": int(Xte.shape[0]), "n_labels": int(Ytr.shape[1])}


def summarize(result: dict) -> dict:
    """Mean and std (in percent) of every metric for every row."""
    out = {}
    for r, per_seed in result["runs"].items():
        out[r] = {}
        for k in METRIC_KEYS:
            v = 100.0 * np.array([m[k] for m in per_seed])
            out[r][k] = (float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0)
    return out


def markdown_table(result: dict) -> str:
    """The comparison as a Markdown table (percent, mean ± std over seeds)."""
    s = summarize(result)
    head = "| " + " | ".join(("method",) + METRIC_KEYS) + " |"
    sep = "|" + "---|" * (len(METRIC_KEYS) + 1)
    lines = [head, sep]
    for r, m in s.items():
        lines.append("| " + " | ".join([r] + [f"{m[k][0]:.2f} ± {m[k][1]:.2f}" for k in METRIC_KEYS]) + " |")
    return "\n".join(lines)
