"""--distortions: CIFAR-10's random crop and flip on the host input path.

The distortion itself in NumPy; the worker's training path under each Keras
line (each training image distorted once per epoch, afresh; test images and
images past --steps-per-epoch never); and runs through the CLI that still
learn. The CLI runs learn whether the top or the bottom half of the image is
bright, a class a horizontal flip keeps. fakedata's quadrant classes it does
not keep: a flip shows a top-left image as a top-right one under the same
label, so left and right cannot be learned (a distorted run on them stopped
at a training accuracy of 0.49, seen here) and test accuracy is a coin toss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fakedata
import numpy as np
import pytest
from backend_runs import BACKENDS, run_in_mxnet
from test_end_to_end import EASY

from keras_profiler.backends import torch as torch_adapter
from keras_profiler.datasets import _cifar10_writer as cifar10_writer
from keras_profiler.datasets import cifar10
from keras_profiler.input_pipeline import PAD, DistortedBatches, crop_and_flip, distort

OFFSETS = range(2 * PAD + 1)


def noise(n: int, seed: int = 0) -> np.ndarray:
    """uint8 images in which every image, and every crop of one, is unique."""
    return np.random.default_rng(seed).integers(1, 256, (n, 32, 32, 3), dtype=np.uint8)


def placements(image: np.ndarray, source: np.ndarray) -> list[tuple[int, int, bool]]:
    """Every (top, left, flip) that crop_and_flip turns ``source`` into ``image`` with."""
    every = [(top, left, flip) for top in OFFSETS for left in OFFSETS for flip in (False, True)]
    top, left, flip = (np.array(v) for v in zip(*every))
    candidates = crop_and_flip(np.repeat(source[None], len(every), axis=0), top, left, flip)
    matches = (candidates == image).all(axis=(1, 2, 3))
    return [every[i] for i in np.flatnonzero(matches)]


# --- the distortion ---------------------------------------------------------


def test_the_centre_crop_unflipped_is_the_image_itself():
    x = noise(4)
    same = crop_and_flip(x, [PAD] * 4, [PAD] * 4, [False] * 4)
    assert same.dtype == np.uint8 and np.array_equal(same, x)


def test_a_crop_shifts_the_pixels_and_brings_in_zeros():
    x = noise(2)
    # Offset 0: the image moves down and right by PAD, zeros above and left.
    moved = crop_and_flip(x, [0, 0], [0, 0], [False, False])
    assert np.array_equal(moved[:, PAD:, PAD:], x[:, :-PAD, :-PAD])
    assert not moved[:, :PAD].any() and not moved[:, :, :PAD].any()
    # Offset 2 * PAD: up and left, zeros below and right.
    moved = crop_and_flip(x, [2 * PAD] * 2, [2 * PAD] * 2, [False, False])
    assert np.array_equal(moved[:, :-PAD, :-PAD], x[:, PAD:, PAD:])
    assert not moved[:, -PAD:].any() and not moved[:, :, -PAD:].any()
    # Rows and columns move independently, each image by its own offsets.
    moved = crop_and_flip(x, [PAD, 1], [PAD + 2, PAD], [False, False])
    assert np.array_equal(moved[0, :, :-2], x[0, :, 2:])
    assert np.array_equal(moved[1, PAD - 1 :], x[1, : 32 - PAD + 1])


def test_a_flip_mirrors_left_and_right():
    x = noise(3)
    flipped = crop_and_flip(x, [PAD] * 3, [PAD] * 3, [True, False, True])
    assert np.array_equal(flipped[0], x[0, :, ::-1])
    assert np.array_equal(flipped[1], x[1])
    assert np.array_equal(flipped[2], x[2, :, ::-1])
    # Mirrored after the crop: zeros brought in on the left end up on the right.
    moved = crop_and_flip(x[:1], [PAD], [0], [True])[0]
    assert not moved[:, -PAD:].any() and np.array_equal(
        moved[:, : 32 - PAD], x[0, :, ::-1][:, PAD:]
    )


def test_distort_crops_and_flips_each_image_at_random():
    x = noise(300)
    before = x.copy()
    out = distort(x, np.random.default_rng(7))

    assert out.shape == x.shape and out.dtype == np.uint8
    assert np.array_equal(x, before)  # the input is left alone
    found = [placements(o, s) for o, s in zip(out, x)]
    assert all(len(f) == 1 for f in found)  # each a crop-and-flip of its own image
    tops, lefts, flips = (np.array(v) for v in zip(*(f[0] for f in found)))
    assert set(tops) == set(lefts) == set(OFFSETS)  # every offset, 0 to 2 * PAD
    assert 0.4 < flips.mean() < 0.6  # about half flipped
    assert (tops != PAD).mean() > 0.8  # most images really move


def test_the_padding_is_zeros():
    white = np.full((200, 32, 32, 3), 255, dtype=np.uint8)
    out = distort(white, np.random.default_rng(1))
    assert set(np.unique(out)) == {0, 255}
    zero = (out == 0).all(axis=-1)
    inner = np.zeros((32, 32), dtype=bool)
    inner[PAD:-PAD, PAD:-PAD] = True
    assert not zero[:, inner].any()  # zeros only in the PAD-wide border
    assert zero.any(axis=(1, 2)).mean() > 0.9  # 80 of 81 offsets bring some in


def test_same_seed_same_distortions_other_seed_others():
    x = noise(64)
    first = distort(x, np.random.default_rng(3))
    assert np.array_equal(first, distort(x, np.random.default_rng(3)))
    assert not np.array_equal(first, distort(x, np.random.default_rng(4)))


# --- batches, epoch by epoch ------------------------------------------------


def epoch_of(batches: DistortedBatches, epoch: int):
    """The epoch's batches, in order, as one array of images and one of labels."""
    built = [batches.batch(epoch, i) for i in range(len(batches))]
    return np.concatenate([b[0] for b in built]), np.concatenate([b[1] for b in built])


