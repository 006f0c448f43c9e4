"""Regenerate ``docs/results.md`` (and README's headline table) from ``benchmarks/results/*.json``.

    python benchmarks/report.py           # what `make bench-report` runs
    python benchmarks/report.py --check   # exit 1 if a generated page or block is out of date

Every table in docs/results.md is computed here from a JSON record (the
renderers are the ones the benchmark scripts use); the only numbers typed in
are the published rows of Calder et al. (2020), marked as such. The README's
headline table is the block between ``<!-- headline:start -->`` and
``<!-- headline:end -->``, replaced by the same table as in docs/results.md;
the copies of tables in docs/mbo.md and docs/methods.md (between
``<!-- tables:start -->`` and ``<!-- tables:end -->``) likewise.
Plots go to ``docs/img/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # report_common, report_mbo

from graphvar.benchmark.report import markdown_table, plot_accuracy, read_json, record_machine  # noqa: E402
from report_common import DOCS, RATES, RESULTS, _cell, _load, _paired, _rec, _row, _script, _source  # noqa: E402
from report_mbo import _headline_mbo, mbo_section  # noqa: E402

FM = "fashionmnist_knn_vae_k10"
# Calder, Cook, Thorpe & Slepčev (ICML 2020), FashionMNIST, VAE features, 100 trials (published)
PUBLISHED = {"Poisson, Calder et al. (published)": [60.8, 66.1, 69.6, 71.2, 72.4],
             "PoissonMBO, Calder et al. (published)": [62.0, 67.2, 70.4, 72.1, 73.1]}
START, END = "<!-- headline:start -->", "<!-- headline:end -->"
MBO_START, MBO_END = "<!-- tables:start -->", "<!-- tables:end -->"


def headline() -> str:
    """FashionMNIST next to Calder et al.: the README's one table."""
    norm, pri = _rec(FM), _rec(f"{FM}_priors20")
    rows = [("graphvar Poisson", norm, "poisson"), ("graphvar V-Poisson (a=1)", norm, "vpoisson"),
            ("graphvar V-Poisson + dispersion normalisation", norm, "vpoisson+norm"),
            ("graphvar Laplace (stopped iteration) + normalisation", norm, "laplace+norm"),
            ("graphvar Poisson + class priors", pri, "poisson+priors"),
            ("graphvar V-Poisson (a=1) + class priors", pri, "vpoisson+priors"),
            ("graphvar Laplace + class priors", pri, "laplace+priors"),
            ("graphvar V-Laplace + class priors", pri, "vlaplace+priors")]
    n = len(norm["results"][0]["accuracy"])
    lines = [f"FashionMNIST, 70,000 images, VAE-20 features, 10-NN self-tuning Gaussian graph; accuracy % on "
             f"unlabeled nodes. graphvar rows: mean (std) over the same {n} seeded labeled sets per rate "
             f"({_source(FM, FM + '_priors20')}); published rows: 100 other trials.", "",
             "| labels per class | 1 | 2 | 3 | 4 | 5 |", "|---|---:|---:|---:|---:|---:|"]
    lines += [_row(k, [f"{v:.1f}" for v in vals]) for k, vals in PUBLISHED.items()]
    lines += [_row(name, [_cell(rec, m, r) for r in RATES]) for name, rec, m in rows]
    return "\n".join(lines + _headline_mbo()) + "\n"


