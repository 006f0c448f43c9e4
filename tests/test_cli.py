"""The command line's error handler: one line, exit status 2, no traceback; --debug, --version."""

import subprocess
import sys

import pytest

import graphvar
from graphvar.cli import main

USER_ERRORS = [
    (["demo", "--trials", "-1"], "graphvar demo: argument --trials: expected a positive integer"),
    (["demo", "--rates", "0"], "graphvar demo: argument --rates"),
    (["demo", "--k", "5000", "--quiet"], "graphvar demo: k must satisfy"),
    (["bench", "pubmed"], "graphvar bench: argument dataset: invalid choice: 'pubmed'"),
    (["bench", "digits", "--batch-size", "0"], "graphvar bench: argument --batch-size"),
    (["bench", "digits", "--threads", "-1"], "graphvar bench: argument --threads"),
    (["xmc", "teacher", "--train", "{tmp}/absent.txt", "--out", "{tmp}/o"], "graphvar xmc teacher: "),
    (["xmc", "teacher", "--train", "{tmp}/binary.txt", "--out", "{tmp}/o"], "binary.txt: not UTF-8 text"),
    (["xmc", "evaluate", "--scores", "{tmp}/garbage.npz", "--test", "{tmp}/binary.txt"],
     "garbage.npz is not a .npz file"),
    (["xmc", "demo", "{tmp}/nowhere"], "graphvar xmc demo: "),
    (["nosuchcommand"], "graphvar: argument COMMAND: invalid choice"),
]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "binary.txt").write_bytes(b"\x00\xff\xfe\x01" * 20)
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file" * 10)
    return tmp_path


@pytest.mark.parametrize("argv,fragment", USER_ERRORS, ids=[" ".join(a[:2]) for a, _ in USER_ERRORS])
def test_user_errors_are_one_line_and_exit_2(files, capsys, argv, fragment):
    argv = [a.format(tmp=files) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment.format(tmp=files) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_debug_reraises(files, monkeypatch):
    argv = ["xmc", "teacher", "--train", str(files / "binary.txt"), "--out", str(files / "o")]
    with pytest.raises(ValueError, match="not UTF-8 text"):
        main(["--debug", *argv])
    monkeypatch.setenv("GRAPHVAR_DEBUG", "1")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        main(argv)


def test_version_and_module_entry_point(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"graphvar {graphvar.__version__}"
    out = subprocess.run([sys.executable, "-m", "graphvar", "demo", "--k", "0"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip().startswith("graphvar demo: argument --k")


def test_internal_errors_still_show_a_traceback(monkeypatch):
    import graphvar.cli.demo as demo

    def boom(*args, **kwargs):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(demo, "run_demo", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["demo", "--quiet"])


def test_warnings_are_printed_once_per_kind(monkeypatch, capsys):
    import warnings

    import graphvar.cli.demo as demo

    def noisy(*args, **kwargs):
        for i in range(5):
            warnings.warn(f"the rule missed its tolerance for {i + 1} labeled set(s) (residual 0.0{i})")
        warnings.warn("another kind")
        return {"results": []}

    monkeypatch.setattr(demo, "run_demo", noisy)
    monkeypatch.setattr("graphvar.benchmark.report.markdown_table", lambda record, baseline: "table")
    assert main(["demo", "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["graphvar demo: warning: the rule missed its tolerance for 1 labeled set(s) (residual 0.00) "
                   "(4 more like it)", "graphvar demo: warning: another kind"]
