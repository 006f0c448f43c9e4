"""The VAE embedding of GraphLearning (``graphlearning.weightmatrix.vae``), cached and checkpointed.

Training writes ``<data root>/features/<name>_vae_<key>.ckpt.pt`` after every
epoch (model, optimiser and random-generator state) and removes it when the
embedding is saved; a call with the same data and parameters after an
interruption resumes from the last finished epoch and gives the same
features as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..provenance import cpu_model
from ..validation import check_bool, check_device, check_float, check_int
from .basic import as_2d_float

__all__ = ["VAE", "vae_features"]


class VAE(nn.Module):
    """Two-layer variational autoencoder ``d - h - z - h - d`` (Kingma & Welling).

    Same modules and names as GraphLearning's VAE: ``fc1`` (d→h, ReLU),
    ``fc21``/``fc22`` (h→z, mean and log-variance), ``fc3`` (z→h, ReLU),
    ``fc4`` (h→d, sigmoid).
    """

    def __init__(self, n_features: int, hidden: int = 400, latent: int = 20):
        super().__init__()
        self.fc1 = nn.Linear(n_features, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, n_features)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior mean and log-variance of ``x``."""
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Return Bernoulli means of the reconstruction of ``z``."""
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def loss(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Summed BCE reconstruction + KL(q(z|x) || N(0, I)) with noise ``eps``."""
        mu, logvar = self.encode(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        bce = F.binary_cross_entropy(self.decode(z), x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld


def _vae_cache_key(X: np.ndarray, params: dict) -> str:
    """Hash of the data bytes and every training parameter (16 hex digits)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(params, sort_keys=True).encode())
    digest.update(str(X.shape).encode())
    digest.update(X.tobytes())
    return digest.hexdigest()[:16]


def _check_params(layer_widths, epochs, batch_size, lr, seed, cache_name, progress) -> dict:
    if not isinstance(layer_widths, (tuple, list)) or len(layer_widths) != 2:
        raise ValueError(f"layer_widths must be two positive ints (hidden, latent), got {layer_widths!r}")
    hidden, latent = (check_int(w, "layer_widths", minimum=1) for w in layer_widths)
    if cache_name is not None and (not isinstance(cache_name, str) or not cache_name or os.sep in cache_name):
        raise ValueError(f"cache_name must be a plain non-empty file-name prefix, got {cache_name!r}")
    check_bool(progress, "progress")
    return {"layer_widths": [hidden, latent], "epochs": check_int(epochs, "epochs", minimum=1),
            "batch_size": check_int(batch_size, "batch_size", minimum=1),
            "lr": check_float(lr, "lr", minimum=0.0, strict_minimum=True),
            "seed": check_int(seed, "seed", minimum=0)}


class _Training:
    """Model, optimiser and generator of one VAE training, with checkpoint save/load."""

    def __init__(self, n_features: int, params: dict, device: torch.device):
        hidden, latent = params["layer_widths"]
        self.gen = torch.Generator(device=device).manual_seed(params["seed"])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(params["seed"])
            self.model = VAE(n_features, hidden, latent).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=params["lr"])
        self.history: list[float] = []
        self.seconds = 0.0

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.gen.get_state(), "history": self.history, "seconds": self.seconds}

    def save(self, path: Path) -> None:
        """Write the checkpoint atomically (a crash mid-write leaves the previous one)."""
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)

    def load(self, path: Path) -> int:
        """Resume from ``path``; return the number of finished epochs (0 if unreadable)."""
        try:
            state = torch.load(path, map_location=self.gen.device, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.gen.set_state(state["generator"].cpu() if self.gen.device.type == "cpu" else state["generator"])
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint means: start again
            import warnings

            warnings.warn(f"ignoring the unreadable VAE checkpoint {path} ({exc}); training from scratch.",
                          UserWarning, stacklevel=3)
            return 0
        self.history, self.seconds = list(state["history"]), float(state["seconds"])
        return len(self.history)

    def epoch(self, data: torch.Tensor, batch_size: int) -> float:
        """One pass over shuffled mini-batches; return the mean loss per sample."""
        n, latent = data.shape[0], self.model.fc21.out_features
        order = torch.randperm(n, generator=self.gen, device=data.device)
        total = 0.0
        self.model.train()
        for i in range(0, n, batch_size):
            batch = data[order[i:i + batch_size]]
            eps = torch.randn(batch.shape[0], latent, generator=self.gen, device=data.device)
            self.optimizer.zero_grad()
            loss = self.model.loss(batch, eps)
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
        if not np.isfinite(total):
            raise ValueError(f"the VAE's training loss became {total} (epoch {len(self.history) + 1}): it "
                             "diverged; lower lr.")
        return total / n

    def encode(self, data: torch.Tensor) -> np.ndarray:
        self.model.eval()
        with torch.no_grad():
            Z = torch.cat([self.model.encode(data[i:i + 8192])[0] for i in range(0, data.shape[0], 8192)])
        return Z.cpu().numpy().astype(np.float32)


def _train(X: np.ndarray, params: dict, device: torch.device, checkpoint: Path | None, progress: bool):
    """Train (resuming from ``checkpoint`` when it exists); return ``(Z, log)``."""
    span = float(X.max() - X.min())  # GraphLearning's preprocessing: shift and scale by global min/max
    data = torch.from_numpy((X - X.min()) / (span if span > 0 else 1.0)).to(device)
    run = _Training(X.shape[1], params, device)
    start = run.load(checkpoint) if checkpoint is not None and checkpoint.is_file() else 0
    bar = tqdm(range(start, params["epochs"]), desc="VAE", unit="epoch", disable=not progress,
               initial=start, total=params["epochs"])
    for _ in bar:
        t0 = time.perf_counter()
        run.history.append(run.epoch(data, params["batch_size"]))
        run.seconds += time.perf_counter() - t0
        bar.set_postfix(loss=f"{run.history[-1]:.2f}")
        if checkpoint is not None:
            run.save(checkpoint)
    log = {"params": params, "n_samples": X.shape[0], "n_features": X.shape[1], "train_seconds": run.seconds,
           "resumed_from_epoch": start, "loss_per_sample": run.history, "device": str(device),
           "torch_threads": torch.get_num_threads(), "loadavg": os.getloadavg(), "cpu_count": os.cpu_count(),
           "cpu_model": cpu_model(), "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform(),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return run.encode(data), log


def vae_features(
    X,
    layer_widths: tuple[int, int] = (400, 20),
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    cache: bool = True,
    cache_name: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Embed data with a VAE and return the encoder means (cached on disk, checkpointed every epoch).

    Matches ``graphlearning.weightmatrix.vae`` (1.7.5): data shifted and scaled
    to [0, 1] by its global min and max; layers ``d-400-20`` with ReLU hidden
    units and a sigmoid output; loss = summed binary cross-entropy + KL
    divergence; Adam with learning rate 1e-3, batch size 128, reshuffled every
    epoch, 100 epochs; the embedding is the posterior mean ``mu``. Differences:
    seeded (weights, shuffling and noise come from ``seed``, so reruns on the
    same machine — CPU model, thread count, torch version — give the same
    features; on another CPU model 100 epochs of float rounding can give other
    features, hence another graph: of three FashionMNIST trainings on this
    project's 2-core machines, two gave identical features and one did not),
    no DataLoader worker, tqdm progress,
    a checkpoint every epoch.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Data such as pixel intensities; rescaled to [0, 1] by its global
        minimum and maximum (as GraphLearning does) so the BCE loss applies.
    layer_widths : (int, int), default=(400, 20)
        Hidden width and latent dimension.
    epochs, batch_size : int
        Training length and minibatch size.
    lr : float, default=1e-3
        Adam learning rate.
    seed : int, default=0
        Seed of the initialisation, the shuffling and the reparameterisation noise.
    cache : bool, default=True
        Load ``<data root>/features/<cache_name>_vae_<key>.npy`` when present,
        else train and save it there (with a ``.json`` of the training log).
        ``<key>`` hashes the data and every parameter above, so a change of
        either trains a new model. While training, ``<...>.ckpt.pt`` holds the
        last finished epoch; an interrupted call resumes from it (the log's
        ``resumed_from_epoch`` says so) and the features equal those of an
        uninterrupted run on the same device.
    cache_name : str, optional
        Prefix of the cache file (e.g. ``"fashion_mnist"``); default ``"data"``.
    device : str or torch.device, optional
        Where to train (default CPU). The cache key does not include the
        device, so a cache written on one device is reused on another;
        trainings on different devices are not bit-identical.
    progress : bool, default=True
        Show a tqdm bar over epochs with the running loss.

    Returns
    -------
    numpy.ndarray of shape (n, layer_widths[1]), float32
        Encoder means.
    """
    X = as_2d_float(X)
    params = _check_params(layer_widths, epochs, batch_size, lr, seed, cache_name, progress)
    device = check_device(device)
    check_bool(cache, "cache")
    path = None
    if cache:
        from ..datasets import data_root  # not at import: graphvar.datasets re-exports this module

        key = _vae_cache_key(X, params)
        path = data_root() / "features" / f"{cache_name or 'data'}_vae_{key}.npy"
        if path.is_file():
            Z = np.load(path)
            if Z.shape == (X.shape[0], params["layer_widths"][1]):
                return Z.astype(np.float32, copy=False)
        path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = None if path is None else path.with_name(path.stem + ".ckpt.pt")
    Z, log = _train(X, params, device, checkpoint, progress)
    if path is not None:
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, Z)
        os.replace(tmp, path)
        path.with_suffix(".json").write_text(json.dumps(log, indent=1))
        checkpoint.unlink(missing_ok=True)
    return Z
