"""The class-prior (volume) projection: labels whose class sizes match given priors (docs/mbo.md §1).

Given scores ``u`` (n, c) and class fractions ``p``, GraphLearning 1.7.5
predicts ``argmax_k s_ik w_k`` with ``s = (u − min u) / (max u − min u)`` and
searches class weights ``w > 0`` until the predicted class fractions match
``p`` (``ssl.volume_label_projection``: ``w ← w − 0.1 (f − p)``, at most
10,000 passes, tolerance 1e-3). Since ``argmax_k s_ik w_k = argmax_k (log s_ik
− q_k)`` with ``q = −log w``, the labels such weights can produce are exactly
the solutions of the assignment problem

    maximise  Σ_i log s_{i, ℓ_i}   subject to  |{i : ℓ_i = k}| = m_k,

(``m`` = ``n p`` rounded to integers that sum to ``n``), and ``q`` are its dual
prices: the dual ``min_q Σ_i max_k (log s_ik − q_k) + Σ_k m_k q_k`` is convex
and piecewise linear in the ``c`` prices. ``method="exact"`` solves it:

1. **price balancing** (Gauss-Seidel on the dual): for each class in turn,
   set ``q_k`` to the threshold that gives class ``k`` exactly ``m_k`` nodes
   (two order statistics of ``log s_ik − max_{j≠k}(log s_ij − q_j)``; the
   two best classes of every node are kept up to date, so an update is
   O(n)), in full passes while a pass removes at least 0.2 % of ``n`` units
   of the total excess ``Σ_k max(0, |class k| − m_k)``. Every node stays at
   its best class under the current prices.
2. **successive shortest paths**: excess is moved one node at a
   time along the cheapest chain of class changes (Dijkstra on the ``c``
   classes, edge ``a → b`` = the cheapest node of ``a`` to move to ``b`` in
   reduced score), updating the prices with the distances. This keeps every
   node optimal under the prices, so the result is an optimal assignment with
   exactly ``m`` nodes per class (ties included).
3. **on the nodes near a class change**: after the full passes, steps 1-2
   run on the 5 % of nodes with the smallest margin (best minus second-best
   reduced score); every other node has margin ``>= tau`` and provably keeps
   its class while the prices move by a spread below ``tau``, so the
   subset's steps stop at that band (a chain is taken only when it costs
   less than what is left of it), and the subset is chosen again at the
   new prices, widened ×4 when it made no progress (docs/mbo.md §1).

``method="gl"`` is GraphLearning's loop (for parity tests and for
PoissonMBO's ``mode="gl"``), optionally from given initial weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..validation import check_choice, check_float, check_int

__all__ = ["volume_projection", "bounded_assignment", "class_counts", "METHODS"]

METHODS = ("exact", "gl")
_SHARE = 0.05  # the first candidate subset: the 5 % of nodes nearest a class change
_FULL_HANDOVER = 0.002  # full balancing passes hand over to the subsets when one removes < 0.2 % of n



def class_counts(priors: np.ndarray, n: int) -> np.ndarray:
    """Integer class sizes ``m`` with ``Σ m = n`` closest to ``n · priors`` (largest remainders)."""
    target = np.asarray(priors, dtype=np.float64) * n
    m = np.floor(target).astype(np.int64)
    short = n - int(m.sum())
    if short > 0:
        m[np.argsort(-(target - m), kind="stable")[:short]] += 1
    return m


def _normalise(S: torch.Tensor) -> torch.Tensor:
    """GraphLearning's ``predict()`` scaling, per labeled set: shift by the global min, divide by the max."""
    B = S.shape[0]
    S = S.to(torch.float64)
    S = S - S.reshape(B, -1).min(dim=1).values.view(B, 1, 1)
    top = S.reshape(B, -1).max(dim=1).values.clamp_min(torch.finfo(torch.float64).tiny)
    return S / top.view(B, 1, 1)


# ---------------------------------------------------------------- exact
def _gains(C: torch.Tensor, q: torch.Tensor, k: int) -> torch.Tensor:
    """``g_i = C_ik − max_{j≠k}(C_ij − q_j)``: node ``i`` prefers class ``k`` iff ``g_i > q_k``."""
    P = C - q
    P[:, k] = -torch.inf
    return C[:, k] - P.max(dim=1).values


