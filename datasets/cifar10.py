"""CIFAR-10 from the official python archive, read without any framework.

The data is looked for in ``data_dir``: first the extracted folder
``cifar-10-batches-py/`` (checked structurally, since it has no checksum),
then ``cifar-10-python.tar.gz`` (checked against its official md5 and read
straight from the tar, never extracted). When neither is there and
downloading is allowed, the archive is fetched with Keras's file utilities,
the only time this module imports a framework.

``_cifar10_writer`` writes images in the official format.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import DatasetUnavailable, ImageDataset, sample_count

NAME = "cifar10"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
TEST_BATCH = "test_batch"
META = "batches.meta"
LABEL_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
NUM_CLASSES = len(LABEL_NAMES)
IMAGE_SHAPE = (32, 32, 3)
TRAIN_SIZE = 50_000
TEST_SIZE = 10_000
# The facts the rest of the tool asks (see the registry, datasets/__init__.py).
DESCRIPTION = "CIFAR-10, the standard python archive, downloaded when absent"
SYNTHETIC = False  # real images: accuracy means something, distortions apply
GENERATED = False  # read from files in --data-dir, downloaded there if allowed
ROW_SIZE = 32 * 32 * 3
SYNTHETIC_HINT = "or use --dataset synthetic"

Splits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load(
    data_dir: Path,
    *,
    seed: int,
    train_samples: int | None = None,
    test_samples: int | None = None,
    allow_download: bool = True,
    image_size: int | None = None,
) -> ImageDataset:
    """Loads CIFAR-10 from ``data_dir``, downloading it there if allowed.

    Args:
        data_dir: Folder holding ``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``.
        seed: Unused: the real data needs no randomness (kept for the common signature).
        train_samples: Keep the first this many training images; None keeps all.
        test_samples: Keep the first this many test images; None keeps all.
        allow_download: Whether to download the archive when nothing is found.
        image_size: Unused: the images are CIFAR-10's 32x32; a model run at a
            larger size upscales them on the device (kept for the common signature).

    Returns:
        The dataset, uint8 NHWC images and int32 labels.

    Raises:
        DatasetUnavailable: The data is missing, corrupt, malformed, cannot be
            downloaded, or has fewer images than asked for; the message is one
            line saying what to do.
    """
    del seed, image_size
    data_dir = Path(data_dir)
    sample_count("train_samples", train_samples, None)
    sample_count("test_samples", test_samples, None)
    folder, archive = data_dir / FOLDER, data_dir / ARCHIVE
    if folder.is_dir():
        source, splits = folder, _read_folder(folder)
    elif archive.is_file():
        _verify_md5(archive, allow_download)
        source, splits = archive, _read_archive(archive)
    elif allow_download:
        source = _download(data_dir)
        splits = _read_archive(source)
    else:
        raise DatasetUnavailable(
            f"CIFAR-10 not found in {data_dir} and downloading is off: place {ARCHIVE} "
            f"(or its extracted {FOLDER}/) in {data_dir}, {SYNTHETIC_HINT}"
        )
    x_train, y_train, x_test, y_test = splits
    x_train, y_train = _first(x_train, y_train, train_samples, "train", source)
    x_test, y_test = _first(x_test, y_test, test_samples, "test", source)
    return ImageDataset(
        name=NAME,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=NUM_CLASSES,
        synthetic=False,
        source=str(source),
    )


def image_shape(image_size: int | None) -> tuple[int, int, int]:
    """The shape of one image as loaded: always 32x32x3 (a larger
    ``image_size`` is reached by upscaling on the device)."""
    del image_size
    return IMAGE_SHAPE


def default_test_samples(image_size: int | None) -> int | None:
    """The test images a run evaluates without --test-samples: all of them."""
    del image_size
    return None


def _first(
    x: np.ndarray, y: np.ndarray, count: int | None, split: str, source: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Keeps the first ``count`` images of a split, refusing to pretend there are more."""
    if count is None or count == len(x):
        return x, y
    if count > len(x):
        raise DatasetUnavailable(
            f"{split}_samples={count} but CIFAR-10 in {source} has only {len(x)} {split} "
            f"images: ask for at most {len(x)}, {SYNTHETIC_HINT}"
        )
    # Copies, so the full arrays can be freed rather than kept alive as bases.
    return x[:count].copy(), y[:count].copy()


# --- integrity and download -------------------------------------------------


def _md5(path: Path, chunk_size: int = 1 << 20) -> str:
    # usedforsecurity=False: md5 here detects corruption, and FIPS builds refuse it otherwise.
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_md5(archive: Path, allow_download: bool) -> None:
    try:
        actual = _md5(archive)
    except OSError as exc:
        raise DatasetUnavailable(
            f"{archive} cannot be read ({_one_line(exc)}): fix its permissions or replace it, "
            f"{SYNTHETIC_HINT}"
        ) from exc
    if actual != MD5:
        remedy = (
            "delete it and run again to download it"
            if allow_download
            else f"replace it with the official {ARCHIVE}"
        )
        raise DatasetUnavailable(
            f"{archive} is corrupt (md5 {actual}, expected {MD5}): {remedy}, {SYNTHETIC_HINT}"
        )


