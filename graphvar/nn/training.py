"""Full-batch transductive training with optional validation-based early stopping."""

from __future__ import annotations

import copy
import time
import warnings
from contextlib import contextmanager
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = ["fit_transductive", "seeded", "stratified_split"]


@contextmanager
def seeded(seed: int, deterministic: bool = True):
    """Run a block with torch's global generators seeded, restoring their state afterwards.

    Also turns on ``torch.use_deterministic_algorithms(True, warn_only=True)``
    for the block (cheap on CPU) and restores the previous setting.
    """
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


def stratified_split(labeled: np.ndarray, y: np.ndarray, per_class: int, seed: int):
    """Carve ``min(per_class, n_c // 2)`` nodes of each class out of ``labeled`` for validation.

    A class with a single labeled node keeps it for training. Returns
    ``(train_idx, val_idx)`` (sorted; ``val_idx`` may be empty).
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y[labeled]):
        idx = labeled[y[labeled] == c]
        m = min(int(per_class), idx.size // 2)
        perm = rng.permutation(idx)
        val.append(perm[:m])
        train.append(perm[m:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val)).astype(np.int64)


def fit_transductive(
    model: nn.Module,
    forward: Callable[[], Tensor],
    labels: Tensor,
    train_idx: Tensor,
    val_idx: Tensor | None = None,
    *,
    epochs: int = 500,
    patience: int | None = 100,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    progress: bool = False,
    desc: str = "training",
) -> dict:
    """Train ``model`` with Adam and cross-entropy on ``train_idx``.

    Parameters
    ----------
    model : torch.nn.Module
        Parameters to optimise.
    forward : callable
        ``forward() -> logits (n, c)`` using ``model`` (full batch).
    labels : LongTensor of shape (n,)
        Class ids (only ``train_idx`` and ``val_idx`` entries are read).
    train_idx, val_idx : LongTensor
        Training nodes; validation nodes for early stopping (``None`` or empty:
        train for exactly ``epochs`` epochs and keep the last weights).
    epochs, patience, lr, weight_decay : training schedule. With validation
        nodes the weights of the best epoch (highest validation accuracy, ties
        broken by lower validation loss) are restored, and training stops after
        ``patience`` epochs without improvement (``None``: never early).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    dict
        ``epochs_run``, ``best_epoch``, ``stopped_early`` (patience ran out
        before ``epochs``; a warning says when it did not), ``seconds``,
        ``train_loss`` (last), ``val_acc`` (best, or ``None``).

    Raises
    ------
    ValueError
        When the training loss becomes NaN or infinite (divergence).
    """
    use_val = val_idx is not None and val_idx.numel() > 0
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best = (-1.0, float("inf"))
    best_state, best_epoch, bad = None, epochs - 1, 0
    start = time.perf_counter()
    loss = torch.tensor(float("nan"))
    epoch = -1
    for epoch in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        model.train()
        opt.zero_grad()
        logits = forward()
        loss = F.cross_entropy(logits[train_idx], labels[train_idx])
        if not bool(torch.isfinite(loss)):
            raise ValueError(f"{desc}: the training loss became {float(loss)} at epoch {epoch}: the model "
                             "diverged. Lower lr (or the amplification of a variance-enlarged model) and check "
                             "that the features are finite and of moderate scale.")
        loss.backward()
        opt.step()
        if not use_val:
            continue
        model.eval()
        with torch.no_grad():
            logits = forward()[val_idx]
            acc = float((logits.argmax(1) == labels[val_idx]).float().mean())
            vloss = float(F.cross_entropy(logits, labels[val_idx]))
        if acc > best[0] or (acc == best[0] and vloss < best[1]):
            best, best_epoch, bad = (acc, vloss), epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if patience is not None and bad >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    stopped_early = use_val and patience is not None and epoch + 1 < epochs
    if use_val and patience is not None and not stopped_early:
        warnings.warn(f"{desc}: training reached epochs={epochs} before early stopping (validation accuracy "
                      f"last improved at epoch {best_epoch}, patience {patience}); the best epoch's weights "
                      "are kept. Raise epochs to let it converge.", UserWarning, stacklevel=3)
    return {
        "epochs_run": epoch + 1,
        "best_epoch": int(best_epoch),
        "stopped_early": bool(stopped_early),
        "seconds": time.perf_counter() - start,
        "train_loss": float(loss.detach()),
        "val_acc": best[0] if use_val else None,
    }
