"""BERT (Devlin et al., 2019) built from Keras 3 layers, as the reference
scaling table trains it: the encoder and the pre-training language-model head.

The encoder is keras-hub's ``BertBackbone`` layer for layer: learned token,
position and segment embeddings added and layer-normalised, then post-norm
transformer blocks (self-attention, dropout, residual, layer norm; a GELU
feed-forward, dropout, residual, layer norm), layer norm epsilon 1e-12,
weights drawn from a truncated normal of stddev 0.02. Built here rather than
imported from keras-hub because importing keras_hub imports TensorFlow, whose
memory would then sit in every jax and torch run's host figures;
tests/test_bert.py checks the parameter counts and the outputs equal
keras-hub's.

The reference (HKBU-HPML/ddl-benchmarks, ``bert_benchmark.py``) trains
Hugging Face's ``BertForPreTraining`` on random token ids, its loss over
every position, all of them segment 0 and none of them padding. The model
here does the same: every position's token is predicted through the
pre-training head (a dense layer, GELU and layer norm, then logits through
the token embedding's own weights, plus a bias). Left out: the next-sentence
head and the pooler that feeds it (two outputs would not fit one label
array; together they are 2 x hidden + 2 + hidden x (hidden + 1) weights and
under 0.1% of the multiply-adds), so the trained model's count is the
backbone's published count less the pooler plus the head.
"""

from __future__ import annotations

import keras

VOCABULARY_SIZE = 30_522  # the uncased WordPiece vocabulary
MAX_POSITIONS = 512
SEGMENTS = 2
LAYER_NORM_EPSILON = 1e-12
DROPOUT = 0.1


def initializer():
    """BERT's weight initialiser (a fresh one per weight)."""
    return keras.initializers.TruncatedNormal(stddev=0.02)


def gelu_tanh(x):
    """GELU, tanh approximation: the activation keras-hub's BERT uses."""
    return keras.activations.gelu(x, approximate=True)


class PositionEmbedding(keras.layers.Layer):
    """A learned embedding per position, added to nothing: returns the first
    ``sequence length`` rows, broadcast over the batch."""

    def __init__(self, max_positions: int, **kwargs):
        super().__init__(**kwargs)
        self.max_positions = max_positions

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.max_positions, input_shape[-1]),
            initializer=initializer(),
            name="embeddings",
        )

    def call(self, inputs):
        length = inputs.shape[1] or keras.ops.shape(inputs)[1]
        rows = keras.ops.convert_to_tensor(self.embeddings)[:length]
        return keras.ops.broadcast_to(keras.ops.expand_dims(rows, 0), keras.ops.shape(inputs))


class FirstSegmentEmbedding(keras.layers.Layer):
    """The segment embedding table, of which every token takes segment 0's
    row: single-segment sequences, as the reference feeds (its segment ids
    are all 0). The table keeps all ``segments`` rows, as BERT's does."""

    def __init__(self, segments: int, **kwargs):
        super().__init__(**kwargs)
        self.segments = segments

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.segments, input_shape[-1]), initializer=initializer(), name="embeddings"
        )

    def call(self, inputs):
        return keras.ops.broadcast_to(self.embeddings[0], keras.ops.shape(inputs))


class TiedVocabularyLogits(keras.layers.Layer):
    """Logits over the vocabulary through the token embedding's own weights
    (``x @ embeddings.T + bias``), as BERT's pre-training head computes them."""

    def __init__(self, embedding: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        vocabulary = self.embedding.input_dim
        self.bias = self.add_weight(shape=(vocabulary,), initializer="zeros", name="bias")

    def call(self, inputs):
        weights = keras.ops.cast(self.embedding.embeddings, inputs.dtype)
        return keras.ops.matmul(inputs, keras.ops.transpose(weights)) + self.bias

    def forward_multiply_adds(self) -> int:
        """Multiply-adds of one call on one sample (model_stats asks this)."""
        length, hidden = self.input.shape[1:]
        return int(length) * int(hidden) * self.embedding.input_dim


def encoder(tokens, *, layers: int, hidden: int, heads: int, intermediate: int, vocabulary: int):
    """BERT's embeddings and transformer blocks on integer ``tokens``;
    returns the token embedding layer and the sequence output."""
    if tokens.shape[1] is not None and tokens.shape[1] > MAX_POSITIONS:
        raise ValueError(
            f"BERT takes at most {MAX_POSITIONS} tokens a sequence, not {tokens.shape[1]}: "
            "lower --sequence-length"
        )
    embedding = keras.layers.Embedding(
        vocabulary, hidden, embeddings_initializer=initializer(), name="token_embedding"
    )
    x = embedding(tokens)
    positions = PositionEmbedding(MAX_POSITIONS, name="position_embedding")(x)
    segments = FirstSegmentEmbedding(SEGMENTS, name="segment_embedding")(x)
    x = keras.layers.Add(name="embeddings_add")([x, positions, segments])
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="embeddings_layer_norm")(x)
    x = keras.layers.Dropout(DROPOUT, name="embeddings_dropout")(x)
    for index in range(layers):
        x = transformer_block(x, index, heads=heads, intermediate=intermediate)
    return embedding, x


