"""A model too big for any machine, to make runs fail for want of memory
for real: its first Dense kernel alone is 3072 x 2**36 float32 weights
(768 TiB), which no allocator grants."""

from __future__ import annotations

import keras


def build(input_shape, num_classes: int):
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(2**36)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.models.Model(inputs, outputs, name="huge")
