"""graphvar.distributed under cluster conditions: a killed worker, a low memory_limit, the XMC teacher."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphvar

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from graphvar.distributed import DistributedGraph, knn_graph, poisson  # noqa: E402


def _circulant_rows(n, offsets):
    """Rows ``[start, stop)`` of the circulant graph ``i ~ i ± s`` (symmetric, built where it runs)."""

    def rows(start, stop):
        i = np.arange(start, stop)
        cols = np.concatenate([(i + s) % n for s in offsets] + [(i - s) % n for s in offsets])
        r = np.tile(np.arange(stop - start), 2 * len(offsets))
        w = np.concatenate([np.full(i.size, 1.0 / (1 + k % 3)) for k in range(len(offsets))] * 2)
        return sp.csr_matrix((w, (r, cols)), shape=(stop - start, n))

    return rows


def _labels(n, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    y = -np.ones(n, dtype=np.int64)
    y[rng.choice(n, 3 * n_classes, replace=False)] = np.repeat(np.arange(n_classes), 3)
    return y


@pytest.mark.slow
def test_killed_worker_mid_solve_gives_the_right_answer():
    X = np.random.default_rng(0).normal(size=(3000, 5))
    ref = graphvar.knn_graph(X, k=10, dtype=torch.float64, approximate=False)
    y = _labels(3000, 3)
    expected = graphvar.poisson(ref, y, min_iter=80, max_iter=80).numpy()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        G = DistributedGraph.from_scipy(ref.to_scipy(), client=client, dtype=torch.float64)
        G.components  # noqa: B018  (build everything the solve needs before the clock starts)
        victim = sorted(client.run(os.getpid).items())[1][1]
        events = {}

        def transitions():
            return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)

        start = transitions()

        def kill():  # once the solve is under way (~350 of its ~1100 tasks), whatever the speed
            while transitions() < start + 1500:
                time.sleep(0.05)
            os.kill(victim, signal.SIGKILL)
            events["killed"] = time.monotonic()

        killer = threading.Thread(target=kill)
        killer.start()
        scores = poisson(G, y, min_iter=80, max_iter=80)
        events["done"] = time.monotonic()
        killer.join()
        assert events["killed"] < events["done"], "the worker was killed after the solve: make the solve longer"
        assert victim not in client.run(os.getpid).values()
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_graph_and_iterate_larger_than_one_workers_memory_limit():
    n, offsets, limit = 150_000, (1, 17, 389, 5003, 20011, 70001), 24e6
    rows = _circulant_rows(n, offsets)
    A = sp.vstack([rows(0, n)], format="csr")
    y = _labels(n, 3)
    expected = graphvar.poisson(graphvar.Graph.from_scipy(A, dtype=torch.float64), y, min_iter=10,
                                max_iter=10).numpy()
    config = {"distributed.worker.memory.target": 0.5, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False, "distributed.worker.memory.terminate": False}
    # In-process workers share the test's RSS, so the RSS thresholds are off; Dask's managed-memory
    # accounting (what it spills by) still holds every worker to its memory_limit.
    with dask.config.set(config), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, memory_limit=limit,
            dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        G = DistributedGraph.from_row_blocks(rows, n, n_blocks=4, client=client, dtype=torch.float64)
        iterate_bytes = 2 * n * 3 * 8  # U and the source
        assert G.block_nbytes.sum() + iterate_bytes > limit
        scores = poisson(G, y, min_iter=10, max_iter=10)
        held = client.run(lambda dask_worker: sum(dask.sizeof.sizeof(v) for v in dask_worker.data.fast.values()))
        assert max(held.values()) <= limit
        owners = {w for ws in client.who_has(G.blocks).values() for w in ws}
        assert len(owners) == 2
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver,topk", [("poisson", 5), ("vpoisson", 60), ("laplace", 5)])
def test_teacher_exports_equal_one_machine(tmp_path, solver, topk):
    # V-Poisson's mean is reduced over blocks in another order than on one machine; with pruning
    # (topk < L) such a last-bit difference can flip an exact tie between two labels, so it runs unpruned.
    from graphvar.xmc import Teacher
    from graphvar.xmc.export import export_teacher
    from graphvar.xmc.formats import load_npz

    rng = np.random.default_rng(1)
    n, L = 1500, 60
    X = rng.normal(size=(n, 8))
    Y = sp.random(n, L, density=0.05, random_state=1, data_rvs=np.ones, format="csr")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        G = knn_graph(X, k=8, dtype=torch.float64, client=client)
        W = G.to_scipy()
        kw = dict(solver=solver, topk=topk, dtype=torch.float64, n_steps=4)
        dist = Teacher(**kw).fit(None, Y, graph=G)
        export_teacher(dist, tmp_path / "dist", formats=("npz",))
    single = Teacher(**kw).fit(None, Y, graph=graphvar.Graph.from_scipy(W, dtype=torch.float64))
    export_teacher(single, tmp_path / "single", formats=("npz",))
    for name in ("teacher_phat.npz", "soft_targets.npz"):
        a, b = load_npz(tmp_path / "dist" / name), load_npz(tmp_path / "single" / name)
        assert a.shape == b.shape and ((a != 0) != (b != 0)).nnz == 0
        assert abs(a - b).max() <= 1e-6
    np.testing.assert_allclose(dist.scores_.toarray(), single.scores_.toarray(), rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_fit_teacher_on_corel5k_equals_one_machine(shared_data, tmp_path):
    from graphvar.distributed import fit_teacher
    from graphvar.xmc import Teacher
    from graphvar.xmc.export import export_teacher
    from graphvar.xmc.formats import load_npz, read_xc

    X, Y = read_xc(shared_data / "xmc" / "corel5k" / "train.txt")
    kw = dict(k=10, solver="poisson", topk=20, n_steps=4, dtype=torch.float64)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dist = fit_teacher(X, Y, client=client, **kw)
        export_teacher(dist, tmp_path / "dist")
    assert dist.graph_info_["metric"] == "cosine" and dist.graph_info_["backend"] == "dask-blockwise"
    g = graphvar.knn_graph(X.toarray(), k=10, metric="cosine", dtype=torch.float64, approximate=False)
    single = Teacher(**kw).fit(X, Y, graph=g)
    export_teacher(single, tmp_path / "single")
    for name in ("teacher_phat.npz", "soft_targets.npz"):
        a, b = load_npz(tmp_path / "dist" / name), load_npz(tmp_path / "single" / name)
        assert ((a != 0) != (b != 0)).nnz == 0 and abs(a - b).max() <= 1e-6
    text = [(tmp_path / where / "teacher_phat.txt").read_text() for where in ("dist", "single")]
    assert text[0] == text[1]


@pytest.mark.slow
def test_client_none_starts_a_local_cluster_once():
    from graphvar.distributed import _cluster

    with pytest.raises(ValueError):
        distributed.get_client()  # no client yet in this test
    X = np.random.default_rng(2).normal(size=(300, 3))
    try:
        G = knn_graph(X, k=5)
        assert isinstance(G.client, distributed.Client) and _cluster.get_client() is G.client
        ref = graphvar.knn_graph(X, k=5, approximate=False).to_scipy()
        assert abs(G.to_scipy() - ref).max() <= 1e-6
    finally:
        client = _cluster._DEFAULT.pop("client", None)
        if client is not None:
            client.close()
            client.cluster.close()
