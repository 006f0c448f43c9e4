"""Benchmark reports: JSON record, Markdown tables and an accuracy plot.

A *record* is the plain dict that :func:`graphvar.benchmark.runner.run_benchmark`
returns: the configuration, the machine, and one entry per (method, rate)
holding per-trial accuracies and timings. Everything here reads that dict, so
a JSON file written yesterday renders the same tables today.

Every JSON written by :func:`write_json` carries a ``provenance`` block
(:func:`graphvar.provenance.provenance`: argv, git commit, machine, load,
versions) and no absolute paths (:func:`relativize`); ``benchmarks/`` scripts
write their results through it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..provenance import machine_info, provenance, relative_path

__all__ = [
    "machine_info",
    "summary",
    "paired_difference",
    "markdown_table",
    "write_json",
    "read_json",
    "plot_accuracy",
    "merge_records",
    "stamp_provenance",
    "relativize",
    "absolute_paths",
    "record_machine",
]


def _entries(record: dict) -> dict[tuple[str, int], dict]:
    return {(e["method"], int(e["rate"])): e for e in record["results"]}


def _methods_in_order(record: dict) -> list[str]:
    seen: list[str] = []
    for e in record["results"]:
        if e["method"] not in seen:
            seen.append(e["method"])
    return seen


def summary(record: dict) -> dict[tuple[str, int], tuple[float, float]]:
    """Mean and standard deviation (ddof=1) of accuracy per (method, rate)."""
    out = {}
    for key, e in _entries(record).items():
        acc = np.asarray(e["accuracy"], dtype=np.float64)
        std = float(acc.std(ddof=1)) if acc.size > 1 else 0.0
        out[key] = (float(acc.mean()), std)
    return out


def paired_difference(a, b) -> tuple[float, float]:
    """Mean of ``a - b`` over paired trials and its standard error.

    Parameters
    ----------
    a, b : array-like of shape (trials,)
        Accuracies of two methods on the same labeled sets.

    Returns
    -------
    (mean, standard_error) : tuple of float
        The standard error is ``std(a - b, ddof=1) / sqrt(trials)`` (0 for one trial).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired accuracies need equal 1-D shapes, got {a.shape} and {b.shape}")
    d = a - b
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
    return float(d.mean()), se


def paired_accuracies(a: dict, b: dict) -> tuple[list[float], list[float]]:
    """The accuracies of two result entries on the labeled sets both of them solved.

    Entries that carry ``trial`` (the index of each accuracy's labeled set)
    are matched on it, so a peer measured on the first 5 of 20 sets pairs
    with those 5; entries without it pair position by position.

    Parameters
    ----------
    a, b : dict
        Result entries (``accuracy`` and optionally ``trial`` lists).

    Returns
    -------
    (list of float, list of float)
        ``a``'s and ``b``'s accuracies on the common sets, in trial order.
    """
    if "trial" not in a or "trial" not in b:
        return list(a["accuracy"]), list(b["accuracy"])
    acc_a = dict(zip(a["trial"], a["accuracy"]))
    acc_b = dict(zip(b["trial"], b["accuracy"]))
    common = sorted(set(acc_a) & set(acc_b))
    return [acc_a[t] for t in common], [acc_b[t] for t in common]


def markdown_table(record: dict, baseline: str = "poisson", digits: int = 1) -> str:
    """Render the accuracy table and the paired differences vs ``baseline``.

    Parameters
    ----------
    record : dict
        A benchmark record.
    baseline : str, default="poisson"
        Method the paired differences are taken against (skipped if absent).
    digits : int, default=1
        Decimals of the accuracy cells.

    Returns
    -------
    str
        Markdown: a title line, the accuracy table (mean (std) in %), the
        paired difference table (mean ± standard error, percentage points;
        over the labeled sets both methods solved, their count in brackets
        where it is below the table's trial count) and the mean solve time
        per labeled set. A cell over fewer trials than the title's says so
        in brackets.
    """
    entries = _entries(record)
    methods = _methods_in_order(record)
    rates = sorted({int(e["rate"]) for e in record["results"]})
    stats = summary(record)
    cfg = record.get("config", {})
    machine = record_machine(record)
    load = machine.get("loadavg")
    n_trials = max(len(e["accuracy"]) for e in record["results"])
    head = "| method | " + " | ".join(f"{r} label{'s' if r > 1 else ''}/class" for r in rates) + " |"
    sep = "|---|" + "---:|" * len(rates)
    title = (
        f"**{record.get('dataset', '?')}** ({cfg.get('graph_desc', '')}), "
        f"accuracy % on unlabeled nodes, mean (std) over {n_trials} trials"
    )
    lines = [title, "", head, sep]
    for m in methods:
        cells = []
        for r in rates:
            if (m, r) in stats:
                mu, sd = stats[(m, r)]
                n = len(entries[(m, r)]["accuracy"])
                cells.append(f"{mu:.{digits}f} ({sd:.{digits}f})" + (f" [{n}]" if n < n_trials else ""))
            else:
                cells.append("–")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if baseline in methods and len(methods) > 1:
        lines += ["", f"Paired difference vs {baseline} (points, mean ± standard error):", "", head, sep]
        for m in methods:
            if m == baseline:
                continue
            cells = []
            for r in rates:
                if (m, r) in entries and (baseline, r) in entries:
                    a, b = paired_accuracies(entries[(m, r)], entries[(baseline, r)])
                    if not a:
                        cells.append("–")
                        continue
                    d, se = paired_difference(a, b)
                    cells.append(f"{d:+.2f} ± {se:.2f}" + (f" [{len(a)}]" if len(a) < n_trials else ""))
                else:
                    cells.append("–")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Seconds per labeled set (solve only; batched solves split evenly):", "", head, sep]
    for m in methods:
        cells = []
        for r in rates:
            e = entries.get((m, r))
            cells.append(f"{float(np.mean(e['seconds'])):.3g}" if e else "–")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if load is not None:
        lines += ["", f"Load average during the run: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
                  f"on {machine.get('cpu_count')} CPUs."]
    return "\n".join(lines) + "\n"