def test_each_epoch_distorts_every_row_once_afresh():
    x, ids = noise(100), np.arange(100)
    batches = DistortedBatches(x, ids, 32, seed=5, data_format="channels_last")
    assert len(batches) == 3  # whole batches only: 96 of the 100 rows per epoch
    with pytest.raises(IndexError):
        batches.batch(0, 3)

    epochs = [epoch_of(batches, epoch) for epoch in range(3)]
    for images, rows in epochs:
        assert images.dtype == np.float32 and images.shape == (96, 32, 32, 3)
        assert len(set(rows)) == 96  # shuffled rows, none twice
        pixels = np.rint(images * 255).astype(np.uint8)
        assert all(placements(p, x[r]) for p, r in zip(pixels[:12], rows[:12]))
    (first, first_rows), (second, second_rows), _ = epochs
    assert not np.array_equal(first_rows, second_rows)  # reshuffled each epoch
    # The same image, distorted differently in the next epoch.
    row = first_rows[0]
    assert not np.array_equal(first[0], second[list(second_rows).index(row)])
    # Fresh draws, not the last epoch's moved to other images.
    drawn = [
        sorted(placements(np.rint(p * 255).astype(np.uint8), x[r])[0] for p, r in zip(*epoch))
        for epoch in epochs[:2]
    ]
    assert drawn[0] != drawn[1]


def test_the_same_seed_gives_the_same_batches_in_any_order():
    x, ids = noise(96), np.arange(96)

    def make(seed=5, stream=0):
        return DistortedBatches(x, ids, 32, seed=seed, data_format="channels_last", stream=stream)

    reference = epoch_of(make(), 1)
    backwards = make()
    # Any order, asked for twice, another epoch's batch in between.
    built = [backwards.batch(1, i) for i in (2, 1)] + [backwards.batch(0, 1)]
    built += [backwards.batch(1, i) for i in (0, 1)]
    assert np.array_equal(np.concatenate([built[3][0], built[1][0], built[0][0]]), reference[0])
    assert np.array_equal(built[1][0], built[4][0])
    assert not np.array_equal(built[2][0], built[1][0])
    assert not np.array_equal(epoch_of(make(seed=6), 1)[0], reference[0])
    assert not np.array_equal(epoch_of(make(stream=1), 1)[0], reference[0])  # another rank


