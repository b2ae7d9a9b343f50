"""BERT-Base and BERT-Large (models/_bert.py): the published parameter
counts, keras-hub's outputs, the transformer's multiply-adds, the token
dataset and the errors a user meets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from shapes_only import build_shapes_only

from keras_profiler import datasets, model_stats, models
from keras_profiler.config import RunConfig
from keras_profiler.models import _bert, bert_base, bert_large

# keras-hub's BertBackbone presets state them, for the original uncased
# checkpoints (keras_hub/src/models/bert/bert_presets.py: "params" of
# bert_base_en_uncased and bert_large_en_uncased); pooler included.
PUBLISHED_BACKBONE = {"bert_base": 109_482_240, "bert_large": 335_141_888}
SIZES = {"bert_base": bert_base.SIZE, "bert_large": bert_large.SIZE}


@pytest.fixture(scope="module")
def keras():
    """Keras, imported only by the tests that need it."""
    import keras

    return keras


def pooler_and_head(hidden: int, vocabulary: int = 30_522) -> tuple[int, int]:
    """(the pooler's weights, the pre-training head's): a dense layer each
    of hidden x hidden + hidden; the head adds a layer norm (2 x hidden) and
    a bias per token of the vocabulary (its logits reuse the embeddings)."""
    dense = hidden * hidden + hidden
    return dense, dense + 2 * hidden + vocabulary


@pytest.mark.parametrize("name", sorted(PUBLISHED_BACKBONE))
def test_the_backbone_holds_the_published_count_and_the_model_its_head(keras, name):
    backbone = build_shapes_only(keras, lambda: _bert.backbone(128, **SIZES[name]))
    assert backbone.count_params() == PUBLISHED_BACKBONE[name]
    model = build_shapes_only(keras, lambda: models.load(name).build((128,), 30_522))
    pooler, head = pooler_and_head(SIZES[name]["hidden"])
    assert model.count_params() == PUBLISHED_BACKBONE[name] - pooler + head
    assert model.count_params() == {"bert_base": 109_514_298, "bert_large": 335_174_458}[name]


def test_multiply_adds_are_the_transformers_own(keras):
    # Per sequence of L tokens, per layer: the four H x H projections of
    # every token, the scores and the weighted sum (L x L x H each), the
    # feed-forward (two H x I); then the head's H x H transform and the
    # H x V logits of every token. Embeddings and norms add no multiply-adds.
    model = build_shapes_only(keras, lambda: bert_base.build((128,), 30_522))
    L, H, FF, V, layers = 128, 768, 3072, 30_522, 12
    per_layer = 4 * L * H * H + 2 * L * L * H + 2 * L * H * FF
    expected = layers * per_layer + L * H * H + L * H * V
    assert model_stats.describe(model)["forward_macs_per_image"] == expected == 14_249_558_016


# The same tiny BERT built by keras-hub and here, keras-hub's weights copied
# into ours by name, fed the same tokens (one segment, no padding).
SAME_OUTPUTS = """
import json, numpy as np, keras, keras_hub
from keras_profiler.models import _bert
size = dict(layers=2, hidden=64, heads=4, intermediate=128)
hub = keras_hub.models.BertBackbone(vocabulary_size=1000, num_layers=2, num_heads=4,
    hidden_dim=64, intermediate_dim=128, max_sequence_length=512, dropout=0.1)
ours = _bert.backbone(16, vocabulary=1000, **size)

def key(path):
    # keras-hub: transformer_layer_0/self_attention_layer/query/kernel;
    # ours: transformer_layer_0_self_attention/query/kernel.
    return (path.replace("/self_attention_layer/", "_self_attention/")
        .replace("/self_attention_layer_norm/", "_attention_layer_norm/")
        .replace("/feedforward_intermediate_dense/", "_intermediate/")
        .replace("/feedforward_output_dense/", "_output/")
        .replace("/feedforward_layer_norm/", "_output_layer_norm/"))

theirs = {key(w.path): w for w in hub.weights}
assert sorted(theirs) == sorted(w.path for w in ours.weights), sorted(theirs)
for weight in ours.weights:
    weight.assign(theirs[weight.path].numpy())