def fashionmnist_section() -> list[str]:
    norm, pri, pri5 = _rec(FM), _rec(f"{FM}_priors20"), _rec(f"{FM}_poisson_priors5")
    out = ["## FashionMNIST next to Calder et al. (ICML 2020)", "", headline(),
           "Paired differences on the same labeled sets (points, mean ± standard error), 1 / 2 / 3 / 4 / 5 "
           "labels per class:", "",
           "| comparison | 1 | 2 | 3 | 4 | 5 |", "|---|---:|---:|---:|---:|---:|",
           _row("V-Poisson − Poisson", _paired(norm, "vpoisson", norm, "poisson")),
           _row("V-Poisson + normalisation − Poisson", _paired(norm, "vpoisson+norm", norm, "poisson")),
           _row("Poisson + normalisation − Poisson", _paired(norm, "poisson+norm", norm, "poisson")),
           _row("Poisson + class priors − Poisson", _paired(pri, "poisson+priors", pri, "poisson")),
           _row("V-Poisson + priors − Poisson + priors", _paired(pri, "vpoisson+priors", pri, "poisson+priors")),
           _row("Laplace + priors − Poisson + priors", _paired(pri, "laplace+priors", pri, "poisson+priors")),
           "", "Class priors are GraphLearning's volume constraint with the true class fractions. The published "
           "means come from 100 different labeled sets and another VAE training, so a gap to them within "
           "about two standard errors of the 20-trial mean is not a difference.", ""]
    for stem, rec in ((FM, norm), (f"{FM}_priors20", pri), (f"{FM}_poisson_priors5", pri5)):
        out += [f"### `{stem}.json` ({_load(rec)})", "", markdown_table(rec)]
    out += [f"![FashionMNIST accuracy vs labels per class](img/{FM}_priors20.png)", ""]
    return out


def citation_section() -> list[str]:
    out = ["## Cora and CiteSeer: graph solvers", "",
           "20 seeded labeled sets per rate; accuracy % on unlabeled nodes, mean (std). Largest connected "
           "component of the citation graph:", ""]
    for ds in ("cora", "citeseer"):
        rec = _rec(f"{ds}_citation_lcc")
        rows = [("Poisson", "poisson"), ("Poisson + class priors", "poisson+priors"),
                ("V-Poisson + class priors", "vpoisson+priors"), ("Laplace + normalisation", "laplace+norm")]
        out += [f"| {ds}, labels per class | 1 | 2 | 3 | 4 | 5 |", "|---|---:|---:|---:|---:|---:|"]
        out += [_row(name, [_cell(rec, m, r) for r in RATES]) for name, m in rows]
        out += ["", _row(f"{ds}: Poisson + priors − Poisson (paired)", _paired(rec, "poisson+priors", rec, "poisson")),
                _row(f"{ds}: V-Poisson + priors − Poisson + priors",
                     _paired(rec, "vpoisson+priors", rec, "poisson+priors")), ""]
    out += ["Class priors on the other graphs, paired difference vs plain Poisson (points), 1 / 2 / 3 / 4 / 5 "
            "labels per class:", "", "| graph | Poisson + priors | Laplace + priors |", "|---|---|---|"]
    for stem in ("cora_knn_all", "citeseer_knn_all", "cora_citation_all", "citeseer_citation_all"):
        rec = _rec(stem)
        out.append(f"| {stem} ({rec['config']['graph_desc']}) | " + " / ".join(_paired(rec, "poisson+priors", rec, "poisson"))
                   + " | " + " / ".join(_paired(rec, "laplace+priors", rec, "poisson")) + " |")
    out += ["", "On the full citation graphs most small components hold no label: Poisson scores 0 there and "
            "the random-walk stopping rule never fires, which breaks the volume constraint's rescaling "
            "(see [design.md §7](design.md#7-measured-facts-a-benchmark-or-a-redesign-starts-from)).", "",
            "![Cora](img/cora_citation_lcc.png) ![CiteSeer](img/citeseer_citation_lcc.png)", ""]
    for stem in ("cora_citation_lcc", "citeseer_citation_lcc", "cora_knn_all", "citeseer_knn_all",
                 "cora_citation_all", "citeseer_citation_all"):
        rec = _rec(stem)
        out += [f"### `{stem}.json` ({_load(rec)})", "", markdown_table(rec)]
    return out