def test_channels_first_batches_are_transposed():
    x = noise(32)
    channels_last = DistortedBatches(x, np.arange(32), 32, seed=1, data_format="channels_last")
    channels_first = DistortedBatches(x, np.arange(32), 32, seed=1, data_format="channels_first")
    images, _ = channels_first.batch(0, 0)
    assert images.shape == (32, 3, 32, 32)
    assert np.array_equal(images.transpose(0, 2, 3, 1), channels_last.batch(0, 0)[0])


# --- the worker's training path, under each Keras line ----------------------

# Trains 3 epochs through the worker's own fit (keras_profiler.training), with
# distort() and the batches watched: which images were distorted, in which
# epoch and batch, and the images per epoch the profiler streamed.
WORKER_PATH = """
import json, os, socket, sys, tempfile
import numpy as np
import keras
from keras_profiler import backends, datasets, input_pipeline
from keras_profiler.training.fit import fit
from keras_profiler.training.model_builder import build_model
from keras_profiler.config import RunConfig

backend = sys.argv[1]
rng = np.random.default_rng(0)
images = rng.integers(1, 256, (200, 32, 32, 3), dtype=np.uint8)
data = datasets.ImageDataset(
    name="cifar10", x_train=images[:160], y_train=rng.integers(0, 4, 160).astype("int32"),
    x_test=images[160:], y_test=rng.integers(0, 4, 40).astype("int32"),
    num_classes=4, synthetic=False, source="test")
known = {image.tobytes(): f"train {i}" for i, image in enumerate(data.x_train)}
known.update({image.tobytes(): f"test {i}" for i, image in enumerate(data.x_test)})

distorted = []
distort = input_pipeline.distort
def watched_distort(batch, generator):
    distorted.append([known.get(image.tobytes(), "unknown") for image in batch])
    return distort(batch, generator)
input_pipeline.distort = watched_distort

built = []
batch = input_pipeline.DistortedBatches.batch
def watched_batch(self, epoch, index):
    built.append([epoch, index])
    return batch(self, epoch, index)
input_pipeline.DistortedBatches.batch = watched_batch

# 160 training images, 4 steps of 32: the last 32 images are never trained on.
config = RunConfig(backend=backend, model="tiny", epochs=3, steps_per_epoch=4,
                   distortions=True, seed=11, learning_rate=0.05)
adapter = backends.get(backend)
# What the launcher sets for one process (torch's DDP: rank 0 of 1).
os.environ.update(adapter.child_environment(config, 0, 0))
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    os.environ["MASTER_PORT"] = str(probe.getsockname()[1])
adapter.setup(config)
with adapter.scope():
    model, _ = build_model(keras, config, adapter, data)
adapter.prepare(model, config)
with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as epochs:
    fit(keras, config, adapter, model, data, epochs.name, {"replica_checks": []})
    images = [json.loads(line)["images"] for line in epochs]
print(json.dumps({"distorted": distorted, "built": built, "images": images}))
"""


