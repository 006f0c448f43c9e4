"""The teacher–student loop: Teacher.predict, early stopping, fusion, saved models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from graphvar.xmc.metrics import inverse_propensity
from graphvar.xmc.pipeline import choose_fusion_weight, fuse
from graphvar.xmc.student import OneVsAllStudent
from graphvar.xmc.teacher import Teacher


def _clustered(n=240, L=30, D=6, n_clusters=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, D)) * 4
    cl = rng.integers(0, n_clusters, n)
    X = centers[cl] + rng.normal(size=(n, D))
    pools = [rng.choice(L, size=5, replace=False) for _ in range(n_clusters)]
    rows, cols = [], []
    for i in range(n):
        ls = sorted({int(pools[cl[i]][0]), int(rng.choice(pools[cl[i]][1:]))})
        rows += [i] * len(ls)
        cols += ls
    return X, sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, L))


def _loop_predict(X_fit, V, X_new, k, exclude=None):
    """s_i = Σ_j w_ij V_j / Σ_j w_ij over sklearn's k nearest fitted rows, w = exp(-4 d² / d_k²)."""
    V = V.toarray()
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X_fit)
    dist, idx = nn.kneighbors(X_new)
    out = np.zeros((X_new.shape[0], V.shape[1]))
    for i in range(X_new.shape[0]):
        pairs = [(d, j) for d, j in zip(dist[i], idx[i]) if exclude is None or j != exclude[i]][:k]
        dk = pairs[-1][0]
        w = np.array([np.exp(-4 * d**2 / dk**2) for d, _ in pairs])
        out[i] = sum(wj * V[j] for wj, (_, j) in zip(w, pairs)) / w.sum()
    return out


def test_teacher_predict_matches_a_loop_and_excludes_own_row():
    X, Y = _clustered()
    Xnew = X[:40] + np.random.default_rng(3).normal(scale=0.3, size=(40, X.shape[1]))
    t = Teacher(k=6, n_steps=3, topk=30).fit(X, Y)
    V = t.soft_targets()
    np.testing.assert_allclose(t.predict(Xnew, k=6).toarray(), _loop_predict(X, V, Xnew, 6), atol=1e-5)
    own = np.arange(40)
    np.testing.assert_allclose(t.predict(X[:40], k=6, exclude=own).toarray(),
                               _loop_predict(X, V, X[:40], 6, exclude=own), atol=1e-5)
    S = t.predict(Xnew, topk=2)
    assert np.diff(S.indptr).max() <= 2 and S.data.min() >= 0 and S.data.max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="features"):
        t.predict(Xnew[:, :3])
    with pytest.raises(ValueError, match="exclude"):
        t.predict(Xnew, exclude=np.arange(3))


def test_exported_teacher_predicts_like_the_fitted_one(tmp_path):
    from graphvar.xmc.export import export_teacher, load_teacher

    X, Y = _clustered(seed=1)
    t = Teacher(k=5, n_steps=2, topk=10).fit(sp.csr_matrix(np.abs(X)), Y)
    export_teacher(t, tmp_path, formats=("npz",))
    u = load_teacher(tmp_path)
    Xn = sp.csr_matrix(np.abs(X[:30]) + 0.1)
    np.testing.assert_allclose(u.predict(Xn).toarray(), t.predict(Xn).toarray(), atol=1e-6)
    np.testing.assert_allclose(u.soft_targets().toarray(), t.soft_targets().toarray())


def _noisy(n=300, D=200, L=5, seed=0):
    """Few informative features among many noise features: an unregularised student over-fits."""
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, L, n)
    X = rng.random((n, D)) * (rng.random((n, D)) < 0.3)
    X[np.arange(n), lab] += 0.5
    flip = rng.random(n) < 0.3
    lab = np.where(flip, rng.integers(0, L, n), lab)
    return sp.csr_matrix(X), sp.csr_matrix((np.ones(n), (np.arange(n), lab)), shape=(n, L))


