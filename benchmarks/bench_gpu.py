"""FashionMNIST 70k end to end on a GPU: k-NN, graph, V-Poisson, and the 5 x 100 sweep.

Stages, each timed after a warm-up (first call and warm median reported
separately, so KeOps' one-off compilation shows up as ``first - warm``):

1. host: load FashionMNIST, features (cached VAE when its cache file exists,
   else PCA-50; ``--features``);
2. host -> device transfer of the feature matrix;
3. k-NN search with each backend (``--backends``, default KeOps and torch on
   CUDA, faiss/torch on CPU);
4. kernel weights + symmetrisation (``knn_weights`` + ``symmetric_graph``);
5. V-Poisson (and Poisson) for one labeled set (1 label per class);
6. the pipeline "k-NN + weights + V-Poisson for one labeled set" as one call;
7. the sweep: 5 label rates x ``--trials`` labeled sets
   (:func:`graphvar.benchmark.protocol.labeled_sets`, the sets every benchmark
   uses), each rate solved as one batched ``(B, n)`` solve, with accuracies.

On CUDA every stage is timed with CUDA events (and wall clock, both recorded);
on CPU with ``time.perf_counter``; ``torch.cuda.synchronize`` is only called
on CUDA. ``--cpu-compare`` reruns stages 3-7 on the CPU (``--cpu-trials``
labeled sets per rate, the first ones of the same sequence) and reports the
CPU/GPU time ratios and the prediction agreement: GPU pipeline vs CPU pipeline
on the same labeled sets, and GPU vs CPU solve on the same (GPU-built) graph.
``--keops-ops`` adds the crossover measurement of the KeOps reductions in
:mod:`graphvar.graph.keops_ops` against the sparse product.

Usage (writes ``benchmarks/results/bench_gpu.{json,md}`` on CUDA, and
``bench_gpu_cpu.*`` when run with ``--device cpu`` unless ``--out`` is given)::

    python benchmarks/bench_gpu.py --cpu-compare --keops-ops            # on a GPU machine
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_gpu.py --device cpu --n 5000 --trials 3 \\
        --threads 1 --out /tmp/bench_gpu_smoke                              # CPU smoke test

Running it on the lent GPU machine (device tool; torch 2.11 cu130, Python 3.12,
no internet; the image has numpy, scipy, scikit-learn, networkx, tqdm,
torch-geometric and pybind11, but neither pykeops nor keopscore nor faiss).
Once, here, in the repository root (``.whl/`` and ``data/*`` are git-ignored)::

    .venv/bin/python -m pip wheel --no-deps -w .whl pykeops==2.3 keopscore==2.3   # pure-Python wheels, ~0.3 MB
    mkdir -p data/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*-ubyte.gz data/fashion-mnist/  # 30 MB

(faiss-cpu is not carried: its wheel is ~30 MB and the tree may only carry 64
MiB; the CPU comparison there then uses the torch backend, recorded in the
JSON.) Then two calls of the device tool's ``run``, each with
``carry=[".whl", "data/fashion-mnist", "data/features"]`` (``data/features``
holds the VAE cache ``fashion_mnist_vae_<key>.npy``; without it the features
are PCA-50) and ``timeout_s=600``. Each begins with::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit; export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE; nvidia-smi -L;

Call 1 (the CUDA tests, then the GPU-only timings with the k-NN block sizes
and the KeOps crossover) continues::

    timeout 240 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_device.py 2>&1 | tee $OUT/test_device.log; timeout 330 python3 benchmarks/bench_gpu.py --keops-ops --torch-blocks 1024 4096 16384 --out $OUT/bench_gpu_only 2>&1 | tee $OUT/bench_gpu_only.log

Call 2 (the same pipeline again plus the CPU comparison: ratios, agreement)::

    timeout 580 python3 benchmarks/bench_gpu.py --cpu-compare --cpu-trials 10 --out $OUT/bench_gpu 2>&1 | tee $OUT/bench_gpu.log

Copy ``bench_gpu.json`` / ``bench_gpu.md`` (and ``bench_gpu_only.*``) from
the reply's ``files_at`` folder into ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("KEOPS_VERBOSE", "0")  # before pykeops is imported anywhere
os.environ.setdefault("PYKEOPS_VERBOSE", "0")
RESULTS = Path(__file__).resolve().parent / "results"
RATES = (1, 2, 3, 4, 5)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gpu_report import render  # noqa: E402


# ----------------------------------------------------------------- timing
class Clock:
    """Times a callable on one device: CUDA events + wall clock on CUDA, perf_counter on CPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def once(self, fn):
        """Run ``fn()`` once; return ``(output, seconds, wall_seconds)``."""
        self.sync()
        t0 = time.perf_counter()
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            self.sync()
            wall = time.perf_counter() - t0
            return out, start.elapsed_time(end) / 1000.0, wall
        out = fn()
        wall = time.perf_counter() - t0
        return out, wall, wall

    def measure(self, fn, repeats: int):
        """First call (includes compilation / caches), then the median of ``repeats`` warm calls."""
        out, first, first_wall = self.once(fn)
        warm, walls = [], []
        for _ in range(repeats):
            out, secs, wall = self.once(fn)
            warm.append(secs)
            walls.append(wall)
        return out, {"first_seconds": first, "first_wall_seconds": first_wall,
                     "seconds": statistics.median(warm) if warm else first,
                     "wall_seconds": statistics.median(walls) if walls else first_wall,
                     "warm_runs": warm}