tokens = np.random.default_rng(0).integers(0, 1000, (2, 16)).astype("int32")
hub_out = hub({"token_ids": tokens, "segment_ids": np.zeros_like(tokens),
               "padding_mask": np.ones_like(tokens)})
sequence, pooled = ours(tokens)
def largest_difference(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))

print(json.dumps({
    "parameters": [hub.count_params(), ours.count_params()],
    "sequence": largest_difference(hub_out["sequence_output"], sequence),
    "pooled": largest_difference(hub_out["pooled_output"], pooled),
    "scale": float(np.max(np.abs(np.asarray(sequence)))),
}))
"""


@pytest.mark.slow
def test_outputs_equal_keras_hubs_bert_given_its_weights():
    pytest.importorskip("keras_hub")  # a test-only dependency (setup.cfg: test)
    out = subprocess.run(
        [sys.executable, "-c", SAME_OUTPUTS],
        env=dict(os.environ, KERAS_BACKEND="jax"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["parameters"][0] == found["parameters"][1]
    assert found["scale"] > 0.5  # layer-normalised outputs, not zeros
    assert found["sequence"] < 1e-5 and found["pooled"] < 1e-5


def test_token_data_is_seeded_and_labelled_with_its_own_tokens():
    one = datasets.load(
        "tokens", "/nonexistent", seed=7, train_samples=4, test_samples=2, sequence_length=12
    )
    again = datasets.load(
        "tokens", "/nonexistent", seed=7, train_samples=4, test_samples=2, sequence_length=12
    )
    assert one.x_train.shape == (4, 12) and one.x_train.dtype == np.int32
    np.testing.assert_array_equal(one.x_train, again.x_train)
    np.testing.assert_array_equal(one.y_train, one.x_train)
    assert np.shares_memory(one.y_train, one.x_train)  # labels are no second copy
    assert one.x_train.max() < datasets.get("tokens").DRAWN_FROM <= one.num_classes == 30_522
    assert datasets.default_for("tokens") == "tokens"
    assert datasets.for_data_kind(synthetic=True, kind="tokens") == "tokens"


def test_a_text_model_takes_the_token_data_by_default():
    config = RunConfig(backend="jax", model="bert_base")
    assert config.dataset == "tokens" and config.sequence_length is None
    assert RunConfig(backend="jax", model="resnet50").dataset == "cifar10"


@pytest.mark.parametrize(
    "options, message",
    [
        (
            dict(model="bert_base", dataset="synthetic"),
            "bert_base reads token sequences, --dataset synthetic holds images: use --dataset "
            "tokens or leave it out",
        ),
        (
            dict(model="resnet50", dataset="tokens"),
            "resnet50 reads images, --dataset tokens holds token sequences: use --dataset "
            "cifar10 or leave it out",
        ),
        (
            dict(model="bert_base", image_size=64),
            "--image-size sizes images; bert_base reads token sequences: use --sequence-length",
        ),
        (
            dict(model="resnet50", sequence_length=64),
            "--sequence-length sizes token sequences; resnet50 reads images: use --image-size",
        ),
    ],
)
def test_mismatched_data_is_refused_saying_what_to_use(options, message):
    with pytest.raises(ValueError) as refused:
        RunConfig(backend="jax", **options)
    assert str(refused.value) == message


def test_the_command_line_refuses_too_long_sequences_and_mxnet(tmp_path):
    results = tmp_path / "results"

    def run(*arguments):
        return subprocess.run(
            [sys.executable, "-m", "keras_profiler", *arguments, "--results-dir", str(results)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    mxnet = run("--backend", "mxnet", "--model", "bert_base")
    assert mxnet.returncode == 2
    assert mxnet.stderr.strip() == (
        "keras-profiler: error: model bert_base needs attention and layer normalisation, which "
        "the mxnet backend (Keras 2.2 through keras-mxnet) lacks: choose another --backend"
    )
    image = run("--backend", "jax", "--model", "bert_base", "--image-size", "64")
    assert image.returncode == 2
    assert image.stderr.strip().endswith("use --sequence-length")
    assert not results.exists() or not any(results.iterdir())