def _threshold(gain: torch.Tensor, m_k: int) -> torch.Tensor:
    """A price at which exactly ``m_k`` of the gains exceed it (halfway between two order statistics)."""
    n = gain.numel()
    if m_k == 0:
        return gain.max() + 1.0
    if m_k >= n:
        return gain.min() - 1.0
    if gain.device.type == "cpu":  # one selection for both order statistics
        lower, upper = np.partition(gain.numpy(), (n - m_k - 1, n - m_k))[[n - m_k - 1, n - m_k]]
        return torch.tensor(0.5 * (lower + upper), dtype=gain.dtype)
    upper = torch.kthvalue(-gain, m_k).values.neg()  # m_k-th largest gain
    lower = torch.kthvalue(-gain, m_k + 1).values.neg()
    return 0.5 * (upper + lower)


def bounded_assignment(C: torch.Tensor, lower: np.ndarray, upper: np.ndarray, *, max_passes: int = 50) -> torch.Tensor:
    """``argmax_k (C_ik − q_k)`` with class sizes in ``[lower, upper]`` (GraphLearning's volume-MBO threshold).

    Block coordinate descent on the dual of ``max Σ_i C_{i,ℓ_i}`` subject to
    ``lower_k ≤ |class k| ≤ upper_k``: each price is set to its exact
    coordinate minimiser (0 when class ``k``'s count is inside its bounds,
    else the threshold giving the violated bound), in passes until no price
    changes (every price at its coordinate minimiser; tests check the LP
    optimum) or ``max_passes``. Returns the labels ``(n,)``.
    """
    c = C.shape[1]
    q = torch.zeros(c, dtype=C.dtype, device=C.device)
    for _ in range(max_passes):
        before = q.clone()
        for k in range(c):
            gain = _gains(C, q, k)
            free = int((gain > 0).sum())
            q[k] = (_threshold(gain, int(upper[k])) if free > upper[k] else
                    _threshold(gain, int(lower[k])) if free < lower[k] else 0.0)
        if torch.equal(q, before):  # every price at its coordinate minimiser
            break
    return torch.argmax(C - q, dim=1)


def _excess(counts: torch.Tensor | np.ndarray, m) -> int:
    return int((counts - m).clip(0).sum())


class _Top2:
    """The two best classes of every row of ``P = C − q``, kept up to date as single prices change.

    A price change touches one class of ``P`` (stored class-major, ``(c, n)``);
    only the nodes where that class was, or becomes, one of the two best are
    re-ranked, so a class update of the balancing costs O(n), not O(n c).
    """

    def __init__(self, C: torch.Tensor, q: torch.Tensor):
        self.C, self.P = C, (C - q).T.contiguous()
        values, classes = torch.topk(self.P, 2, dim=0)
        self.v1, self.v2, self.i1, self.i2 = values[0].clone(), values[1].clone(), classes[0].clone(), classes[1].clone()

    def best_other(self, k: int) -> torch.Tensor:
        """``max_{j≠k} P_ij`` for every node."""
        return torch.where(self.i1 == k, self.v2, self.v1)

    def set_price(self, k: int, q_k: torch.Tensor) -> None:
        col = self.C[:, k] - q_k
        self.P[k] = col
        rows = torch.nonzero((self.i1 == k) | (self.i2 == k) | (col > self.v2)).squeeze(1)
        (v1, v2), (i1, i2) = torch.topk(self.P[:, rows], 2, dim=0)
        self.v1[rows], self.v2[rows], self.i1[rows], self.i2[rows] = v1, v2, i1, i2

    def counts(self, c: int) -> torch.Tensor:
        return torch.bincount(self.i1, minlength=c)


def _spread(shift: torch.Tensor) -> float:
    return float(shift.max() - shift.min())


def _balance(C: torch.Tensor, m: torch.Tensor, q: torch.Tensor, max_passes: int, handover: float,
             ref: torch.Tensor | None = None, tau: float = np.inf) -> int:
    """Price balancing passes (step 1) on ``C``, updating ``q`` in place; returns the number of passes.

    Passes stop when one removes less than ``handover`` units of excess (the
    moves are cheaper from there) or, on a candidate subset, before a price
    would leave the band ``spread(q − ref) < tau`` inside which the nodes
    outside the subset keep their class.
    """
    c = C.shape[1]
    top = _Top2(C, q)
    excess = _excess(top.counts(c), m)
    passes = 0
    while excess and passes < max_passes:
        for k in range(c):
            q_k = _threshold(C[:, k] - top.best_other(k), int(m[k]))
            if tau < np.inf:
                shift = q - ref
                shift[k] = q_k - ref[k]
                if not _spread(shift) < tau:
                    return passes + 1
            q[k] = q_k
            top.set_price(k, q_k)
        passes += 1
        new = _excess(top.counts(c), m)
        removed, excess = excess - new, new
        if removed < handover:
            break
    return passes


