"""The MBO section of docs/results.md (``benchmarks/report.py``): bench_mbo.py records, the goal table, the rules."""

from __future__ import annotations

import numpy as np

from report_common import RATES, RESULTS, _cell, _load, _rec, _row, _script

from graphvar.benchmark.report import markdown_table, paired_accuracies, paired_difference, read_json


#: bench_mbo.py records: dataset key -> what its graph is.
MBO_RECORDS = {"digits": "digits", "fashionmnist": "FashionMNIST", "cora": "Cora citation LCC",
               "citeseer": "CiteSeer citation LCC", "cora_knn": "Cora 10-NN", "citeseer_knn": "CiteSeer 10-NN"}
# GraphLearning's ResultsFromPaper table for FashionMNIST (docs/design.md §8; VAE features, k = 10, 100 trials).
PUBLISHED_FM = {"Laplace": [18.5, 32.5, 44.0, 52.2, 57.9], "nearest neighbour": [46.7, 53.5, 57.2, 59.3, 61.1],
                "random walk": [49.0, 55.6, 59.4, 61.6, 63.4], "multiclass MBO": [15.8, 20.2, 25.7, 30.7, 34.8],
                "VolumeMBO": [54.7, 61.7, 66.1, 68.5, 70.1], "WNLL": [44.7, 59.1, 64.7, 67.4, 70.0],
                "p-Laplace (p=10)": [55.1, 57.4, 65.4, 68.0, 68.5], "centered kernel": [11.8, 13.1, 14.3, 15.2, 16.3],
                "modularity MBO": [54.4, 61.9, 66.1, 68.0, 69.4], "Poisson": [60.9, 66.1, 69.6, 71.2, 72.4],
                "Poisson + volume": [61.2, 66.0, 69.7, 71.6, 72.7], "PoissonMBO": [62.0, 67.2, 70.4, 72.1, 73.1]}


def _mbo_records() -> dict:
    return {ds: read_json(RESULTS / f"mbo_{ds}.json") for ds in MBO_RECORDS if (RESULTS / f"mbo_{ds}.json").exists()}


def _default_vpoisson_mbo() -> tuple[str, str]:
    """(bench_mbo row name, description) of ``graphvar.vpoisson_mbo``'s defaults (amplification, heat steps)."""
    import inspect

    import graphvar

    params = inspect.signature(graphvar.vpoisson_mbo).parameters
    a, inner = float(params["amplification"].default), int(params["n_inner"].default)
    return (f"vpoisson_mbo:{a:g}" + ("" if inner == 40 else f":ns{inner}"),
            f"amplification {a:g}, {inner} heat steps per MBO iteration")


def mbo_goal() -> list[str]:
    """Issue 10's goal: V-PoissonMBO (default amplification) minus GraphLearning's poisson_mbo, per rate."""
    recs, (default, desc) = _mbo_records(), _default_vpoisson_mbo()
    if not recs:
        return []
    head = "| graph | " + " | ".join(f"{r}/class" for r in RATES) + " |"
    lines = [f"### V-PoissonMBO (the default: {desc}; `{default}`) − GraphLearning's PoissonMBO", "",
             "Paired on the labeled sets both solved (points, mean ± SE, [sets]); **bold**: ahead by more than "
             "2 SE; *italic*: behind by more than 2 SE.", "", head, "|---|" + "---:|" * len(RATES)]
    for ds, rec in recs.items():
        ent = {(e["method"], int(e["rate"])): e for e in rec["results"]}
        cells = []
        for r in RATES:
            ours, peer = ent.get((default, r)), ent.get(("gl_poisson_mbo", r))
            if ours is None or peer is None:
                cells.append("–")
                continue
            d, se = paired_difference(*paired_accuracies(ours, peer))
            text = f"{d:+.2f} ± {se:.2f} [{len(peer['accuracy'])}]"
            cells.append(f"**{text}**" if d > 2 * se else f"*{text}*" if d < -2 * se else text)
        lines.append(f"| {MBO_RECORDS[ds]} | " + " | ".join(cells) + " |")
    return lines + [""]