# ------------------------------------------------------------ environment
def _version(name: str):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def _keops_cache() -> dict:
    """KeOps' build folder and how many entries it held before this run (0: every formula compiles)."""
    try:
        import pykeops

        folder = Path(pykeops.get_build_folder())
        return {"folder": str(folder), "entries_before": len(list(folder.iterdir())) if folder.is_dir() else 0}
    except Exception as exc:  # pykeops missing or broken: recorded, the torch backend still runs
        return {"error": f"{type(exc).__name__}: {exc}"}


def machine_record(device: torch.device) -> dict:
    import graphvar

    rec = {"date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "platform": platform.platform(), "python": platform.python_version(),
           "cpu_count": os.cpu_count(), "loadavg_start": list(os.getloadavg()),
           "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "versions": {"graphvar": graphvar.__version__, "torch": torch.__version__,
                        "torch_cuda": torch.version.cuda, "numpy": np.__version__,
                        **{m: _version(m) for m in ("scipy", "scikit-learn", "pykeops", "keopscore",
                                                    "faiss-cpu", "torch-geometric")}},
           "keops_cache": _keops_cache()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        rec["gpu"] = {"name": torch.cuda.get_device_name(device), "memory_gib": props.total_memory / 2**30,
                      "multiprocessors": props.multi_processor_count,
                      "capability": f"{props.major}.{props.minor}"}
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
            rec["gpu"]["nvidia_smi"] = smi.stdout.strip()
            rec["gpu"]["driver"] = smi.stdout.strip().split(",")[1].strip() if smi.stdout.strip() else None
        except (OSError, subprocess.SubprocessError, IndexError):
            rec["gpu"]["driver"] = None
    return rec


# ------------------------------------------------------------------ data
def load_features(n: int, kind: str, pca: int, verbose: bool = True, device=None):
    """FashionMNIST (first ``n`` of train+test) and its features; returns (Z, y, info)."""
    from graphvar.datasets import load_fashion_mnist, pca_features, vae_features
    from graphvar.datasets import features as feat_mod
    from graphvar.datasets import data_root

    t0 = time.perf_counter()
    X, y = load_fashion_mnist(download=False)
    t_load = time.perf_counter() - t0
    cache, prefix, cached = None, "fashion_mnist", False
    if kind in ("auto", "vae"):
        # vae_features' cache file for its default parameters; the benchmark runner writes the
        # same features under the prefix "fashionmnist", the README under "fashion_mnist"
        params = {"layer_widths": [400, 20], "epochs": 100, "batch_size": 128, "lr": 1e-3, "seed": 0}
        key = feat_mod._vae_cache_key(np.ascontiguousarray(X, dtype=np.float32), params)
        for prefix in ("fashion_mnist", "fashionmnist"):
            cache = data_root() / "features" / f"{prefix}_vae_{key}.npy"
            if cache.is_file():
                cached = True
                break
        if kind == "auto":
            kind = "vae" if cached else "pca"
    t0 = time.perf_counter()
    if kind == "vae":  # VAE on all 70k (cached, else trained on ``device``), then the first n rows
        Z = vae_features(X, cache_name=prefix, progress=verbose, device=device)[:n]
        name = "VAE-20 (cached)" if cached else "VAE-20 (trained in this run)"
    else:
        Z = pca_features(X[:n], n_components=pca, seed=0)
        name = f"PCA-{pca}"
    t_feat = time.perf_counter() - t0
    return np.ascontiguousarray(Z, dtype=np.float32), y[:n], {
        "features": name, "load_seconds": t_load, "feature_seconds": t_feat, "vae_cache": str(cache) if cache else None}