def gnn_section() -> list[str]:
    gnn = _script("bench_gnn")
    out = ["## V-GPN and GNN baselines on Cora and CiteSeer", "",
           "Protocol: [gnn.md](gnn.md). 20 splits per rate; validation 5 nodes per class; GNNs with "
           "validation-based early stopping (`es`) and without (`fixed`, 100 epochs).", ""]
    for stem in ("gnn_cora", "gnn_citeseer", "gnn_cora_attention"):
        out += [f"### `{stem}.json`", "", gnn.markdown(_rec(stem)), ""]
    t = _rec("gnn_timing_cora")
    out += ["### `gnn_timing_cora.json`", "", "| dataset | nodes | epochs | seconds | load |", "|---|---|---|---|---|",
            f"| cora | {t['timing']['n_nodes']} | {t['timing']['epochs']} | {t['timing']['seconds']:.1f} | "
            f"{t['timing']['loadavg']} |", ""]
    return out


def core_section() -> list[str]:
    core, vs = _script("bench_core"), _script("vs_graphlearning")
    out = ["## Speed: core stages and GraphLearning 1.7.5", "",
           "### `bench_core.json` — each stage next to a peer on the same input, in one run", "",
           core.render(_rec("bench_core")), ""]
    for ds in ("digits", "cora", "fashionmnist"):
        out += [f"### `vs_graphlearning_{ds}.json` — same W, same labeled sets", "", vs.markdown(_rec(f"vs_graphlearning_{ds}"))]
    return out


def gl_methods_section() -> list[str]:
    if not (RESULTS / "bench_gl_methods.json").exists():
        return []
    rec = _rec("bench_gl_methods")
    return ["## GraphLearning 1.7.5's ssl methods: parity and speed", "",
            f"### `bench_gl_methods.json` ({_load(rec)}) — details: [methods.md](methods.md)", "",
            _script("bench_gl_methods").markdown(rec), ""]


def graph_section() -> list[str]:
    knn = _script("bench_knn")
    out = ["## Graph construction: exact and approximate k-NN", ""]
    for stem in ("bench_knn", "bench_knn_1m"):
        if (RESULTS / f"{stem}.json").exists():
            rec = _rec(stem)
            out += [f"### `{stem}.json` ({_load(rec)})", "", knn.markdown(rec), ""]
    return out


def _stage_cell(stage: str) -> str:
    """A before/after stage key (``"stage | implementation | ..."``) as one table cell."""
    return " — ".join(part.strip() for part in stage.split("|"))


def engine_section() -> list[str]:
    out = ["## The propagation engine: before / after, batching", ""]
    for path in sorted(RESULTS.glob("*_engine.json")):
        rec = read_json(path)
        out += [f"### `{path.name}` — `{rec['script']} {' '.join(rec['script_args'])}`, before = "
                f"`{rec['before'][:12]}`, best of {rec['rounds']} alternating rounds ({_load(rec)})", "",
                "| stage | before s | after s | after / before |", "|---|---:|---:|---:|"]
        out += [f"| {_stage_cell(r['stage'])} | {r['before_s']:.3g} | {r['after_s']:.3g} | "
                f"{r['after_over_before']:.2f} |" for r in rec["rows"]] + [""]
    if (RESULTS / "bench_batching.json").exists():
        rec = _rec("bench_batching")
        out += [f"### `bench_batching.json` ({_load(rec)})", "", _script("bench_batching").render(rec), ""]
    return out


def distributed_section() -> list[str]:
    if not (RESULTS / "bench_distributed.json").exists():
        return []
    rec = _rec("bench_distributed")
    return ["## Past one machine: graphvar.distributed on a local Dask cluster", "",
            f"### `bench_distributed.json` ({_load(rec)}); details and the 10⁸-point estimate: "
            "[distributed.md](distributed.md)", "", _script("bench_distributed").render(rec), "",
            "Extrapolated (not measured) from this record:", "", _script("bench_distributed").estimate(rec), ""]


