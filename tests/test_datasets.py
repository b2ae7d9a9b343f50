"""Tests of the dataset loaders: CIFAR-10 from disk in its official format, and synthetic."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tarfile
import types

import fakedata
import numpy as np
import pytest

import keras_profiler.datasets as datasets
from keras_profiler.datasets import DatasetUnavailable, cifar10, synthetic
from keras_profiler.datasets import _cifar10_writer as cifar10_writer


def _planes_dataset(n: int) -> np.ndarray:
    """Images whose every pixel value encodes (image, row, column, channel)."""
    i, r, c, ch = np.indices((n, 32, 32, 3))
    return ((i * 7 + r * 3 + c * 5 + ch * 80) % 256).astype(np.uint8)


def _splits(n_train: int = 12, n_test: int = 5):
    x = _planes_dataset(n_train + n_test)
    y = (np.arange(n_train + n_test) * 3 % 10).astype(np.int32)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _load(data_dir, **kwargs):
    kwargs.setdefault("allow_download", False)
    return datasets.load("cifar10", data_dir, seed=0, **kwargs)


def _assert_same(dataset, x_train, y_train, x_test, y_test):
    for got, want in zip(
        (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
        (x_train, y_train, x_test, y_test),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.shape[1:] == (32, 32, 3)
    assert dataset.y_train.dtype == np.int32


def _assert_one_line_mentioning(exc_info, *words):
    message = str(exc_info.value)
    assert "\n" not in message
    for word in words:
        assert str(word) in message


# --- round trip and format ---------------------------------------------------


def test_folder_round_trip_keeps_pixels_and_channel_order(tmp_path):
    splits = _splits()
    cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *splits)
    dataset = _load(tmp_path)
    _assert_same(dataset, *splits)
    x = dataset.x_train
    assert x[2, 5, 9, 0] == (2 * 7 + 5 * 3 + 9 * 5) % 256  # red
    assert x[2, 5, 9, 1] == (2 * 7 + 5 * 3 + 9 * 5 + 80) % 256  # green
    assert x[2, 5, 9, 2] == (2 * 7 + 5 * 3 + 9 * 5 + 160) % 256  # blue
    assert dataset.name == "cifar10" and dataset.num_classes == 10
    assert not dataset.synthetic
    assert dataset.source == str(tmp_path / cifar10.FOLDER)


def test_written_batches_have_the_official_layout(tmp_path):
    """Checked without the reader, so a mistake in both could not cancel out."""
    x_train, y_train, x_test, y_test = _splits(n_train=10)
    folder = cifar10_writer.write_batches(
        tmp_path / "out", x_train, y_train, x_test, y_test, batches=2
    )
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["batches.meta", "data_batch_1", "data_batch_2", "test_batch"]
    with open(folder / "data_batch_2", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"data", b"labels", b"batch_label", b"filenames"}
    assert batch[b"batch_label"] == b"training batch 2 of 2"
    assert batch[b"labels"] == [int(v) for v in y_train[5:]]
    data = batch[b"data"]
    assert data.dtype == np.uint8 and data.shape == (5, 3072)
    # Row k: 1024 red values, then 1024 green, then 1024 blue, each plane row-major.
    image = x_train[5 + 1]
    for channel in range(3):
        plane = data[1, channel * 1024 : (channel + 1) * 1024]
        np.testing.assert_array_equal(plane, image[:, :, channel].ravel())
    assert len(batch[b"filenames"]) == 5 and all(isinstance(n, bytes) for n in batch[b"filenames"])
    with open(folder / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    assert meta[b"label_names"][:3] == [b"airplane", b"automobile", b"bird"]


def test_written_pickles_are_python2_strings_like_the_originals(tmp_path):
    """Readers that decode with encoding='latin1' get str keys, as with the real files."""
    folder = cifar10_writer.write_batches(tmp_path / "out", *_splits())
    with open(folder / "test_batch", "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    assert set(batch) == {"data", "labels", "batch_label", "filenames"}
    assert batch["data"].dtype == np.uint8


def test_archive_round_trip_through_internal_reader(tmp_path):
    splits = _splits()
    archive = cifar10_writer.write_archive(tmp_path / cifar10.ARCHIVE, *splits)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "cifar-10-batches-py"
    assert "cifar-10-batches-py/data_batch_1" in names
    assert "cifar-10-batches-py/data_batch_5" in names
    assert "cifar-10-batches-py/test_batch" in names
    assert "cifar-10-batches-py/batches.meta" in names
    x_train, y_train, x_test, y_test = cifar10._read_archive(archive)
    for got, want in zip((x_train, y_train, x_test, y_test), splits, strict=True):
        np.testing.assert_array_equal(got, want)


def test_quadrant_helpers_write_loadable_cifar(tmp_path):
    fakedata.write_quadrant_cifar(tmp_path, n_train=40, n_test=8, seed=3)
    dataset = _load(tmp_path)
    x, y = fakedata.quadrant_dataset(48, seed=3)
    _assert_same(dataset, x[:40], y[:40], x[40:], y[40:])
    # The bright quadrant is the label.
    q = dataset.y_train[0]
    row, col = divmod(int(q), 2)
    bright = dataset.x_train[0, row * 16 : row * 16 + 16, col * 16 : col * 16 + 16]
    assert bright.min() >= fakedata.BRIGHTNESS


def test_quadrant_shuffled_labels_keep_counts(tmp_path):
    x, y = fakedata.quadrant_dataset(200, seed=1)
    xs, ys = fakedata.quadrant_dataset(200, seed=1, shuffle_labels=True)
    np.testing.assert_array_equal(x, xs)
    assert not np.array_equal(y, ys)
    np.testing.assert_array_equal(np.bincount(y, minlength=4), np.bincount(ys, minlength=4))
    archive_dir = fakedata.write_quadrant_cifar(tmp_path, 20, 4, seed=1, form="tar")
    assert cifar10._read_archive(archive_dir / cifar10.ARCHIVE)[0].shape == (20, 32, 32, 3)


# --- what is found, and failures ----------------------------------------------


def test_folder_is_preferred_to_archive(tmp_path):
    splits = _splits()
    cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *splits)
    (tmp_path / cifar10.ARCHIVE).write_bytes(b"not even a tar")
    _assert_same(_load(tmp_path), *splits)


def test_unofficial_archive_is_rejected_as_corrupt(tmp_path):
    archive = cifar10_writer.write_archive(tmp_path / cifar10.ARCHIVE, *_splits())
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path, allow_download=True)
    _assert_one_line_mentioning(exc_info, "corrupt", archive, cifar10.MD5, "synthetic", "delete")


def test_missing_data_without_download_names_the_folder(tmp_path):
    data_dir = tmp_path / "nowhere"
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(data_dir)
    _assert_one_line_mentioning(
        exc_info, data_dir, cifar10.ARCHIVE, cifar10.FOLDER, "synthetic", "downloading is off"
    )
    assert not data_dir.exists()


def test_truncated_pickle_is_malformed(tmp_path):
    folder = cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *_splits())
    batch = folder / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path)
    _assert_one_line_mentioning(exc_info, "malformed", "data_batch_3", folder, "synthetic")


@pytest.mark.parametrize(
    "content, complaint",
    [
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "columns"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "0..9"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        ({b"labels": [0]}, "lacks"),
        ([1, 2], "not a dict"),
    ],
)
def test_structurally_wrong_batch_is_malformed(tmp_path, content, complaint):
    folder = cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *_splits())
    (folder / "test_batch").write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path)
    _assert_one_line_mentioning(exc_info, "malformed", "test_batch", complaint)


def test_missing_batch_is_malformed(tmp_path):
    folder = cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *_splits())
    (folder / "data_batch_2").unlink()
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path)
    _assert_one_line_mentioning(exc_info, "malformed", "data_batch_1..N")


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_calling_other_code_is_refused(tmp_path, capsys):
    folder = cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *_splits())
    (folder / "test_batch").write_bytes(pickle.dumps(_Sneaky(), protocol=2))
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path)
    _assert_one_line_mentioning(exc_info, "malformed", "refusing to load", "print")
    assert "never run" not in capsys.readouterr().out


def test_batches_repickled_by_python3_still_read(tmp_path):
    """Users re-saving the batches with today's pickle (bytes via _codecs) are fine."""
    splits = _splits()
    folder = cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *splits)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        for path in folder.glob("*_batch*"):
            with open(path, "rb") as f:
                content = pickle.load(f, encoding="bytes")
            path.write_bytes(pickle.dumps(content, protocol=protocol))
        _assert_same(_load(tmp_path), *splits)


