"""Writes images as a CIFAR-10 python archive, byte for byte in the official format.

The official batches are Python 2 pickles of protocol 2; Python 3's pickle
writes bytes differently at that protocol, so a small pickler emits old-style
strings. Tests build small archives with this, which then go through the very
decoding path a downloaded archive takes, and users can package their own
32x32 images as CIFAR-10.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .cifar10 import (
    FOLDER,
    IMAGE_SHAPE,
    LABEL_NAMES,
    META,
    NUM_CLASSES,
    ROW_SIZE,
    TEST_BATCH,
)


def write_batches(
    folder: Path,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    batches: int = 5,
) -> Path:
    """Writes images as an extracted CIFAR-10 folder, in the official format.

    The folder gets ``data_batch_1``..``data_batch_<batches>``, ``test_batch``
    and ``batches.meta``: Python 2 pickles (protocol 2) of dicts with keys
    b'data' (N x 3072 uint8, each row the red, green then blue 32x32 planes),
    b'labels', b'batch_label' and b'filenames', as in ``cifar-10-batches-py/``.

    Args:
        folder: The folder to write, normally ``<data_dir>/cifar-10-batches-py``.
        x_train: uint8 training images, shape (N, 32, 32, 3).
        y_train: Training labels in 0..9, shape (N,).
        x_test: uint8 test images, shape (M, 32, 32, 3).
        y_test: Test labels in 0..9, shape (M,).
        batches: How many files to split the training images over.

    Returns:
        ``folder``.

    Raises:
        ValueError: The arrays are not CIFAR-10 shaped.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in _official_files(x_train, y_train, x_test, y_test, batches):
        (folder / name).write_bytes(payload)
    return folder


def write_archive(
    tar_path: Path,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    batches: int = 5,
) -> Path:
    """Writes images as a CIFAR-10 python tar.gz, in the official format.

    Members are ``cifar-10-batches-py/`` and, under it, the files
    ``write_batches`` writes (the arguments are the same). The result is not
    the official archive, so ``load`` rejects its md5: it is for tests and for
    readers that skip the checksum. Returns ``tar_path``.
    """
    tar_path = Path(tar_path)
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so an interrupted write never leaves a half archive.
    partial = tar_path.with_name(tar_path.name + ".partial")
    now = int(time.time())
    with tarfile.open(partial, "w:gz") as tar:
        tar.addfile(_tar_info(FOLDER, tarfile.DIRTYPE, 0o755, 0, now))
        for name, payload in _official_files(x_train, y_train, x_test, y_test, batches):
            info = _tar_info(f"{FOLDER}/{name}", tarfile.REGTYPE, 0o644, len(payload), now)
            tar.addfile(info, io.BytesIO(payload))
    os.replace(partial, tar_path)
    return tar_path


def _tar_info(name: str, kind: bytes, mode: int, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, mtime
    return info


def _official_files(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    batches: int,
) -> Iterator[tuple[str, bytes]]:
    """Yields (file name, pickled bytes) for every file of the batches folder."""
    if batches < 1:
        raise ValueError(f"batches must be at least 1, not {batches}")
    rows_train, labels_train = _to_rows(x_train, y_train, "train")
    rows_test, labels_test = _to_rows(x_test, y_test, "test")
    parts = np.array_split(np.arange(len(rows_train)), batches)
    yield META, _py2_pickle({
        b"num_cases_per_batch": len(parts[0]),
        b"label_names": [n.encode() for n in LABEL_NAMES],
        b"num_vis": ROW_SIZE,
    })  # fmt: skip
    for k, index in enumerate(parts, start=1):
        label = f"training batch {k} of {batches}"
        yield f"data_batch_{k}", _batch_pickle(rows_train[index], labels_train[index], label, index)
    index = np.arange(len(rows_test))
    yield TEST_BATCH, _batch_pickle(rows_test, labels_test, "testing batch 1 of 1", index)


def _to_rows(x: np.ndarray, y: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    """NHWC images to the official rows (R plane, G plane, B plane), checking shapes."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"x_{split} must be uint8 of shape (N, 32, 32, 3), not {x.dtype} "
                         f"{x.shape}")  # fmt: skip
    if y.shape != (len(x),) or (y.size and y.dtype.kind not in "iu"):
        raise ValueError(f"y_{split} must be {len(x)} integer labels, not {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise ValueError(f"y_{split} must lie in 0..{NUM_CLASSES - 1}")
    return x.transpose(0, 3, 1, 2).reshape(len(x), ROW_SIZE), y


def _batch_pickle(rows: np.ndarray, labels: np.ndarray, label: str, index: np.ndarray) -> bytes:
    return _py2_pickle({
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in labels],
        b"data": np.ascontiguousarray(rows),
        b"filenames": [
            f"{LABEL_NAMES[v]}_s_{i:06d}.png".encode() for v, i in zip(labels, index, strict=True)
        ],
    })  # fmt: skip


def _py2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer).dump(obj)
    return buffer.getvalue()


# NumPy's array rebuilder, whatever module it lives in under this NumPy.
_reconstruct = np.zeros(0).__reduce__()[0]


class _Py2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did for the official files, at protocol 2.

    Python 3 pickles bytes at protocol 2 as calls to ``_codecs.encode``; Python 2
    wrote plain strings, which readers decode with ``encoding=`` ("bytes" in
    Keras, "latin1" elsewhere). Arrays name ``numpy.core.multiarray`` as the
    originals do, so the files read the same under NumPy 1 and 2. The pure-Python
    pickler is used because only it lets a type's opcodes be replaced; it is as
    fast here, where nearly all bytes are one array buffer.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def _save_py2_string(self, obj: bytes | str) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    # Text too (NumPy's dtype codes): Python 2 had only byte strings.
    dispatch[bytes] = _save_py2_string
    dispatch[str] = _save_py2_string

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            state = (1, obj.shape, obj.dtype, False, np.ascontiguousarray(obj).tobytes())
            return _reconstruct, (np.ndarray, (0,), b"b"), state
        return NotImplemented

    def save_global(self, obj, name=None):
        if obj is _reconstruct:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)