def transformer_block(x, index: int, *, heads: int, intermediate: int):
    """One post-norm encoder block, as keras-hub's ``TransformerEncoder``."""
    hidden = x.shape[-1]
    name = f"transformer_layer_{index}"
    attended = keras.layers.MultiHeadAttention(
        heads,
        key_dim=hidden // heads,
        dropout=DROPOUT,
        kernel_initializer=initializer(),
        name=f"{name}_self_attention",
    )(x, x)
    attended = keras.layers.Dropout(DROPOUT, name=f"{name}_attention_dropout")(attended)
    x = keras.layers.Add(name=f"{name}_attention_residual")([x, attended])
    x = keras.layers.LayerNormalization(
        epsilon=LAYER_NORM_EPSILON, name=f"{name}_attention_layer_norm"
    )(x)
    fed = keras.layers.Dense(
        intermediate,
        activation=gelu_tanh,
        kernel_initializer=initializer(),
        name=f"{name}_intermediate",
    )(x)
    fed = keras.layers.Dense(hidden, kernel_initializer=initializer(), name=f"{name}_output")(fed)
    fed = keras.layers.Dropout(DROPOUT, name=f"{name}_output_dropout")(fed)
    x = keras.layers.Add(name=f"{name}_output_residual")([x, fed])
    return keras.layers.LayerNormalization(
        epsilon=LAYER_NORM_EPSILON, name=f"{name}_output_layer_norm"
    )(x)


def pooler(sequence_output):
    """BERT's pooled output: a tanh dense layer on the first token's vector."""
    first = keras.layers.Lambda(lambda x: x[:, 0, :], name="first_token")(sequence_output)
    hidden = sequence_output.shape[-1]
    return keras.layers.Dense(
        hidden, activation="tanh", kernel_initializer=initializer(), name="pooled_dense"
    )(first)


def build(
    input_shape,
    num_classes: int,
    *,
    name: str,
    layers: int,
    hidden: int,
    heads: int,
    intermediate: int,
):
    """BERT with the pre-training language-model head over every position.

    Args:
        input_shape: ``(sequence_length,)``.
        num_classes: The vocabulary size (the tokens the head predicts).
        name: The model's name.
        layers, hidden, heads, intermediate: The encoder's size.

    Returns:
        An uncompiled functional model from int32 token ids
        ``(batch, sequence_length)`` to float32 probabilities
        ``(batch, sequence_length, num_classes)``.
    """
    tokens = keras.Input(shape=tuple(input_shape), dtype="int32", name="token_ids")
    embedding, x = encoder(
        tokens,
        layers=layers,
        hidden=hidden,
        heads=heads,
        intermediate=intermediate,
        vocabulary=num_classes,
    )
    x = keras.layers.Dense(
        hidden, activation=gelu_tanh, kernel_initializer=initializer(), name="lm_transform"
    )(x)
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="lm_layer_norm")(x)
    x = TiedVocabularyLogits(embedding, name="lm_logits")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(tokens, outputs, name=name)


def backbone(
    sequence_length: int,
    *,
    layers: int,
    hidden: int,
    heads: int,
    intermediate: int,
    vocabulary: int = VOCABULARY_SIZE,
):
    """The encoder and the pooler, without a head: what the published
    parameter counts and keras-hub's ``BertBackbone`` hold. Outputs the
    sequence output and the pooled output."""
    tokens = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    _, x = encoder(
        tokens,
        layers=layers,
        hidden=hidden,
        heads=heads,
        intermediate=intermediate,
        vocabulary=vocabulary,
    )
    return keras.models.Model(tokens, [x, pooler(x)], name="bert_backbone")
