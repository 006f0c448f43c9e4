"""The cases of ``bad_input_survey.py`` for files, loaders, XMC tools and the command line.

Registered with :func:`bad_input_cases.add`, like the in-memory cases.
"""

from __future__ import annotations

import contextlib
import gzip
import io
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from bad_input_cases import X, add, rng

__all__ = ["dataset_cases", "xmc_cases", "metric_and_teacher_cases", "cli_cases"]


# --------------------------------------------------------------------------- datasets
def dataset_cases(tmp: Path):
    from graphvar import datasets as D

    add("loaders", "load_planetoid", "name='pubmed'", lambda: D.load_planetoid("pubmed"), "error", ("name",))
    add("loaders", "load_planetoid", "name=3", lambda: D.load_planetoid(3), "error", ("name",))
    add("loaders", "load_planetoid", "missing root", lambda: D.load_planetoid("cora", root=tmp / "nope", download=False),
        "error", ("ind.cora",))
    bad = tmp / "planetoid_bad"
    bad.mkdir()
    for part in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"):
        (bad / f"ind.cora.{part}").write_bytes(b"garbage")
    add("loaders", "load_planetoid", "corrupt files", lambda: D.load_planetoid("cora", root=bad), "error",
        ("sha-256", "corrupt"))
    add("loaders", "load_planetoid", "corrupt files, verify=False",
        lambda: D.load_planetoid("cora", root=bad, verify=False), "error", ("ind.cora",))
    add("loaders", "load_fashion_mnist", "split='val'", lambda: D.load_fashion_mnist(split="val"), "error",
        ("split",))
    add("loaders", "load_fashion_mnist", "empty root, no download",
        lambda: D.load_fashion_mnist(root=tmp, download=False), "error", ("fashion-mnist", "not found"))
    (tmp / "junk-idx.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (tmp / "trunc.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 100)[:-10])
    (tmp / "short").write_bytes(b"\x00\x00")
    (tmp / "hdr").write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")
    for name in ("junk-idx.gz", "trunc.gz", "short", "hdr"):
        add("loaders", "read_idx", name, lambda name=name: D.read_idx(tmp / name), "error", (name,))
    add("loaders", "read_idx", "missing file", lambda: D.read_idx(tmp / "missing"), "error", ("missing",))
    add("loaders", "compute_features", "kind='tsne'", lambda: D.compute_features(X, kind="tsne"), "error", ("kind",))
    add("features", "compute_features", "NaN X", lambda: D.compute_features(np.where(X > 5, np.nan, X)), "error",
        ("nan",))
    add("parameters", "pca_features", "n_components=0", lambda: D.pca_features(X, n_components=0), "error",
        ("n_components",))
    add("parameters", "pca_features", "n_components=2.0", lambda: D.pca_features(X, n_components=2.0), "error",
        ("n_components",))
    for kw, keys in (({"epochs": 0}, ("epochs",)), ({"batch_size": 2.5}, ("batch_size",)),
                     ({"lr": float("nan")}, ("lr",)), ({"layer_widths": (10,)}, ("layer_widths",)),
                     ({"device": "tpu"}, ("device",)), ({"cache_name": "a/b"}, ("cache_name",))):
        add("parameters", "vae_features", f"{kw}",
            lambda kw=kw: D.vae_features(X, cache=False, progress=False, **{"epochs": 1, **kw}), "error", keys)
    add("features", "vae_features", "X x 1e300", lambda: D.vae_features(X * 1e300, epochs=1, cache=False,
                                                                        progress=False), "either",
        ("overflow", "large", "float32"))


