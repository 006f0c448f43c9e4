"""Merge benchmark records run in pieces (methods or rates split over processes) into one table.

The pieces must come from the same dataset, seed, trial count and graph, so
their labeled sets are identical and paired differences stay valid (checked
by :func:`graphvar.benchmark.report.merge_records`).

    python benchmarks/merge_results.py benchmarks/results/OUT piece1.json piece2.json ...

Writes ``OUT.json`` and ``OUT.md`` (mean (std), paired difference vs Poisson ± SE).
The merged record keeps every piece's configuration, machine and provenance
under ``pieces`` (with the piece's file name), so the piece files can be
deleted afterwards without losing a measured number; its own ``provenance``
is this merge command.
"""

import argparse
from pathlib import Path

from graphvar.benchmark.report import markdown_table, merge_records, read_json, stamp_provenance, write_json


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output path without extension")
    parser.add_argument("pieces", nargs="+", help="benchmark JSON records to merge")
    args = parser.parse_args(argv)
    merged = merge_records([read_json(p) for p in args.pieces], sources=[Path(p).name for p in args.pieces])
    out = Path(args.out)
    merged = stamp_provenance(merged)
    merged["provenance"]["note"] = (
        f"This provenance is the merge of {len(args.pieces)} pieces; each measurement's own command line, "
        "git commit, machine and load are in pieces[i].provenance (and pieces[i].machine)."
    )
    write_json(merged, out.with_suffix(".json"))
    md = markdown_table(merged, baseline="poisson")
    out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