# --- sample counts -------------------------------------------------------------


def test_sample_counts_keep_the_first_images(tmp_path):
    splits = _splits(n_train=12, n_test=5)
    cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *splits)
    dataset = _load(tmp_path, train_samples=7, test_samples=5)
    x_train, y_train, x_test, y_test = splits
    _assert_same(dataset, x_train[:7], y_train[:7], x_test, y_test)


def test_asking_for_more_samples_than_there_are_says_how_many(tmp_path):
    cifar10_writer.write_batches(tmp_path / cifar10.FOLDER, *_splits(n_train=12, n_test=5))
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path, test_samples=6)
    _assert_one_line_mentioning(exc_info, "test_samples=6", "only 5")


# --- download (Keras replaced by a stand-in: no network) -----------------------


def _fake_keras(monkeypatch, get_file):
    keras = types.ModuleType("keras")
    keras.utils = types.ModuleType("keras.utils")
    keras.utils.get_file = get_file
    monkeypatch.setitem(sys.modules, "keras", keras)
    monkeypatch.setitem(sys.modules, "keras.utils", keras.utils)


def test_download_goes_into_data_dir_with_md5(tmp_path, monkeypatch):
    data_dir = tmp_path / "new" / "dir"
    splits = _splits()
    calls = []

    def get_file(**kwargs):
        calls.append(kwargs)
        return str(cifar10_writer.write_archive(data_dir / kwargs["fname"], *splits))

    _fake_keras(monkeypatch, get_file)
    dataset = _load(data_dir, allow_download=True)
    assert calls == [
        {
            "fname": "cifar-10-python.tar.gz",
            "origin": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "file_hash": "c58f30108f718f92721af3b95e74349a",
            "hash_algorithm": "md5",
            "cache_dir": str(data_dir),
            "cache_subdir": ".",
        }
    ]
    _assert_same(dataset, *splits)
    assert dataset.source == str(data_dir / cifar10.ARCHIVE)


