"""One engine, three front-ends: dense solvers, XMC top-k and the PyG layer against a numpy loop.

The reference is the iteration of docs/design.md §9 written out in numpy
(float64): ``U ← P U + S + α (U − Ū)`` with ``P = D⁻¹W`` (zero rows on
isolated nodes), ``Ū = dᵀU / vol``, the variance step zero on isolated nodes,
clamping for Laplace. The graph has two components and an isolated node.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphvar import Graph, laplace, poisson, vlaplace, vpoisson
from graphvar.engine import Clamp, iterate, random_walk_stop_times
from graphvar.nn import PoissonConv, poisson_source
from graphvar.xmc.propagation import propagate_topk

N_CLASSES = 3


def _two_components_and_an_isolated_node(seed=0):
    """A 41-node graph: a 24-node and a 16-node random component, and node 40 isolated."""
    rng = np.random.default_rng(seed)
    blocks = []
    for size in (24, 16):
        A = np.triu(rng.random((size, size)) < 0.25, 1) * rng.uniform(0.2, 1.0, (size, size))
        A = A + A.T
        ring = np.roll(np.eye(size), 1, axis=1) * 0.5  # keeps each block connected
        blocks.append(A + ring + ring.T)
    W = sp.block_diag(blocks + [sp.csr_matrix((1, 1))], format="csr")
    y = np.full(41, -1)
    y[[0, 1, 2, 24, 25, 26]] = [0, 1, 2, 0, 1, 2]
    return W, y


def _reference(W: np.ndarray, y: np.ndarray, kind: str, T: int, amplification: float) -> np.ndarray:
    """The iteration written out: the specification every front-end must meet."""
    n = W.shape[0]
    d = W.sum(1)
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    P = dinv[:, None] * W
    lab = y >= 0
    Y = np.zeros((n, N_CLASSES))
    Y[lab, y[lab]] = 1.0
    alpha = amplification / T
    if kind == "laplace":
        U, S = Y.copy(), 0.0
    else:
        U = np.zeros((n, N_CLASSES))
        S = dinv[:, None] * (Y - Y[lab].mean(0)) * lab[:, None]
    for _ in range(T):
        centred = (U - (d @ U) / d.sum()) * (d > 0)[:, None]
        U = P @ U + S + alpha * centred
        if kind == "laplace":
            U[lab] = Y[lab]
    return U


@pytest.fixture(scope="module")
def graph():
    W, y = _two_components_and_an_isolated_node()
    return W, y, Graph.from_scipy(W, dtype=torch.float64)


CASES = [(laplace, "laplace", 0.0), (poisson, "poisson", 0.0), (vlaplace, "laplace", 1.5), (vpoisson, "poisson", 1.5)]


@pytest.mark.parametrize("solver,kind,amplification", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_dense_solvers_equal_the_reference_loop(graph, solver, kind, amplification):
    W, y, g = graph
    kw = {"amplification": amplification} if amplification else {}
    U, info = solver(g, y, return_info=True, **kw)
    ref = _reference(W.toarray(), y, kind, info["stop_times"][0], amplification)
    # every node is informed here except the isolated one, which scores 0 in both
    np.testing.assert_allclose(U.numpy(), ref, atol=1e-6, rtol=1e-6)
    assert np.all(U.numpy()[40] == 0)


@pytest.mark.parametrize("dense_limit", [0, 2**24], ids=["sparse", "dense"])
@pytest.mark.parametrize("kind,amplification", [("laplace", 0.0), ("poisson", 0.0), ("vpoisson", 1.5)])
def test_xmc_topk_without_pruning_equals_the_reference_loop(graph, kind, amplification, dense_limit):
    W, y, g = graph
    lab = y >= 0
    Y = sp.csr_matrix((np.ones(lab.sum()), (np.flatnonzero(lab), y[lab])), shape=(41, N_CLASSES))
    U = propagate_topk(g, Y, sources=lab, solver=kind, n_steps=7, topk=N_CLASSES, amplification=amplification,
                       dense_limit=dense_limit, block_rows=10)
    ref = _reference(W.toarray(), y, "laplace" if kind == "laplace" else "poisson", 7, amplification)
    np.testing.assert_allclose(U.toarray(), ref * (np.abs(ref) > 0), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("amplification", [0.0, 1.5])
def test_pyg_layer_with_uniform_attention_equals_the_reference_loop(graph, amplification):
    W, y, g = graph
    pyg = g.to_pyg()
    lab = np.flatnonzero(y >= 0)
    src = poisson_source(torch.from_numpy(y), torch.from_numpy(lab), 41, N_CLASSES).double()
    conv = PoissonConv(2, N_CLASSES, n_steps=9, amplification=amplification, attention=False,
                       feature_step=None).double()
    out = conv(torch.zeros(41, 2, dtype=torch.float64), pyg.edge_index, src, pyg.edge_weight, deg=g.degrees)
    ref = _reference(W.toarray(), y, "poisson", 9, amplification)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-6, rtol=1e-6)


def test_batched_sets_with_different_stop_times_equal_one_at_a_time(graph):
    W, y, g = graph
    y2 = np.full(41, -1)
    y2[[3, 4, 5, 30, 31, 32]] = [0, 1, 2, 0, 1, 2]
    Y = np.stack([y, y2])
    both = vpoisson(g, Y, min_iter=5, max_iter=40)
    for b in range(2):
        torch.testing.assert_close(both[b], vpoisson(g, Y[b], min_iter=5, max_iter=40))


def test_iterate_hooks_and_clamp(graph):
    """pre_step sees the iterate before each step; the clamp holds the clamped entries."""
    _, _, g = graph
    U0 = torch.zeros(41, 2, dtype=torch.float64)
    mask = torch.zeros(41, 2, dtype=torch.bool)
    mask[0] = True
    values = torch.ones(41, 2, dtype=torch.float64)
    seen = []
    out = iterate(g, U0, 4, clamp=Clamp.rows(mask, values), pre_step=lambda t, U: seen.append(t) or U)
    assert seen == [1, 2, 3, 4]
    assert torch.all(out[0] == 1) and torch.all(out[40] == 0) and out[1:24].sum() > 0


def test_stopping_rule_fires_on_a_disconnected_graph(graph):
    """The walk's target is each component's stationary distribution: the rule fires, converged."""
    _, y, g = graph
    stop, info = random_walk_stop_times(g, torch.from_numpy(y >= 0), min_iter=5, max_iter=2000,
                                        return_info=True)
    assert info["converged"] == [True] and int(stop[0]) < 2000
