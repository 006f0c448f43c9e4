"""A reference one-vs-all linear student trained with the LEVER loss.

``s = X W + b`` (``W`` dense ``D × L``), binary cross-entropy with logits
against soft targets ``T`` (LEVER Eq. 6 written as one BCE against
``λ·y + (1−λ)·p̂``), Adam, shuffled mini-batches of sparse rows (torch CSR ×
dense), a tqdm progress bar, seeded. Memory ``O(D·L + batch·L)``: a reference
for small and mid-sized label sets, not a replacement for tree/ANN students.

Early stopping (the default): a random ``validation_fraction`` of the training
rows (or the rows passed as ``validation=``) is held out, the BCE against its
targets is measured after every epoch, training stops after ``patience``
epochs without an improvement of ``tol`` and the weights of the best epoch are
kept. ``epochs`` is then a cap; a warning says when it was reached first. The
learning rate ``lr=0.1`` and weight decay ``1e-5`` were chosen on validation
splits of Bibtex, Corel5k and tmc2007 (``benchmarks/results/xmc_loop_tune.json``);
``epochs=200`` is a cap the early-stopped runs there never reached.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from tqdm.auto import tqdm

from ..validation import check_bool, check_device, check_float, check_int

__all__ = ["OneVsAllStudent"]


def _to_torch(X, device, dtype=torch.float32):
    """Rows of ``X`` (scipy CSR or ndarray) as a torch CSR or dense tensor."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            warnings.filterwarnings("ignore", message="Sparse invariant checks")
            return torch.sparse_csr_tensor(
                torch.from_numpy(X.indptr.astype(np.int64)), torch.from_numpy(X.indices.astype(np.int64)),
                torch.from_numpy(X.data.astype(np.float32)), size=X.shape, dtype=dtype, device=device)
    return torch.as_tensor(np.asarray(X), dtype=dtype, device=device)