# --------------------------------------------------------------------------- xmc
def xmc_cases(tmp: Path):
    from graphvar import xmc

    good = "3 4 2\n0 0:1 2:0.5\n1 1:2\n0,1 3:1\n"
    (tmp / "good.txt").write_text(good)
    files = {
        "binary file": b"\x00\x01\x02\xff\xfe" * 40,
        "UTF-16 file": good.encode("utf-16"),
        "corrupt .gz": b"\x1f\x8b\x08\x00" + b"\x13" * 50,
        "truncated .gz": gzip.compress(good.encode())[:-12],
        "not gzip but .gz": good.encode(),
        "blank line mid-file": b"3 4 2\n0 0:1 2:0.5\n\n1 1:2\n",
        "latin-1 bytes": good.encode().replace(b"0:1", b"0:\xe91"),
    }
    for desc, data in files.items():
        name = desc.replace(" ", "_").replace("/", "") + (".gz" if ".gz" in desc else ".txt")
        (tmp / name).write_bytes(data)
        add("files", "read_xc", desc, lambda name=name: xmc.read_xc(tmp / name), "error", (name,))
    lf = {
        "binary LF": b"\xff\xfe\x00" * 30,
        "LF blank line mid-file": b"3 4\n0:1\n\n1:1\n",
        "LF truncated .gz": gzip.compress(b"2 3\n0:1\n1:1\n")[:-9],
    }
    for desc, data in lf.items():
        name = desc.replace(" ", "_") + (".gz" if ".gz" in desc else ".txt")
        (tmp / name).write_bytes(data)
        add("files", "read_lf", desc, lambda name=name: xmc.read_lf(tmp / name), "error", (name,))
    add("files", "read_xc", "missing file", lambda: xmc.read_xc(tmp / "absent.txt"), "error", ("absent.txt",))
    add("files", "read_xc", "a directory", lambda: xmc.read_xc(tmp), "error", (tmp.name,))
    add("files", "read_xc", "integer argument", lambda: xmc.read_xc(3), "error", ("path",))
    (tmp / "garbage.npz").write_bytes(b"not a zip file at all" * 10)
    np.savez(tmp / "dense.npz", a=np.ones(3))
    add("files", "load_npz", "garbage .npz", lambda: xmc.load_npz(tmp / "garbage.npz"), "error", ("garbage.npz",))
    add("files", "load_npz", "npz without a sparse matrix", lambda: xmc.load_npz(tmp / "dense.npz"), "error",
        ("dense.npz",))
    add("files", "load_npz", "missing .npz", lambda: xmc.load_npz(tmp / "absent.npz"), "error", ("absent.npz",))
    add("files", "write_xc", "non-binary Y", lambda: xmc.write_xc(tmp / "o.txt", np.eye(3), np.eye(3) * 0.5),
        "error", ("binary",))
    add("files", "write_lf", "NaN Y", lambda: xmc.write_lf(tmp / "o.txt", np.full((2, 2), np.nan)), "error",
        ("nan",))
    add("files", "write_xc", "row mismatch", lambda: xmc.write_xc(tmp / "o.txt", np.eye(3), np.eye(2)), "error",
        ("rows",))
    metric_and_teacher_cases()


def metric_and_teacher_cases():
    from graphvar import xmc

    S = sp.csr_matrix(rng.random((5, 4)))
    Yt = sp.csr_matrix((rng.random((5, 4)) > 0.5).astype(float))
    for fname in ("precision_at_k", "ndcg_at_k", "recall_at_k", "coverage_at_k"):
        f = getattr(xmc, fname)
        add("metrics", fname, "k=0", lambda f=f: f(S, Yt, k=0), "error", ("k",))
        add("metrics", fname, "k=2.5", lambda f=f: f(S, Yt, k=2.5), "error", ("k",))
        add("metrics", fname, "shape mismatch", lambda f=f: f(S, Yt[:, :3]), "error", ("shape",))
        add("metrics", fname, "NaN scores", lambda f=f: f(S.toarray() * np.nan, Yt), "error", ("nan",))
        add("metrics", fname, "string scores", lambda f=f: f(np.array([["a"] * 4] * 5), Yt), "error",
            ("numeric", "dtype", "number"))
    add("metrics", "psprecision_at_k", "inv_propensity wrong length",
        lambda: xmc.psprecision_at_k(S, Yt, np.ones(2)), "error", ("inv_propensity",))
    add("metrics", "psprecision_at_k", "negative inv_propensity",
        lambda: xmc.psprecision_at_k(S, Yt, -np.ones(4)), "error", ("inv_propensity",))
    add("metrics", "evaluate", "ks=(0,)", lambda: xmc.evaluate(S, Yt, ks=(0,)), "error", ("k",))
    add("metrics", "inverse_propensity", "A=nan", lambda: xmc.inverse_propensity(Yt, A=float("nan")), "error",
        ("A",))
    add("metrics", "inverse_propensity", "preset='x'", lambda: xmc.inverse_propensity(Yt, preset="x"), "error",
        ("preset",))
    add("metrics", "top_k", "k=-1", lambda: xmc.top_k(S, k=-1), "error", ("k",))
    Xs = sp.csr_matrix(rng.random((30, 6)))
    Ys = sp.csr_matrix((rng.random((30, 5)) > 0.6).astype(np.float32))
    for kw, keys in (({"k": 0}, ("k",)), ({"solver": "mbo"}, ("solver",)), ({"n_steps": 0}, ("n_steps",)),
                     ({"topk": 0}, ("topk",)), ({"topk": 2.5}, ("topk",)), ({"lam": 2.0}, ("lam",)),
                     ({"calibration": "temp"}, ("calibration",)), ({"n_folds": 1}, ("n_folds",)),
                     ({"amplification": -1.0}, ("amplification",)), ({"threshold": float("nan")}, ("threshold",)),
                     ({"device": "tpu"}, ("device",)), ({"dtype": torch.float16}, ("dtype",)),
                     ({"metric": "l1"}, ("metric",)), ({"block_rows": 0}, ("block_rows",))):
        add("parameters", "Teacher.fit", f"{kw}", lambda kw=kw: xmc.Teacher(**{"k": 5, **kw}).fit(Xs, Ys), "error",
            keys)
    add("labels", "Teacher.fit", "Y with 2.0", lambda: xmc.Teacher(k=5).fit(Xs, Ys * 2), "error", ("binary", "[0, 1]"))
    add("labels", "Teacher.fit", "Y row mismatch", lambda: xmc.Teacher(k=5).fit(Xs, Ys[:10]), "error", ("rows",))
    add("labels", "Teacher.fit", "Y as list", lambda: xmc.Teacher(k=5).fit(Xs, [[0, 1]] * 30), "error", ("Y",))
    add("features", "Teacher.fit", "X x 1e300", lambda: xmc.Teacher(k=5, metric="euclidean").fit(Xs.toarray() * 1e300,
                                                                                                 Ys), "either",
        ("overflow", "rescale"))
    add("labels", "lever_targets", "lam=-1", lambda: xmc.lever_targets(Ys, Ys, lam=-1), "error", ("lam",))
    add("labels", "gandalf_soft_labels", "delta=nan", lambda: xmc.gandalf_soft_labels(Ys, delta=float("nan")),
        "error", ("delta",))
    St = xmc.OneVsAllStudent
    for kw, keys in (({"epochs": 0}, ("epochs",)), ({"lr": -1}, ("lr",)), ({"batch_size": 0}, ("batch_size",)),
                     ({"weight_decay": -1.0}, ("weight_decay",)), ({"device": "tpu"}, ("device",))):
        add("parameters", "OneVsAllStudent.fit", f"{kw}", lambda kw=kw: St(**{"epochs": 1, **kw}).fit(Xs, Ys),
            "error", keys)
    add("features", "OneVsAllStudent.fit", "NaN X", lambda: St(epochs=1).fit(Xs.toarray() * np.nan, Ys), "error",
        ("nan",))
    add("features", "OneVsAllStudent.fit", "X x 1e30", lambda: St(epochs=1).fit(Xs * 1e30, Ys), "either",
        ("overflow", "large", "rescale"))
    add("fitted", "OneVsAllStudent.predict_topk", "before fit", lambda: St().predict_topk(Xs), "error", ("fit",))
    add("features", "OneVsAllStudent.predict_topk", "wrong n_features",
        lambda: St(epochs=1).fit(Xs, Ys).predict_topk(Xs[:, :3]), "error", ("features",))
    add("labels", "OneVsAllStudent.fit", "targets 2.0", lambda: St(epochs=1).fit(Xs, Ys * 2), "error", ("[0, 1]",))


