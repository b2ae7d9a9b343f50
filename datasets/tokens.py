"""Seeded random token sequences for the text models, with a task a model can learn.

Token ids are drawn uniformly from the first 100 ids of BERT's 30,522-token
vocabulary. Which ids are drawn does not change the cost of a step (the
embedding lookup, the encoder and the language-model head over the whole
vocabulary cost the same for any id), and drawing from few ids lets a model
learn the task within a CPU test. The label of every position is the
position's own token: the pre-training head's objective (predict each token)
without masking, so that accuracy is 1 in 100 by chance and near 1 for a
model that learns to carry each token's identity through the encoder. It
asks for no attention between positions: it shows that the model trains,
not that it models language.

The reference's BERT rows (HKBU-HPML/ddl-benchmarks, ``bert_benchmark.py``)
likewise train on random ids (``torch.rand(batch, len) * 2000``), their
labels random. Sequences are ``--sequence-length`` tokens long (default:
the model's own).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ImageDataset, sample_count

NAME = "tokens"
INPUT_KIND = "tokens"
TRAIN_SIZE = 50_000
TEST_SIZE = 1_000
NUM_CLASSES = 30_522  # BERT's uncased WordPiece vocabulary
DRAWN_FROM = 100  # ids drawn from 0..DRAWN_FROM-1
DEFAULT_SEQUENCE_LENGTH = 128
IMAGE_SHAPE = None  # not images
DESCRIPTION = (
    "seeded random token sequences (BERT's vocabulary), each position labelled with its own "
    "token: for the text models"
)
SYNTHETIC = True  # generated, as the reference's BERT input: no distortions
LEARNABLE = True  # the labels are a function of the tokens: accuracy shows learning
GENERATED = True  # drawn in memory at --sequence-length: no files, no download
SAMPLE_DTYPE = "int32"


def load(
    data_dir: Path,
    *,
    seed: int,
    train_samples: int | None = None,
    test_samples: int | None = None,
    allow_download: bool = True,
    sequence_length: int | None = None,
) -> ImageDataset:
    """Generates the sequences from ``seed``: the same seed gives identical arrays.

    Args:
        data_dir: Ignored (nothing is read).
        seed: Seed of numpy.random.default_rng.
        train_samples: Training sequences; None gives 50,000.
        test_samples: Test sequences; None gives 1,000.
        allow_download: Ignored.
        sequence_length: Tokens a sequence; None gives 128.

    Returns:
        int32 token ids (N, sequence_length) and int32 labels of the same shape.
    """
    del data_dir, allow_download
    shape = sample_shape(sequence_length)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
    x_train = _tokens(
        streams[0], sample_count("train_samples", train_samples, TRAIN_SIZE, "sequences"), shape
    )
    x_test = _tokens(
        streams[1], sample_count("test_samples", test_samples, TEST_SIZE, "sequences"), shape
    )
    return ImageDataset(
        name=NAME,
        x_train=x_train,
        y_train=labels(x_train),
        x_test=x_test,
        y_test=labels(x_test),
        num_classes=NUM_CLASSES,
        synthetic=True,
        source=f"random tokens (seed {seed}), each labelled with itself",
    )


def labels(tokens: np.ndarray) -> np.ndarray:
    """Each position's label: its own token. The array itself, not a copy:
    nothing writes to either, and a second copy of every sequence would
    double the memory that training.data.check_memory counts."""
    return tokens


def sample_shape(sequence_length: int | None) -> tuple[int]:
    """The shape of one sequence (None: 128 tokens)."""
    if sequence_length is None:
        return (DEFAULT_SEQUENCE_LENGTH,)
    if sequence_length < 2:
        raise ValueError(f"sequence_length must be at least 2 tokens, not {sequence_length}")
    return (sequence_length,)


def default_test_samples(size: int | None) -> int | None:
    """All of the test split: 1,000 sequences."""
    return None


def _tokens(rng: np.random.Generator, n: int, shape: tuple[int]) -> np.ndarray:
    return rng.integers(0, DRAWN_FROM, (n, *shape), dtype=np.int32)
