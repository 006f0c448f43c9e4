"""The Chebyshev evaluation of the Poisson iterate (graphvar.engine.power_series) against the step loop.

The reference is the loop written out in numpy (float64), ``U ← P U + S +
α (U − Ū)`` from ``U = 0`` — the same specification as tests/test_engine.py —
on graphs with several components and isolated nodes, and the coefficients
against the power sum evaluated directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev as C

import graphvar
from graphvar import Graph
from graphvar.graph import Operator
from graphvar.datasets import load_digits
from graphvar.engine import iterate, power_series, power_series_coefficients
from graphvar.engine.stopping import column_max


def _loop(W: np.ndarray, S: np.ndarray, T: int, alpha: float) -> np.ndarray:
    d = W.sum(1)
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    P = dinv[:, None] * W
    U = np.zeros_like(S)
    for _ in range(T):
        U = P @ U + S + alpha * (U - (d @ U) / d.sum()) * (d > 0)[:, None]
    return U


def _graph(seed=0, n=120):
    """A random symmetric graph: two dense-ish blocks, a path, two isolated nodes."""
    rng = np.random.default_rng(seed)
    a = sp.random(70, 70, density=0.08, random_state=seed)
    b = sp.random(40, 40, density=0.15, random_state=seed + 1)
    path = sp.diags([np.ones(7)], [1], shape=(8, 8))
    W = sp.block_diag([a + a.T, b + b.T, path + path.T, sp.csr_matrix((2, 2))], format="csr").toarray()
    np.fill_diagonal(W, 0.0)  # a Graph holds no self-loops
    assert W.shape == (n, n)
    return W, rng


@pytest.mark.parametrize("amplification", [0.0, 0.7, 2.0])
def test_power_series_equals_the_step_loop_in_float64(amplification):
    W, rng = _graph()
    g = Graph.from_scipy(sp.csr_matrix(W), dtype=torch.float64)
    S = rng.standard_normal((W.shape[0], 6))  # any source: a non-zero mean, values on isolated nodes
    stops = [3, 250]
    U, info = power_series(g, torch.from_numpy(S), stops, width=3, amplification=amplification, return_info=True)
    for b, T in enumerate(stops):
        ref = _loop(W, S[:, 3 * b:3 * b + 3], T, amplification / T)
        got = U[:, 3 * b:3 * b + 3].numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    assert info["chebyshev_terms"][0] == 3  # a short power sum is its own series
    assert info["chebyshev_terms"][1] < 250


def test_power_series_in_float32_matches_to_its_tolerance():
    W, rng = _graph(seed=3)
    g = Graph.from_scipy(sp.csr_matrix(W))
    S = rng.standard_normal((W.shape[0], 4))
    U = power_series(g, torch.from_numpy(S).float(), 400)
    ref = _loop(W, S, 400, 0.0)
    assert U.dtype == torch.float32
    np.testing.assert_allclose(U.numpy(), ref, rtol=0, atol=2e-5 * np.abs(ref).max())


def test_batched_series_equal_one_set_at_a_time_on_every_path():
    """The CPU path sums sets one after the other; the dropping path (used off the CPU) must agree."""
    from graphvar.engine.chebyshev import _chebyshev_sum, _coefficient_table

    W, rng = _graph(seed=5)
    g = Graph.from_scipy(sp.csr_matrix(W), dtype=torch.float64)
    F = torch.from_numpy(rng.standard_normal((W.shape[0], 6)))
    coef, lengths = _coefficient_table([40, 7, 300], [0.0, 0.0, 0.0], 2, 1e-12, F)
    together = _chebyshev_sum(g, F, coef, lengths, 2)
    for b, J in enumerate(lengths):
        alone = _chebyshev_sum(g, F[:, 2 * b:2 * b + 2].contiguous(), coef[:J, 2 * b:2 * b + 2], [J], 2)
        torch.testing.assert_close(together[:, 2 * b:2 * b + 2], alone)


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 3000), shift=st.floats(0.0, 0.01), tol=st.sampled_from([1e-4, 1e-7, 1e-12]))
def test_coefficients_meet_their_truncation_bound(T, shift, tol):
    c = power_series_coefficients(T, shift, tol=tol)
    x = np.linspace(-1.0, 1.0, 2001)
    exact = np.zeros_like(x)
    for _ in range(T):  # Horner: q = 1 + z (1 + z (1 + ...))
        exact = exact * (shift + x) + 1.0
    total = np.abs(exact).max()  # ≥ the bound's Σ|c_j| / 2 for these shifts
    assert np.abs(C.chebval(x, c) - exact).max() <= 4 * tol * total + 1e-12 * total
    assert len(c) <= T
    if T >= 500 and tol >= 1e-7:
        assert len(c) < T / 3  # the point: far fewer terms than steps


def test_poisson_on_digits_predicts_as_the_step_loop():
    """Real data: graphvar.poisson (the series) and the engine's step loop give the same classes."""
    from graphvar.solvers.labels import parse_labels
    from graphvar.solvers.methods import _columns, poisson_source

    X, y = load_digits()
    g = graphvar.knn_graph(X / 16.0, k=10)
    rng = np.random.default_rng(0)
    Y = np.full((3, y.size), -1)
    for b in range(3):
        idx = np.concatenate([rng.choice(np.flatnonzero(y == k), 1, replace=False) for k in range(10)])
        Y[b, idx] = y[idx]
    U, info = graphvar.poisson(g, Y, return_info=True)
    labels = parse_labels(Y, g.n_nodes, 10, device=g.device, dtype=g.dtype)
    F = g.inv_degrees[:, None] * _columns(poisson_source(labels))
    ref = iterate(g, torch.zeros_like(F), info["stop_times"], width=10, source=F)
    ref = ref.reshape(g.n_nodes, 3, 10).permute(1, 0, 2)
    assert (U.argmax(-1) == ref.argmax(-1)).float().mean() > 0.999
    torch.testing.assert_close(U, ref, rtol=0, atol=1e-5 * float(ref.abs().max()))
    assert all(J < T for J, T in zip(info["chebyshev_terms"], info["stop_times"]))


