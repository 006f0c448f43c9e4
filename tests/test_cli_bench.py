"""``graphvar bench`` end to end: a few trials on digits (and Cora from the shared files)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphvar.cli import main


def _bench(tmp_path, *extra):
    out = tmp_path / "results"
    argv = ["bench", "digits", "--trials", "2", "--rates", "1", "3", "--methods", "poisson,vpoisson,laplace",
            "--out", str(out), "--root", str(tmp_path / "data"), "--quiet", "--threads", "1", *extra]
    return main(argv), out


@pytest.mark.slow
def test_bench_digits_end_to_end(tmp_path, capsys):
    code, out = _bench(tmp_path, "--name", "first")
    assert code == 0
    printed = capsys.readouterr().out
    assert "| poisson |" in printed and "Paired difference vs poisson" in printed
    rec = json.loads((out / "first.json").read_text())
    assert rec["dataset"] == "digits" and rec["config"]["n_nodes"] == 1797
    names = {e["method"] for e in rec["results"]}
    assert {"poisson", "poisson+norm", "poisson+priors", "poisson+norm+priors", "vpoisson", "laplace"} <= names
    for e in rec["results"]:
        assert len(e["accuracy"]) == 2 and len(e["seconds"]) == 2
    poisson = [e for e in rec["results"] if e["method"] == "poisson" and e["rate"] == 3][0]
    assert np.mean(poisson["accuracy"]) > 80.0  # digits is easy at 3 labels per class
    assert rec["machine"]["loadavg"] is not None and rec["machine"]["versions"]["torch"]
    # provenance: the command line that remakes the record (every option explicit), no absolute path
    from graphvar.benchmark.report import absolute_paths
    from graphvar.cli import build_parser

    prov = rec["provenance"]
    assert prov["argv"][:3] == ["graphvar", "bench", "digits"] and "git_commit" in prov
    assert prov["machine"]["loadavg"] is not None and prov["machine"]["versions"]["graphvar"]
    assert absolute_paths(rec) == []
    again = build_parser().parse_args(prov["argv"][1:])
    assert again.methods == ["poisson", "vpoisson", "laplace"] and again.rates == [1, 3] and again.trials == 2
    assert (out / "first.md").read_text().startswith("**digits**")
    # the k-NN graph was cached in the data root; a rerun loads it and repeats every accuracy
    assert rec["config"]["graph_cached"] is False
    code, _ = _bench(tmp_path, "--name", "second")
    assert code == 0
    rec2 = json.loads((out / "second.json").read_text())
    assert rec2["config"]["graph_cached"] is True
    assert [e["accuracy"] for e in rec2["results"]] == [e["accuracy"] for e in rec["results"]]


@pytest.mark.slow
def test_bench_seed_changes_sets(tmp_path):
    opts = ("--normalize", "off", "--priors", "off", "--methods", "poisson,laplace")
    code, out = _bench(tmp_path, "--name", "s0", *opts)
    code2, _ = _bench(tmp_path, "--name", "s1", "--seed", "1", *opts)
    assert code == code2 == 0
    a = json.loads((out / "s0.json").read_text())["results"]
    b = json.loads((out / "s1.json").read_text())["results"]
    assert [e["method"] for e in a] == ["poisson", "poisson", "laplace", "laplace"]
    assert [e["accuracy"] for e in a] != [e["accuracy"] for e in b]


def test_bench_errors(tmp_path, capsys):
    code, _ = _bench(tmp_path, "--methods", "nosuchmethod")
    assert code == 2 and "unknown method 'nosuchmethod'" in capsys.readouterr().err
    assert main(["bench", "digits", "--trials", "0"]) == 2
    assert main(["bench", "digits", "--graph", "citation", "--trials", "1", "--quiet", "--out", str(tmp_path)]) == 2
    assert "no citation graph" in capsys.readouterr().err
    assert main(["bench", "mnist"]) == 2


@pytest.mark.slow
def test_bench_cora_citation(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("GRAPHVAR_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("GRAPHVAR_DATA", str(tmp_path / "data"))
    out = tmp_path / "results"
    code = main(["bench", "cora", "--trials", "3", "--rates", "2", "--methods", "poisson,laplace",
                 "--normalize", "off", "--priors", "both", "--out", str(out), "--quiet", "--threads", "1"])
    assert code == 0
    rec = json.loads((out / "cora_citation.json").read_text())
    assert rec["config"]["n_nodes"] == 2708 and rec["config"]["n_classes"] == 7
    assert rec["config"]["n_edges"] == 10556
    acc = {e["method"]: np.mean(e["accuracy"]) for e in rec["results"]}
    assert set(acc) == {"poisson", "poisson+priors", "laplace", "laplace+priors"}
    assert 45.0 < acc["poisson"] < 90.0  # Poisson on Cora at 2 labels/class: about 60-70 %


@pytest.mark.slow
def test_bench_cora_largest_component(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("GRAPHVAR_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("GRAPHVAR_DATA", str(tmp_path / "data"))
    out = tmp_path / "results"
    code = main(["bench", "cora", "--lcc", "--trials", "2", "--rates", "1", "--methods", "poisson",
                 "--normalize", "off", "--priors", "off", "--out", str(out), "--quiet", "--threads", "1"])
    assert code == 0
    rec = json.loads((out / "cora_citation_lcc.json").read_text())
    assert rec["config"]["n_nodes"] == 2485 and rec["config"]["kept_nodes"] == 2485
    # one connected component: Calder's stopping rule fires before max_iter
    assert max(rec["results"][0]["stop_times"]) < 1000