def _published_fm() -> list[str]:
    head = "| published method | " + " | ".join(f"{r}/class" for r in RATES) + " |"
    return (["GraphLearning's published FashionMNIST table (Calder et al., ResultsFromPaper: VAE features from "
             "another training, k = 10, 100 other labeled sets; p-Laplace 10 trials):", "", head,
             "|---|" + "---:|" * len(RATES)]
            + [_row(k, [f"{v:.1f}" for v in vals]) for k, vals in PUBLISHED_FM.items()] + [""])


def mbo_section() -> list[str]:
    """PoissonMBO / V-PoissonMBO beside GraphLearning's poisson_mbo (benchmarks/bench_mbo.py), where recorded."""
    out = []
    for ds, rec in _mbo_records().items():
        err = rec["config"]["gl_final_fraction_error"]
        worst = ", ".join(f"{r}: {max(v):.3g}" for r, v in err.items() if v)
        out += [f"### `mbo_{ds}.json` — {MBO_RECORDS[ds]}, same W, same labeled sets, interleaved ({_load(rec)})",
                "", markdown_table(rec, baseline="gl_poisson_mbo", digits=2),
                f"GraphLearning's final class-fraction error (largest per rate; its tolerance is 1e-3): {worst}.", ""]
        out += _published_fm() if ds == "fashionmnist" else []
    return (["## The MBO family beside GraphLearning (docs/mbo.md)", ""] + mbo_goal() + out + amplification_rule()
            + sweep_section()) if out else []


def sweep_section() -> list[str]:
    """The full FashionMNIST sweeps (benchmarks/bench_sweep.py): graphvar measured whole, GraphLearning sampled."""
    out = []
    if (RESULTS / "sweep_fashionmnist.json").exists():
        rec = _rec("sweep_fashionmnist")
        out += [f"### `sweep_fashionmnist.json` — the label-rate sweep ({_load(rec)})", "",
                _script("bench_sweep").markdown(rec)]
    if (RESULTS / "sweep_fashionmnist_poisson.json").exists():
        new = _rec("sweep_fashionmnist_poisson")
        out += [f"### `sweep_fashionmnist_poisson.json` — Poisson and Poisson + priors again, Chebyshev-series "
                f"Poisson ({_load(new)})", "", _script("bench_sweep").markdown(new)]
        if (RESULTS / "sweep_fashionmnist.json").exists():
            out += _same_sets(_rec("sweep_fashionmnist"), new)
    return out


def _same_sets(old: dict, new: dict) -> list[str]:
    """graphvar's accuracy per labeled set in two sweeps of the same sets (same dataset, graph, seeds)."""
    if old.get("features_sha1") != new.get("features_sha1"):
        return []
    measured = (old.get("pieces") or [old])[0].get("provenance", {}).get("git_commit", "")[:7] or "older code"
    lines = [f"graphvar's accuracy (percent) on the same labeled sets, this record minus "
             f"`sweep_fashionmnist.json` (step-loop Poisson, measured at {measured}):",
             "", "| method | labels/class | sets | mean difference | largest absolute difference |", "|---|---:|---:|---:|---:|"]
    before = {r["rate"]: r for r in old["rows"]}
    for row in new["rows"]:
        for m in new["config"].get("methods", []):
            if row["rate"] not in before or m not in before[row["rate"]]["gv"]:
                continue
            a = np.asarray(row["gv"][m]["accuracy"])
            b = np.asarray(before[row["rate"]]["gv"][m]["accuracy"])
            k = min(a.size, b.size)  # the sets both records hold (the draw is prefix-stable)
            d = a[:k] - b[:k]
            lines.append(f"| {m} | {row['rate']} | {k} | {np.mean(d):+.4f} | {np.max(np.abs(d)):.4f} |")
    return lines


RULE_DATASETS = ("digits", "fashionmnist", "cora", "citeseer")  # docs/mbo.md §3: the rules' data, rates 1-2