def test_early_stopping_stops_and_keeps_the_best_epoch():
    X, Y = _noisy()
    st = OneVsAllStudent(epochs=300, lr=0.05, batch_size=50, patience=3).fit(X, Y)
    assert st.stopped_early_ and st.n_epochs_ < 300
    assert st.n_epochs_ == st.best_epoch_ + 3
    assert st.best_epoch_ == int(np.argmin(st.validation_curve_)) + 1
    assert st.validation_rows_.size == 30
    # the kept weights are the best epoch's: the same run cut at that epoch ends with them
    val = st.validation_rows_
    fit = np.setdiff1d(np.arange(300), val)
    cut = OneVsAllStudent(epochs=st.best_epoch_, lr=0.05, batch_size=50, patience=300)
    with pytest.warns(UserWarning, match="before early stopping"):
        cut.fit(X[fit], Y[fit], validation=(X[val], Y[val]))
    np.testing.assert_allclose(cut.weight_.numpy(), st.weight_.numpy(), atol=1e-6)


def _fusion_case(seed=0, n=200, L=20):
    """Student: good at the head label 0; teacher: ranks the true rare label first."""
    rng = np.random.default_rng(seed)
    rare = rng.integers(1, L, n)
    Y = sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2), np.c_[np.zeros(n), rare].ravel())),
                      shape=(n, L))
    S = rng.random((n, L)) * 0.5
    S[:, 0] = 0.9
    T = rng.random((n, L)) * 0.2
    T[np.arange(n), rare] = 0.8
    return sp.csr_matrix(S), sp.csr_matrix(T), Y


def _loop_metrics(F, Y, inv_p):
    F, Y = F.toarray(), Y.toarray()
    p1, psp5, gain_best = [], [], []
    for i in range(F.shape[0]):
        top = np.argsort(-F[i], kind="stable")[:5]
        p1.append(Y[i, top[0]])
        psp5.append((Y[i, top] * inv_p[top]).sum() / 5)
        gain_best.append(np.sort(Y[i] * inv_p)[::-1][:5].sum() / 5)
    return np.mean(p1), np.sum(psp5) / np.sum(gain_best)


def test_fusion_weight_is_the_best_psp_within_the_p1_budget():
    S, T, Y = _fusion_case()
    inv_p = inverse_propensity(Y)
    w, table = choose_fusion_weight(S, T, Y, inv_p, max_p1_loss=0.005)
    p1_0 = _loop_metrics(S, Y, inv_p)[0]
    want = max((ww for ww in np.linspace(0, 1, 21) if _loop_metrics(fuse(S, T, ww), Y, inv_p)[0] >= p1_0 - 0.005),
               key=lambda ww: (round(_loop_metrics(fuse(S, T, ww), Y, inv_p)[1], 12), -ww))
    assert w == pytest.approx(want) and 0 < w < 1
    row = next(r for r in table if r["weight"] == w)
    assert row["PSP@5"] == pytest.approx(_loop_metrics(fuse(S, T, w), Y, inv_p)[1])
    # a teacher that ranks a wrong label first only hurts: weight 0
    wrong = np.where(Y.toarray()[:, 1] > 0, 2, 1)
    bad = sp.csr_matrix(np.eye(Y.shape[1])[wrong])
    assert choose_fusion_weight(S, bad, Y, inv_p)[0] == 0.0
    np.testing.assert_allclose(fuse(S, T, 0.3).toarray(), 0.7 * S.toarray() + 0.3 * T.toarray(), rtol=1e-6)


def test_refitted_teacher_predicts_from_its_new_rows():
    X, Y = _clustered(seed=2)
    X2, Y2 = _clustered(seed=3)
    t = Teacher(k=5, n_steps=2, topk=10).fit(X, Y)
    t.predict(X2[:5])
    t.fit(X2, Y2)
    fresh = Teacher(k=5, n_steps=2, topk=10).fit(X2, Y2)
    np.testing.assert_allclose(t.predict(X[:20]).toarray(), fresh.predict(X[:20]).toarray(), atol=1e-6)
