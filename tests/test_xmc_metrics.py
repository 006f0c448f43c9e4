"""XMC metrics and propensities against straightforward per-row reference loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphvar.xmc.formats import read_xc
from graphvar.xmc.metrics import (
    coverage_at_k,
    evaluate,
    ndcg_at_k,
    precision_at_k,
    psndcg_at_k,
    psprecision_at_k,
    recall_at_k,
    top_k,
)
from graphvar.xmc.propensity import inverse_propensity, propensity, propensity_presets


# --------------------------------------------------------------------------- reference loops
def ref_rankings(scores, K, filtered=()):
    """Per row: candidates sorted by (-score, label id), first K. Never calls the code under test."""
    filtered = set(map(tuple, filtered))
    out = []
    if sp.issparse(scores):
        S = sp.csr_matrix(scores)
        for i in range(S.shape[0]):
            lo, hi = S.indptr[i], S.indptr[i + 1]
            cand = {}
            for j, v in zip(S.indices[lo:hi], S.data[lo:hi]):
                cand[int(j)] = cand.get(int(j), 0.0) + float(v)
            items = [(j, v) for j, v in cand.items() if (i, j) not in filtered]
            out.append([j for j, _ in sorted(items, key=lambda t: (-t[1], t[0]))[:K]])
    else:
        for i, row in enumerate(np.asarray(scores)):
            items = [(j, float(v)) for j, v in enumerate(row) if (i, j) not in filtered]
            out.append([j for j, _ in sorted(items, key=lambda t: (-t[1], t[0]))[:K]])
    return out


def ref_truth(Y):
    Y = sp.csr_matrix(Y)
    truth = []
    for i in range(Y.shape[0]):
        lo, hi = Y.indptr[i], Y.indptr[i + 1]
        truth.append({int(j) for j, v in zip(Y.indices[lo:hi], Y.data[lo:hi]) if v != 0})
    return truth


def ref_metrics(ranks, truth, w, K):
    n = len(truth)
    res = {m: np.zeros(K) for m in ("P", "R", "nDCG", "PSP", "PSnDCG", "coverage")}
    ps_num, ps_den, psn_num, psn_den = np.zeros(K), np.zeros(K), np.zeros(K), np.zeros(K)
    hit_labels = [set() for _ in range(K)]
    all_labels = set().union(*truth) if truth else set()
    for pred, t in zip(ranks, truth):
        best = sorted((w[j] for j in t), reverse=True)
        for k in range(1, K + 1):
            top = pred[:k]
            hits = [j for j in top if j in t]
            res["P"][k - 1] += len(hits) / k
            res["R"][k - 1] += len(hits) / len(t) if t else 0.0
            dcg = sum(1 / math.log2(r + 2) for r, j in enumerate(top) if j in t)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(t))))
            res["nDCG"][k - 1] += dcg / idcg if t else 0.0
            ps_num[k - 1] += sum(w[j] for j in hits) / k
            ps_den[k - 1] += sum(best[:k]) / k
            if t:
                psn_num[k - 1] += sum(w[j] / math.log2(r + 2) for r, j in enumerate(top) if j in t) / idcg
                psn_den[k - 1] += sum(b / math.log2(r + 2) for r, b in enumerate(best[:k])) / idcg
            hit_labels[k - 1].update(hits)
    for m in ("P", "R", "nDCG"):
        res[m] /= n
    res["PSP"] = ps_num / ps_den
    res["PSnDCG"] = psn_num / psn_den
    res["coverage"] = np.array([len(h) / len(all_labels) for h in hit_labels])
    return res


def check_all(scores, Y, w, K, filt=None, filtered=()):
    ref = ref_metrics(ref_rankings(scores, K, filtered), ref_truth(Y), w, K)
    kw = {"filter": filt} if filt is not None else {}
    np.testing.assert_allclose(precision_at_k(scores, Y, K, **kw), ref["P"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(recall_at_k(scores, Y, K, **kw), ref["R"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ndcg_at_k(scores, Y, K, **kw), ref["nDCG"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(psprecision_at_k(scores, Y, w, K, **kw), ref["PSP"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(psndcg_at_k(scores, Y, w, K, **kw), ref["PSnDCG"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(coverage_at_k(scores, Y, K, **kw), ref["coverage"], rtol=0, atol=1e-6)
    ev = evaluate(scores, Y, w, ks=(1, K), **kw)
    for name in ("P", "nDCG", "PSP", "PSnDCG", "coverage", "R"):
        assert ev[f"{name}@{K}"] == pytest.approx(ref[name][K - 1], abs=1e-6)
        assert ev[f"{name}@1"] == pytest.approx(ref[name][0], abs=1e-6)


def random_labels(rng, n, L, density, empty_rows=3):
    Y = (rng.random((n, L)) < density).astype(np.float32)
    Y[:empty_rows] = 0
    Y[-1, 0] = 1  # at least one label somewhere
    return sp.csr_matrix(Y)


# --------------------------------------------------------------------------- propensity
def test_inverse_propensity_by_hand():
    # Column sums of the binarised matrix: n = (2, 0, 2, 1); N = 4. The value 3 counts once.
    Y = sp.csr_matrix(np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 3, 1], [0, 0, 0, 0]], dtype=np.float32))
    A, B = 0.55, 1.5
    C = (math.log(4) - 1) * (B + 1) ** A  # = 0.6047...
    expected = [1 + C * (n + B) ** -A for n in (2, 0, 2, 1)]
    assert C == pytest.approx(0.38629436 * 2.5**0.55, rel=1e-7)
    np.testing.assert_allclose(inverse_propensity(Y), expected, rtol=1e-12)
    np.testing.assert_allclose(inverse_propensity(Y.toarray()), expected, rtol=1e-12)
    np.testing.assert_allclose(propensity(Y), 1 / np.array(expected), rtol=1e-12)
    A, B = propensity_presets["amazon"]
    C = (math.log(4) - 1) * (B + 1) ** A
    np.testing.assert_allclose(
        inverse_propensity(Y, preset="amazon"), [1 + C * (n + B) ** -A for n in (2, 0, 2, 1)], rtol=1e-12
    )
    assert propensity_presets == {"default": (0.55, 1.5), "wikipedia": (0.5, 0.4), "amazon": (0.6, 2.6)}
    with pytest.raises(ValueError, match="unknown preset"):
        inverse_propensity(Y, preset="imdb")
    with pytest.raises(ValueError, match="positive"):
        inverse_propensity(Y, A=-1)


# --------------------------------------------------------------------------- top-k rules
def test_top_k_tie_break_padding_and_filter():
    s = np.array([[1.0, 2.0, 2.0, 0.5, 2.0]])
    np.testing.assert_array_equal(top_k(s, 4), [[1, 2, 4, 0]])
    np.testing.assert_array_equal(top_k(s, 7), [[1, 2, 4, 0, 3, -1, -1]])
    np.testing.assert_array_equal(top_k(s, 3, filter=[[0, 2]]), [[1, 4, 0]])
    S = sp.csr_matrix(([0.0, -1.0, 5.0], ([0, 0, 1], [3, 1, 0])), shape=(3, 5))
    np.testing.assert_array_equal(top_k(S, 3), [[3, 1, -1], [0, -1, -1], [-1, -1, -1]])
    F = sp.csr_matrix(([1], ([0], [3])), shape=(3, 5))
    np.testing.assert_array_equal(top_k(S, 2, filter=F), [[1, -1], [0, -1], [-1, -1]])


def test_validation():
    Y = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        precision_at_k(np.array([[np.nan, 0, 0]] * 3), Y)
    with pytest.raises(ValueError, match="shape"):
        precision_at_k(np.zeros((3, 4)), Y)
    with pytest.raises(ValueError, match="positive integer"):
        precision_at_k(np.zeros((3, 3)), Y, k=0)
    with pytest.raises(ValueError, match="one entry per label"):
        psprecision_at_k(np.zeros((3, 3)), Y, np.ones(4))
    with pytest.raises(ValueError, match="filter"):
        top_k(np.zeros((3, 3)), 2, filter=[[0, 5]])


# --------------------------------------------------------------------------- against the loops
@pytest.mark.parametrize("seed", [0, 1])
def test_dense_scores_with_ties(seed):
    rng = np.random.default_rng(seed)
    Y = random_labels(rng, 40, 12, 0.2)
    scores = rng.integers(0, 4, size=(40, 12)).astype(np.float64)  # many ties
    w = inverse_propensity(random_labels(rng, 80, 12, 0.1))
    check_all(scores, Y, w, K=5)
    check_all(scores, Y, w, K=15)  # K larger than L: padding


def test_sparse_scores_short_rows_negative_and_explicit_zeros():
    rng = np.random.default_rng(3)
    Y = random_labels(rng, 60, 20, 0.15)
    S = sp.random(60, 20, density=0.15, random_state=4, format="csr")
    S.data = np.round(rng.standard_normal(S.nnz), 1)  # negatives, ties, some exact zeros
    S.data[::7] = 0.0  # explicit stored zeros stay candidates
    w = rng.uniform(1, 5, 20)
    check_all(S, Y, w, K=5)
    # duplicates in COO are summed, like scipy does
    C = S.tocoo()
    coo = sp.coo_matrix((np.r_[C.data, [0.5]], (np.r_[C.row, [0]], np.r_[C.col, [S.indices[0]]])), shape=S.shape)
    check_all(coo, Y, w, K=3)


def test_filter_pairs_and_matrix():
    rng = np.random.default_rng(5)
    Y = random_labels(rng, 30, 10, 0.3)
    scores = rng.random((30, 10))
    pairs = np.array([(i, int(rng.integers(10))) for i in range(30)] + [(0, 1), (0, 2)])
    F = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(30, 10))
    w = rng.uniform(1, 3, 10)
    check_all(scores, Y, w, K=5, filt=pairs, filtered=pairs)
    check_all(scores, Y, w, K=5, filt=F, filtered=pairs)
    check_all(sp.csr_matrix(scores), Y, w, K=5, filt=pairs, filtered=pairs)


def test_torch_inputs_match_numpy():
    rng = np.random.default_rng(6)
    Y = random_labels(rng, 20, 8, 0.3)
    scores = rng.random((20, 8))
    ref = evaluate(scores, Y, np.ones(8))
    assert evaluate(torch.from_numpy(scores), Y, np.ones(8)) == ref
    assert evaluate(torch.from_numpy(scores).to_sparse_csr(), Y, np.ones(8)) == ref


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 8),
    L=st.integers(1, 7),
    K=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    sparse=st.booleans(),
)
def test_property_against_reference(n, L, K, seed, sparse):
    rng = np.random.default_rng(seed)
    Yd = (rng.random((n, L)) < 0.4).astype(np.float32)
    Yd[0, 0] = 1
    Y = sp.csr_matrix(Yd)
    scores = rng.integers(-2, 3, size=(n, L)).astype(np.float64)
    if sparse:
        scores = sp.csr_matrix(scores * (rng.random((n, L)) < 0.6))
    check_all(scores, Y, rng.uniform(1, 4, L), K)


# --------------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.parametrize("name", ["corel5k", "bibtex"])
def test_real_data_against_reference(shared_data, name):
    _, Ytr = read_xc(shared_data / "xmc" / name / "train.txt")
    _, Yte = read_xc(shared_data / "xmc" / name / "test.txt")
    rng = np.random.default_rng(7)
    w = inverse_propensity(Ytr)
    # Popularity-biased dense scores and sparse top-20 style scores.
    pop = np.asarray(Ytr.sum(axis=0)).ravel()
    dense = rng.random(Yte.shape) + 0.02 * pop / pop.max()
    check_all(dense, Yte, w, K=5)
    sparse = sp.csr_matrix(np.where(rng.random(Yte.shape) < 20 / Yte.shape[1], dense, 0))
    check_all(sparse, Yte, w, K=5)


@pytest.mark.slow
@pytest.mark.parametrize("name,sparse", [("corel5k", False), ("bibtex", True)])
def test_against_napkinxc(shared_data, name, sparse):
    """napkinXC is optional (not a dependency): this runs only where it is importable."""
    nx = pytest.importorskip("napkinxc.metrics")
    _, Ytr = read_xc(shared_data / "xmc" / name / "train.txt")
    _, Yte = read_xc(shared_data / "xmc" / name / "test.txt")
    w = nx.Jain_et_al_inverse_propensity(Ytr)
    np.testing.assert_allclose(inverse_propensity(Ytr), w, rtol=1e-6)  # napkinXC counts in float32
    rng = np.random.default_rng(8)
    scores = rng.random(Yte.shape)  # continuous: no ties to break
    if sparse:  # napkinXC ranks the stored entries of a CSR row, as we do
        scores = sp.csr_matrix(np.where(rng.random(Yte.shape) < 0.1, scores, 0))
    K = 5
    np.testing.assert_allclose(precision_at_k(scores, Yte, K), nx.precision_at_k(Yte, scores, k=K), atol=1e-6)
    np.testing.assert_allclose(recall_at_k(scores, Yte, K), nx.recall_at_k(Yte, scores, k=K), atol=1e-6)
    np.testing.assert_allclose(ndcg_at_k(scores, Yte, K), nx.ndcg_at_k(Yte, scores, k=K), atol=1e-6)
    np.testing.assert_allclose(
        psprecision_at_k(scores, Yte, w, K), nx.psprecision_at_k(Yte, scores, w, k=K), atol=1e-6
    )
    np.testing.assert_allclose(psndcg_at_k(scores, Yte, w, K), nx.psndcg_at_k(Yte, scores, w, k=K), atol=1e-6)
    np.testing.assert_allclose(coverage_at_k(scores, Yte, K), nx.coverage_at_k(Yte, scores, k=K), atol=1e-6)
