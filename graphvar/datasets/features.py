"""Feature maps for graph construction: raw pixels, PCA and a VAE embedding.

The VAE follows ``graphlearning.weightmatrix.vae`` (GraphLearning 1.7.5), the
embedding used for the FashionMNIST/MNIST tables of Calder et al. (ICML 2020),
so graphs built on it are comparable with the published numbers.
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

from ._root import data_root

__all__ = ["pca_features", "vae_features", "compute_features", "VAE", "FEATURE_KINDS"]

FEATURE_KINDS = ("raw", "pca", "vae")


def _as_2d_float(X, name: str = "X") -> np.ndarray:
    """Validate a dense 2-D finite array and return it as float32."""
    if torch.is_tensor(X):
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise TypeError(f"{name} must be array-like, got {type(X).__name__}") from exc
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 rows and 1 column, got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean them first")
    return X


def pca_features(X, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """Project onto the leading principal components (scikit-learn ``PCA``).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Dense features.
    n_components : int, default=50
        Number of components, ``1 <= n_components <= min(n, d)``.
    seed : int, default=0
        ``random_state`` of the randomized solver; the result is a
        deterministic function of ``(X, n_components, seed)``.

    Returns
    -------
    numpy.ndarray of shape (n, n_components), float32
        Centred data in the principal basis (component signs fixed by
        scikit-learn's ``svd_flip``).
    """
    from sklearn.decomposition import PCA

    X = _as_2d_float(X)
    if not isinstance(n_components, (int, np.integer)) or isinstance(n_components, bool):
        raise TypeError(f"n_components must be an int, got {type(n_components).__name__}")
    if not 1 <= n_components <= min(X.shape):
        raise ValueError(
            f"n_components must be between 1 and min(n, d) = {min(X.shape)}, got {n_components}"
        )
    pca = PCA(n_components=int(n_components), random_state=seed)
    return pca.fit_transform(X.astype(np.float64)).astype(np.float32)


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
    """Embed data with a VAE and return the encoder means (cached on disk).

    Matches ``graphlearning.weightmatrix.vae`` (1.7.5): data shifted and scaled
    to [0, 1] by its global min and max; layers ``d-400-20`` with ReLU hidden
    units and a sigmoid output; loss = summed binary cross-entropy + KL
    divergence; Adam with learning rate 1e-3, batch size 128, reshuffled every
    epoch, 100 epochs; the embedding is the posterior mean ``mu``. Differences:
    seeded (weights, shuffling and noise come from ``seed``, so reruns on the
    same device give the same features), no DataLoader worker, tqdm progress.

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
        either trains a new model.
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
    X = _as_2d_float(X)
    if len(layer_widths) != 2 or any(int(w) < 1 for w in layer_widths):
        raise ValueError(
            f"layer_widths must be two positive ints (hidden, latent), got {layer_widths}"
        )
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if cache_name is not None and (not cache_name or os.sep in cache_name):
        raise ValueError(
            f"cache_name must be a plain non-empty file-name prefix, got {cache_name!r}"
        )
    hidden, latent = int(layer_widths[0]), int(layer_widths[1])
    params = {"layer_widths": [hidden, latent], "epochs": int(epochs),
              "batch_size": int(batch_size), "lr": float(lr), "seed": int(seed)}
    path = None
    if cache:
        key = _vae_cache_key(X, params)
        path = data_root() / "features" / f"{cache_name or 'data'}_vae_{key}.npy"
        if path.is_file():
            Z = np.load(path)
            if Z.shape == (X.shape[0], latent):
                return Z.astype(np.float32, copy=False)

    # Same preprocessing as GraphLearning: shift and scale by global min/max.
    span = float(X.max() - X.min())
    Xs = (X - X.min()) / (span if span > 0 else 1.0)
    device = torch.device(device) if device is not None else torch.device("cpu")
    data = torch.from_numpy(Xs).to(device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = VAE(X.shape[1], hidden, latent).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = data.shape[0]
    history = []
    start = time.perf_counter()
    bar = tqdm(range(int(epochs)), desc="VAE", unit="epoch", disable=not progress)
    model.train()
    for _ in bar:
        order = torch.randperm(n, generator=gen, device=device)
        total = 0.0
        for i in range(0, n, int(batch_size)):
            batch = data[order[i:i + int(batch_size)]]
            eps = torch.randn(batch.shape[0], latent, generator=gen, device=device)
            optimizer.zero_grad()
            loss = model.loss(batch, eps)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        history.append(total / n)
        bar.set_postfix(loss=f"{history[-1]:.2f}")
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        Z = torch.cat([model.encode(data[i:i + 8192])[0] for i in range(0, n, 8192)])
    Z = Z.cpu().numpy().astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, Z)
        os.replace(tmp, path)
        log = {"params": params, "n_samples": n, "n_features": X.shape[1],
               "train_seconds": seconds, "loss_per_sample": history,
               "device": str(device), "torch_threads": torch.get_num_threads(),
               "loadavg": os.getloadavg(), "cpu_count": os.cpu_count(),
               "torch": torch.__version__, "numpy": np.__version__,
               "platform": platform.platform(),
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        path.with_suffix(".json").write_text(json.dumps(log, indent=1))
    return Z


def compute_features(X, kind: str = "raw", **kwargs) -> np.ndarray:
    """Dispatch to raw features, :func:`pca_features` or :func:`vae_features`.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Input features.
    kind : {"raw", "pca", "vae"}
        Which map; ``kwargs`` go to the chosen function.

    Returns
    -------
    numpy.ndarray, float32
    """
    if kind == "raw":
        if kwargs:
            raise TypeError(f"raw features take no options, got {sorted(kwargs)}")
        return _as_2d_float(X)
    if kind == "pca":
        return pca_features(X, **kwargs)
    if kind == "vae":
        return vae_features(X, **kwargs)
    raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}")
