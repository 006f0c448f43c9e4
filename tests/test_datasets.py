"""Dataset loaders: data root, checksums, IDX parsing, Planetoid, Fashion-MNIST, digits.

References are independent of the loaders: hand-written IDX bytes, published
SHA-256 test vectors, PyG's ``Planetoid`` reading the same raw files, sklearn.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from graphvar.datasets import (
    SHA256,
    ChecksumError,
    DatasetNotFoundError,
    data_root,
    load_digits,
    load_fashion_mnist,
    load_planetoid,
    read_idx,
    sha256sum,
    shared_data_root,
)
from graphvar.datasets import fashion_mnist as fm_module
from graphvar.datasets._root import IDX_CONTENT_SHA256, download_file

README = Path(__file__).resolve().parents[1] / "data" / "README.md"
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")
PLANETOID_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """Empty data root, no shared folder, no network, no Debian folder."""
    root = tmp_path / "root"
    monkeypatch.setenv("GRAPHVAR_DATA", str(root))
    monkeypatch.delenv("GRAPHVAR_SHARED_DATA", raising=False)
    monkeypatch.setattr(fm_module, "DEBIAN_DIR", tmp_path / "no-debian")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return root


def _planetoid_dir(shared_data: Path) -> Path:
    folder = shared_data / "planetoid"
    if not (folder / "ind.cora.x").is_file():
        pytest.skip("shared Planetoid files not found")
    return folder


# --------------------------------------------------------------------- root, checksums


def test_data_root_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHVAR_DATA", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("GRAPHVAR_DATA")
    monkeypatch.chdir(tmp_path)
    assert data_root() == tmp_path / "data"
    monkeypatch.setenv("GRAPHVAR_SHARED_DATA", str(tmp_path / "shared"))
    assert shared_data_root() == tmp_path / "shared"
    monkeypatch.delenv("GRAPHVAR_SHARED_DATA")
    assert shared_data_root() is None


def test_sha256sum_known_vectors(tmp_path):
    # FIPS 180-2 test vectors.
    (tmp_path / "abc").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")
    assert sha256sum(tmp_path / "abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert sha256sum(tmp_path / "empty", chunk_size=7) == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_readme_table_matches_code():
    text = README.read_text()
    for name, digest in SHA256.items():
        row = re.search(rf"^\| {re.escape(name)} \|.*$", text, flags=re.M)
        assert row is not None, f"{name} missing from data/README.md"
        assert digest in row.group(0)
    for stem, digest in IDX_CONTENT_SHA256.items():
        assert re.search(rf"^\| {re.escape(stem)}\.gz \|.*{digest}", text, flags=re.M)


def test_download_file_atomic_and_offline_error(monkeypatch, tmp_path):
    payload = b"hello planetoid"
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    out = download_file("https://example.invalid/f", tmp_path / "sub" / "f")
    assert out.read_bytes() == payload

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotFoundError, match=r"g is not on disk.*https://example.invalid/g"):
        download_file("https://example.invalid/g", tmp_path / "sub" / "g")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["f"]  # no partial file left
    with pytest.raises(DatasetNotFoundError):
        download_file("https://example.invalid/h", tmp_path / "new" / "deeper" / "h")
    assert not (tmp_path / "new").exists()  # folders made for a failed download are removed


# --------------------------------------------------------------------- IDX parsing


def _idx_bytes(type_code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    header = bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape)
    return header + payload


def test_read_idx_images_and_labels(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "img").write_bytes(_idx_bytes(0x08, (2, 3, 4), images.tobytes()))
    with gzip.open(tmp_path / "img.gz", "wb") as handle:
        handle.write(_idx_bytes(0x08, (2, 3, 4), images.tobytes()))
    (tmp_path / "lab").write_bytes(_idx_bytes(0x08, (5,), bytes([3, 1, 4, 1, 5])))
    np.testing.assert_array_equal(read_idx(tmp_path / "img", expected_magic=0x803), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "lab", expected_magic=0x801), [3, 1, 4, 1, 5])


def test_read_idx_big_endian_int32(tmp_path):
    (tmp_path / "ints").write_bytes(_idx_bytes(0x0C, (3,), struct.pack(">iii", -2, 70000, 1)))
    out = read_idx(tmp_path / "ints")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [-2, 70000, 1])


def test_read_idx_rejects_bad_files(tmp_path):
    good = _idx_bytes(0x08, (2, 2, 2), bytes(range(8)))
    (tmp_path / "labels").write_bytes(_idx_bytes(0x08, (8,), bytes(8)))
    with pytest.raises(ValueError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "labels", expected_magic=0x803)
    (tmp_path / "notidx").write_bytes(b"\x1f\x8b\x08\x00" + bytes(20))
    with pytest.raises(ValueError, match="not a valid IDX header"):
        read_idx(tmp_path / "notidx")
    (tmp_path / "trunc").write_bytes(good[:-3])
    with pytest.raises(ValueError, match=r"holds 5 data bytes.*\(2, 2, 2\).*truncated"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "padded").write_bytes(good + b"\x00")
    with pytest.raises(ValueError, match="holds 9 data bytes"):
        read_idx(tmp_path / "padded")
    (tmp_path / "hdr").write_bytes(good[:9])
    with pytest.raises(ValueError, match="truncated inside its IDX header"):
        read_idx(tmp_path / "hdr")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        read_idx(tmp_path / "tiny")
    blob = gzip.compress(good)
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="not a complete gzip file"):
        read_idx(tmp_path / "cut.gz")


# --------------------------------------------------------------------- Fashion-MNIST


def _require_debian():
    if not all((DEBIAN_FMNIST / n).is_file() for n in SHA256 if n.endswith(".gz")):
        pytest.skip("Debian package dataset-fashion-mnist not installed")


def test_fashion_mnist_debian_test_split():
    _require_debian()
    X, y = load_fashion_mnist(split="test")
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert y.shape == (10000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))
    # Independent read: gzip + fixed header offsets (16 bytes images, 8 labels).
    with gzip.open(DEBIAN_FMNIST / "t10k-labels-idx1-ubyte.gz") as handle:
        ref_y = np.frombuffer(handle.read()[8:], dtype=np.uint8)
    with gzip.open(DEBIAN_FMNIST / "t10k-images-idx3-ubyte.gz") as handle:
        ref_x = np.frombuffer(handle.read()[16:], dtype=np.uint8).reshape(10000, 784)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(X, ref_x / np.float32(255))


@pytest.mark.slow
def test_fashion_mnist_debian_all():
    _require_debian()
    X, y = load_fashion_mnist()
    assert X.shape == (70000, 784) and y.shape == (70000,)
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 7000))
    X_test, y_test = load_fashion_mnist(split="test")
    np.testing.assert_array_equal(X[60000:], X_test)
    np.testing.assert_array_equal(y[60000:], y_test)


def test_fashion_mnist_gunzipped_copy_and_corrupt(tmp_path):
    _require_debian()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(DEBIAN_FMNIST / name) as src:
            (tmp_path / name[:-3]).write_bytes(src.read())
    X, y = load_fashion_mnist(root=tmp_path, split="test", download=False)
    assert X.shape == (10000, 784)
    # Re-compressed gz (different gzip header than the Debian file, same content): accepted.
    content = (tmp_path / "t10k-labels-idx1-ubyte").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(content, mtime=12345))
    assert sha256sum(tmp_path / "t10k-labels-idx1-ubyte.gz") != SHA256["t10k-labels-idx1-ubyte.gz"]
    _, y2 = load_fashion_mnist(root=tmp_path, split="test", download=False)
    np.testing.assert_array_equal(y2, y)
    # One flipped pixel: content digest differs.
    raw = bytearray((tmp_path / "t10k-images-idx3-ubyte").read_bytes())
    raw[5000] ^= 0xFF
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match=r"t10k-images-idx3-ubyte has decompressed-content "
                                            r"SHA-256 [0-9a-f]{64}, expected 5b4141f0"):
        load_fashion_mnist(root=tmp_path, split="test", download=False)
    X_bad, _ = load_fashion_mnist(root=tmp_path, split="test", download=False, verify=False)
    assert np.count_nonzero(X_bad != X) == 1


def test_fashion_mnist_truncated_gz_is_checksum_error(tmp_path):
    _require_debian()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DEBIAN_FMNIST / name, tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ChecksumError, match=r"t10k-labels-idx1-ubyte.gz has an incomplete gzip "
                                            r"stream and SHA-256 [0-9a-f]{64}, expected 8d3605d1"
                                            r".*Delete it and re-download"):
        load_fashion_mnist(root=tmp_path, split="test")
    with pytest.raises(ValueError, match="not a complete gzip file"):
        load_fashion_mnist(root=tmp_path, split="test", verify=False)


def test_fashion_mnist_offline_error(isolated_env):
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist(split="test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert "raw.githubusercontent.com/zalandoresearch/fashion-mnist" in message
    assert "dataset-fashion-mnist" in message and str(isolated_env / "fashion-mnist") in message
    with pytest.raises(DatasetNotFoundError, match="not found .*dataset-fashion-mnist"):
        load_fashion_mnist(split="test", download=False)


def test_fashion_mnist_bad_split():
    with pytest.raises(ValueError, match="split must be"):
        load_fashion_mnist(split="validation")


# --------------------------------------------------------------------- Planetoid


@pytest.mark.parametrize(
    "name, n, d, c, edges, n_train",
    [("cora", 2708, 1433, 7, 10556, 140), ("citeseer", 3327, 3703, 6, 9104, 120)],
)
def test_planetoid_shapes_and_split(shared_data, name, n, d, c, edges, n_train):
    ds = load_planetoid(name, root=_planetoid_dir(shared_data))
    assert ds.x.shape == (n, d) and ds.x.dtype == np.float32
    assert ds.y.shape == (n,) and ds.y.dtype == np.int64
    assert ds.num_classes == c and set(np.unique(ds.y)) == set(range(c))
    assert ds.edge_index.shape == (2, edges) and ds.edge_index.dtype == np.int64
    src, dst = ds.edge_index
    assert not np.any(src == dst)
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert len(pairs) == edges and all((j, i) in pairs for i, j in pairs)
    assert (ds.train_mask.sum(), ds.val_mask.sum(), ds.test_mask.sum()) == (n_train, 500, 1000)
    np.testing.assert_array_equal(np.bincount(ds.y[ds.train_mask], minlength=c), np.full(c, 20))
    assert not np.any(ds.train_mask & ds.val_mask) and not np.any(ds.val_mask & ds.test_mask)
    A = ds.adjacency()
    assert A.shape == (n, n) and A.nnz == edges and (A != A.T).nnz == 0


@pytest.mark.slow
@pytest.mark.parametrize("name, pyg_name", [("cora", "Cora"), ("citeseer", "CiteSeer")])
def test_planetoid_equals_pyg(shared_data, tmp_path, name, pyg_name):
    pytest.importorskip("torch_geometric")
    from torch_geometric.datasets import Planetoid

    raw = _planetoid_dir(shared_data)
    (tmp_path / pyg_name).mkdir()
    (tmp_path / pyg_name / "raw").symlink_to(raw.resolve(), target_is_directory=True)
    ref = Planetoid(str(tmp_path), pyg_name)[0]
    ds = load_planetoid(name, raw_dir=raw)
    np.testing.assert_array_equal(ds.x, ref.x.numpy())
    np.testing.assert_array_equal(ds.y, ref.y.numpy())
    ref_edges = ref.edge_index.numpy()
    order = np.lexsort((ref_edges[1], ref_edges[0]))
    np.testing.assert_array_equal(ds.edge_index, ref_edges[:, order])
    for mask in ("train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(getattr(ds, mask), getattr(ref, mask).numpy())
    data = ds.to_pyg()
    assert data.num_nodes == ref.num_nodes and data.is_undirected()


def test_planetoid_search_order(shared_data, monkeypatch, tmp_path):
    raw = _planetoid_dir(shared_data)
    monkeypatch.setenv("GRAPHVAR_DATA", str(tmp_path / "root"))
    monkeypatch.setenv("GRAPHVAR_SHARED_DATA", str(raw.parent))
    assert load_planetoid("Cora").raw_dir == raw  # shared folder, case-insensitive name
    local = tmp_path / "root" / "planetoid"
    local.mkdir(parents=True)
    for part in PLANETOID_PARTS:
        shutil.copy(raw / f"ind.cora.{part}", local)
    assert load_planetoid("cora").raw_dir == local  # data root wins over the shared folder


def test_planetoid_corrupt_file(shared_data, tmp_path):
    raw = _planetoid_dir(shared_data)
    for part in PLANETOID_PARTS:
        shutil.copy(raw / f"ind.cora.{part}", tmp_path)
    bad = tmp_path / "ind.cora.allx"
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(ChecksumError) as info:
        load_planetoid("cora", root=tmp_path)
    message = str(info.value)
    assert str(bad) in message and SHA256["ind.cora.allx"] in message
    assert "size 1000 bytes" in message and "re-download" in message
    assert "kimiyoung/planetoid" in message and "verify=False" in message
    with pytest.raises(ValueError, match="could not be unpickled"):
        load_planetoid("cora", root=tmp_path, verify=False)


def test_planetoid_offline_error(isolated_env):
    with pytest.raises(DatasetNotFoundError) as info:
        load_planetoid("citeseer")
    message = str(info.value)
    assert "ind.citeseer.x" in message
    assert "https://github.com/kimiyoung/planetoid/raw/master/data/" in message
    assert str(isolated_env / "planetoid") in message and "GRAPHVAR_SHARED_DATA" in message
    with pytest.raises(DatasetNotFoundError, match="ind.citeseer.x not found"):
        load_planetoid("citeseer", download=False)
    assert not isolated_env.exists()  # a failed download leaves no empty data root behind


def test_planetoid_download_into_data_root(shared_data, isolated_env, monkeypatch):
    raw = _planetoid_dir(shared_data)
    fetched = []

    def fake_urlopen(url, timeout):
        fetched.append(url)
        return io.BytesIO((raw / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    ds = load_planetoid("cora")
    assert ds.raw_dir == isolated_env / "planetoid" and len(fetched) == 8
    assert all(u.startswith("https://github.com/kimiyoung/planetoid/raw/master/data/ind.cora.")
               for u in fetched)
    assert ds.num_edges == 10556


def test_planetoid_missing_in_explicit_root(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"lacks the Planetoid file\(s\) ind.cora.x"):
        load_planetoid("cora", root=tmp_path)


def test_planetoid_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_planetoid("pubmed")
    with pytest.raises(TypeError, match="not both"):
        load_planetoid("cora", root=tmp_path, raw_dir=tmp_path)


def test_planetoid_to_graph(shared_data):
    graph_module = pytest.importorskip("graphvar.graph")
    if not hasattr(graph_module, "Graph"):
        pytest.skip("graphvar.graph.Graph not available yet")
    ds = load_planetoid("cora", root=_planetoid_dir(shared_data))
    graph = ds.to_graph()
    A = graph.to_scipy()
    assert A.shape == (2708, 2708) and A.nnz == 10556
    assert (A != ds.adjacency()).nnz == 0
    np.testing.assert_allclose(graph.degrees.numpy(), np.bincount(ds.edge_index[0], minlength=2708))


# --------------------------------------------------------------------- digits


def test_load_digits_matches_sklearn():
    from sklearn.datasets import load_digits as sk_load_digits

    X, y = load_digits()
    ref = sk_load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_allclose(X * 16, ref.data, atol=1e-5)
    np.testing.assert_array_equal(y, ref.target)