# --------------------------------------------------------------------------- CLI
def cli_case(argv):
    from graphvar.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # the user would see a traceback
        return "crash", f"traceback: {type(exc).__name__}: {str(exc)[:200]}"
    text = err.getvalue().strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if code == 0:
        return "silent", "exit 0"
    if "Traceback" in text:
        return "crash", "traceback printed"
    if code == 2 and 1 <= len(lines) <= 3:
        return "error", f"exit {code}: {lines[-1][:200]}"
    return "unclear", f"exit {code}, {len(lines)} stderr lines: {(lines or [''])[-1][:150]}"


def cli_cases(tmp: Path):
    (tmp / "cli_bad.txt").write_bytes(b"\xff\xfe\x00\x01" * 20)
    cases = [
        ["demo", "--trials", "-1"], ["demo", "--k", "0"], ["demo", "--rates", "0"], ["demo", "--k", "x"],
        ["demo", "--k", "5000"],
        ["bench", "pubmed"], ["bench", "cora", "--trials", "0"], ["bench", "cora", "--k", "0", "--graph", "knn"],
        ["bench", "cora", "--methods", "nope"], ["bench", "cora", "--batch-size", "0"],
        ["bench", "cora", "--threads", "-1"],
        ["xmc", "teacher", "--train", str(tmp / "absent.txt"), "--out", str(tmp / "o")],
        ["xmc", "teacher", "--train", str(tmp / "cli_bad.txt"), "--out", str(tmp / "o")],
        ["xmc", "teacher", "--train", str(tmp / "good.txt"), "--out", str(tmp / "o"), "--k", "0"],
        ["xmc", "evaluate", "--scores", str(tmp / "garbage.npz"), "--test", str(tmp / "good.txt")],
        ["xmc", "evaluate", "--scores", str(tmp / "absent.npz"), "--test", str(tmp / "good.txt")],
        ["xmc", "demo", str(tmp / "nowhere")],
        ["nosuchcommand"],
    ]
    for argv in cases:
        add("CLI", "graphvar " + argv[0], " ".join(a if not a.startswith("/") else Path(a).name for a in argv),
            lambda argv=argv: cli_case(argv), "cli")

    def version():
        from graphvar.cli import main

        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                code = main(["--version"])
        except SystemExit as exc:
            code = exc.code
        if code == 0 and out.getvalue().strip():
            return "valid", out.getvalue().strip()
        return "unclear", f"exit {code}, printed {out.getvalue().strip()!r}"

    add("CLI", "graphvar --version", "--version", version, "cli")