def label_matrix(y: np.ndarray, rate: int, trials: int) -> np.ndarray:
    """(trials, n) label matrix, -1 off the labeled sets (same sets as every benchmark)."""
    from graphvar.benchmark.protocol import labeled_sets

    sets = labeled_sets(y, rate, trials, seed=0, key="fashionmnist")
    Y = np.full((trials, y.shape[0]), -1, dtype=np.int64)
    for b, s in enumerate(sets):
        Y[b, s] = y[s]
    return Y


def accuracies(pred: np.ndarray, y: np.ndarray, Y: np.ndarray) -> np.ndarray:
    unl = Y < 0
    return ((pred == y[None, :]) & unl).sum(axis=1) / unl.sum(axis=1)


# ------------------------------------------------------------- one device
def run_device(Z, y, dev: torch.device, args, trials: int, repeats: int, tag: str) -> dict:
    """All device stages on ``dev``; returns timings, graphs and predictions.

    A k-NN backend that fails (e.g. KeOps cannot compile on this machine) is
    recorded with its error and skipped; the pipeline uses the first backend
    that worked.
    """
    from graphvar.graph import knn_graph, knn_search, knn_weights, symmetric_graph
    from graphvar.solvers import poisson, vpoisson

    clock = Clock(dev)
    rows, out = [], {"device": str(dev)}
    log = (lambda *a: print(f"[{tag}]", *a, file=sys.stderr, flush=True)) if args.verbose else (lambda *a: None)
    Zt, t = clock.measure(lambda: torch.from_numpy(Z).to(dev), repeats)
    rows.append({"stage": "features -> device", "impl": f"{Z.shape[0]}x{Z.shape[1]} float32", **t})
    backends = args.backends or (["keops", "torch"] if dev.type == "cuda" else
                                 (["faiss", "torch"] if _version("faiss-cpu") else ["torch"]))
    knn, errors = {}, {}
    for be in backends:
        log(f"k-NN {be}")
        try:
            (idx, dist), t = clock.measure(lambda: knn_search(Zt, args.k, backend=be, device=dev), repeats)
        except Exception as exc:  # recorded in the JSON, not fatal: the other backends still run
            errors[be] = f"{type(exc).__name__}: {exc}"
            log(f"k-NN {be} failed: {errors[be]}")
            continue
        knn[be] = (idx, dist)
        rows.append({"stage": f"k-NN search (k={args.k})", "impl": be, **t,
                     "compile_seconds_estimate": max(0.0, t["first_seconds"] - t["seconds"])})
    if not knn:
        raise RuntimeError(f"every k-NN backend failed on {dev}: {errors}")
    backends = list(knn)
    for block in args.torch_blocks:
        _, t = clock.measure(lambda: knn_search(Zt, args.k, backend="torch", device=dev, block_size=block),
                             repeats)
        rows.append({"stage": f"k-NN search (k={args.k})", "impl": f"torch block_size={block}", **t})
    primary = backends[0]
    idx, dist = knn[primary]
    if len(knn) > 1:
        ref = torch.sort(knn[backends[1]][0], dim=1).values
        out["knn_backend_row_agreement"] = float((torch.sort(idx, dim=1).values == ref).all(dim=1).float().mean())

    def build():
        w = knn_weights(idx, dist, "gaussian")
        return symmetric_graph(idx, w, mode="mean")

    graph, t = clock.measure(build, repeats)
    rows.append({"stage": "weights + symmetrise", "impl": "gaussian, (W+W^T)/2", **t, "nnz": graph.n_edges})
    Y1 = label_matrix(y, 1, 1)[0]
    log("one labeled set")
    for name, fn in (("V-Poisson", vpoisson), ("Poisson", poisson)):
        S, t = clock.measure(lambda: fn(graph, Y1), repeats)
        acc = float(accuracies(S.argmax(-1).cpu().numpy()[None], y, Y1[None])[0])
        rows.append({"stage": f"{name}, 1 labeled set (1 label/class)", "impl": "torch CSR", **t, "accuracy": acc})
        out[f"pred_single_{name}"] = S.argmax(-1).cpu().numpy()

    def pipeline():
        g = knn_graph(Zt, k=args.k, backend=primary, device=dev)
        return vpoisson(g, Y1)

    _, t = clock.measure(pipeline, repeats)
    rows.append({"stage": "pipeline: k-NN + weights + V-Poisson (1 set)", "impl": primary, **t})
    sweep = []
    for name, fn in (("V-Poisson", vpoisson), ("Poisson", poisson)):
        if name not in args.sweep:
            continue
        for rate in RATES:
            log(f"sweep {name} rate {rate}")
            Y = label_matrix(y, rate, trials)
            preds, secs, walls = [], 0.0, 0.0
            for s in range(0, trials, args.batch):
                S, sec, wall = clock.once(lambda: fn(graph, Y[s:s + args.batch]))
                preds.append(S.argmax(-1).cpu().numpy())
                secs, walls = secs + sec, walls + wall
            pred = np.concatenate(preds)
            acc = accuracies(pred, y, Y)
            sweep.append({"method": name, "rate": rate, "trials": trials, "seconds": secs, "wall_seconds": walls,
                          "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if trials > 1
                          else 0.0, "accuracies": acc.tolist()})
            out[f"pred_{name}_{rate}"] = pred
    out.update(rows=rows, sweep=sweep, graph=graph, knn=(idx, dist), backends=backends, primary=primary,
               backend_errors=errors)
    return out