def xmc_section() -> list[str]:
    xmc, teacher = _script("xmc_demo"), _script("bench_teacher")
    out = ["## XMC: the graph teacher (LEVER) and Gandalf", "",
           "Test set, 3 seeds, %, mean ± std; knobs chosen on a 20 % validation split of train "
           "(the `xmc_tune_*` and `xmc_combos_*` records). Details: [xmc.md](xmc.md).", ""]
    for ds in ("corel5k", "bibtex"):
        rec = _rec(f"xmc_demo_{ds}")
        out += [f"### `xmc_demo_{ds}.json` ({rec['n_train']} train / {rec['n_eval']} test / {rec['n_labels']} "
                f"labels; {_load(rec)})", "", xmc.markdown_table(rec), ""]
    for ds in ("corel5k", "bibtex"):
        out += [f"### `xmc_combos_{ds}.json` (validation)", "", xmc.combos_markdown(_rec(f"xmc_combos_{ds}")), "",
                f"### `xmc_tune_{ds}.json` (validation, one knob at a time)", "", xmc.tune_markdown(_rec(f"xmc_tune_{ds}")), ""]
    out += ["### `xmc_bench_teacher.json` — teacher fit + export at scale (synthetic power-law data)", "",
            teacher.render(_rec("xmc_bench_teacher")), ""]
    return out + xmc_loop_section()


def xmc_loop_section() -> list[str]:
    """The teacher–student loop through the CLI (``benchmarks/xmc_loop.py``), where its records exist."""
    loop, teacher = _script("xmc_loop"), _script("bench_teacher")
    out = ["## XMC: the teacher–student loop through the CLI (`benchmarks/xmc_loop.py`)", "",
           "Test set, %, mean ± std over seeds; student early-stopped on 10 % of train; fusion weight chosen "
           "on the same rows. Details: [xmc.md](xmc.md).", ""]
    for ds in ("bibtex", "corel5k", "tmc2007"):
        if (RESULTS / f"xmc_loop_{ds}.json").exists():
            rec = _rec(f"xmc_loop_{ds}")
            out += [f"### `xmc_loop_{ds}.json` ({len(rec['seeds'])} seeds; {_load(rec)})", "", loop.markdown(rec), "",
                    "Commands (seed 0):", "", loop.commands_markdown(rec), ""]
    if (RESULTS / "xmc_loop_variants.json").exists():
        rec = _rec("xmc_loop_variants")
        for ds, summ in rec["summary"].items():
            out += [f"### `xmc_loop_variants.json` — {ds}, validation split ({len(rec['seeds'])} seed)", "",
                    loop.markdown({"summary": summ}), ""]
    if (RESULTS / "xmc_loop_tune.json").exists():
        rec = _rec("xmc_loop_tune")
        out += ["### `xmc_loop_tune.json` — student learning rate and weight decay, validation P@1", "",
                "| lr, weight decay | " + " | ".join(rec["datasets"]) + " | mean |",
                "|---|" + "---:|" * (len(rec["datasets"]) + 1)]
        for key, mean in rec["mean_validation_P@1"].items():
            vals = [next(t["metrics"]["P@1"] for t in rec["table"]
                         if t["dataset"] == d and f"lr={t['lr']} wd={t['weight_decay']:g}" == key) for d in rec["datasets"]]
            out.append(f"| {key} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {mean:.2f} |")
        out += ["", f"Chosen: {rec['chosen']} ({rec['rule']}).", ""]
    for stem in ("xmc_bench_teacher_100000x100000_approx", "xmc_bench_teacher_approx"):
        if (RESULTS / f"{stem}.json").exists():
            out += [f"### `{stem}.json` — teacher with the approximate k-NN graph", "", teacher.render(_rec(stem)), ""]
    return out


def demo_section() -> list[str]:
    rec = _rec("demo_digits")
    return ["## `graphvar demo`: scikit-learn digits", "", f"`demo_digits.json` ({_load(rec)}):", "",
            markdown_table(rec)]