def test_directed_graph_keeps_the_step_loop():
    W, rng = _graph(seed=2)
    W = np.triu(W) + 0.5 * np.tril(W)  # asymmetric
    g = Graph.from_scipy(sp.csr_matrix(W), directed=True)
    with pytest.raises(ValueError, match="symmetric"):
        power_series(g, torch.ones(W.shape[0], 1), 10)
    y = np.full(W.shape[0], -1)
    y[[0, 1, 70, 71]] = [0, 1, 0, 1]
    with pytest.warns(UserWarning):  # the path and isolated nodes are uninformed
        U, info = graphvar.poisson(g, y, return_info=True)
    assert "chebyshev_terms" not in info and torch.isfinite(U).all()


@pytest.mark.parametrize("bad,match", [
    (dict(n_steps=0), "n_steps"), (dict(n_steps=[5, 0]), "n_steps"), (dict(width=4), "shape"),
    (dict(amplification=-1.0), "amplification"), (dict(tol=0.0), "tol"), (dict(tol=2.0), "tol"),
])
def test_power_series_rejects_bad_input(bad, match):
    W, _ = _graph()
    g = Graph.from_scipy(sp.csr_matrix(W))
    kw = dict(n_steps=[5, 6], width=3, amplification=0.0)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        power_series(g, torch.ones(W.shape[0], 6), kw.pop("n_steps"), **kw)


@pytest.mark.parametrize("shape", [(70_001, 10), (300, 4), (100, 3), (513, 1), (512, 7)])
def test_column_max_equals_amax(shape):
    A = torch.rand(*shape)
    torch.testing.assert_close(column_max(A), A.amax(dim=0), rtol=0, atol=0)


def test_products_into_buffers_equal_fresh_products():
    W, rng = _graph()
    g = Graph.from_scipy(sp.csr_matrix(W), dtype=torch.float64)
    U = torch.from_numpy(rng.standard_normal((W.shape[0], 5)))
    C = torch.from_numpy(rng.standard_normal(U.shape))
    expected = 2.0 * g.transition(U) - C
    assert g.transition_add(U, C, alpha=2.0, beta=-1.0) is C
    torch.testing.assert_close(C, expected)
    generic = torch.from_numpy(rng.standard_normal(U.shape))
    expected = 0.5 * generic + 3.0 * g.transition(U)
    torch.testing.assert_close(Operator.transition_add(g, U, generic, alpha=3.0, beta=0.5), expected)
    torch.testing.assert_close(g.matmul_into(U, torch.empty_like(U)), g.matmul(U))
    C = torch.from_numpy(rng.standard_normal(U.shape))
    expected = 0.25 * C + 0.5 * g.matmul(U)
    assert g.matmul_add(U, C, alpha=0.5, beta=0.25) is C
    torch.testing.assert_close(C, expected)
    generic = torch.from_numpy(rng.standard_normal(U.shape))
    expected = generic + 2.0 * g.matmul(U)
    torch.testing.assert_close(Operator.matmul_add(g, U, generic, alpha=2.0), expected)
    one = U[:, 2:3].contiguous()  # one column: the torch.mv path
    out = torch.empty_like(one)
    assert g.matmul_into(one, out) is out
    torch.testing.assert_close(out, g.matmul(one))
