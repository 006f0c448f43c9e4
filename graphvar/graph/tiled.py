"""Exact k-NN candidates: float32 GEMM in cache-sized tiles with a fused threshold filter.

The score matrix ``S = A Bᵀ`` (for Euclidean distances ``A = [a, |a|², 1]`` and
``B = [-2a, 1, |a|²]``, so ``S_ij = |a_i - a_j|²``) is never materialised
beyond one tile of ``rows × block`` floats (2 MiB, the L2 cache of one core
here). Each tile is produced by one BLAS call (torch ``mm``) and then scanned
once by a numba kernel that compares every score with the current admission
threshold of its row — the row's k-th best score so far plus a rounding margin —
with a vectorised flag pass; only the rare scores below the threshold are
inserted into the row's sorted candidate buffer. Because ``S`` is symmetric,
only tiles on or above the block diagonal are computed, and each off-diagonal
tile updates the candidates of its rows *and* of its columns: half the flops
of a plain ``n × n`` product.

The result is a candidate list per row that provably holds every point whose
float32 score is within the margin of the k-th best (or a flag saying the
buffer overflowed); :mod:`graphvar.graph.exact` re-ranks it in float64.
"""

from __future__ import annotations

import numpy as np
import torch

try:  # numba is a dependency; keep the import soft so the rest of graphvar works without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

__all__ = ["available", "tiled_candidates", "run_tiles", "block_pairs", "BIG"]

BIG = np.float32(3.0e38)  # "no threshold yet": finite, so no kernel ever compares with inf


def available() -> bool:
    """Whether the tiled backend can run here (it needs numba)."""
    return numba is not None


