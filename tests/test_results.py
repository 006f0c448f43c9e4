"""The stored benchmark records: provenance, no absolute paths, a manifest entry each, docs up to date."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from graphvar.benchmark.report import absolute_paths, write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RECORDS = sorted(RESULTS.glob("*.json"))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_t_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def provenance_problems(prov) -> list[str]:
    """What a provenance block lacks (empty when it has argv, git commit, machine, load and versions)."""
    if not isinstance(prov, dict):
        return ["no provenance block"]
    out = []
    argv = prov.get("argv")
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        out.append(f"argv must be a non-empty list of str, got {argv!r}")
    if "git_commit" not in prov:
        out.append("no git_commit key")
    elif prov["git_commit"] is None and not prov.get("note"):
        out.append("git_commit is null without a note saying why")
    elif prov["git_commit"] is not None and not isinstance(prov["git_commit"], str):
        out.append(f"git_commit must be str or null, got {prov['git_commit']!r}")
    m = prov.get("machine")
    if not isinstance(m, dict):
        return out + ["no machine"]
    load = m.get("loadavg")
    if not (isinstance(load, list) and len(load) == 3 and all(math.isfinite(x) for x in load)):
        out.append(f"machine.loadavg must be 3 numbers, got {load!r}")
    if not m.get("cpu_count"):
        out.append("no machine.cpu_count")
    versions = m.get("versions")
    if not (isinstance(versions, dict) and versions.get("torch") and versions.get("numpy")):
        out.append(f"machine.versions must name torch and numpy, got {versions!r}")
    return out


def record_problems(record: dict) -> list[str]:
    out = provenance_problems(record.get("provenance"))
    for i, piece in enumerate(record.get("pieces", [])):
        out += [f"pieces[{i}]: {p}" for p in provenance_problems(piece.get("provenance"))]
    return out + [f"absolute path at {p}" for p in absolute_paths(record)]


def test_there_are_records():
    assert len(RECORDS) >= 20


@pytest.mark.parametrize("path", RECORDS, ids=[p.name for p in RECORDS])
def test_record_has_provenance_and_no_absolute_path(path):
    assert record_problems(json.loads(path.read_text())) == []


def test_the_checks_can_fail(tmp_path):
    assert record_problems({}) == ["no provenance block"]
    bad = {"provenance": {"argv": [], "git_commit": None, "machine": {"loadavg": [1.0], "versions": {}}},
           "config": {"cache_file": "/home/someone/data/graphs/g.npz"}, "pieces": [{}],
           "note": "run with /work/main/.venv/bin/python"}
    problems = record_problems(bad)
    for expected in ("argv", "git_commit is null", "loadavg", "cpu_count", "versions", "pieces[0]: no provenance",
                     "config.cache_file", "note: run with"):
        assert any(expected in p for p in problems), (expected, problems)
    # what write_json writes passes: provenance stamped, the absolute path made relative
    written = json.loads(write_json({"config": bad["config"]}, tmp_path / "r.json", argv=["x.py"]).read_text())
    assert record_problems(written) == [] and written["config"]["cache_file"] == "data/graphs/g.npz"


def test_manifest_covers_every_record_once():
    entries = _script("run_manifest").load_manifest()
    files = [e["file"] for e in entries]
    assert len(files) == len(set(files)), "a result file appears twice in benchmarks/manifest.toml"
    assert sorted(files) == sorted(p.name for p in RECORDS)
    assert {e["cost"] for e in entries} == {"fast", "full"}
    for e in entries:
        assert e["commands"] and all(c.split()[0] in ("python", "graphvar") for c in e["commands"]), e["file"]


def test_docs_results_and_readme_are_generated_from_the_records():
    """docs/results.md, README's headline table and the tables copied into docs pages equal what report.py
    renders now."""
    report = _script("report")
    assert (ROOT / "docs" / "results.md").read_text() == report.render_all()
    readme = (ROOT / "README.md").read_text()
    assert readme == report._readme_with_headline(readme)
    assert "../shared" not in readme
    for name, regenerate in report.GENERATED_COPIES.items():
        page = (ROOT / "docs" / name).read_text()
        assert page == regenerate(page), f"docs/{name}: run `make bench-report`"


def test_no_page_points_outside_the_clone():
    """A fresh clone has no ../shared: README, docs, examples and benchmarks never refer to it."""
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").glob("*.py"),
             *(ROOT / "benchmarks").glob("*.py")]
    offenders = [str(f.relative_to(ROOT)) for f in files if "../shared" in f.read_text()]
    assert offenders == []


def test_gl_methods_merge_adds_datasets_and_replaces_only_the_new_rows():
    """bench_gl_methods --append / --replace: new datasets are added, re-measured rows replace theirs only."""
    bench = _script("bench_gl_methods")

    def row(method, rate, acc):
        return {"method": method, "rate": rate, "acc_gv": [acc]}

    old = {"provenance": {"argv": ["first"]}, "datasets": [
        {"dataset": "digits", "rows": [row("laplace", 1, 1.0), row("laplace", 5, 2.0), row("wnll", 1, 3.0)]}]}
    new = {"rates": [5], "trials": 1, "provenance": {"argv": ["second"]}, "datasets": [
        {"dataset": "digits", "rows": [row("laplace", 5, 9.0)]}, {"dataset": "cora", "rows": [row("amle", 5, 4.0)]}]}
    merged = bench._merge_into(old, new, ["laplace", "amle"])
    digits, cora = merged["datasets"]
    assert [(r["method"], r["rate"], r["acc_gv"][0]) for r in digits["rows"]] == [
        ("laplace", 1, 1.0), ("laplace", 5, 9.0), ("wnll", 1, 3.0)]
    assert cora["dataset"] == "cora" and cora["rows"][0]["acc_gv"] == [4.0]
    assert [p["provenance"]["argv"] for p in merged["pieces"]] == [["first"], ["second"]]


def test_gl_methods_merge_folds_finished_pieces_and_refuses_a_checkpoint(tmp_path):
    """bench_gl_methods --merge: runs on other cores join the stored record; an unfinished run does not."""
    bench = _script("bench_gl_methods")
    from graphvar.benchmark.report import read_json, write_json

    def row(method, rate, acc):
        return {"method": method, "rate": rate, "acc_gv": [acc]}

    out = write_json({"datasets": [{"dataset": "fashionmnist", "rows": [row("laplace", 1, 1.0), row("amle", 1, 2.0)]},
                                   {"dataset": "digits", "rows": [row("laplace", 1, 5.0)]}]},
                     tmp_path / "all.json", argv=["first"])
    pieces = []
    for i, method in enumerate(("amle", "laplace")):
        pieces.append(write_json({"rates": [1], "trials": 5, "datasets": [
            {"dataset": "fashionmnist", "trials": 5, "rows": [row(method, 1, 10.0 + i)]}]},
            tmp_path / f"piece{i}.json", argv=[f"piece{i}"]))
    assert bench.main(["--out", str(out), "--merge", *map(str, pieces)]) == 0
    merged = read_json(out)
    fm, digits = merged["datasets"]
    assert [(r["method"], r["acc_gv"]) for r in fm["rows"]] == [("laplace", [11.0]), ("amle", [10.0])]
    assert fm["trials"] == 5 and digits["rows"][0]["acc_gv"] == [5.0]
    assert [p["provenance"]["argv"] for p in merged["pieces"]] == [["first"], ["piece0"], ["piece1"]]
    write_json({"partial": True, "datasets": []}, tmp_path / "busy.json", argv=["busy"])
    with pytest.raises(SystemExit, match="unfinished"):
        bench.main(["--out", str(out), "--merge", str(tmp_path / "busy.json")])


def test_gl_methods_merge_extends_rows_with_graphvar_on_later_sets(tmp_path):
    """--first-trial K --no-peer runs append graphvar's later sets to the stored rows; a mismatched start is refused."""
    bench = _script("bench_gl_methods")
    from graphvar.benchmark.report import read_json, write_json

    stored = {"method": "amle", "rate": 1, "acc_gl": [1.0, 2.0], "acc_gv": [1.0, 2.0], "agree": [100.0, 100.0],
              "ties": [0.0, 0.0], "s_gl": [5.0, 5.0], "s_gv": [1.0, 1.0], "gl_sets": 2, "sets": 2,
              "loadavg": [1.0], "loadavg_end": [1.0]}
    out = write_json({"datasets": [{"dataset": "fashionmnist", "graph_desc": "toy", "trials": 2, "rows": [stored]}]},
                     tmp_path / "all.json", argv=["first"])
    later = {**stored, "acc_gl": [], "agree": [], "ties": [], "s_gl": [], "acc_gv": [3.0, 4.0, 5.0],
             "s_gv": [2.0, 2.0, 2.0], "gl_sets": 0, "sets": 3, "first_trial": 2, "loadavg": [2.0]}
    piece = write_json({"rates": [1], "trials": 5, "datasets": [{"dataset": "fashionmnist", "trials": 5,
                                                                  "rows": [later]}]}, tmp_path / "p.json", argv=["p"])
    assert bench.main(["--out", str(out), "--merge", str(piece)]) == 0
    (ds,) = read_json(out)["datasets"]
    (row,) = ds["rows"]
    assert ds["trials"] == 5 and row["sets"] == 5 and row["gl_sets"] == 2
    assert row["acc_gv"] == [1.0, 2.0, 3.0, 4.0, 5.0] and row["acc_gl"] == [1.0, 2.0]
    assert "(2 of 5 sets)" in bench.markdown(read_json(out))
    wrong = write_json({"rates": [1], "trials": 5, "datasets": [{"dataset": "fashionmnist", "trials": 5,
                                                                  "rows": [{**later, "first_trial": 3}]}]},
                       tmp_path / "w.json", argv=["w"])
    with pytest.raises(ValueError, match="--first-trial 5 --no-peer"):
        bench.main(["--out", str(out), "--merge", str(wrong)])


