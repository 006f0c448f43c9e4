"""Feature maps: PCA against a numpy SVD reference; the VAE's loss, determinism and cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from graphvar.features import VAE, compute_features, pca_features, vae_features


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0.2, 0.8, size=(3, 64))
    labels = rng.integers(0, 3, size=200)
    X = np.clip(centres[labels] + 0.05 * rng.standard_normal((200, 64)), 0, 1)
    return X.astype(np.float32), labels


@pytest.fixture
def tmp_root(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHVAR_DATA", str(tmp_path))
    return tmp_path


# --------------------------------------------------------------------- PCA


def test_pca_matches_svd_and_is_deterministic(blobs):
    X, _ = blobs
    Z = pca_features(X, n_components=5, seed=0)
    assert Z.shape == (200, 5) and Z.dtype == np.float32
    Xc = X.astype(np.float64) - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    ref = Xc @ Vt[:5].T
    # Same subspace and scores up to the sign of each component.
    signs = np.sign(np.sum(Z * ref, axis=0))
    np.testing.assert_allclose(Z * signs, ref, atol=1e-4)
    np.testing.assert_array_equal(pca_features(X, n_components=5, seed=0), Z)
    np.testing.assert_allclose(np.var(Z, axis=0, ddof=1), S[:5] ** 2 / 199, rtol=1e-4)


def test_pca_validation(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="between 1 and min"):
        pca_features(X, n_components=65)
    with pytest.raises(TypeError, match="n_components must be an int"):
        pca_features(X, n_components=2.5)
    with pytest.raises(ValueError, match="must be 2-D"):
        pca_features(X[0])
    with pytest.raises(ValueError, match="NaN"):
        pca_features(np.full((5, 3), np.nan))
    with pytest.raises(TypeError, match="must hold numbers"):
        pca_features(np.array([["a", "b"], ["c", "d"]]))


# --------------------------------------------------------------------- VAE


def test_vae_architecture_matches_graphlearning():
    model = VAE(784)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "fc1.weight": (400, 784), "fc1.bias": (400,),
        "fc21.weight": (20, 400), "fc21.bias": (20,),
        "fc22.weight": (20, 400), "fc22.bias": (20,),
        "fc3.weight": (400, 20), "fc3.bias": (400,),
        "fc4.weight": (784, 400), "fc4.bias": (784,),
    }


def test_vae_loss_matches_hand_computation():
    torch.manual_seed(0)
    model = VAE(6, hidden=5, latent=2).double()
    x = torch.rand(4, 6, dtype=torch.float64)
    eps = torch.randn(4, 2, dtype=torch.float64)
    # Independent numpy forward pass: ReLU encoder, reparameterisation, sigmoid decoder.
    p = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    xn, en = x.numpy(), eps.numpy()
    h = np.maximum(xn @ p["fc1.weight"].T + p["fc1.bias"], 0)
    mu = h @ p["fc21.weight"].T + p["fc21.bias"]
    logvar = h @ p["fc22.weight"].T + p["fc22.bias"]
    z = mu + en * np.exp(0.5 * logvar)
    h3 = np.maximum(z @ p["fc3.weight"].T + p["fc3.bias"], 0)
    r = 1 / (1 + np.exp(-(h3 @ p["fc4.weight"].T + p["fc4.bias"])))
    bce = -np.sum(xn * np.log(r) + (1 - xn) * np.log(1 - r))
    kld = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
    assert model.loss(x, eps).item() == pytest.approx(bce + kld, rel=1e-10)


def test_vae_shape_determinism_and_cache(blobs, tmp_root, monkeypatch):
    X, _ = blobs
    Z = vae_features(X, epochs=2, batch_size=32, cache_name="toy", progress=False)
    assert Z.shape == (200, 20) and Z.dtype == np.float32 and np.isfinite(Z).all()
    files = sorted(p.name for p in (tmp_root / "features").iterdir())
    assert len(files) == 2 and files[0].startswith("toy_vae_") and files[0].endswith(".json")
    log = json.loads((tmp_root / "features" / files[0]).read_text())
    assert log["params"]["epochs"] == 2 and len(log["loss_per_sample"]) == 2
    assert log["loss_per_sample"][1] < log["loss_per_sample"][0]
    # the machine is part of what reproduces the features: its CPU model is logged (None off Linux)
    assert "cpu_model" in log and (log["cpu_model"] is None or log["cpu_model"].strip())

    # Second call reads the cache: training would raise.
    def no_training(*args, **kwargs):
        raise AssertionError("retrained instead of loading the cache")

    with monkeypatch.context() as patch:
        patch.setattr(VAE, "loss", no_training)
        np.testing.assert_array_equal(
            vae_features(X, epochs=2, batch_size=32, cache_name="toy", progress=False), Z)
        with pytest.raises(AssertionError, match="retrained"):  # new seed -> new key -> trains
            vae_features(X, epochs=2, batch_size=32, seed=1, cache_name="toy", progress=False)
        with pytest.raises(AssertionError, match="retrained"):  # new data -> new key
            vae_features(X[:100], epochs=2, batch_size=32, cache_name="toy", progress=False)

    # Same seed without the cache: identical features (seeded init, shuffling, noise).
    np.testing.assert_array_equal(
        vae_features(X, epochs=2, batch_size=32, cache=False, progress=False), Z)
    other = vae_features(X, epochs=2, batch_size=32, seed=1, cache=False, progress=False)
    assert not np.allclose(other, Z)
    assert len(list((tmp_root / "features").iterdir())) == 2  # cache=False writes nothing


def test_vae_rescales_like_graphlearning(blobs, tmp_root):
    X, _ = blobs
    # GraphLearning shifts by min and divides by max: an affine change of X is invisible.
    a = vae_features(X, layer_widths=(16, 3), epochs=1, cache=False, progress=False)
    b = vae_features(3 * X + 5, layer_widths=(16, 3), epochs=1, cache=False, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert a.shape == (200, 3)


def test_vae_validation(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="layer_widths"):
        vae_features(X, layer_widths=(400,), cache=False)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        vae_features(X, epochs=0, cache=False)
    with pytest.raises(ValueError, match="lr must be > 0"):
        vae_features(X, lr=0, cache=False)
    with pytest.raises(ValueError, match="cache_name"):
        vae_features(X, cache_name="a/b")


@pytest.mark.cuda
def test_vae_on_cuda(blobs):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, _ = blobs
    Z = vae_features(X, epochs=2, cache=False, device="cuda", progress=False)
    assert Z.shape == (200, 20) and isinstance(Z, np.ndarray)


def test_compute_features_dispatch(blobs, tmp_root):
    X, _ = blobs
    np.testing.assert_array_equal(compute_features(X, "raw"), X)
    np.testing.assert_array_equal(compute_features(X, "pca", n_components=4),
                                  pca_features(X, n_components=4))
    assert compute_features(X, "vae", epochs=1, layer_widths=(8, 2), cache=False,
                            progress=False).shape == (200, 2)
    with pytest.raises(ValueError, match="kind must be one of"):
        compute_features(X, "umap")
    with pytest.raises(TypeError, match="raw features take no options"):
        compute_features(X, "raw", n_components=3)


def test_vae_checkpoints_every_epoch_and_resumes(blobs, tmp_root, monkeypatch):
    import graphvar.features.vae as vae_module

    X, _ = blobs
    kw = dict(layer_widths=(16, 3), epochs=4, batch_size=32, cache_name="ck", progress=False)
    uninterrupted = vae_features(X, cache=False, **{k: v for k, v in kw.items() if k != "cache_name"})
    saves = []
    original = vae_module._Training.save

    def save_then_stop(self, path):
        original(self, path)
        saves.append(len(self.history))
        if len(saves) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C after epoch 2

    with monkeypatch.context() as patch:
        patch.setattr(vae_module._Training, "save", save_then_stop)
        with pytest.raises(KeyboardInterrupt):
            vae_features(X, **kw)
    folder = tmp_root / "features"
    ckpt = [p for p in folder.iterdir() if p.name.endswith(".ckpt.pt")]
    assert saves == [1, 2] and len(ckpt) == 1 and not list(folder.glob("*.npy"))
    resumed = vae_features(X, **kw)  # picks up at epoch 3
    np.testing.assert_array_equal(resumed, uninterrupted)
    log = json.loads(next(folder.glob("ck_vae_*.json")).read_text())
    assert log["resumed_from_epoch"] == 2 and len(log["loss_per_sample"]) == 4
    assert not ckpt[0].exists()  # removed once the embedding is saved
    ckpt[0].write_bytes(b"garbage")  # a damaged checkpoint: warn and train from scratch
    (next(folder.glob("ck_vae_*.npy"))).unlink()
    with pytest.warns(UserWarning, match="unreadable VAE checkpoint"):
        np.testing.assert_array_equal(vae_features(X, **kw), uninterrupted)


def test_vae_rejects_bad_device_and_huge_values(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="device='tpu'"):
        vae_features(X, epochs=1, cache=False, device="tpu")
    with pytest.raises(ValueError, match="beyond float32"):
        vae_features(X.astype(np.float64) * 1e300, epochs=1, cache=False)
