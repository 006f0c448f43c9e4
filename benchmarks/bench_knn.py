"""k-NN graph construction at the hardware limit: exact backends, approximate search and the peers.

One process, one thread by default (``--threads``), everything on the same input:

* the machine's single-precision GEMM peak (a plain 4096³ ``torch.mm``),
  measured at the start and at the end of the run;
* exact search: graphvar's ``tiled``, ``faiss`` and ``torch`` backends and
  scikit-learn's brute force — seconds, *effective* GFLOP/s (the ``2 n² d``
  flops of a full distance product divided by the time) and % of the peak;
* approximate search: graphvar's (k-means cells searched pairwise by the tiled
  kernel) at several ``n_probe``, faiss HNSW (M = 32, efConstruction = 64) at
  several ``efSearch``, faiss IVF-Flat at several ``nprobe``, pynndescent at two
  ``n_neighbors``;
* GraphLearning 1.7.5's default graph ``gl.weightmatrix.knn(X, 10)`` (annoy,
  10 trees) and its search ``knnsearch``;
* recall@10 of everything against the exact neighbours (tie-aware: a found
  point counts when its float64 distance is at most the true 10th distance).

Data: FashionMNIST PCA-50 (first n of the 70,000 images) and synthetic points
(a 10-dimensional Gaussian mixture mapped linearly into 50 dimensions plus
noise) at larger n; the scaling exponent of each method's time in n is fitted.

Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_knn.py            # full (about 25 min)
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_knn.py --quick    # smoke run (about 1 min)
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_knn.py --sizes --synthetic 1000000 --no-peers --name bench_knn_1m

Prints a Markdown table and writes ``benchmarks/results/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
K = 10


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, fewer settings (smoke run)")
    p.add_argument("--sizes", type=int, nargs="*", default=None, help="FashionMNIST sizes (default 10k..70k)")
    p.add_argument("--synthetic", type=int, nargs="*", default=None, help="synthetic sizes (default 200k)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-peers", action="store_true", help="skip sklearn, GraphLearning and pynndescent")
    p.add_argument("--name", default=None, help="result file name (default bench_knn[_quick])")
    return p.parse_args(argv)


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be fixed before numpy/torch/faiss/numba start their pools
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from graphvar.graph import knn_graph, knn_search  # noqa: E402
from graphvar.graph.exact import exhaustive_rows, prepare  # noqa: E402
from graphvar.provenance import loadavg, provenance  # noqa: E402


# ----------------------------------------------------------------------------------------- helpers
def sgemm_peak(size: int = 4096, reps: int = 3) -> float:
    """Best GFLOP/s of a plain ``size³`` float32 ``torch.mm`` (the peak the table is compared with)."""
    A, B = torch.randn(size, size), torch.randn(size, size)
    C = torch.empty(size, size)
    torch.mm(A, B, out=C)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(A, B, out=C)
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def synthetic(n: int, d: int = 50, seed: int = 0) -> np.ndarray:
    """A 10-dim Gaussian mixture (50 clusters) mapped linearly into ``d`` dims, plus small noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, 10)) * 3.0
    Z = centres[rng.integers(0, 50, n)] + rng.normal(size=(n, 10))
    M = np.linalg.qr(rng.normal(size=(d, 10)))[0].T
    return (Z @ M + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def _drop_self(ind: np.ndarray, k: int) -> np.ndarray:
    """From ``k + 1`` neighbours (self usually first) keep ``k``: drop self, else the last."""
    n = ind.shape[0]
    is_self = ind == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return ind[~is_self].reshape(n, k)


class Truth:
    """Exact 10th-neighbour distances (all rows, or a sample of rows) for tie-aware recall."""

    def __init__(self, X: np.ndarray, kth: np.ndarray, rows: np.ndarray):
        self.X, self.kth, self.rows = X.astype(np.float64), kth, rows

    def recall(self, ind: np.ndarray) -> float:
        ind = np.asarray(ind)[self.rows]
        hits = 0
        for s in range(0, len(self.rows), 20000):
            r, i = self.rows[s:s + 20000], ind[s:s + 20000]
            d2 = ((self.X[r, None, :] - self.X[i]) ** 2).sum(axis=2)
            hits += int((d2 <= self.kth[s:s + 20000, None] * (1 + 1e-12)).sum())
        return hits / ind.size


def truth_from(X: np.ndarray, idx: torch.Tensor | None, sample: int | None = None) -> Truth:
    Xd = X.astype(np.float64)
    if idx is not None:
        kth = ((Xd - Xd[idx[:, -1].numpy()]) ** 2).sum(axis=1)
        return Truth(X, kth, np.arange(len(X)))
    rows = np.sort(np.random.default_rng(1).choice(len(X), size=sample, replace=False))
    prep = prepare(torch.from_numpy(X), "euclidean")
    _, score = exhaustive_rows(prep, torch.from_numpy(rows), K)
    return Truth(X, score[:, -1].numpy() / prep.scale ** 2, rows)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- methods
def exact_backend(X, name):
    (idx, _, info), s = timed(lambda: knn_search(X, K, backend=name, approximate=False, return_info=True))
    return idx.numpy(), s, {"rows_rechecked": info["rows_rechecked"]}


def sklearn_brute(X):
    from sklearn.neighbors import NearestNeighbors

    (_, ind), s = timed(lambda: NearestNeighbors(n_neighbors=K + 1, algorithm="brute").fit(X).kneighbors(X))
    return _drop_self(ind, K), s, {}


def graphvar_ivf(X, n_probe):
    (idx, _, info), s = timed(lambda: knn_search(X, K, approximate=True, n_probe=n_probe, recall_sample=0,
                                                 return_info=True))
    return idx.numpy(), s, {"index_seconds": round(info["index_seconds"], 2), "n_cells": info["n_cells"]}


def faiss_hnsw(X, ef):
    import faiss

    def run():
        index = faiss.IndexHNSWFlat(X.shape[1], 32)
        index.hnsw.efConstruction = 64
        index.add(X)
        index.hnsw.efSearch = ef
        return index.search(X, K + 1)[1]

    ind, s = timed(run)
    return _drop_self(ind, K), s, {"M": 32, "efConstruction": 64}


def faiss_ivf(X, nprobe):
    import faiss

    def run():
        d = X.shape[1]
        nlist = int(4 * math.sqrt(len(X)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
        index.train(X[np.random.default_rng(0).choice(len(X), min(len(X), 64 * nlist), replace=False)])
        index.add(X)
        index.nprobe = nprobe
        return index.search(X, K + 1)[1]

    ind, s = timed(run)
    return _drop_self(ind, K), s, {"nlist": int(4 * math.sqrt(len(X)))}


def nndescent(X, n_neighbors):
    import pynndescent

    ind, s = timed(lambda: pynndescent.NNDescent(X, n_neighbors=n_neighbors, random_state=0,
                                                 n_jobs=1).neighbor_graph[0])
    return _drop_self(ind[:, :K + 1], K), s, {}


def gl_annoy_graph(X):
    import graphlearning as gl

    _, s = timed(lambda: gl.weightmatrix.knn(X, K))  # the default graph (annoy for d > 5)
    (ind, _), s_search = timed(lambda: gl.weightmatrix.knnsearch(X, K + 1))
    return _drop_self(ind, K), s, {"search_seconds": round(s_search, 2)}


def graphvar_graph(X):
    g, s = timed(lambda: knn_graph(X, k=K, approximate=False))
    return None, s, {"backend": g.info["backend"]}


# ----------------------------------------------------------------------------------------- driver
def row(records, dataset, n, d, method, setting, out, truth, peak):
    ind, seconds, extra = out
    rec = {"dataset": dataset, "n": n, "d": d, "method": method, "setting": setting,
           "seconds": round(seconds, 3), "loadavg": loadavg(), **extra}
    if ind is not None and truth is not None:
        rec["recall@10"] = round(truth.recall(ind), 5)
    if method.startswith("exact") or method == "sklearn brute":
        rec["gflops_effective"] = round(2 * n * n * d / seconds / 1e9, 1)
        rec["pct_peak"] = round(100 * rec["gflops_effective"] / peak, 1)
    records.append(rec)
    print(f"{dataset:>13} n={n:>8} {method:<22} {setting:<16} {seconds:9.2f} s  "
          f"recall={rec.get('recall@10', float('nan')):.4f}  "
          f"{rec.get('gflops_effective', '')}{' GF/s' if 'gflops_effective' in rec else ''}"
          f"{'  (' + str(rec['pct_peak']) + ' % peak)' if 'pct_peak' in rec else ''}", flush=True)
    return rec


def run_size(records, dataset, X, peak, quick, peers, exact_all=True):
    n, d = X.shape
    out = exact_backend(X, "tiled")
    truth = truth_from(X, torch.from_numpy(out[0]))
    row(records, dataset, n, d, "exact tiled", "", out, truth, peak)
    if exact_all:
        for name in ("faiss", "torch"):
            o = exact_backend(X, name)
            row(records, dataset, n, d, f"exact {name}", "", o, truth, peak)
            assert (o[0] == out[0]).all(), f"{name} and tiled disagree"  # same neighbours, ties included
        row(records, dataset, n, d, "graphvar knn_graph", "exact", graphvar_graph(X), None, peak)
    if peers:
        if n <= 70_000:
            row(records, dataset, n, d, "sklearn brute", "", sklearn_brute(X), truth, peak)
        row(records, dataset, n, d, "GraphLearning annoy", "knn(X, 10)", gl_annoy_graph(X), truth, peak)
    approx_rows(records, dataset, X, truth, peak, quick, peers)


def approx_rows(records, dataset, X, truth, peak, quick, peers):
    n, d = X.shape
    for p in ((16, 24) if quick else (12, 16, 24, 32)):
        row(records, dataset, n, d, "graphvar approximate", f"n_probe={p}", graphvar_ivf(X, p), truth, peak)
    if not peers and n > 200_000:  # --no-peers at 1M: graphvar only (HNSW alone takes many minutes there)
        return
    for ef in ((32,) if quick else (32, 64, 128)):
        row(records, dataset, n, d, "faiss HNSW", f"efSearch={ef}", faiss_hnsw(X, ef), truth, peak)
    for nprobe in ((8,) if quick else (8, 16, 32)):
        row(records, dataset, n, d, "faiss IVF-Flat", f"nprobe={nprobe}", faiss_ivf(X, nprobe), truth, peak)
    if peers and n <= 200_000:
        for nn in ((K + 1,) if quick else (K + 1, 30)):
            row(records, dataset, n, d, "pynndescent", f"n_neighbors={nn}", nndescent(X, nn), truth, peak)


def exponents(records):
    fits = {}
    for key in {(r["dataset"], r["method"], r["setting"]) for r in records}:
        pts = sorted((r["n"], r["seconds"]) for r in records if (r["dataset"], r["method"], r["setting"]) == key)
        if len(pts) >= 2:
            ln = np.log([p[0] for p in pts])
            lt = np.log([p[1] for p in pts])
            fits[" | ".join(key)] = round(float(np.polyfit(ln, lt, 1)[0]), 2)
    return dict(sorted(fits.items()))


def markdown(result) -> str:
    lines = [f"# k-NN benchmark ({result['threads']} thread(s), k = {K})", "",
             f"sgemm peak (4096³ torch.mm): {result['peak_gflops']} GFLOP/s (start, end); "
             f"the % column uses the larger.", "",
             "| data | n | method | setting | seconds | recall@10 | eff. GFLOP/s | % peak | load |",
             "|---|---:|---|---|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['dataset']} | {r['n']} | {r['method']} | {r['setting']} | {r['seconds']:.2f} | "
                     f"{r.get('recall@10', '')} | {r.get('gflops_effective', '')} | {r.get('pct_peak', '')} | "
                     f"{r['loadavg'][0] if r['loadavg'] else ''} |")
    lines += ["", "Scaling exponents (time ∝ n^e):", ""]
    lines += [f"- {k}: {v}" for k, v in result["exponents"].items()]
    return "\n".join(lines) + "\n"


def _warm_up(peers):
    """Compile numba kernels (tiled backend; pynndescent) before timing; report the JIT seconds."""
    Xs = synthetic(3000, seed=9)
    t0 = time.perf_counter()
    knn_search(Xs, K, backend="tiled", approximate=False)
    jit = {"tiled_first_call_seconds": round(time.perf_counter() - t0, 2)}
    if peers:
        t0 = time.perf_counter()
        nndescent(Xs, K + 1)
        jit["pynndescent_first_call_seconds"] = round(time.perf_counter() - t0, 2)
    return jit


def main(args):
    torch.set_num_threads(args.threads)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    sizes = args.sizes if args.sizes is not None else ([5000, 10000] if args.quick else [10000, 20000, 40000, 70000])
    synth = args.synthetic if args.synthetic is not None else ([20000] if args.quick else [200_000])
    peers = not args.no_peers
    jit = _warm_up(peers)
    print("warm-up / JIT:", jit, flush=True)
    peak0 = sgemm_peak()
    print(f"sgemm peak at start: {peak0:.1f} GFLOP/s", flush=True)
    records = []
    if sizes:
        from graphvar.datasets import load_fashion_mnist, pca_features

        Xf, _ = load_fashion_mnist(download=False)
        Z = pca_features(Xf, 50)
        for n in sizes:
            run_size(records, "FashionMNIST", np.ascontiguousarray(Z[:n]), peak0, args.quick, peers)
    for n in synth:
        X = synthetic(n)
        if n <= 200_000:
            run_size(records, "synthetic", X, peak0, args.quick, peers, exact_all=args.quick)
        else:  # exact search is out of reach here: recall from 1000 rows searched exhaustively
            approx_rows(records, "synthetic", X, truth_from(X, None, sample=1000), peak0, True, False)
    peak1 = sgemm_peak()
    result = {"provenance": provenance(packages=("faiss-cpu", "numba", "annoy", "pynndescent", "graphlearning")),
              "threads": args.threads, "k": K, "peak_gflops": [round(peak0, 1), round(peak1, 1)], "jit": jit,
              "rows": records, "exponents": exponents(records)}
    peak = max(peak0, peak1)
    for r in records:
        if "gflops_effective" in r:
            r["pct_peak"] = round(100 * r["gflops_effective"] / peak, 1)
    name = args.name or ("bench_knn_quick" if args.quick else "bench_knn")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{name}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main(ARGS)