def test_sweep_pieces_on_other_sets_merge_into_the_whole_sweep(tmp_path):
    """bench_sweep --first-trial runs (the other core's sets) --merge into the record one run would write."""
    pytest.importorskip("graphlearning")
    bench = _script("bench_sweep")
    from graphvar.benchmark.report import read_json

    common = ["--dataset", "digits", "--features", "raw", "--rates", "1", "--trials", "3", "--batch", "2", "--peer-trials", "1"]
    whole, first, later, merged = (tmp_path / f"{n}.json" for n in ("whole", "first", "later", "merged"))
    assert bench.main([*common, "--json", str(whole)]) == 0
    assert bench.main([*common, "--json", str(first), "--end-trial", "2"]) == 0
    assert bench.main([*common, "--json", str(later), "--first-trial", "2"]) == 0
    assert bench.main(["--json", str(merged), "--merge", str(later), str(first)]) == 0
    a, b = read_json(whole), read_json(merged)
    assert [r["sets"] for r in b["rows"]] == [3]
    for ra, rb in zip(a["rows"], b["rows"]):
        for m in bench.METHODS:
            assert rb["gv"][m]["accuracy"] == ra["gv"][m]["accuracy"]
            assert rb["gl"][m]["trial"] == [0] and rb["gl"][m]["accuracy"] == ra["gl"][m]["accuracy"]
    assert [p["file"] for p in b["pieces"]] == ["later.json", "first.json"]
    assert "3 labeled sets per rate" in bench.markdown(b)
    with pytest.raises(ValueError, match="--first-trial 0"):
        bench.main(["--json", str(merged), "--merge", str(later)])


