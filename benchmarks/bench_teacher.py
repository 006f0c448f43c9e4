"""Teacher export at scale: synthetic power-law XMC data, wall time and peak memory.

One command::

    python benchmarks/bench_teacher.py                  # 200k points, 100k labels, 64-d
    python benchmarks/bench_teacher.py --n 5000 --labels 2000   # smoke test
    python benchmarks/bench_teacher.py --n 100000 --approximate true   # approximate k-NN graph

Data: ``n_clusters`` Gaussian clusters in ``dim`` dimensions; each cluster owns
a pool of 20 labels drawn from a Zipf-like popularity (``p_l ∝ (l + 1)^-α``, α = 0.8;
one cluster per 20 points),
and each point takes 1–8 labels from its cluster's pool, so labels are
correlated with the features and label frequencies follow a power law. The
teacher (default parameters unless overridden) builds the Euclidean k-NN graph,
propagates with leave-one-out cross-fitting, calibrates and exports p̂ and the
LEVER soft targets (``.npz`` and LF text) with a manifest.

Reports wall time per phase, the process CPU time of fit+export (on a shared
machine the wall time is inflated by other processes; CPU time is not), peak
resident memory (``ru_maxrss``), the load average and versions; with
``--approximate true`` the graph comes from the approximate k-NN search and the
record holds its recall@k measured on a sample of rows (``graph_info``);
writes ``benchmarks/results/xmc_bench_teacher*.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from graphvar.benchmark.report import stamp_provenance, write_json  # noqa: E402
from graphvar.xmc.export import export_teacher  # noqa: E402
from graphvar.xmc.teacher import Teacher  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_powerlaw(n: int, n_labels: int, dim: int = 64, n_clusters: int | None = None,
                       pool: int = 20, max_labels: int = 8, alpha: float = 0.8, seed: int = 0):
    """Clustered features with power-law, cluster-correlated labels.

    Returns
    -------
    X : ndarray (n, dim) float32
    Y : scipy.sparse.csr_matrix (n, n_labels) binary
    """
    rng = np.random.default_rng(seed)
    n_clusters = n_clusters or max(2, n // 20)
    centers = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    cl = rng.integers(0, n_clusters, n)
    X = centers[cl] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    pop = (np.arange(n_labels) + 1.0) ** -alpha
    pop /= pop.sum()
    perm = rng.permutation(n_labels)  # popular labels are not the low ids
    pools = perm[rng.choice(n_labels, size=(n_clusters, pool), p=pop)]
    m = rng.integers(1, max_labels + 1, n)
    order = np.argsort(rng.random((n, pool)), axis=1)[:, :max_labels]
    take = np.arange(max_labels)[None, :] < m[:, None]
    rows = np.repeat(np.arange(n), max_labels).reshape(n, max_labels)[take]
    cols = pools[cl[:, None], order][take]
    Y = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n, n_labels))
    Y.sum_duplicates()
    Y.data[:] = 1.0
    return X, Y


def _search(res: dict) -> str:
    info = res.get("graph_info", {})
    if not info.get("approximate"):
        return "exact"
    rec = info.get("recall")
    return f"approximate ({rec:.4f})" if isinstance(rec, (int, float)) else "approximate"


def render(res: dict) -> str:
    """The Markdown row of one run (from its JSON record alone)."""
    t = res["teacher_params"]
    load = ", ".join(f"{x:.2f}" for x in res["provenance"]["machine"]["loadavg"])
    return "\n".join([
        "| n | labels | dim | k | k-NN (recall) | topk | steps | folds | graph s | propagate s | calibrate s | write s | "
        "fit+export s | CPU s | peak RSS GB | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {res['n']} | {res['labels']} | {res['dim']} | {t['k']} | {_search(res)} | {t['topk']} | {res['n_steps_run']} | "
        f"{t['n_folds']} | {res['graph_s']:.1f} | {res['propagate_s']:.1f} | {res['calibrate_s']:.1f} | "
        f"{res['write_s']:.1f} | {res['teacher_export_s']:.1f} | {res['teacher_export_cpu_s']:.1f} | "
        f"{res['peak_rss_gb']:.2f} | {load} |",
    ])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--labels", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--alpha", type=float, default=0.8, help="label popularity exponent (default 0.8)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--topk", type=int, default=None, help="teacher topk (default: Teacher default)")
    p.add_argument("--n-steps", type=int, default=None)
    p.add_argument("--formats", default="npz,lf")
    p.add_argument("--approximate", choices=("auto", "true", "false"), default="auto",
                   help="k-NN search of the graph (default auto: approximate from 200k points)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--keep", default=None, help="keep the export in this folder (default: a temp dir, removed)")
    a = p.parse_args(argv)
    cmd = None if argv is None else [str(Path(__file__)), *argv]  # for provenance(); default sys.argv
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    X, Y = synthetic_powerlaw(a.n, a.labels, a.dim, alpha=a.alpha)
    t_data = time.perf_counter() - t0
    freq = np.asarray(Y.sum(0)).ravel()
    kw = {"k": a.k, "progress": True, "approximate": {"auto": "auto", "true": True, "false": False}[a.approximate]}
    if a.topk:
        kw["topk"] = a.topk
    if a.n_steps:
        kw["n_steps"] = a.n_steps
    out_dir = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="graphvar_bench_teacher_"))
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = ru1.ru_utime + ru1.ru_stime
    teacher = Teacher(**kw).fit(X, Y)
    man = export_teacher(teacher, out_dir, formats=tuple(a.formats.split(",")))
    t_total = time.perf_counter() - t1
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak_gb = ru.ru_maxrss / 1024**2  # KiB on Linux
    cpu_s = ru.ru_utime + ru.ru_stime - cpu0
    sizes = {f.name: f.stat().st_size for f in out_dir.iterdir()}
    if not a.keep:
        shutil.rmtree(out_dir)
    res = {
        "n": a.n, "labels": a.labels, "dim": a.dim, "alpha": a.alpha, "labels_used": int((freq > 0).sum()),
        "labels_le5": int(((freq > 0) & (freq <= 5)).sum()), "nnz_Y": int(Y.nnz),
        "teacher_params": teacher.get_params(), "n_steps_run": teacher.n_steps_,
        "graph_nnz": int(teacher.graph_.n_edges), "graph_info": teacher.graph_info_, "p_hat_nnz": int(teacher.p_hat_.nnz),
        "data_s": t_data, "graph_s": teacher.timings_["graph_s"], "propagate_s": teacher.timings_["propagate_s"],
        "calibrate_s": teacher.timings_["calibrate_s"], "write_s": man["timings_s"]["write_s"],
        "teacher_export_s": t_total, "teacher_export_cpu_s": cpu_s,
        "cpu_share": cpu_s / t_total, "peak_rss_gb": peak_gb, "file_bytes": sizes,
        "limits": {"seconds": 600, "peak_rss_gb": 6},
    }
    res = stamp_provenance(res, cmd)
    res["within_limits"] = bool(t_total < 600 and peak_gb < 6)
    md = render(res)
    print(md)
    print(f"labels used {res['labels_used']}, with <= 5 points {res['labels_le5']}; "
          f"within limits (< 600 s, < 6 GB): {res['within_limits']}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "xmc_bench_teacher" if (a.n, a.labels) == (200_000, 100_000) else f"xmc_bench_teacher_{a.n}x{a.labels}"
    if a.approximate == "true":
        stem += "_approx"
    write_json(json.loads(json.dumps(res, default=str)), out / f"{stem}.json")
    (out / f"{stem}.md").write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
