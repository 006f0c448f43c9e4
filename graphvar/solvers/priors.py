"""Class balancing: volume-constrained prediction with known class priors.

Graph-based scores at very low label rates tend to flood the graph with one
or two classes. When the class proportions are known (or estimated), the
prediction can be constrained to respect them. This module implements the
volume label projection of GraphLearning 1.7.5 (``graphlearning.ssl.ssl.
volume_label_projection`` and ``predict``), so that predictions agree with
GraphLearning's ``class_priors=`` on the same scores:

1. rescale the scores to ``[0, 1]`` with their global minimum and maximum;
2. start from class weights ``w = 1`` and repeat (at most ``max_iter`` times,
   while the largest class-size error exceeds ``tol``): predict
   ``argmax_k s_ik w_k``, measure the class fractions ``f`` over all nodes,
   ``w ← w − dt (f − priors)``, ``w ← w / w_0``;
3. predict ``argmax_k s_ik w_k`` with the final weights.

Several labeled sets on one graph (scores of shape ``(B, n, c)``) are
balanced together, each with its own weights and its own stopping time.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..validation import check_float, check_int

__all__ = ["check_class_priors", "class_priors_from_labels", "volume_label_projection"]


def check_class_priors(class_priors, n_classes: int) -> np.ndarray:
    """Validate class priors and return them normalised to sum to one.

    Parameters
    ----------
    class_priors : array-like of shape (n_classes,)
        Non-negative class proportions (any positive total).
    n_classes : int
        Expected number of classes.

    Returns
    -------
    numpy.ndarray of float64, shape (n_classes,)
    """
    if isinstance(class_priors, torch.Tensor):
        class_priors = class_priors.detach().cpu().numpy()
    p = np.asarray(class_priors, dtype=np.float64)
    if p.ndim != 1 or p.shape[0] != n_classes:
        raise ValueError(
            f"class_priors must have one entry per class ({n_classes}), got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("class_priors must be finite, non-negative and not all zero")
    return p / p.sum()


def class_priors_from_labels(labels, n_classes: int | None = None) -> np.ndarray:
    """Class proportions of a label vector (``-1`` entries ignored).

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Class ids; ``-1`` marks unlabeled nodes and is skipped.
    n_classes : int, optional
        Number of classes (default ``max(labels) + 1``).

    Returns
    -------
    numpy.ndarray of float64, shape (n_classes,)
    """
    labels = np.asarray(labels).ravel()
    labels = labels[labels >= 0]
    if labels.size == 0:
        raise ValueError("labels holds no labeled node (all -1): cannot estimate class priors")
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(labels.astype(np.int64), minlength=n_classes).astype(np.float64)
    return counts / counts.sum()


def _report(n_iter: torch.Tensor, error: torch.Tensor, tol: float, max_iter: int) -> dict:
    """The projection's info (updates, final class-fraction error, convergence); warns on a miss."""
    converged = (error <= tol).cpu()
    if max_iter and not bool(converged.all()):
        late = torch.nonzero(~converged).flatten().tolist()
        warnings.warn(
            f"the class-prior projection stopped at max_iter={max_iter} for labeled set(s) {late[:10]} with "
            f"class fractions still off by up to {float(error.max()):.3g} (tol={tol:g}); the predictions "
            "only approximately match class_priors. Raise max_iter or tol, or check that the scores can "
            "separate the classes (ties between nodes cannot be split).",
            UserWarning, stacklevel=3)
    return {"n_iter": n_iter.tolist(), "fraction_error": error.tolist(), "converged": converged.tolist()}


