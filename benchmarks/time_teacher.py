"""Time the XMC teacher's fit, stage by stage, on one XC dataset (default parameters).

Written against the parts of the API that every version shares (``read_xc``,
``Teacher().fit``, ``timings_``), so that ``benchmarks/before_after.py`` can
run it on an older commit::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/before_after.py --before 4f696a6 \\
        --script benchmarks/time_teacher.py --rounds 3 --name teacher_corel5k_engine -- --dataset corel5k

Needs ``$GRAPHVAR_SHARED_DATA/xmc/<dataset>/train.txt``. Writes a JSON with
``rows`` (stage, impl, seconds), the best of ``--repeats`` fits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="corel5k")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from graphvar.xmc import read_xc
    from graphvar.xmc.teacher import Teacher

    root = os.environ.get("GRAPHVAR_SHARED_DATA")
    if not root:
        sys.exit("set GRAPHVAR_SHARED_DATA to the folder holding xmc/<dataset>/train.txt")
    X, Y = read_xc(Path(root) / "xmc" / args.dataset / "train.txt")
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        t = Teacher().fit(X, Y)
        for stage, secs in t.timings_.items():
            best[stage] = min(best.get(stage, float("inf")), secs)
    rows = [{"stage": f"{args.dataset} teacher {stage}", "impl": "Teacher() defaults", "seconds": secs}
            for stage, secs in best.items()]
    record = {"benchmark": "time_teacher", "dataset": args.dataset, "n": int(X.shape[0]),
              "labels": int(Y.shape[1]), "rows": rows, "loadavg": list(os.getloadavg())}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