def _rule_table(label: str, variants: dict, base: str, recs: dict) -> tuple[list[str], dict]:
    """Each variant's paired difference vs ``base`` on the rule's cells; ``(table lines, smallest per variant)``."""
    cells = [(ds, r) for ds, rec in recs.items() for r in (1, 2) if r in rec["config"]["rates"]]
    head = f"| {label} | " + " | ".join(f"{ds} {r}/class" for ds, r in cells) + " | smallest |"
    lines, worst = [head, "|---|" + "---:|" * (len(cells) + 1)], {}
    for value, method in variants.items():
        ent = {ds: {(e["method"], int(e["rate"])): e for e in rec["results"]} for ds, rec in recs.items()}
        diffs = [paired_difference(*paired_accuracies(ent[ds][(method, r)], ent[ds][(base, r)]))
                 if (method, r) in ent[ds] and (base, r) in ent[ds] else None for ds, r in cells]
        worst[value] = min((d[0] for d in diffs if d is not None), default=float("nan"))
        lines.append(f"| {value:g} | " + " | ".join("not run" if d is None else f"{d[0]:+.2f} ± {d[1]:.2f}"
                                                    for d in diffs) + f" | {worst[value]:+.2f} |")
    return lines, worst


def amplification_rule() -> list[str]:
    """docs/mbo.md §3: the maximin rules for V-PoissonMBO's amplification and heat steps per MBO iteration."""
    recs = {ds: rec for ds, rec in _mbo_records().items() if ds in RULE_DATASETS}
    amps = sorted({a for rec in recs.values() for a in rec["config"]["amplifications"] if a})
    if not recs or not amps:
        return []
    table, worst = _rule_table("amplification", {a: f"vpoisson_mbo:{a:g}" for a in amps}, "vpoisson_mbo:0", recs)
    best = max(worst.values())
    choice = 0.0 if best <= 0 else min(a for a in amps if worst[a] == best)
    lines = ["### The amplification rule (docs/mbo.md §3)", "",
             "Paired difference of `vpoisson_mbo:a` vs `vpoisson_mbo:0` (40 heat steps per MBO iteration; "
             "points, mean ± SE):", "", *table, "",
             f"Maximin choice over the recorded cells: amplification = {choice:g}"
             + (" (no amplification beats a = 0 in every cell)." if choice == 0 else "."), ""]
    inner = sorted({int(e["method"].rsplit(":ns", 1)[1]) for rec in recs.values() for e in rec["results"]
                    if e["method"].startswith("vpoisson_mbo:0:ns")})
    if inner:
        table, worst = _rule_table("heat steps", {n: f"vpoisson_mbo:0:ns{n}" for n in inner}, "vpoisson_mbo:0", recs)
        best = max(worst.values())
        pick = 40 if not best > 0 else min(n for n in inner if worst[n] == best)
        lines += ["### The heat-steps rule (docs/mbo.md §3)", "",
                  "Paired difference of `vpoisson_mbo:0:nsN` (N heat steps per MBO iteration) vs `vpoisson_mbo:0` "
                  "(40, GraphLearning's `Ns`; points, mean ± SE):", "", *table, "",
                  f"Maximin choice over the recorded cells: {pick} heat steps per MBO iteration"
                  + (" (no N beats 40 in every cell)." if pick == 40 else "."), ""]
    return lines


def _headline_mbo() -> list[str]:
    """The MBO rows of the headline (mbo_fashionmnist.json), when that record is on the VAE graph."""
    path = RESULTS / "mbo_fashionmnist.json"
    rec = read_json(path) if path.exists() else None
    if rec is None or "VAE" not in rec["config"]["graph_desc"]:
        return []
    default, desc = _default_vpoisson_mbo()
    n: dict[str, list[int]] = {}
    for e in rec["results"]:
        n.setdefault(e["method"], []).append(len(e["accuracy"]))
    peer = sorted(set(n.get("gl_poisson_mbo", [0])))
    rows = [(f"graphvar V-PoissonMBO (default: {desc})", default),
            ("graphvar PoissonMBO", "poisson_mbo"), ("graphvar Poisson + exact class-prior projection", "poisson+priors"),
            (f"GraphLearning 1.7.5 PoissonMBO, same graph, first {'–'.join(map(str, (peer[0], peer[-1])[:len(peer)]))}"
             " of the same sets", "gl_poisson_mbo")]
    return [_row(name, [_cell(rec, m, r) for r in RATES]) for name, m in rows if m in n] + [
        "", f"MBO rows: `mbo_fashionmnist.json` ({_load(rec)}), {max(max(v) for v in n.values())} labeled sets per rate "
        "on a VAE-20 graph of another training of the same VAE (this machine, a later session); GraphLearning's "
        "row is on the first sets of the same seeded draw. Paired differences: docs/results.md, MBO section."]