def volume_label_projection(
    scores,
    class_priors,
    *,
    dt: float = 0.1,
    tol: float = 1e-3,
    max_iter: int = 10_000,
    return_weights: bool = False,
    return_info: bool = False,
):
    """Predict labels whose class fractions match ``class_priors``.

    Parameters
    ----------
    scores : torch.Tensor or numpy.ndarray, shape (n, c) or (B, n, c)
        Similarity scores (larger = more likely), e.g. Poisson's ``u``.
    class_priors : array-like of shape (c,)
        Target class fractions (normalised internally).
    dt : float, default=0.1
        Step of the weight update (GraphLearning's value).
    tol : float, default=1e-3
        Stop once every class fraction is within ``tol`` of its prior.
    max_iter : int, default=10000
        Largest number of weight updates (GraphLearning's value).
    return_weights : bool, default=False
        Also return the class weights ``(c,)`` or ``(B, c)``.
    return_info : bool, default=False
        Also return a dict: ``n_iter`` (updates per labeled set), ``fraction_error``
        (largest ``|f - prior|`` at the stop) and ``converged`` (error ``<= tol``).
        A warning names the labeled sets that reach ``max_iter`` with a larger error.

    Returns
    -------
    labels : torch.LongTensor of shape (n,) or (B, n)
        Balanced predictions (on the device of ``scores``).
    weights : torch.Tensor of shape (c,) or (B, c)
        Only if ``return_weights``: the final class weights (float64).
    info : dict
        Only if ``return_info`` (after ``weights`` when both are asked for).
    """
    if not isinstance(scores, torch.Tensor):
        scores = torch.as_tensor(np.asarray(scores))
    if scores.ndim not in (2, 3):
        raise ValueError(f"scores must have shape (n, c) or (B, n, c), got {tuple(scores.shape)}")
    if not torch.is_floating_point(scores):
        raise TypeError(f"scores must be floating point, got {scores.dtype}")
    dt = check_float(dt, "dt", minimum=0.0, strict_minimum=True)
    tol = check_float(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    single = scores.ndim == 2
    S = scores.unsqueeze(0) if single else scores
    B, n, c = S.shape
    priors = torch.as_tensor(check_class_priors(class_priors, c), dtype=torch.float64, device=S.device)

    # GraphLearning's predict(): shift by the global min, divide by the max.
    S = S.to(torch.float64)
    flat = S.reshape(B, -1)
    S = S - flat.min(dim=1).values.view(B, 1, 1)
    top = S.reshape(B, -1).max(dim=1).values.clamp_min(torch.finfo(torch.float64).tiny)
    S = S / top.view(B, 1, 1)

    weights = torch.ones(B, c, dtype=torch.float64, device=S.device)
    n_iter = torch.zeros(B, dtype=torch.long, device=S.device)
    error = torch.full((B,), float("inf"), dtype=torch.float64, device=S.device)
    active = torch.arange(B, device=S.device)
    S_act = S
    buf = torch.empty_like(S)
    for _ in range(int(max_iter)):
        if active.numel() == 0:
            break
        b = active.numel()
        if b != S_act.shape[0]:  # some labeled sets converged: drop them once, not every step
            S_act = S[active]
            buf = buf[:b]
        w = weights[active]
        torch.mul(S_act, w[:, None, :], out=buf)
        pred = torch.argmax(buf, dim=2)  # (b, n)
        offsets = (torch.arange(b, device=S.device) * c)[:, None]
        sizes = torch.bincount((pred + offsets).reshape(-1), minlength=b * c).view(b, c).to(torch.float64)
        grad = sizes / n - priors
        err = grad.abs().max(dim=1).values
        error[active] = err
        n_iter[active] += 1
        # similarity scores: GraphLearning negates dt; its loop updates the
        # weights once more on the step whose error is below tol
        w = w - dt * grad
        weights[active] = w / w[:, :1]
        still = err > tol
        if not bool(still.all()):
            active = active[still]
    labels = torch.argmax(S * weights[:, None, :], dim=2)
    info = _report(n_iter, error, tol, max_iter)
    if single:
        labels, weights = labels[0], weights[0]
        info = {k: v[0] for k, v in info.items()}
    out = (labels,) + ((weights,) if return_weights else ()) + ((info,) if return_info else ())
    return out if len(out) > 1 else labels