if numba is not None:
    _jit = numba.njit(cache=True, nogil=True, boundscheck=False)
    _pjit = numba.njit(cache=True, nogil=True, boundscheck=False, parallel=True)

    @_jit
    def _insert(bv, bi, cnt, r, v, j):
        """Insert ``(v, j)`` into row ``r`` of the sorted buffers (ties: smaller index first)."""
        kp = bv.shape[1]
        c = cnt[r]
        if c == kp:
            last = bv[r, kp - 1]
            if v > last or (v == last and j > bi[r, kp - 1]):
                return
            p = kp - 1
        else:
            p = c
            cnt[r] = c + 1
        while p > 0 and (bv[r, p - 1] > v or (bv[r, p - 1] == v and bi[r, p - 1] > j)):
            bv[r, p] = bv[r, p - 1]
            bi[r, p] = bi[r, p - 1]
            p -= 1
        bv[r, p] = v
        bi[r, p] = j

    @_jit
    def _admit_row(S, r, c0, R, both, flag, f8, nw, bv, bi, cnt, thr, tcol, margin, k):
        """Insert row ``r``'s flagged scores into its own (and, if ``both``, its columns') buffers.

        ``tcol`` holds the column rows' thresholds (a local copy, written back by the caller).
        """
        t = thr[R]
        T = S.shape[1]
        for w in range(nw):
            if f8[w] == 0:
                continue
            for c in range(8 * w, min(8 * w + 8, T)):
                if not flag[c]:
                    continue
                v = S[r, c]
                J = c0 + c
                if v <= t and J != R:
                    _insert(bv, bi, cnt, R, v, J)
                    if cnt[R] >= k:
                        t = bv[R, k - 1] + margin[R]
                if both and v <= tcol[c]:
                    _insert(bv, bi, cnt, J, v, R)
                    if cnt[J] >= k:
                        tcol[c] = bv[J, k - 1] + margin[J]
        thr[R] = t

    @_jit
    def _scan_tile(S, r0, c0, both, bv, bi, cnt, thr, margin, k, flag):
        """One thread: scan a tile for rows ``r0..`` (and columns ``c0..`` when ``both``)."""
        m, T = S.shape
        f8 = flag.view(np.uint64)
        nw = (T + 7) // 8
        for c in range(T, nw * 8):
            flag[c] = False
        tcol = thr[c0:c0 + T].copy()  # a private copy: the flag loop below then vectorises
        for r in range(m):
            R = r0 + r
            t = thr[R]
            if both:
                for c in range(T):
                    flag[c] = S[r, c] <= max(t, tcol[c])
            else:
                for c in range(T):
                    flag[c] = S[r, c] <= t
            acc = np.uint64(0)
            for w in range(nw):
                acc |= f8[w]
            if acc != 0:
                _admit_row(S, r, c0, R, both, flag, f8, nw, bv, bi, cnt, thr, tcol, margin, k)
        if both:
            thr[c0:c0 + T] = tcol

    @_pjit
    def _scan_rows_par(S, r0, c0, bv, bi, cnt, thr, margin, k, chunk):
        """Threads over row chunks: the tile's row side only."""
        m, T = S.shape
        nw = (T + 7) // 8
        for q in numba.prange((m + chunk - 1) // chunk):
            flag = np.zeros(nw * 8, np.bool_)
            f8 = flag.view(np.uint64)
            for r in range(q * chunk, min(m, (q + 1) * chunk)):
                R = r0 + r
                t = thr[R]
                for c in range(T):
                    flag[c] = S[r, c] <= t
                acc = np.uint64(0)
                for w in range(nw):
                    acc |= f8[w]
                if acc != 0:
                    _admit_row(S, r, c0, R, False, flag, f8, nw, bv, bi, cnt, thr, thr, margin, k)

    @_pjit
    def _scan_cols_par(S, r0, c0, bv, bi, cnt, thr, margin, k, chunk):
        """Threads over column chunks: the tile's column side only (columns never meet rows)."""
        m, T = S.shape
        for q in numba.prange((T + chunk - 1) // chunk):
            a = q * chunk
            w = min(T, a + chunk) - a
            tcol = thr[c0 + a:c0 + a + w].copy()  # private: the flag loop vectorises
            flag = np.zeros(w, np.bool_)
            for r in range(m):
                hit = False
                for c in range(w):
                    f = S[r, a + c] <= tcol[c]
                    flag[c] = f
                    hit |= f
                if not hit:
                    continue
                for c in range(w):
                    if flag[c]:
                        J = c0 + a + c
                        _insert(bv, bi, cnt, J, S[r, a + c], r0 + r)
                        if cnt[J] >= k:
                            tcol[c] = bv[J, k - 1] + margin[J]
            thr[c0 + a:c0 + a + w] = tcol


def _threads(n_threads: int | None) -> int:
    # Default one scan thread: measured on the shared 2-core machine, the threaded scan (numba prange,
    # a parallel region per tile) was 5x slower than one thread under load (benchmarks/bench_knn.py).
    if n_threads is None:
        n_threads = 1
    return max(1, min(int(n_threads), int(numba.config.NUMBA_NUM_THREADS)))


def block_pairs(n: int, block: int):
    """Range pairs ``((i0, i1), (j0, j1))`` on and above the block diagonal of an ``n × n`` matrix.

    The diagonal blocks come first: every row then holds a threshold from its
    own block before the off-diagonal tiles, which keeps early insertions few.
    """
    starts = range(0, n, block)
    yield [((i0, min(i0 + block, n)), (i0, min(i0 + block, n))) for i0 in starts]
    for i0 in starts:
        group = [((i0, min(i0 + block, n)), (j0, min(j0 + block, n))) for j0 in range(i0 + block, n, block)]
        if group:
            yield group


class _Tiles:
    """Candidate buffers plus the GEMM-and-scan loop over range pairs."""

    def __init__(self, A, B, k, n_candidates, margin, n_threads, rows, width):
        n = A.shape[0]
        self.k, self.kp, self.rows = int(k), int(n_candidates), int(rows)
        self.bv = np.full((n, self.kp), BIG, np.float32)
        self.bi = np.full((n, self.kp), -1, np.int64)
        self.cnt = np.zeros(n, np.int64)
        self.thr = np.full(n, BIG, np.float32)
        self.margin = np.ascontiguousarray(margin, dtype=np.float32)
        self.At, self.Bt = torch.from_numpy(A), torch.from_numpy(B)
        self.threads = _threads(n_threads)
        self.flag = np.zeros(width + 8, np.bool_)
        self.buffer = torch.empty(self.rows * width, dtype=torch.float32)

    def pair(self, i0, i1, j0, j1, both):
        """Scan rows ``i0:i1`` against columns ``j0:j1``: disjoint ranges (``both``: the tile also
        updates the columns' own candidates) or the same range (``both=False``)."""
        Bj = self.Bt[j0:j1].T
        for s0 in range(i0, i1, self.rows):
            s1 = min(s0 + self.rows, i1)
            S = self.buffer[:(s1 - s0) * (j1 - j0)].view(s1 - s0, j1 - j0)
            torch.mm(self.At[s0:s1], Bj, out=S)
            Sn = S.numpy()
            args = (self.bv, self.bi, self.cnt, self.thr, self.margin, self.k)
            if self.threads == 1:
                _scan_tile(Sn, s0, j0, both, *args, self.flag)
            else:
                numba.set_num_threads(self.threads)
                _scan_rows_par(Sn, s0, j0, *args, 16)
                if both:
                    _scan_cols_par(Sn, s0, j0, *args, 64)


def run_tiles(A, B, k, n_candidates, margin, groups, *, n_threads=None, rows=256, width=2048,
              progress=False, total=None):
    """Scan every range pair in ``groups`` (an iterable of lists of pairs); return the raw buffers.

    Returns ``(indices, scores, counts, thresholds)`` of the candidate buffers.
    """
    if numba is None:  # pragma: no cover
        raise ValueError("backend='tiled' needs numba; install it (pip install numba) or use backend='torch'.")
    tiles = _Tiles(A, B, k, n_candidates, margin, n_threads, rows, width)
    if progress:
        from tqdm.auto import tqdm

        groups = tqdm(groups, desc="k-NN (tiled)", unit="block", total=total)
    for group in groups:
        for (i0, i1), (j0, j1) in group:
            if (i0, i1) == (j0, j1):  # a diagonal range: its own upper block triangle
                for sub in block_pairs(i1 - i0, width):
                    for (a0, a1), (b0, b1) in sub:
                        tiles.pair(i0 + a0, i0 + a1, i0 + b0, i0 + b1, b0 != a0)
            else:  # disjoint ranges; columns wider than the buffer are split
                for c0 in range(j0, j1, width):
                    tiles.pair(i0, i1, c0, min(c0 + width, j1), True)
    return tiles.bi, tiles.bv, tiles.cnt, tiles.thr


def tiled_candidates(
    A: np.ndarray,
    B: np.ndarray,
    k: int,
    n_candidates: int,
    margin: np.ndarray,
    *,
    n_threads: int | None = None,
    block: int = 2048,
    rows: int = 256,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate neighbours of every row under the symmetric score ``S = A Bᵀ``.

    Parameters
    ----------
    A, B : ndarray of shape (n, p), float32, C-contiguous
        Factors of the score; ``A_i · B_j`` must equal ``A_j · B_i`` in exact
        arithmetic (the kernel computes each pair once and uses it both ways).
    k : int
        Neighbours wanted (self excluded).
    n_candidates : int
        Buffer size per row, ``k <= n_candidates <= n - 1``.
    margin : ndarray of shape (n,), float32
        Admission slack: a score is kept while it is at most the row's current
        k-th best plus ``margin``.
    n_threads : int, optional
        Threads for the scan (default 1, see :func:`_threads`); the GEMM uses
        torch's threads.
    block, rows : int
        Tile shape: ``rows`` query rows × ``block`` columns per GEMM.
    progress : bool
        Show a tqdm bar over row blocks.

    Returns
    -------
    indices : ndarray of shape (n, n_candidates), int64
        Candidates sorted by float32 score (ties by index).
    bound : ndarray of shape (n,), float32
        Every point *not* in a row's candidates has float32 score ``>= bound``.
    """
    n = A.shape[0]
    bi, bv, cnt, thr = run_tiles(A, B, k, n_candidates, margin, block_pairs(n, block), n_threads=n_threads,
                                 rows=rows, width=block, progress=progress, total=-(-n // block))
    full = cnt == n_candidates
    bound = np.minimum(thr, np.where(full, bv[:, -1], BIG))
    bound[cnt == n - 1] = np.inf  # every other point is a candidate: nothing was left out
    return bi, bound