def _download(data_dir: Path) -> Path:
    """Downloads the archive into ``data_dir`` with Keras, which checks its md5."""
    where = f"place {ARCHIVE} (or its extracted {FOLDER}/) in {data_dir} by hand"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetUnavailable(
            f"cannot create {data_dir} to download CIFAR-10 into ({_one_line(exc)}): "
            f"{where}, {SYNTHETIC_HINT}"
        ) from exc
    # Keras would quietly download to /tmp/.keras instead of a read-only folder.
    if not os.access(data_dir, os.W_OK):
        raise DatasetUnavailable(
            f"cannot download CIFAR-10 into {data_dir}: it is not writable: {where}, "
            f"{SYNTHETIC_HINT}"
        )
    try:
        # Imported here only: reading from disk must never load a framework.
        from keras.utils import get_file
    except ImportError as exc:
        raise DatasetUnavailable(
            f"downloading CIFAR-10 needs Keras, which is not installed: {where}, {SYNTHETIC_HINT}"
        ) from exc
    try:
        path = get_file(
            fname=ARCHIVE,
            origin=URL,
            file_hash=MD5,
            hash_algorithm="md5",
            cache_dir=str(data_dir),
            cache_subdir=".",
        )
    except Exception as exc:  # any failure (network, disk, hash) becomes one line
        # Keras keeps a download whose md5 is wrong; nothing was there before it, so
        # removing it lets the next run download again instead of reporting corruption.
        (data_dir / ARCHIVE).unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"CIFAR-10 could not be downloaded from {URL} ({_one_line(exc)}): {where}, "
            f"{SYNTHETIC_HINT}"
        ) from exc
    return Path(path)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --- reading ----------------------------------------------------------------


class _Malformed(Exception):
    """A batch is unreadable or not shaped like CIFAR-10; the message says how."""


class _BatchUnpickler(pickle.Unpickler):
    """Builds only what a CIFAR-10 batch holds: numpy arrays, dtypes and bytes.

    The extracted folder has no checksum, so an arbitrary pickle placed there
    must not be able to run code when it is loaded.
    """

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # the official files
        ("numpy._core.multiarray", "_reconstruct"),  # re-pickled under NumPy 2
        ("numpy.core.numeric", "_frombuffer"),  # re-pickled at protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes pickled at protocol 2 by Python 3
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(f, name: str) -> dict:
    try:
        # encoding="bytes": the official pickles come from Python 2, their keys are bytes.
        obj = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # a damaged pickle can fail in many ways; all mean the same
        raise _Malformed(f"{name}: not a readable pickle: {_one_line(exc)}") from exc
    if not isinstance(obj, dict):
        raise _Malformed(f"{name}: holds a {type(obj).__name__}, not a dict")
    return obj


def _checked_batch(obj: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns a batch's (rows, labels) after checking they look like CIFAR-10."""
    data, labels = obj.get(b"data"), obj.get(b"labels")
    if data is None or labels is None:
        raise _Malformed(f"{name}: lacks b'data' or b'labels'")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise _Malformed(f"{name}: data is not a 2-D uint8 array")
    if data.shape[1] != ROW_SIZE:
        raise _Malformed(f"{name}: data has {data.shape[1]} columns, not {ROW_SIZE}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise _Malformed(f"{name}: labels are not a list of integers")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise _Malformed(f"{name}: labels outside 0..{NUM_CLASSES - 1}")
    if len(labels) != len(data):
        raise _Malformed(f"{name}: {len(data)} images but {len(labels)} labels")
    return data, labels.astype(np.int32)


def _train_names(present: set[str]) -> list[str]:
    """data_batch_1..n, which must all be there, without gaps."""
    names = {n for n in present if n.startswith("data_batch_")}
    expected = [f"data_batch_{k}" for k in range(1, len(names) + 1)]
    if not names or names != set(expected):
        found = ", ".join(sorted(names)) or "none"
        raise _Malformed(f"training batches should be data_batch_1..N, found {found}")
    if TEST_BATCH not in present:
        raise _Malformed(f"{TEST_BATCH} is missing")
    return expected


def _to_nhwc(rows: np.ndarray) -> np.ndarray:
    # Each row holds the red plane, then green, then blue, each 32x32 row-major.
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _assemble(batches: dict[str, dict]) -> Splits:
    train = [_checked_batch(batches[n], n) for n in _train_names(set(batches))]
    x_test, y_test = _checked_batch(batches[TEST_BATCH], TEST_BATCH)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return _to_nhwc(x_train), y_train, _to_nhwc(x_test), y_test


def _is_batch(name: str) -> bool:
    return name == TEST_BATCH or name.startswith("data_batch_")


def _read_folder(folder: Path) -> Splits:
    """Reads the extracted ``cifar-10-batches-py/`` folder, checking its structure."""
    try:
        batches = {}
        for path in sorted(folder.iterdir()):
            if _is_batch(path.name) and path.is_file():
                with open(path, "rb") as f:
                    batches[path.name] = _unpickle(f, path.name)
        return _assemble(batches)
    except (_Malformed, OSError) as exc:
        raise DatasetUnavailable(
            f"CIFAR-10 folder {folder} is malformed ({_one_line(exc)}): delete it and place "
            f"{ARCHIVE} (or a good extracted copy) in {folder.parent}, {SYNTHETIC_HINT}"
        ) from exc


def _read_archive(archive: Path) -> Splits:
    """Reads the batches straight from the tar.gz, without checking its checksum."""
    try:
        return _assemble(dict(_archive_batches(archive)))
    except (_Malformed, OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise DatasetUnavailable(
            f"{archive} is malformed ({_one_line(exc)}): delete it and place the official "
            f"{ARCHIVE} in {archive.parent}, {SYNTHETIC_HINT}"
        ) from exc


def _archive_batches(archive: Path) -> Iterator[tuple[str, dict]]:
    # One pass in member order: seeking back in a gzip stream means decompressing again.
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parent, _, name = member.name.removeprefix("./").rpartition("/")
            if parent == FOLDER and _is_batch(name) and member.isfile():
                yield name, _unpickle(tar.extractfile(member), name)