def index_section() -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_manifest import load_manifest

    manifest = {e["file"]: e for e in load_manifest()}
    out = ["## The records", "", "| record | cost | remade by (`benchmarks/manifest.toml`) | measured at commit | "
           "date (UTC) | load (1 min) |", "|---|---|---|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        rec = read_json(path)
        prov, m = rec["provenance"], record_machine(rec)
        entry = manifest.get(path.name, {"cost": "?", "commands": ["(not in the manifest)"]})
        commits = [p.get("provenance", {}).get("git_commit") for p in rec["pieces"]] if "pieces" in rec \
            else [prov["git_commit"]]
        commit = ", ".join(sorted({(c or "not recorded")[:12] for c in commits}))
        if "pieces" in rec:
            commit += f" ({len(rec['pieces'])} pieces)"
        cmd = entry["commands"][0] + (f" (+{len(entry['commands']) - 1} more)" if len(entry["commands"]) > 1 else "")
        cmd = cmd if len(cmd) <= 100 else cmd[:97] + "..."
        load = m.get("loadavg")
        date = m.get("date_utc") or prov["machine"].get("date_utc", "")
        out.append(f"| `{path.name}` | {entry['cost']} | `{cmd}` | {commit} | {date} | "
                   f"{'' if not load else f'{load[0]:.2f}'} |")
    return out + ["", "Each record's `provenance` holds the command line, git commit, machine, versions and load "
                  "of the run that wrote it; merged records hold their pieces' own under `pieces`.", ""]


def render_all() -> str:
    lines = ["# Results", "",
             "<!-- Generated by `make bench-report` (benchmarks/report.py) from benchmarks/results/*.json. "
             "Do not edit by hand. -->", "",
             "Every table below is computed from a JSON record in `benchmarks/results/`; the published rows of "
             "Calder et al. are the only typed-in numbers. Machine: the 2-core CPU development machine unless a "
             "record says otherwise; the load average of each run is in its record. How to rerun: "
             "[benchmarks.md](benchmarks.md).", ""]
    for section in (fashionmnist_section, citation_section, gnn_section, core_section, gl_methods_section,
                    mbo_section, graph_section, engine_section, distributed_section, xmc_section, demo_section,
                    index_section):
        lines += section()
    return "\n".join(lines).rstrip() + "\n"


def _between(text: str, start: str, end: str, body: str, name: str) -> str:
    """``text`` with the block between the markers ``start`` and ``end`` replaced by ``body``."""
    if start not in text or end not in text:
        raise ValueError(f"{name} lacks the {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def _readme_with_headline(text: str) -> str:
    return _between(text, START, END, headline(), "README.md")


def _mbo_doc_with_tables(text: str) -> str:
    """docs/mbo.md with its §5 copy of the MBO tables regenerated (headings one level down)."""
    lines = mbo_section()[2:]
    body = "\n".join("#" + ln if ln.startswith("### ") else ln for ln in lines).rstrip() + "\n"
    return _between(text, MBO_START, MBO_END, body, "docs/mbo.md")


def _methods_doc_with_tables(text: str) -> str:
    """docs/methods.md with its copy of the bench_gl_methods.json tables regenerated."""
    return _between(text, MBO_START, MBO_END, _script("bench_gl_methods").markdown(_rec("bench_gl_methods")),
                    "docs/methods.md")


#: docs pages holding a generated copy of some tables: path -> how to regenerate the page's text.
GENERATED_COPIES = {"mbo.md": _mbo_doc_with_tables, "methods.md": _methods_doc_with_tables}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that the generated files are up to date")
    args = p.parse_args(argv)
    results, readme = DOCS / "results.md", ROOT / "README.md"
    generated = {results: render_all(), readme: _readme_with_headline(readme.read_text())}
    generated.update({DOCS / name: fix((DOCS / name).read_text()) for name, fix in GENERATED_COPIES.items()})
    if args.check:
        stale = [str(f.relative_to(ROOT)) for f, new in generated.items() if not f.exists() or f.read_text() != new]
        if stale:
            print(f"out of date: {stale}; run `make bench-report`", file=sys.stderr)
            return 1
        return 0
    for f, new in generated.items():
        f.write_text(new)
    try:
        for stem in (f"{FM}_priors20", "cora_citation_lcc", "citeseer_citation_lcc"):
            plot_accuracy(_rec(stem), DOCS / "img" / f"{stem}.png")
    except ImportError as exc:  # matplotlib is optional (graphvar[plot])
        print(f"no plots: {exc}", file=sys.stderr)
    print(f"wrote {results.relative_to(ROOT)}, the README headline table and docs/img/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