def check_worker_path(out: dict) -> None:
    assert out["images"] == [128, 128, 128]  # 4 steps x 32, from Keras's step count
    assert len(out["distorted"]) == len(out["built"])
    by_epoch = {}
    for (epoch, index), rows in zip(out["built"], out["distorted"]):
        # A batch asked for twice is the same batch (tensorflow takes a few
        # before training, to learn their shapes and to build the model).
        assert by_epoch.setdefault(epoch, {}).setdefault(index, rows) == rows
    # Every batch of every epoch built; a producer thread may start on the
    # epoch after the last (Keras 2.2's enqueuer): never trained on.
    assert all(sorted(by_epoch.get(e, {})) == [0, 1, 2, 3] for e in (0, 1, 2))
    orders = []
    for epoch in (0, 1, 2):
        rows = [r for i in range(4) for r in by_epoch[epoch][i]]
        # Each of the first 128 training images once per epoch; no test image,
        # none past --steps-per-epoch.
        assert sorted(rows) == sorted(f"train {i}" for i in range(128))
        orders.append(rows)
    assert orders[0] != orders[1] != orders[2]  # reshuffled every epoch


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_worker_distorts_each_training_image_once_per_epoch(backend, tmp_path):
    script = tmp_path / "worker_path.py"
    script.write_text(WORKER_PATH)
    completed = subprocess.run(
        [sys.executable, str(script), backend],
        capture_output=True,
        text=True,
        env=dict(os.environ, KERAS_BACKEND=backend),
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    check_worker_path(json.loads(completed.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_the_mxnet_worker_distorts_each_training_image_once_per_epoch(mxnet_python):
    out = run_in_mxnet(mxnet_python, WORKER_PATH, "mxnet")
    check_worker_path(json.loads(out.strip().splitlines()[-1]))


# --- end to end through the CLI ---------------------------------------------


@pytest.fixture(scope="module")
def top_or_bottom(tmp_path_factory) -> Path:
    """A CIFAR-10 folder whose class (0: top, 1: bottom) is the bright half."""
    folder = tmp_path_factory.mktemp("top-or-bottom")
    x, quadrant = fakedata.quadrant_dataset(2400, seed=3)
    y = quadrant // 2
    cifar10_writer.write_batches(folder / cifar10.FOLDER, x[:2000], y[:2000], x[2000:], y[2000:])
    return folder


def check_distorted_run(result, images_per_epoch: int) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok", record["error"]
    assert record["config"]["dataset"] == "cifar10"
    assert record["config"]["distortions"] is True
    assert "-cifar10-distorted-" in record["run_id"]
    assert all(e["images"] == images_per_epoch for e in record["epochs"])
    # Two classes, chance is 0.5: distorted training still learns.
    assert record["summary"]["test_accuracy"] > 0.9
    return record


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_distorted_run_learns(run_cli, top_or_bottom, backend):
    result = run_cli(
        "--backend", backend, *EASY, "--data-dir", str(top_or_bottom), "--distortions",
        "--no-report",
    )  # fmt: skip
    # 2000 images hold 62 whole batches of 32.
    check_distorted_run(result, 62 * 32)


def two_devices(backend: str):
    if backend == "torch" and not torch_adapter.keras_has_ddp():
        return pytest.param(backend, marks=pytest.mark.skip(reason="Keras without DDP in fit"))
    return backend


@pytest.mark.slow
@pytest.mark.parametrize("backend", [two_devices("jax"), two_devices("torch")])
def test_a_distorted_run_learns_on_two_devices(run_cli, top_or_bottom, backend):
    result = run_cli(
        "--backend", backend, *EASY, "--data-dir", str(top_or_bottom), "--distortions",
        "--gpus", "2", "--no-report",
    )  # fmt: skip
    record = check_distorted_run(result, 31 * 64)
    checks = record["distribution"]["replica_checks"]
    assert [c["epoch"] for c in checks] == [1, 3]
    assert all(c["max_abs_difference"] == 0.0 for c in checks)


@pytest.mark.slow
def test_a_distorted_run_learns_under_mxnet_on_two_contexts(run_cli, top_or_bottom, mxnet_python):
    result = run_cli(
        "--backend", "mxnet", *EASY, "--data-dir", str(top_or_bottom), "--distortions",
        "--gpus", "2", "--mxnet-python", mxnet_python, "--no-report",
    )  # fmt: skip
    record = check_distorted_run(result, 31 * 64)
    assert record["model"]["data_format"] == "channels_first"
    assert all(c["max_abs_difference"] == 0.0 for c in record["distribution"]["replica_checks"])