class OneVsAllStudent:
    """One-vs-all linear classifier trained with BCE against (soft) targets.

    Parameters
    ----------
    epochs : int, default=200
        Maximum number of epochs (the number of epochs with ``early_stopping=False``).
    lr : float, default=0.1
        Adam learning rate.
    batch_size : int, default=256
    weight_decay : float, default=1e-5
        L2 penalty on ``W`` (Adam's ``weight_decay``). ``lr`` and ``weight_decay`` have the best mean
        validation P@1 over Bibtex, Corel5k and tmc2007 among lr ∈ {0.01, 0.1} × weight decay ∈
        {0, 1e-6, 1e-5, 1e-4} (``benchmarks/results/xmc_loop_tune.json``).
    early_stopping : bool, default=True
        Stop on the validation loss (module docstring) and keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Fraction of the training rows held out for early stopping (when ``fit`` gets no ``validation``).
    patience : int, default=5
        Epochs without a validation improvement before stopping.
    tol : float, default=1e-4
        Smallest relative decrease of the validation loss that counts as an improvement.
    random_state : int, default=0
        Seeds the validation split and the shuffling (``W`` starts at zero, ``b`` at the prior log-odds).
    device : str or torch.device, optional
        Where to train (default CPU).
    progress : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    weight_ : torch.Tensor of shape (D, L)
    bias_ : torch.Tensor of shape (L,)
    loss_curve_ : list of float
        Mean training loss per epoch.
    validation_curve_ : list of float
        Mean validation loss per epoch (early stopping only).
    best_epoch_ : int
        1-based epoch whose weights were kept.
    n_epochs_ : int
        Epochs run.
    stopped_early_ : bool
        Whether patience ran out before ``epochs``.
    validation_rows_ : ndarray or None
        Training rows held out for early stopping.
    """

    def __init__(self, *, epochs: int = 200, lr: float = 0.1, batch_size: int = 256, weight_decay: float = 1e-5,
                 early_stopping: bool = True, validation_fraction: float = 0.1, patience: int = 5,
                 tol: float = 1e-4, random_state: int = 0, device=None, progress: bool = False):
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def _validate(self, X, T):
        for name in ("epochs", "batch_size", "patience"):
            check_int(getattr(self, name), name, minimum=1)
        check_float(self.lr, "lr", minimum=0.0, strict_minimum=True)
        check_float(self.weight_decay, "weight_decay", minimum=0.0)
        check_float(self.validation_fraction, "validation_fraction", minimum=0.0, maximum=1.0,
                    strict_minimum=True)
        check_float(self.tol, "tol", minimum=0.0)
        check_bool(self.progress, "progress")
        check_bool(self.early_stopping, "early_stopping")
        check_device(self.device)
        if not (sp.issparse(X) or isinstance(X, np.ndarray)):
            raise TypeError(f"X must be a scipy sparse matrix or ndarray, got {type(X).__name__}.")
        if (X.data if sp.issparse(X) else np.asarray(X)).dtype.kind not in "biuf":
            raise TypeError(f"X must hold real numbers, got dtype {X.dtype}.")
        if not np.isfinite(X.data if sp.issparse(X) else np.asarray(X, dtype=np.float64)).all():
            raise ValueError("X contains NaN or infinite values; impute or drop them first.")
        if not sp.issparse(T):
            raise TypeError(f"targets must be a scipy sparse (n, L) matrix, got {type(T).__name__}.")
        if X.shape[0] != T.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but targets have {T.shape[0]}; they must match.")
        T = sp.csr_matrix(T, dtype=np.float32)
        if T.nnz and (T.data.min() < 0 or T.data.max() > 1):
            raise ValueError("targets must lie in [0, 1] (binary labels or LEVER soft targets).")
        return T

    def _split(self, X, T, validation):
        """``(X_fit, T_fit, X_val, T_val)``: the given validation rows, a carved split, or none."""
        self.validation_rows_ = None
        if not self.early_stopping:
            return X, T, None, None
        if validation is not None:
            Xv, Tv = validation
            return X, T, Xv, self._validate(Xv, Tv)
        n = X.shape[0]
        n_val = int(round(self.validation_fraction * n))
        if n_val < 1 or n_val >= n:
            raise ValueError(f"validation_fraction={self.validation_fraction} of {n} rows leaves no validation or "
                             "no training rows; change it, pass validation=(X_val, T_val), or early_stopping=False.")
        val = np.sort(np.random.default_rng(self.random_state).permutation(n)[:n_val])
        fit = np.setdiff1d(np.arange(n), val)
        self.validation_rows_ = val
        return X[fit], T[fit], X[val], T[val]

    def fit(self, X, targets, *, validation=None) -> "OneVsAllStudent":
        """Train on features ``X`` (n, D) and targets (n, L) in [0, 1].

        Parameters
        ----------
        X : scipy sparse or ndarray of shape (n, D)
        targets : scipy sparse of shape (n, L)
        validation : tuple (X_val, T_val), optional
            Early-stopping rows to use instead of carving ``validation_fraction`` of ``X``.

        Returns
        -------
        self
        """
        T = self._validate(X, targets)
        X = sp.csr_matrix(X, dtype=np.float32) if sp.issparse(X) else np.asarray(X, dtype=np.float32)
        X, T, Xv, Tv = self._split(X, T, validation)
        n, D = X.shape
        L = T.shape[1]
        dev = torch.device(self.device) if self.device is not None else torch.device("cpu")
        gen = torch.Generator().manual_seed(int(self.random_state))
        prior = np.clip(np.asarray(T.sum(axis=0)).ravel() / n, 1e-6, 1 - 1e-6)
        W = torch.zeros(D, L, device=dev, requires_grad=True)
        b = torch.tensor(np.log(prior / (1 - prior)), dtype=torch.float32, device=dev, requires_grad=True)
        opt = torch.optim.Adam([{"params": [W], "weight_decay": self.weight_decay},
                                {"params": [b], "weight_decay": 0.0}], lr=self.lr)
        self.loss_curve_, self.validation_curve_ = [], []
        best, bad = (np.inf, None, 0), 0
        bar = tqdm(range(int(self.epochs)), desc="student", disable=not self.progress, leave=False)
        for epoch in bar:
            self.loss_curve_.append(self._epoch(X, T, W, b, opt, gen, dev))
            if Xv is None:
                continue
            self.validation_curve_.append(self._loss(Xv, Tv, W, b, dev))
            if self.validation_curve_[-1] < best[0] * (1 - self.tol):
                best, bad = (self.validation_curve_[-1], (W.detach().clone(), b.detach().clone()), epoch), 0
            else:
                bad += 1
            bar.set_postfix(loss=f"{self.loss_curve_[-1]:.4f}", val=f"{self.validation_curve_[-1]:.4f}")
            if bad >= int(self.patience):
                break
        self.n_epochs_ = len(self.loss_curve_)
        self.stopped_early_ = Xv is not None and bad >= int(self.patience)
        if Xv is not None and not self.stopped_early_:
            warnings.warn(f"the student reached epochs={self.epochs} before early stopping (validation loss still "
                          f"falling); the best epoch's weights are kept. Raise epochs to let it converge.",
                          UserWarning, stacklevel=2)
        W_, b_ = best[1] if best[1] is not None else (W.detach(), b.detach())
        self.best_epoch_ = best[2] + 1 if best[1] is not None else self.n_epochs_
        self.weight_, self.bias_ = W_, b_
        self.n_features_in_, self.n_labels_ = D, L
        return self

    def _epoch(self, X, T, W, b, opt, gen, dev) -> float:
        """One pass of shuffled mini-batches; the mean training loss."""
        n = X.shape[0]
        order = torch.randperm(n, generator=gen).numpy()
        total = 0.0
        for a in range(0, n, int(self.batch_size)):
            idx = order[a : a + int(self.batch_size)]
            logits = (_to_torch(X[idx], dev) @ W) + b
            tb = torch.as_tensor(T[idx].toarray(), device=dev)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, tb, reduction="sum") / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if not np.isfinite(total):
            raise ValueError(f"the student's training loss became {total / n} at epoch {len(self.loss_curve_) + 1}: "
                             "it diverged; lower lr or rescale X.")
        return total / n

    def _loss(self, X, T, W, b, dev, batch_size: int = 4096) -> float:
        """Mean BCE per row of ``(X, T)`` without gradients."""
        X = sp.csr_matrix(X, dtype=np.float32) if sp.issparse(X) else np.asarray(X, dtype=np.float32)
        total = 0.0
        with torch.no_grad():
            for a in range(0, X.shape[0], batch_size):
                logits = (_to_torch(X[a : a + batch_size], dev) @ W) + b
                tb = torch.as_tensor(T[a : a + batch_size].toarray(), device=dev)
                total += float(torch.nn.functional.binary_cross_entropy_with_logits(logits, tb, reduction="sum"))
        return total / X.shape[0]

    def get_params(self) -> dict:
        """Constructor parameters (for the saved model's manifest)."""
        names = ("epochs", "lr", "batch_size", "weight_decay", "early_stopping", "validation_fraction",
                 "patience", "tol", "random_state")
        return {k: getattr(self, k) for k in names}

    def decision_function(self, X, batch_size: int = 4096) -> np.ndarray:
        """Dense logits of shape (n, L) (for small label sets; see :meth:`predict_topk`)."""
        return np.vstack([blk for blk in self._logit_blocks(X, batch_size)])

    def _logit_blocks(self, X, batch_size):
        if not hasattr(self, "weight_"):
            raise NotFittedError("this OneVsAllStudent is not fitted yet; call fit(X, targets) first.")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features but the student was trained on {self.n_features_in_}.")
        X = sp.csr_matrix(X, dtype=np.float32) if sp.issparse(X) else np.asarray(X, dtype=np.float32)
        with torch.no_grad():
            for a in range(0, X.shape[0], batch_size):
                xb = _to_torch(X[a : a + batch_size], self.weight_.device)
                yield ((xb @ self.weight_) + self.bias_).cpu().numpy()

    def predict_topk(self, X, k: int = 5, batch_size: int = 4096) -> sp.csr_matrix:
        """Top-``k`` labels per row with their sigmoid scores, as a CSR matrix (n, L)."""
        k = check_int(k, "k", minimum=1)
        if k > getattr(self, "n_labels_", k):
            raise ValueError(f"k must be an integer in [1, n_labels={self.n_labels_}], got {k}.")
        rows, cols, vals = [], [], []
        start = 0
        for logits in self._logit_blocks(X, batch_size):
            t = torch.from_numpy(logits)
            top = torch.topk(t, int(k), dim=1)
            m = logits.shape[0]
            rows.append(np.repeat(np.arange(start, start + m), k))
            cols.append(top.indices.numpy().ravel())
            vals.append(np.maximum(torch.sigmoid(top.values).numpy().ravel(), 1e-30))
            start += m
        out = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(X.shape[0], self.n_labels_), dtype=np.float32)
        out.sort_indices()
        return out