def test_download_failure_is_one_line_with_the_reason(tmp_path, monkeypatch):
    def get_file(**kwargs):
        (tmp_path / kwargs["fname"]).write_bytes(b"half a download")
        raise Exception("URL fetch failure on https://x: None --\n[Errno -3] name resolution")

    _fake_keras(monkeypatch, get_file)
    with pytest.raises(DatasetUnavailable) as exc_info:
        _load(tmp_path, allow_download=True)
    _assert_one_line_mentioning(
        exc_info, "could not be downloaded", "name resolution", cifar10.ARCHIVE, tmp_path,
        "synthetic",
    )  # fmt: skip
    assert not (tmp_path / cifar10.ARCHIVE).exists()  # the next run downloads again


def test_reading_from_disk_imports_no_framework(tmp_path):
    fakedata.write_quadrant_cifar(tmp_path, n_train=10, n_test=2, seed=0)
    code = (
        "import sys\n"
        "from keras_profiler import datasets\n"
        f"d = datasets.load('cifar10', {str(tmp_path)!r}, seed=0, allow_download=False)\n"
        "assert d.x_train.shape == (10, 32, 32, 3)\n"
        "datasets.load('synthetic', '.', seed=0, train_samples=5, test_samples=5)\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


# --- synthetic and the registry ------------------------------------------------


def _synthetic(seed, **kwargs):
    return datasets.load("synthetic", "/nonexistent", seed=seed, **kwargs)


def test_synthetic_defaults_to_cifar10_sizes():
    dataset = _synthetic(0)
    assert dataset.x_train.shape == (50_000, 32, 32, 3)
    assert dataset.x_test.shape == (10_000, 32, 32, 3)
    assert dataset.y_train.shape == (50_000,) and dataset.y_test.shape == (10_000,)
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int32
    assert dataset.y_train.min() == 0 and dataset.y_train.max() == 9
    assert dataset.synthetic and dataset.name == "synthetic" and dataset.num_classes == 10
    assert dataset.source == "synthetic (seed 0)"
    assert dataset.image_shape == (32, 32, 3)


def test_synthetic_is_deterministic_per_seed():
    a, b, c = (_synthetic(s, train_samples=300, test_samples=50) for s in (7, 7, 8))
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes()
        assert not np.array_equal(getattr(a, field), getattr(c, field))


def test_synthetic_smaller_sets_are_prefixes_and_splits_independent():
    small = _synthetic(3, train_samples=20, test_samples=10)
    large = _synthetic(3, train_samples=200, test_samples=10)
    np.testing.assert_array_equal(small.x_train, large.x_train[:20])
    np.testing.assert_array_equal(small.y_train, large.y_train[:20])
    np.testing.assert_array_equal(small.x_test, large.x_test)
    np.testing.assert_array_equal(small.y_test, large.y_test)


def test_registry_lists_the_datasets():
    assert datasets.available() == ["cifar10", "synthetic", "tokens"]
    assert synthetic.NAME == "synthetic" and cifar10.NAME == "cifar10"
