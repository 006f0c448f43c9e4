"""Top-k label scores with a factored dense part: the iterate of the XMC teacher.

An XMC label matrix has ``L`` in the 10⁴–10⁶ range, so the teacher cannot
hold a dense ``(n, L)`` iterate. Poisson's source ``b = Y_Γ − 1_Γ ȳᵀ`` and
the variance step's mean are dense but of rank one, so the iterate is kept as

    U = V + A Bᵀ + e rᵀ,

``V`` sparse (at most ``topk`` labels per row after every step) or dense when
``n · L`` is small, ``A`` ``(n, q)`` and ``B`` ``(L, q)`` dense (``q = 1``:
``A`` is the propagated ``−D⁻¹1_Γ``, ``B = ȳ``), ``r`` ``(L,)`` the
accumulated means and ``e`` the indicator of nodes with an edge (``P e = e``).
:class:`TopKScores` implements the three operations of the step kernel
(:mod:`graphvar.engine.kernel`) exactly in this form:

* transition: ``P U = (P V) + (P A) Bᵀ + e rᵀ``;
* sum and scaling: term by term;
* centring: ``U − e Ūᵀ = V + (A − e Ā) Bᵀ + e (−V̄)ᵀ`` with ``V̄ = dᵀV/vol``,
  ``Ā = dᵀA/vol`` (since ``dᵀe = vol``).

:meth:`TopKScores.pruned` keeps, in every row, the ``topk`` stored entries of
``V`` with the largest *full* score ``u_ij``. Without pruning (``topk ≥ L``)
the iterate equals the dense kernel's exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..graph.graph import csr_row_slice, csr_tensor

__all__ = ["TopKScores", "topk_per_row"]


def topk_per_row(rows: torch.Tensor, scores: torch.Tensor, k: int, n_rows: int) -> torch.Tensor:
    """Bool mask of the ``k`` largest ``scores`` within each row (``rows`` sorted ascending).

    Ties keep the earlier entry (the smaller column for row-major entries), so
    the dense and the sparse path keep the same labels.
    """
    counts = torch.bincount(rows, minlength=n_rows)
    if counts.numel() == 0 or int(counts.max()) <= k:
        return torch.ones_like(scores, dtype=torch.bool)
    starts = torch.cumsum(counts, 0) - counts
    pos = torch.arange(rows.numel(), device=rows.device) - starts[rows]
    long_rows = counts > k
    keep = ~long_rows[rows]
    sel = long_rows[rows]
    # pad the long rows into a (rows, width) block and take a dense top-k
    r_ids = torch.cumsum(long_rows.long(), 0) - 1
    width = int(counts.max())
    pad = torch.full((int(long_rows.sum()), width), -torch.inf, dtype=torch.float64, device=scores.device)
    pad[r_ids[rows[sel]], pos[sel]] = scores[sel].double()
    top = torch.sort(pad, dim=1, descending=True, stable=True).indices[:, :k]
    chosen = torch.zeros_like(pad, dtype=torch.bool).scatter_(1, top, True)
    keep[sel] = chosen[r_ids[rows[sel]], pos[sel]]
    return keep


class _CooSum:
    """A pending sum of sparse ``(n, L)`` terms, held as COO pieces until coalesced."""

    def __init__(self, shape, pieces):
        self.shape, self.pieces = shape, pieces

    @classmethod
    def of(cls, M) -> _CooSum:
        if isinstance(M, _CooSum):
            return M
        crow = M.crow_indices()
        rows = torch.repeat_interleave(torch.arange(M.shape[0], device=M.device), (crow[1:] - crow[:-1]).long())
        return cls(tuple(M.shape), [(rows, M.col_indices().long(), M.values())])

    def __add__(self, other) -> _CooSum:
        return _CooSum(self.shape, self.pieces + _CooSum.of(other).pieces)

    def scaled(self, s) -> _CooSum:
        return _CooSum(self.shape, [(r, c, v * s) for r, c, v in self.pieces])

    def row_scaled(self, w: torch.Tensor) -> _CooSum:
        return _CooSum(self.shape, [(r, c, v * w[r]) for r, c, v in self.pieces])

    def coalesce(self):
        """``(rows, cols, values)`` summed over duplicates, row-major sorted, zeros dropped."""
        rows = torch.cat([p[0] for p in self.pieces])
        cols = torch.cat([p[1] for p in self.pieces])
        vals = torch.cat([p[2] for p in self.pieces])
        keys, inverse = torch.unique(rows * self.shape[1] + cols, return_inverse=True)
        summed = torch.zeros(keys.numel(), dtype=vals.dtype, device=vals.device).index_add_(0, inverse, vals)
        nz = summed != 0
        keys, summed = keys[nz], summed[nz]
        return keys // self.shape[1], keys % self.shape[1], summed


def _csr(rows, cols, vals, shape) -> torch.Tensor:
    """CSR tensor from row-major sorted COO entries."""
    crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=vals.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=shape[0]), 0)
    return csr_tensor(crow, cols, vals, shape[0], shape[1])


class TopKScores:
    """``U = V + A Bᵀ + e rᵀ`` (see the module docstring).

    Parameters
    ----------
    V : Tensor (n, L), dense or sparse CSR
    A : Tensor (n, q)
    B : Tensor (L, q)
    r : Tensor (L,)
    e : Tensor (n,)
        1 on nodes with an edge, 0 on isolated nodes.
    """

    def __init__(self, V, A, B, r, e):
        self.V, self.A, self.B, self.r, self.e = V, A, B, r, e

    @property
    def dense(self) -> bool:
        return isinstance(self.V, torch.Tensor) and self.V.layout == torch.strided

    @property
    def shape(self) -> tuple[int, int]:
        return (self.A.shape[0], self.B.shape[0])

    def _like(self, V, A, r, e=None) -> TopKScores:
        return TopKScores(V, A, self.B, r, self.e if e is None else e)

    # ---------------------------------------------------------- kernel ops
    def transitioned(self, op, rows: slice | None) -> TopKScores:
        """``P U`` (rows ``rows`` only if given); ``P e = e``, so ``r`` is unchanged."""
        if rows is None:
            V = op.transition(self.V)
            A, e = op.transition(self.A), self.e
        else:
            V = op.transition_rows(self.V, rows)
            A, e = op.transition_rows(self.A, rows), self.e[rows]
        return self._like(V if self.dense else _CooSum.of(V), A, self.r, e)

    def __add__(self, other: TopKScores) -> TopKScores:
        if self.dense:
            V = self.V + other.V
        else:
            V = _CooSum.of(self.V) + other.V
        return self._like(V, self.A + other.A, self.r + other.r)

    def __rmul__(self, alpha: float) -> TopKScores:
        V = alpha * self.V if self.dense else _CooSum.of(self.V).scaled(alpha)
        return self._like(V, alpha * self.A, alpha * self.r)

    def mean(self, op) -> tuple[torch.Tensor, torch.Tensor]:
        """``(V̄, Ā)``: the degree-weighted means of the sparse and the factored part."""
        d, vol = op.degrees, op.volume
        if self.dense:
            Vbar = d @ self.V
        else:
            Vbar = torch.zeros(self.B.shape[0], dtype=d.dtype, device=d.device)
            for rows, cols, vals in _CooSum.of(self.V).pieces:
                Vbar.index_add_(0, cols, vals * d[rows])
        return Vbar / vol, (d @ self.A) / vol

    def centred(self, op, mean=None, rows: slice | None = None) -> TopKScores:
        """``U − e Ūᵀ = V + (A − e Ā) Bᵀ + e (−V̄)ᵀ`` (rows ``rows`` only if given)."""
        Vbar, Abar = self.mean(op) if mean is None else mean
        part = self if rows is None else self[rows]
        return part._like(part.V, part.A - part.e[:, None] * Abar, -Vbar)

    def clamped(self, clamp, rows: slice | None) -> TopKScores:
        """Clamp rows: ``V ← free ⊙ V + Y`` (Laplace; needs ``A = 0`` and ``r = 0``)."""
        if bool(self.A.any()) or bool(self.r.any()):
            raise ValueError("clamped propagation supports no source centring or variance step.")
        free = clamp.free if rows is None else clamp.free[rows]
        if self.dense:
            fixed = clamp.fixed if rows is None else clamp.fixed[rows]
            return self._like(self.V * free + fixed, self.A, self.r)
        fixed = clamp.fixed if rows is None else csr_row_slice(clamp.fixed, rows)
        return self._like(_CooSum.of(self.V).row_scaled(free[:, 0]) + fixed, self.A, self.r)

    def __getitem__(self, rows: slice) -> TopKScores:
        V = self.V[rows] if self.dense else csr_row_slice(self.V, rows)
        return TopKScores(V, self.A[rows], self.B, self.r, self.e[rows])

    @staticmethod
    def concat(parts: list[TopKScores]) -> TopKScores:
        """Stack row blocks (already pruned, so their ``V`` is CSR or dense)."""
        first = parts[0]
        A, e = torch.cat([p.A for p in parts]), torch.cat([p.e for p in parts])
        if first.dense:
            return first._like(torch.cat([p.V for p in parts]), A, first.r, e)
        rows, cols, vals, offset = [], [], [], 0
        for p in parts:
            r, c, v = _CooSum.of(p.V).pieces[0]
            rows.append(r + offset)
            cols.append(c)
            vals.append(v)
            offset += p.A.shape[0]
        shape = (offset, first.B.shape[0])
        return first._like(_csr(torch.cat(rows), torch.cat(cols), torch.cat(vals), shape), A, first.r, e)

    # ------------------------------------------------------------- pruning
    def _full_scores(self, rows, cols, vals):
        return vals + (self.A[rows] * self.B[cols]).sum(dim=1) + self.r[cols]

    def pruned(self, topk: int) -> TopKScores:
        """Keep the ``topk`` stored entries of ``V`` per row with the largest full score."""
        if self.dense:
            if topk >= self.V.shape[1]:
                return self
            score = self.V + self.A @ self.B.T + self.r[None, :]
            score = torch.where(self.V != 0, score, torch.full_like(score, -torch.inf))
            top = torch.sort(score, dim=1, descending=True, stable=True).indices[:, :topk]
            keep = torch.zeros_like(self.V, dtype=torch.bool).scatter_(1, top, True)
            return self._like(self.V * keep, self.A, self.r)
        rows, cols, vals = _CooSum.of(self.V).coalesce() if isinstance(self.V, _CooSum) else \
            _CooSum(self.shape, _CooSum.of(self.V).pieces).coalesce()
        keep = topk_per_row(rows, self._full_scores(rows, cols, vals), topk, self.A.shape[0])
        return self._like(_csr(rows[keep], cols[keep], vals[keep], self.shape), self.A, self.r)

    def to_scipy(self) -> sp.csr_matrix:
        """The full scores ``u_ij`` on the stored entries of ``V``, as float32 scipy CSR."""
        if self.dense:
            nz = self.V != 0
            rows, cols = nz.nonzero(as_tuple=True)
            vals = self.V[rows, cols]
        else:
            rows, cols, vals = _CooSum.of(self.V).pieces[0] if not isinstance(self.V, _CooSum) \
                else self.V.coalesce()
        data = self._full_scores(rows, cols, vals).detach().cpu().numpy().astype(np.float32)
        out = sp.csr_matrix((data, (rows.cpu().numpy(), cols.cpu().numpy())), shape=self.shape)
        out.eliminate_zeros()
        return out