def solver_agreement(graph_dev, y, dev_preds: dict, trials: int, args) -> dict:
    """Same graph (built on the GPU), solved on the CPU: prediction agreement with the GPU solve."""
    from graphvar.solvers import vpoisson

    g = graph_dev.to("cpu")
    Y1 = label_matrix(y, 1, 1)[0]
    single = vpoisson(g, Y1).argmax(-1).numpy()
    res = {"single_vpoisson": float((single == dev_preds["pred_single_V-Poisson"]).mean())}
    if "pred_V-Poisson_1" in dev_preds:
        Y = label_matrix(y, 1, trials)
        pred = vpoisson(g, Y).argmax(-1).numpy()
        res["rate1_vpoisson"] = float((pred == dev_preds["pred_V-Poisson_1"][:trials]).mean())
    return res


def keops_crossover(Z: np.ndarray, dev: torch.device, args) -> list[dict]:
    """KeOps matrix-free operators vs the stored sparse graph / torch top-k, per size and width."""
    from graphvar.graph import knn_graph, knn_weights
    from graphvar.graph.keops_ops import kernel_knn_average, knn_bandwidths, knn_kernel_matvec

    clock, rows, repeats = Clock(dev), [], args.repeats
    gen = torch.Generator().manual_seed(0)
    for n in args.keops_ops_n:
        n = min(n, Z.shape[0])
        X = torch.from_numpy(Z[:n]).to(dev)
        graph = knn_graph(X, k=args.k, backend="torch" if dev.type == "cpu" else "auto", device=dev)
        eps2, t = clock.measure(lambda: knn_bandwidths(X, args.k), repeats)
        rows.append({"op": "bandwidths d_k² (Kmin)", "n": n, "cols": 0, "keops_seconds": t["seconds"],
                     "keops_first_seconds": t["first_seconds"], "reference": "(needed once per graph)",
                     "reference_seconds": None})
        for cols in args.keops_ops_cols:
            U = torch.randn(n, cols, generator=gen).to(dev)
            WU, t = clock.measure(lambda: knn_kernel_matvec(X, U, args.k, eps2), repeats)
            ref, tr = clock.measure(lambda: graph.weights @ U, repeats)
            rows.append({"op": "W @ U (symmetrised Gaussian k-NN)", "n": n, "cols": cols,
                         "keops_seconds": t["seconds"], "keops_first_seconds": t["first_seconds"],
                         "reference": "stored CSR W @ U", "reference_seconds": tr["seconds"],
                         "max_abs_diff": float((WU - ref).abs().max())})
        m = max(1, n // 7)  # queries: the last n/7 points against the others (FashionMNIST's test split ratio)
        Qx, R = X[n - m:], X[: n - m]
        V = torch.softmax(torch.randn(n - m, 10, generator=gen), dim=1).to(dev)
        avg, t = clock.measure(lambda: kernel_knn_average(Qx, R, V, args.k), repeats)

        def torch_average():
            out = []
            for s in range(0, m, 4096):
                d, i = torch.topk(torch.cdist(Qx[s:s + 4096], R), args.k, dim=1, largest=False, sorted=True)
                w = knn_weights(i, d, "gaussian")
                out.append((w[:, :, None] * V[i]).sum(1) / w.sum(1, keepdim=True))
            return torch.cat(out)

        ref, tr = clock.measure(torch_average, repeats)
        rows.append({"op": "kernel k-NN average of new points (predict_proba)", "n": n, "cols": 10,
                     "queries": m, "keops_seconds": t["seconds"], "keops_first_seconds": t["first_seconds"],
                     "reference": "torch cdist + topk + gather", "reference_seconds": tr["seconds"],
                     "max_abs_diff": float((avg - ref).abs().max())})
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--n", type=int, default=70000, help="points (first n of train+test)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--features", choices=("auto", "pca", "vae"), default="auto",
                    help="auto: the cached VAE features when the cache file exists, else PCA")
    ap.add_argument("--pca", type=int, default=50)
    ap.add_argument("--trials", type=int, default=100, help="labeled sets per rate in the sweep")
    ap.add_argument("--batch", type=int, default=100, help="labeled sets per batched solve")
    ap.add_argument("--sweep", nargs="*", default=["V-Poisson", "Poisson"], choices=["V-Poisson", "Poisson"])
    ap.add_argument("--repeats", type=int, default=3, help="warm runs per stage (median reported)")
    ap.add_argument("--backends", nargs="*", default=None, help="k-NN backends (first = pipeline backend)")
    ap.add_argument("--torch-blocks", nargs="*", type=int, default=[], help="extra torch k-NN block sizes to time")
    ap.add_argument("--cpu-compare", action="store_true", help="rerun on the CPU: ratios and agreement")
    ap.add_argument("--cpu-trials", type=int, default=10, help="labeled sets per rate in the CPU sweep")
    ap.add_argument("--cpu-repeats", type=int, default=1, help="warm runs per stage in the CPU comparison")
    ap.add_argument("--keops-ops", action="store_true", help="time graphvar.graph.keops_ops vs sparse products")
    ap.add_argument("--keops-ops-n", nargs="*", type=int, default=[5000, 20000, 70000])
    ap.add_argument("--keops-ops-cols", nargs="*", type=int, default=[1, 10, 100])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default=None, help="output stem (default benchmarks/results/bench_gpu[_cpu])")
    ap.add_argument("--quiet", dest="verbose", action="store_false")
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda but torch.cuda.is_available() is False; use --device cpu for a smoke test")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else RESULTS / ("bench_gpu" if dev.type == "cuda" else f"bench_gpu_{dev.type}")
    machine = machine_record(dev)
    Z, y, data = load_features(args.n, args.features, args.pca, args.verbose, device=dev)
    res = run_device(Z, y, dev, args, args.trials, args.repeats, dev.type)
    rec = {"benchmark": "bench_gpu", "config": {**{k: v for k, v in vars(args).items()}, "n": int(len(y))},
           "machine": machine, "data": data, "rows": res["rows"], "sweep": res["sweep"],
           "backends": res["backends"], "primary_backend": res["primary"], "backend_errors": res["backend_errors"]}
    if "knn_backend_row_agreement" in res:
        rec["knn_backend_row_agreement"] = res["knn_backend_row_agreement"]
    if args.cpu_compare:  # on a CPU-only machine this compares two CPU runs (exercises the code path)
        cpu = run_device(Z, y, torch.device("cpu"), args, args.cpu_trials, args.cpu_repeats, "cpu")
        t = min(args.cpu_trials, args.trials)
        agree = {f"{m}_{r}": float((res[f"pred_{m}_{r}"][:t] == cpu[f"pred_{m}_{r}"][:t]).mean())
                 for m in args.sweep for r in RATES}
        agree["pipeline_single_V-Poisson"] = float(
            (res["pred_single_V-Poisson"] == cpu["pred_single_V-Poisson"]).mean())
        agree.update({f"same_graph_{k}": v for k, v in solver_agreement(res["graph"], y, res, t, args).items()})
        cpu_sorted = torch.sort(cpu["knn"][0], dim=1).values
        agree["knn_rows_identical"] = float((torch.sort(res["knn"][0].cpu(), dim=1).values == cpu_sorted)
                                            .all(dim=1).float().mean())
        rec["cpu"] = {"rows": cpu["rows"], "sweep": cpu["sweep"], "backends": cpu["backends"],
                      "backend_errors": cpu["backend_errors"]}
        rec["agreement"] = agree
    if args.keops_ops:
        try:
            rec["keops_ops"] = keops_crossover(Z, dev, args)
        except Exception as exc:  # keep the measurements made so far
            rec["keops_ops_error"] = f"{type(exc).__name__}: {exc}"
    rec["loadavg_end"] = list(os.getloadavg())
    md = render(rec)
    print(md)
    out.parent.mkdir(parents=True, exist_ok=True)
    from graphvar.benchmark.report import write_json  # provenance() and relative paths

    write_json(json.loads(json.dumps(rec, default=float)), out.with_suffix(".json"))
    out.with_suffix(".md").write_text(md)
    return rec


if __name__ == "__main__":
    main()
