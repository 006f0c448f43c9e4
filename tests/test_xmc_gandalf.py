"""Gandalf co-occurrence soft labels, label-centroid features and N+L augmentation."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp

from graphvar.xmc.gandalf import augment_with_label_features, gandalf_soft_labels, label_centroid_features


def _random_labels(n, L, per_row, seed):
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for i in range(n):
        m = int(rng.integers(1, per_row + 1))
        ls = rng.choice(L, size=m, replace=False)
        rows += [i] * m
        cols += list(ls)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, L))


@pytest.mark.parametrize("delta", [0.0, 0.1, 0.5])
def test_matches_hand_counted_conditionals(delta):
    Y = _random_labels(60, 12, 4, seed=0)
    S = gandalf_soft_labels(Y, delta=delta, block_size=5).toarray()
    Yd = Y.toarray() > 0
    for j in range(12):
        n_j = sum(Yd[r, j] for r in range(60))
        for i in range(12):
            both = sum(Yd[r, i] and Yd[r, j] for r in range(60))
            want = both / n_j if n_j else 0.0
            if want < delta:
                want = 0.0
            assert S[j, i] == pytest.approx(want, abs=1e-6), (j, i)


def test_non_binary_values_are_treated_as_presence_and_unseen_labels_are_empty():
    Y = sp.csr_matrix(np.array([[2.0, 0, 0.5, 0], [1.0, 0, 0, 0]]))
    S = gandalf_soft_labels(Y, delta=0.0).toarray()
    np.testing.assert_allclose(S, [[1, 0, 0.5, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_131k_labels_stay_sparse():
    L = 131_072
    rng = np.random.default_rng(1)
    n, per = 20_000, 3
    rows = np.repeat(np.arange(n), per)
    # power-law label ids so some labels co-occur often
    cols = np.minimum((rng.pareto(1.2, size=n * per) * 50).astype(np.int64), L - 1)
    Y = sp.csr_matrix((np.ones(n * per), (rows, cols)), shape=(n, L))
    Y.sum_duplicates()
    Y.data[:] = 1.0
    tracemalloc.start()
    S = gandalf_soft_labels(Y, delta=0.1, block_size=16384)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert S.shape == (L, L)
    # independent count of the kept pairs: Python counters over each row's label set
    pair, single = Counter(), Counter()
    for i in range(n):
        ls = Y.indices[Y.indptr[i] : Y.indptr[i + 1]].tolist()
        single.update(ls)
        for a, b in combinations(ls, 2):
            pair[(a, b)] += 1
            pair[(b, a)] += 1
    expected = len(single) + sum(1 for (a, b), c in pair.items() if c / single[a] >= 0.1)
    assert S.nnz == expected
    dense_bytes = L * L * 4
    assert peak < 200 * 1024**2 < dense_bytes / 300  # far below a dense L×L (64 GiB)


def test_block_size_does_not_change_the_result():
    Y = _random_labels(200, 50, 5, seed=3)
    a = gandalf_soft_labels(Y, delta=0.05, block_size=7)
    b = gandalf_soft_labels(Y, delta=0.05, block_size=1000)
    assert (a != b).nnz == 0


def test_label_centroid_features_match_a_loop():
    rng = np.random.default_rng(2)
    X = sp.csr_matrix(rng.random((30, 6)) * (rng.random((30, 6)) < 0.5))
    Y = _random_labels(30, 5, 2, seed=4)
    Z = label_centroid_features(X, Y).toarray()
    Xd, Yd = X.toarray(), Y.toarray()
    for j in range(5):
        acc = np.zeros(6)
        for i in range(30):
            if Yd[i, j]:
                norm = np.sqrt((Xd[i] ** 2).sum())
                acc += Xd[i] / norm if norm else 0
        nrm = np.sqrt((acc**2).sum())
        np.testing.assert_allclose(Z[j], acc / nrm if nrm else acc, atol=1e-6)


def test_augment_stacks_rows_and_checks_shapes():
    Y = _random_labels(20, 4, 2, seed=5)
    X = sp.random(20, 7, density=0.5, format="csr", random_state=0)
    Z = np.ones((4, 7))
    Xa, Ta = augment_with_label_features(X, Y, Z, Y, delta=0.0)
    assert Xa.shape == (24, 7) and Ta.shape == (24, 4)
    np.testing.assert_allclose(Ta[20:].toarray(), gandalf_soft_labels(Y, delta=0.0).toarray())
    np.testing.assert_allclose(Xa[:20].toarray(), X.toarray(), rtol=1e-6)
    with pytest.raises(ValueError, match="columns"):
        augment_with_label_features(X, Y, np.ones((4, 3)), Y)
    with pytest.raises(TypeError, match="scipy sparse"):
        gandalf_soft_labels(np.ones((3, 3)))
    with pytest.raises(ValueError, match="delta"):
        gandalf_soft_labels(Y, delta=2.0)
