"""Write a fitted :class:`~graphvar.xmc.teacher.Teacher` to disk for XMC students.

Files written into ``out_dir``:

``teacher_phat.npz`` / ``teacher_phat.txt``
    Raw calibrated teacher estimates p̂, top-k per row (scipy ``.npz`` CSR and
    LF text: ``N L`` header, ``label:value`` pairs, 0-based).
``soft_targets.npz`` / ``soft_targets.txt``
    LEVER targets ``λ·y + (1−λ)·p̂``.
``augmented_X.npz``, ``augmented_targets.npz`` / ``.txt`` (with label features)
    LEVER's N+L rows: training rows followed by one row per label, the label
    rows carrying Gandalf co-occurrence targets.
``train_X.npz`` (or ``.npy``), ``train_Y.npz``
    The training features and labels, so that :func:`load_teacher` gives a
    teacher that scores new rows (:meth:`Teacher.predict`).
``manifest.json``
    Every parameter, the graph info, calibration, shapes, nnz, timings, versions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..provenance import provenance

__all__ = ["export_teacher", "load_teacher"]


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _write_pair(out: Path, stem: str, M: sp.csr_matrix, formats) -> dict:
    from .formats import save_npz, write_lf

    files = {}
    if "npz" in formats:
        save_npz(out / f"{stem}.npz", M)
        files[f"{stem}.npz"] = {"shape": list(M.shape), "nnz": int(M.nnz)}
    if "lf" in formats:
        write_lf(out / f"{stem}.txt", M)
        files[f"{stem}.txt"] = {"shape": list(M.shape), "nnz": int(M.nnz), "format": "LF (N L header, label:value)"}
    return files


def _write_training_rows(out: Path, teacher) -> dict:
    from .formats import save_npz

    X = teacher.X_
    if X is None:
        return {}
    if sp.issparse(X):
        save_npz(out / "train_X.npz", sp.csr_matrix(X))
        name = "train_X.npz"
    else:
        np.save(out / "train_X.npy", np.asarray(X))
        name = "train_X.npy"
    save_npz(out / "train_Y.npz", teacher.Y_)
    return {name: {"shape": list(X.shape)}, "train_Y.npz": {"shape": list(teacher.Y_.shape)}}


def load_teacher(directory):
    """A teacher exported by :func:`export_teacher`, ready for ``soft_targets()`` and ``predict()``.

    The graph and the calibration map are not stored: the loaded teacher holds the
    training rows, p̂ and its parameters, enough to give soft targets and score new rows.
    """
    from .formats import load_npz
    from .teacher import Teacher

    d = Path(directory)
    man_path = d / "manifest.json"
    if not man_path.is_file():
        raise FileNotFoundError(f"{d}: no manifest.json; pass a folder written by `graphvar xmc teacher`.")
    with open(man_path) as fh:
        man = json.load(fh)
    if man.get("kind") != "graphvar.xmc.Teacher":
        raise ValueError(f"{man_path}: kind is {man.get('kind')!r}, not a graphvar teacher.")
    x_path = d / "train_X.npz" if (d / "train_X.npz").is_file() else d / "train_X.npy"
    if not x_path.is_file() or not (d / "train_Y.npz").is_file():
        raise FileNotFoundError(f"{d}: no train_X/train_Y files; re-export the teacher with this version.")
    known = set(Teacher().get_params())
    teacher = Teacher(**{k: v for k, v in man["params"].items() if k in known})
    teacher.X_ = load_npz(x_path) if x_path.suffix == ".npz" else np.load(x_path)
    teacher.Y_ = load_npz(d / "train_Y.npz")
    if (d / "teacher_phat.npz").is_file():
        teacher.p_hat_ = load_npz(d / "teacher_phat.npz")
    else:
        from .formats import read_lf

        teacher.p_hat_ = read_lf(d / "teacher_phat.txt")
    teacher.label_features_ = None
    teacher.manifest_ = man
    return teacher


def export_teacher(teacher, out_dir, formats=("npz", "lf"), delta: float = 0.1, extra: dict | None = None) -> dict:
    """Write the teacher's p̂, LEVER soft targets (and N+L rows) and a manifest.

    Parameters
    ----------
    teacher : Teacher
        A fitted teacher.
    out_dir : str or Path
        Created if missing; existing files of the same names are overwritten.
    formats : sequence of {"npz", "lf"}, default=("npz", "lf")
    delta : float, default=0.1
        Gandalf threshold for the label-feature rows (only with label features).
    extra : dict, optional
        Added to the manifest under ``"extra"`` (e.g. input file names).

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``).
    """
    bad = set(formats) - {"npz", "lf"}
    if bad or not formats:
        raise ValueError(f"formats must be a non-empty subset of ('npz', 'lf'), got {formats!r}.")
    teacher._check_fitted()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = {}
    files.update(_write_pair(out, "teacher_phat", teacher.p_hat_, formats))
    T = teacher.soft_targets()
    files.update(_write_pair(out, "soft_targets", T, formats))
    if teacher.label_features_ is not None:
        from .formats import save_npz

        X_aug, T_aug = teacher.augmented(delta=delta)
        if sp.issparse(X_aug):
            save_npz(out / "augmented_X.npz", sp.csr_matrix(X_aug))
        else:
            np.save(out / "augmented_X.npy", X_aug)
        files["augmented_X" + (".npz" if sp.issparse(X_aug) else ".npy")] = {"shape": list(X_aug.shape)}
        files.update(_write_pair(out, "augmented_targets", T_aug, formats))
    files.update(_write_training_rows(out, teacher))
    t_write = time.perf_counter() - t0
    Y = teacher.Y_
    manifest = {
        "kind": "graphvar.xmc.Teacher",
        "params": teacher.get_params(),
        "n_steps_run": teacher.n_steps_,
        "n_train": int(Y.shape[0]),
        "n_labels": int(Y.shape[1]),
        "graph": teacher.graph_info_,
        "graph_nnz": int(teacher.graph_.n_edges),
        "calibration": teacher.calibration_info_,
        "leave_one_out": ("exact cross-fitting: each row estimated by a propagation whose sources "
                          f"exclude its fold ({teacher.n_folds} folds)") if teacher.leave_one_out
        else "none: estimates include each row's own labels",
        "soft_targets": {"formula": ("y + (1-lam)*p_hat on labels outside y" if teacher.truth == "one"
                                     else "lam*y + (1-lam)*p_hat"), "truth": teacher.truth, "lam": teacher.lam,
                         "threshold": teacher.threshold, "max_extra": teacher.max_extra},
        "gandalf_delta": delta if teacher.label_features_ is not None else None,
        "files": files,
        "timings_s": {**teacher.timings_, "write_s": t_write},
        "environment": provenance(),
        "extra": extra or {},
    }
    manifest = _jsonable(manifest)
    with open(out / "manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=2)
    return manifest