def test_sweep_stopped_on_purpose_keeps_its_finished_rates(tmp_path):
    """A run stopped during its second rate merges, with --stopped, its first rate beside a --rates run."""
    pytest.importorskip("graphlearning")
    bench = _script("bench_sweep")
    from graphvar.benchmark.report import read_json, write_json

    common = ["--dataset", "digits", "--features", "raw", "--trials", "2", "--batch", "1", "--peer-trials", "1"]
    whole, rest, stopped, merged = (tmp_path / f"{n}.json" for n in ("whole", "rest", "stopped", "merged"))
    assert bench.main([*common, "--rates", "1", "2", "--json", str(whole)]) == 0
    assert bench.main([*common, "--rates", "2", "--json", str(rest)]) == 0
    rec = read_json(whole)  # what the checkpoint held after the first batch of rate 2
    second = rec["rows"][1]
    second["sets"] = 1
    for m in bench.METHODS:
        second["gv"][m]["accuracy"] = second["gv"][m]["accuracy"][:1]
    write_json({**rec, "partial": True}, stopped)
    with pytest.raises(SystemExit, match="--stopped"):
        bench.main(["--json", str(merged), "--merge", str(stopped), str(rest)])
    assert bench.main(["--json", str(merged), "--merge", str(stopped), str(rest), "--stopped", str(stopped)]) == 0
    a, b = read_json(whole), read_json(merged)
    assert [r["sets"] for r in b["rows"]] == [2, 2] and b["config"]["rates"] == [1, 2]
    for ra, rb in zip(a["rows"], b["rows"]):
        for m in bench.METHODS:
            assert rb["gv"][m]["accuracy"] == ra["gv"][m]["accuracy"]
    assert b["pieces"][0]["config"]["stopped_after_rates"] == [1]
