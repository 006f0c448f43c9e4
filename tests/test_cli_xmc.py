"""``graphvar xmc teacher | evaluate | demo`` end to end on tiny files."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import scipy.sparse as sp

from graphvar.cli import COMMANDS
from graphvar.cli import xmc as xmc_cli
from graphvar.xmc.formats import load_npz, read_lf, save_npz, write_xc


def main(argv):
    """Run ``graphvar <argv>`` with only the xmc sub-command registered (independent of other modules)."""
    parser = argparse.ArgumentParser(prog="graphvar")
    xmc_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def test_xmc_is_registered():
    assert "xmc" in COMMANDS


def _tiny_dataset(root, n=160, n_test=40, L=12, D=30, seed=0):
    rng = np.random.default_rng(seed)
    n_all = n + n_test
    cl = rng.integers(0, 4, n_all)
    X = (rng.random((n_all, D)) < 0.1).astype(float)
    X[:, :8] += np.eye(8)[cl * 2] + np.eye(8)[cl * 2 + 1]  # cluster-specific features
    X = sp.csr_matrix(np.minimum(X, 1.0))
    rows, cols = [], []
    for i in range(n_all):
        ls = sorted({cl[i] * 3, cl[i] * 3 + int(rng.integers(1, 3))})
        rows += [i] * len(ls)
        cols += ls
    Y = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_all, L))
    root.mkdir(parents=True, exist_ok=True)
    write_xc(root / "train.txt", X[:n], Y[:n])
    write_xc(root / "test.txt", X[n:], Y[n:])
    return X, Y


def test_teacher_command_writes_exports(tmp_path, capsys):
    X, Y = _tiny_dataset(tmp_path / "ds")
    out = tmp_path / "teacher"
    rc = main(["xmc", "teacher", "--train", str(tmp_path / "ds" / "train.txt"), "--out", str(out),
               "--k", "5", "--topk", "4", "--lambda", "0.3", "--solver", "laplace", "--truth", "one", "--quiet"])
    assert rc == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["params"]["truth"] == "one"
    assert man["params"]["lam"] == 0.3 and man["params"]["solver"] == "laplace" and man["params"]["topk"] == 4
    P = load_npz(out / "teacher_phat.npz")
    assert P.shape == (160, 12) and np.diff(P.indptr).max() <= 4
    assert P.data.min() > 0 and P.data.max() <= 1
    np.testing.assert_allclose(read_lf(out / "soft_targets.txt").toarray(), load_npz(out / "soft_targets.npz").toarray(),
                               rtol=1e-6)
    assert "teacher:" in capsys.readouterr().out


def test_teacher_command_with_label_features(tmp_path):
    X, Y = _tiny_dataset(tmp_path / "ds")
    save_npz(tmp_path / "lf.npz", sp.csr_matrix(np.random.default_rng(0).random((12, 30))))
    out = tmp_path / "t"
    assert main(["xmc", "teacher", "--train", str(tmp_path / "ds" / "train.txt"), "--out", str(out), "--k", "5",
                 "--label-features", str(tmp_path / "lf.npz"), "--formats", "npz", "--quiet"]) == 0
    assert load_npz(out / "augmented_targets.npz").shape == (172, 12)
    assert load_npz(out / "augmented_X.npz").shape == (172, 30)
    assert not (out / "teacher_phat.txt").exists()


def test_evaluate_command_matches_hand_precision(tmp_path, capsys):
    X, Y = _tiny_dataset(tmp_path / "ds")
    Yte = Y[160:].toarray()
    rng = np.random.default_rng(1)
    S = rng.random(Yte.shape)
    save_npz(tmp_path / "scores.npz", sp.csr_matrix(S))
    rc = main(["xmc", "evaluate", "--scores", str(tmp_path / "scores.npz"), "--test", str(tmp_path / "ds" / "test.txt"),
               "--train", str(tmp_path / "ds" / "train.txt"), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    p1 = np.mean([Yte[i, np.argmax(S[i])] for i in range(40)])
    p3 = np.mean([Yte[i, np.argsort(-S[i])[:3]].sum() / 3 for i in range(40)])
    assert res["P@1"] == pytest.approx(p1) and res["P@3"] == pytest.approx(p3)
    assert "PSP@5" in res and "coverage@5" in res


def test_evaluate_rejects_shape_mismatch(tmp_path, capsys):
    _tiny_dataset(tmp_path / "ds")
    save_npz(tmp_path / "s.npz", sp.csr_matrix(np.ones((5, 12))))
    rc = main(["xmc", "evaluate", "--scores", str(tmp_path / "s.npz"), "--test", str(tmp_path / "ds" / "test.txt")])
    assert rc == 2 and "shape" in capsys.readouterr().err


def test_demo_command_resolves_a_name_and_prints_three_rows(tmp_path, capsys, monkeypatch):
    _tiny_dataset(tmp_path / "root" / "xmc" / "toy")
    monkeypatch.setenv("GRAPHVAR_SHARED_DATA", str(tmp_path / "root"))
    js = tmp_path / "demo.json"
    rc = main(["xmc", "demo", "toy", "--seeds", "2", "--epochs", "2", "--k", "5", "--quiet", "--json", str(js)])
    assert rc == 0
    out = capsys.readouterr().out
    for row in ("| student |", "| student + graph teacher |", "| student + Gandalf |"):
        assert row in out
    res = json.loads(js.read_text())
    assert res["seeds"] == [0, 1] and len(res["runs"]["student"]) == 2
    assert set(res["summary"]["student"]) >= {"P@1", "PSP@5", "nDCG@5", "coverage@5"}


def test_demo_unknown_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHVAR_SHARED_DATA", str(tmp_path))
    monkeypatch.delenv("GRAPHVAR_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        main(["xmc", "demo", "no_such_dataset_xyz"])


def test_xmc_without_subcommand_prints_help(capsys):
    assert main(["xmc"]) == 2
    assert "teacher" in capsys.readouterr().out


def test_student_predict_evaluate_loop(tmp_path, capsys):
    """teacher -> student --teacher -> evaluate, and predict reproduces the student's test scores."""
    _tiny_dataset(tmp_path / "ds")
    tr, te = str(tmp_path / "ds" / "train.txt"), str(tmp_path / "ds" / "test.txt")
    assert main(["xmc", "teacher", "--train", tr, "--out", str(tmp_path / "t"), "--k", "5", "--quiet"]) == 0
    for name, extra in (("s0", []), ("s1", ["--teacher", str(tmp_path / "t")])):
        assert main(["xmc", "student", "--train", tr, "--test", te, "--out", str(tmp_path / name), "--lr", "0.05", "--epochs", "40",
                     "--quiet", *extra]) == 0
        man = json.loads((tmp_path / name / "model.json").read_text())
        assert man["validation_rows"] == 16 and man["student_epochs"] >= man["student_best_epoch"] >= 1
        S = load_npz(tmp_path / name / "test_scores.npz")
        assert S.shape == (40, 12)
        assert main(["xmc", "predict", "--model", str(tmp_path / name), "--test", te,
                     "--out", str(tmp_path / f"{name}.npz")]) == 0
        np.testing.assert_allclose(load_npz(tmp_path / f"{name}.npz").toarray(), S.toarray(), atol=1e-6)
        capsys.readouterr()
        assert main(["xmc", "evaluate", "--scores", str(tmp_path / name / "test_scores.npz"), "--test", te,
                     "--train", tr, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["P@1"] > 0.6  # the clusters are easy
    assert man["fusion_weight"] is not None and man["teacher_dir"] == str((tmp_path / "t").resolve())
    assert main(["xmc", "predict", "--model", str(tmp_path / "t"), "--test", te, "--out", str(tmp_path / "t.txt")]) == 0
    assert read_lf(tmp_path / "t.txt").shape == (40, 12)


@pytest.mark.parametrize("case", ["blank", "bad_token", "no_teacher", "bad_option"])
def test_user_errors_are_one_line_with_exit_2(tmp_path, capsys, case):
    from graphvar.cli import main as cli_main

    _tiny_dataset(tmp_path / "ds")
    tr, te = tmp_path / "ds" / "train.txt", str(tmp_path / "ds" / "test.txt")
    lines = tr.read_text().splitlines(keepends=True)
    args = ["xmc", "student", "--train", str(tr), "--test", te, "--out", str(tmp_path / "s"), "--quiet"]
    if case == "blank":
        tr.write_text("".join(lines[:5] + ["\n"] + lines[5:-1]))
        want = f"graphvar xmc student: {tr}: line 6: empty line"
    elif case == "bad_token":
        tr.write_text("".join(lines[:3] + ["0 3:x\n"] + lines[4:]))
        want = f"graphvar xmc student: {tr}: line 4:"
    elif case == "no_teacher":
        args += ["--teacher", str(tmp_path / "missing")]
        want = "graphvar xmc student: "
    else:
        args += ["--epochs", "0"]
        want = "graphvar xmc student: argument --epochs"
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(want) and "Traceback" not in err and len(err.strip().splitlines()) == 1
