"""What every solver front-end does before and after its own algorithm.

:func:`prepare` validates the common arguments, builds the :class:`Graph` and
parses the labels; :func:`finish` zeroes the nodes no label can reach,
checks the scores are finite, applies the optional dispersion normalisation
and returns ``(n, c)`` or ``(B, n, c)`` scores (with ``info`` on request).
The algorithms of :mod:`.lipschitz`, :mod:`.distance`, :mod:`.propagation`
and :mod:`.sparse_lp` run between the two on the column layout ``(n, B * c)``
(one column block per labeled set) of :mod:`.methods`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from ..graph import Graph, as_graph
from ..validation import check_bool, check_dtype, check_finite_output, check_float
from .labels import LabelBatch, parse_labels
from .methods import _columns, _informed, _uncolumns
from .normalize import equalize_dispersion

__all__ = ["prepare", "finish", "columns", "uncolumns", "check_tol", "warn_unconverged", "distances_to_scores"]

columns = _columns
uncolumns = _uncolumns


def prepare(graph, y, *, n_classes=None, dtype=None, normalize=False, return_info=False, symmetric=False):
    """``(graph, labels, informed)``: the validated graph, :class:`LabelBatch` and informed mask ``(B, n)``.

    ``symmetric=True``: the method works on the stored edges (a :class:`Graph`, undirected).
    """
    check_bool(normalize, "normalize")
    check_bool(return_info, "return_info")
    g = as_graph(graph, dtype=None if dtype is None else check_dtype(dtype))
    if symmetric and not isinstance(g, Graph):
        raise TypeError(f"this method works on the stored edges of a Graph, not a matrix-free {type(g).__name__}; "
                        "build the graph with graphvar.knn_graph (or Graph.from_scipy).")
    if symmetric and getattr(g, "directed", False):
        raise ValueError("this method needs a symmetric graph; symmetrise the directed graph first.")
    labels = parse_labels(y, g.n_nodes, n_classes, device=g.device, dtype=g.dtype)
    return g, labels, _informed(g, labels)


def finish(scores: torch.Tensor, labels: LabelBatch, informed: torch.Tensor, *, normalize: bool, info: dict,
           return_info: bool, what: str):
    """Zero uninformed nodes, check finiteness, normalise on request, drop the batch axis of one set."""
    scores = scores * informed[:, :, None].to(scores.dtype)
    check_finite_output(scores, f"the {what} scores",
                        "the weights may be too large or too small; rescale them (e.g. W / W.max()) or use "
                        "dtype=torch.float64.")
    if normalize:
        scores = equalize_dispersion(scores, informed & ~labels.mask)
    scores = scores if labels.batched else scores[0]
    return (scores, info) if return_info else scores


def check_tol(tol, default: float) -> float:
    """``tol`` validated (``>= 0``), or ``default`` when None."""
    return default if tol is None else check_float(tol, "tol", minimum=0.0)


def warn_unconverged(what: str, max_iter: int, change: float, tol: float) -> None:
    """The one warning of an iteration that hit ``max_iter`` before its tolerance."""
    warnings.warn(f"{what} stopped at max_iter={max_iter} with largest change {change:.3g} > tol={tol:.3g}; "
                  "raise max_iter (or tol). info['converged'] is False.", RuntimeWarning, stacklevel=4)


def distances_to_scores(D: torch.Tensor, width: int, random_state: int,
                        priority: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
    """Scores ``−D`` of distances ``(n, B * width)``, unreachable (``inf``) below every reachable score.

    Exact ties between classes (equal path lengths, common on unweighted
    graphs) are broken by ``priority()`` (same shape, in ``[0, 1)``, lower
    wins; called only when there is a tie, since it may cost more than the
    distances) or, without it, at random (seeded by ``random_state``): the tied scores of
    a node get offsets below ``5e-7 · max|D|`` (within the ``1e-6`` relative
    tie tolerance of :func:`graphvar.benchmark.parity.agreement`), so no class
    wins every tie by its index.
    """
    finite = torch.isfinite(D)
    top = D[finite].max() if bool(finite.any()) else D.new_zeros(())
    S = -torch.where(finite, D, top + 1)
    n, m = S.shape
    blocks = S.reshape(n, m // width, width)
    tied = blocks == blocks.amax(dim=2, keepdim=True)
    tied &= tied.sum(dim=2, keepdim=True) > 1
    if not bool(tied.any()):
        return S
    if priority is None:
        gen = torch.Generator(device="cpu").manual_seed(random_state)
        priority = torch.rand(S.shape, generator=gen, dtype=torch.float64).to(device=S.device, dtype=S.dtype)
    else:
        priority = priority()
    scale = 5e-7 * float(top.abs().clamp_min(1.0))
    offset = scale * (1.0 - priority.reshape(blocks.shape).clamp(0.0, 1.0))
    return torch.where(tied, blocks + offset, blocks).reshape(n, m)