def record_machine(record: dict) -> dict:
    """The machine a record was measured on: its ``machine``, else its provenance's (``{}`` if neither)."""
    return record.get("machine") or record.get("provenance", {}).get("machine") or {}


def merge_records(records: list[dict], sources: list[str] | None = None) -> dict:
    """Join records of one benchmark run in pieces (e.g. methods split over processes).

    The pieces must share the dataset, seed, trials and graph (same node and
    edge counts), so their labeled sets are identical and paired differences
    stay valid. The merged record keeps the first piece's configuration (its
    ``methods`` and ``rates`` become the unions over the pieces), every
    result, and under ``pieces`` each piece's source, configuration, machine
    and provenance, so nothing measured is lost when the pieces are deleted.

    Parameters
    ----------
    records : list of dict
    sources : list of str, optional
        Where each piece came from (e.g. its file name), stored with the piece.

    Returns
    -------
    dict
    """
    if not records:
        raise ValueError("merge_records needs at least one record")
    if sources is not None and len(sources) != len(records):
        raise ValueError(f"sources has {len(sources)} entries for {len(records)} records; give one per record")
    first = records[0]
    keys = ("seed", "trials", "n_nodes", "n_edges")
    for r in records[1:]:
        if r["dataset"] != first["dataset"] or any(r["config"].get(k) != first["config"].get(k) for k in keys):
            raise ValueError(
                "records differ in dataset, seed, trials or graph: their labeled sets are not paired"
            )
    pieces = []
    for i, r in enumerate(records):
        piece = {"methods": r["config"].get("methods"), "rates": sorted({int(e["rate"]) for e in r["results"]}),
                 "config": r["config"], "machine": r.get("machine")}
        if sources is not None:
            piece = {"source": sources[i], **piece}
        if "provenance" in r:
            piece["provenance"] = r["provenance"]
        pieces.append(piece)
    merged = {k: v for k, v in first.items() if k not in ("provenance", "partial", "pieces")}
    merged.update(config=dict(first["config"]), results=[], machine=first.get("machine"), pieces=pieces)
    seen: dict = {}
    for r in records:
        for e in r["results"]:
            key = (e["method"], e["rate"])
            if key not in seen:
                seen[key] = dict(e)
                merged["results"].append(seen[key])
            elif "trial" in e and "trial" in seen[key] and not set(e["trial"]) & set(seen[key]["trial"]):
                _join_trials(seen[key], e)
            else:
                raise ValueError(f"{key} appears in two records (on the same labeled sets, or without "
                                 "trial indices to tell them apart)")
    merged["config"]["methods"] = list(dict.fromkeys(m for r in records for m in r["config"].get("methods", [])))
    merged["config"]["rates"] = sorted({int(e["rate"]) for e in merged["results"]})
    return merged


def _join_trials(into: dict, other: dict) -> None:
    """Append ``other``'s per-trial lists to ``into`` (same method and rate, disjoint trials), in trial order."""
    per_trial = [k for k, v in into.items() if isinstance(v, list) and len(v) == len(into["trial"])]
    if any(len(other.get(k, ())) != len(other["trial"]) for k in per_trial):
        raise ValueError(f"({into['method']!r}, rate {into['rate']}): the pieces record different per-trial fields")
    rows = sorted(zip(*(into[k] + other[k] for k in per_trial)), key=lambda row: row[per_trial.index("trial")])
    for i, k in enumerate(per_trial):
        into[k] = [row[i] for row in rows]