def _dijkstra(cost: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shortest distances from a set of sources on a dense non-negative ``(c, c)`` graph."""
    c = cost.shape[0]
    dist = np.where(sources, 0.0, np.inf)
    pred = np.full(c, -1)
    done = np.zeros(c, dtype=bool)
    for _ in range(c):
        a = int(np.argmin(np.where(done, np.inf, dist)))
        if not np.isfinite(dist[a]):
            break
        done[a] = True
        via = dist[a] + cost[a]
        better = (via < dist) & ~done
        dist[better], pred[better] = via[better], a
    return dist, pred


def _augment(C: torch.Tensor, q: torch.Tensor, labels: torch.Tensor, counts: np.ndarray, m: np.ndarray,
             slack: float = np.inf) -> bool:
    """Move one unit of excess along a shortest chain of class changes; update the prices (step 2).

    ``C`` and ``labels`` may be a subset of the nodes (``counts`` are over
    all of them): the chain is then certified only when it costs less than
    ``slack``, the least possible cost of moving a node outside the subset.
    Returns False, changing nothing, when it is not.
    """
    n, c = C.shape
    P = C - q
    R = (P.gather(1, labels[:, None]) - P).clamp_min_(0.0)  # loss of moving node i to class b
    edge = torch.full((c, c), torch.inf, dtype=C.dtype, device=C.device)
    edge = edge.scatter_reduce(0, labels[:, None].expand(n, c), R, reduce="amin").cpu().numpy()
    np.fill_diagonal(edge, np.inf)
    dist, pred = _dijkstra(edge, counts > m)
    deficit = counts < m
    t = int(np.argmin(np.where(deficit, dist, np.inf)))
    if not (deficit[t] and dist[t] < slack):  # (a subset may reach no deficit class)
        return False
    moves, b = [], t
    while pred[b] >= 0:  # back from the deficit class to an excess class
        a = int(pred[b])
        moves.append((int(torch.where(labels == a, R[:, b], torch.inf).argmin()), a, b))
        b = a
    for i, a, b in moves:
        labels[i] = b
        counts[a] -= 1
        counts[b] += 1
    q -= torch.from_numpy(np.minimum(dist, dist[t])).to(q)
    return True


def _candidates(C: torch.Tensor, q: torch.Tensor, share: float) -> tuple[torch.Tensor, float]:
    """The nodes closest to a class change (margin below a quantile) and the margin bounding the others."""
    n = C.shape[0]
    best = torch.topk(C - q, 2, dim=1).values
    margin = best[:, 0] - best[:, 1]
    size = int(np.ceil(share * n))
    if size >= n:
        return torch.arange(n, device=C.device), np.inf
    tau = float(torch.kthvalue(margin, size + 1).values)  # every node outside has margin >= tau
    return torch.nonzero(margin < tau).squeeze(1), tau


def _on_candidates(C: torch.Tensor, q: torch.Tensor, labels: torch.Tensor, m: np.ndarray, share: float,
                   budget: list[int]) -> None:
    """Steps 1 and 2 on the nodes nearest a class change, while the others provably keep their class.

    Every node outside the subset has margin ``>= tau`` at the prices ``ref``
    the subset was chosen at, so it stays at its class while
    ``spread(q − ref) < tau``: the subset's balancing and moves stop before
    leaving that band. ``labels`` are updated in place; ``budget`` is
    ``[passes, moves, max_iter]``.
    """
    idx, tau = _candidates(C, q, share)
    outside = torch.ones(C.shape[0], dtype=torch.bool, device=C.device)
    outside[idx] = False
    fixed = torch.bincount(labels[outside], minlength=m.size).cpu().numpy()
    sub_C, ref = C[idx], q.clone()
    if (fixed <= m).all():
        budget[0] += _balance(sub_C, torch.as_tensor(m - fixed, device=C.device), q, budget[2], 1, ref, tau)
    sub = torch.argmax(sub_C - q, dim=1)
    counts = fixed + torch.bincount(sub, minlength=m.size).cpu().numpy()
    while (counts > m).any() and budget[1] < budget[2]:
        if not _augment(sub_C, q, sub, counts, m, slack=tau - _spread(q - ref)):
            break
        budget[1] += 1
    labels[idx] = sub


def _exact_one(s: torch.Tensor, m: np.ndarray, q0: torch.Tensor, max_iter: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Optimal labels with class sizes ``m`` for normalised scores ``s`` (n, c) from prices ``q0``.

    Full balancing passes while they remove much excess, then steps 1-2 on
    the 5 % of nodes nearest a class change at the current prices, chosen
    again when the prices leave the subset's band and widened ×4 when a
    subset makes no progress (every node ends at its best class under the
    final prices, so the result is optimal whatever the subsets).
    """
    C = torch.log(s.clamp_min(torch.finfo(torch.float64).tiny))
    n, c = C.shape
    q = q0.clone()
    if c == 1:  # one class takes every node
        return torch.zeros(n, dtype=torch.long, device=C.device), q, {"n_passes": 0, "n_moves": 0,
                                                                       "n_candidate_sets": 0}
    passes = _balance(C, torch.as_tensor(m, device=C.device), q, max_iter, handover=_FULL_HANDOVER * n)
    labels = torch.argmax(C - q, dim=1)
    budget, share, builds = [passes, 0, max_iter], _SHARE, 0
    excess = _excess(torch.bincount(labels, minlength=c).cpu().numpy(), m)
    while excess and budget[1] < max_iter:
        _on_candidates(C, q, labels, m, min(share, 1.0), budget)
        builds += 1
        left = _excess(torch.bincount(labels, minlength=c).cpu().numpy(), m)
        if left >= excess:  # no progress inside the band: widen the subset (else re-centre it, same size)
            share *= 4
        excess = left
    return labels, q, {"n_passes": budget[0], "n_moves": budget[1], "n_candidate_sets": builds}


# ------------------------------------------------------------------- gl
def _gl_loop(S: torch.Tensor, priors: torch.Tensor, weights: torch.Tensor, dt: float, tol: float,
             max_iter: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GraphLearning's weight loop on normalised scores (B, n, c); each set stops on its own."""
    B, n, c = S.shape
    n_iter = torch.zeros(B, dtype=torch.long)
    error = torch.full((B,), float("inf"), dtype=torch.float64)
    active = torch.arange(B, device=S.device)
    S_act, buf = S, torch.empty_like(S)
    for _ in range(int(max_iter)):
        if active.numel() == 0:
            break
        b = active.numel()
        if b != S_act.shape[0]:  # some labeled sets converged: drop them once, not every step
            S_act, buf = S[active], buf[:b]
        w = weights[active]
        pred = torch.argmax(torch.mul(S_act, w[:, None, :], out=buf), dim=2)
        offsets = (torch.arange(b, device=S.device) * c)[:, None]
        sizes = torch.bincount((pred + offsets).reshape(-1), minlength=b * c).view(b, c).to(torch.float64)
        grad = sizes / n - priors
        err = grad.abs().max(dim=1).values
        error[active.cpu()] = err.cpu()
        n_iter[active.cpu()] += 1
        # similarity scores: GraphLearning negates dt; it updates the weights once
        # more on the step whose error is below tol
        w = w - dt * grad
        weights[active] = w / w[:, :1]
        active = active[err > tol]
    return torch.argmax(S * weights[:, None, :], dim=2), n_iter, error


# --------------------------------------------------------------- public
def _report(fractions: torch.Tensor, priors: torch.Tensor, n_iter: list, tol: float, method: str,
            extra: dict, target: torch.Tensor | None = None) -> dict:
    """The projection's info; warns for the labeled sets whose fractions miss the priors by more than tol.

    ``target`` (exact only): the integer class sizes over ``n``; meeting them
    counts as converged (``1/n`` rounding may exceed a tight ``tol``).
    """
    error = (fractions - priors).abs().max(dim=1).values
    ok = error <= tol
    if target is not None:
        ok |= (fractions - target).abs().max(dim=1).values <= 0.5 / max(1, extra["n_nodes"])
    converged = ok.tolist()
    if not all(converged):
        late = [b for b, ok in enumerate(converged) if not ok]
        hint = ("Raise max_iter or tol, or use method='exact'." if method == "gl"
                else "Raise max_iter (it bounds the single-node moves of the exact solve).")
        warnings.warn(
            f"the class-prior projection ({method!r}) stopped for labeled set(s) {late[:10]} with class "
            f"fractions still off by up to {float(error.max()):.3g} (tol={tol:g}); the predictions only "
            f"approximately match class_priors. {hint}", UserWarning, stacklevel=4)
    return {"method": method, "n_iter": n_iter, "fractions": fractions.tolist(), "fraction_error": error.tolist(),
            "converged": converged, **extra}


def volume_projection(scores, class_priors, *, method: str = "exact", tol: float = 1e-3,
                      max_iter: int = 10_000, dt: float = 0.1, weights=None, return_weights: bool = False,
                      return_info: bool = False):
    """Labels whose class fractions match ``class_priors`` (the volume constraint).

    Parameters
    ----------
    scores : torch.Tensor or numpy.ndarray, shape (n, c) or (B, n, c)
        Similarity scores (larger = more likely), e.g. Poisson's ``u``.
    class_priors : array-like of shape (c,)
        Target class fractions (validated and normalised by
        :func:`graphvar.solvers.priors.check_class_priors`).
    method : {"exact", "gl"}, default="exact"
        ``"exact"``: the optimal assignment with ``round(n · priors)`` nodes per
        class (module docstring). ``"gl"``: GraphLearning 1.7.5's weight loop.
    tol : float, default=1e-3
        Largest accepted ``|fraction − prior|``; ``"gl"`` stops there, ``"exact"``
        warns above it (it meets ``1/n`` unless ``max_iter`` cuts it short).
    max_iter : int, default=10000
        ``"gl"``: weight updates. ``"exact"``: bound on the balancing passes and
        on the single-node moves.
    dt : float, default=0.1
        Step of ``"gl"``'s weight update.
    weights : array-like of shape (c,) or (B, c), optional
        Initial class weights (default ones): GraphLearning's PoissonMBO
        carries them from one projection to the next; ``"exact"`` starts its
        prices at ``−log weights`` (a warm start: same result, fewer passes).
    return_weights : bool, default=False
        Also return the class weights ``(c,)`` or ``(B, c)`` (float64, first
        weight 1): ``argmax_k s_ik w_k`` reproduces the labels up to ties.
    return_info : bool, default=False
        Also return a dict: ``method``, ``n_iter`` (``"gl"``: updates;
        ``"exact"``: passes + moves, with ``n_passes`` and ``n_moves``),
        ``fractions`` (achieved class fractions), ``fraction_error`` and
        ``converged`` (error ``<= tol``); lists per labeled set when batched.

    Returns
    -------
    labels : torch.LongTensor of shape (n,) or (B, n)
    weights : torch.Tensor of shape (c,) or (B, c)
        Only if ``return_weights``.
    info : dict
        Only if ``return_info`` (after ``weights`` when both are asked for).
    """
    from .priors import check_class_priors

    if not isinstance(scores, torch.Tensor):
        scores = torch.as_tensor(np.asarray(scores))
    if scores.ndim not in (2, 3):
        raise ValueError(f"scores must have shape (n, c) or (B, n, c), got {tuple(scores.shape)}")
    if not torch.is_floating_point(scores):
        raise TypeError(f"scores must be floating point, got {scores.dtype}")
    check_choice(method, "method", METHODS)
    dt = check_float(dt, "dt", minimum=0.0, strict_minimum=True)
    tol = check_float(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    single = scores.ndim == 2
    S = _normalise(scores.unsqueeze(0) if single else scores)
    B, n, c = S.shape
    p = check_class_priors(class_priors, c)
    priors = torch.as_tensor(p, dtype=torch.float64, device=S.device)
    w = torch.ones(B, c, dtype=torch.float64, device=S.device) if weights is None else (
        torch.as_tensor(np.asarray(weights, dtype=np.float64), device=S.device).reshape(-1, c).expand(B, c).clone())
    if method == "gl":
        labels, n_iter, _ = _gl_loop(S, priors, w, dt, tol, max_iter)
        n_iter, extra, target = n_iter.tolist(), {}, None
    else:
        m = class_counts(p, n)
        if bool((w <= 0).any()):
            raise ValueError("initial weights of the exact projection must be positive (they are exp(-prices)).")
        solved = [_exact_one(S[b], m, -torch.log(w[b]), max_iter) for b in range(B)]
        labels = torch.stack([x[0] for x in solved])
        w = torch.exp(-torch.stack([x[1] for x in solved]))
        w = w / w[:, :1]
        extra = {key: [x[2][key] for x in solved] for key in ("n_passes", "n_moves", "n_candidate_sets")}
        n_iter = [a + b for a, b in zip(extra["n_passes"], extra["n_moves"])]
        target = torch.from_numpy(m / n)[None, :]
    offsets = (torch.arange(B, device=S.device) * c)[:, None]
    fractions = torch.bincount((labels + offsets).reshape(-1), minlength=B * c).view(B, c).double().cpu() / n
    info = _report(fractions, priors.cpu(), n_iter, tol, method, {**extra, "n_nodes": n}, target)
    if single:
        labels, w = labels[0], w[0]
        info = {k: (v[0] if isinstance(v, list) else v) for k, v in info.items()}
    out = (labels,) + ((w,) if return_weights else ()) + ((info,) if return_info else ())
    return out if len(out) > 1 else labels