# A path is absolute when it starts with "/", "~/" or a drive letter; inside free text, a
# "/dir/..." with at least two components that does not follow a word character.
_ABS_WHOLE = re.compile(r"^(?:/|~[/\\]|[A-Za-z]:[/\\])")
_ABS_INSIDE = re.compile(r"(?<![\w.~/:-])(?:/[\w.+-]+){2,}|(?<![\w])[A-Za-z]:\\[\w.+-]+|(?<![\w])~/[\w.+-]+")


def absolute_paths(obj, _where: str = "") -> list[str]:
    """Every string in ``obj`` (nested dicts/lists) that is or contains an absolute path.

    Returns ``"<key path>: <string>"`` entries; empty when the record is clean.
    """
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += absolute_paths(v, f"{_where}.{k}" if _where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found += absolute_paths(v, f"{_where}[{i}]")
    elif isinstance(obj, str) and (_ABS_WHOLE.match(obj) or _ABS_INSIDE.search(obj)):
        found.append(f"{_where}: {obj}")
    return found


def _relative(text: str) -> str:
    if not _ABS_WHOLE.match(text):
        return text
    parts = Path(text).parts
    if "data" in parts[1:]:  # a file under a data root: written as under the default root, ./data
        last = len(parts) - 1 - parts[::-1].index("data")
        return str(Path(*parts[last:]))
    return relative_path(text)


def relativize(obj):
    """A copy of ``obj`` with every absolute-path string made relative.

    Paths inside the repository (or the working directory) become relative to
    it; paths with a ``data`` folder become ``data/...`` (as under the default
    data root); anything else keeps its last two components
    (:func:`graphvar.provenance.relative_path`).
    """
    if isinstance(obj, dict):
        return {k: relativize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [relativize(v) for v in obj]
    if isinstance(obj, str):
        return _relative(obj)
    return obj


def stamp_provenance(record: dict, argv: list[str] | None = None) -> dict:
    """``record`` with a ``provenance`` block first (unless it has one already).

    Parameters
    ----------
    record : dict
    argv : list of str, optional
        The command that produced the record (default ``sys.argv``); a
        ``graphvar`` console script is written as plain ``graphvar``.
    """
    if "provenance" in record:
        return record
    prov = provenance(argv)
    if prov["argv"] and Path(prov["argv"][0]).name == "graphvar":
        prov["argv"][0] = "graphvar"
    return {"provenance": prov, **record}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(record: dict, path, *, argv: list[str] | None = None) -> Path:
    """Write ``record`` as indented JSON (creating parent folders).

    The file gets a ``provenance`` block (:func:`stamp_provenance`, with
    ``argv``) when the record has none, and absolute paths are made relative
    (:func:`relativize`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = relativize(_jsonable(stamp_provenance(record, argv)))
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def read_json(path) -> dict:
    """Read a record written by :func:`write_json`."""
    return json.loads(Path(path).read_text())


_DASHES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def line_styles(n: int, colors) -> list[dict]:
    """``n`` distinct (colour, line style, marker) combinations for a plot's lines.

    Colours cycle first; once there are more lines than colours, each further
    round of colours gets the next dash pattern and marker, so no two lines
    look alike (up to ``len(colors) * 4`` lines).
    """
    colors = list(colors)
    return [{"color": colors[i % len(colors)], "linestyle": _DASHES[(i // len(colors)) % len(_DASHES)],
             "marker": _MARKERS[(i // len(colors)) % len(_MARKERS)]} for i in range(n)]


def plot_accuracy(record: dict, path, methods: list[str] | None = None) -> Path:
    """Save a PNG of accuracy vs labels per class (mean ± std error bars).

    Needs matplotlib (``pip install graphvar[plot]``).

    Parameters
    ----------
    record : dict
        A benchmark record.
    path : str or Path
        PNG file to write.
    methods : list of str, optional
        Methods to draw (default: all).

    Returns
    -------
    Path
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'graphvar[plot]'") from exc
    stats = summary(record)
    methods = methods or _methods_in_order(record)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for m, style in zip(methods, line_styles(len(methods), plt.rcParams["axes.prop_cycle"].by_key()["color"])):
        rates = sorted(r for (mm, r) in stats if mm == m)
        mu = [stats[(m, r)][0] for r in rates]
        sd = [stats[(m, r)][1] for r in rates]
        ax.errorbar(rates, mu, yerr=sd, capsize=3, label=m, **style)
    all_rates = sorted({r for (_, r) in stats})
    ax.set_xticks(all_rates)
    ax.set_xlabel("labels per class")
    ax.set_ylabel("accuracy on unlabeled nodes (%)")
    ax.set_title(f"{record.get('dataset', '')}\n{record.get('config', {}).get('graph_desc', '')}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
