"""The compiled model under test, built as every run builds it, and the
record's description of it.

Example:

```python
with adapter.scope():
    model, image_size = build_model(keras, config, adapter, data)
described = describe_model(keras, adapter, model, image_size)
```
"""

from __future__ import annotations

import sys

from keras_profiler import model_stats
from keras_profiler.config import RunConfig


def build_model(keras, config: RunConfig, adapter, data):
    """The compiled model under test, and the image size it sees: models run
    at a larger size than the data's get an on-device upscale in front."""
    from keras_profiler import models
    from keras_profiler.models import _common

    adapter.set_globals(config)
    spec = models.load(config.model)
    if spec.input_kind == "tokens":  # built for the sequences' own length
        model = spec.build(data.sample_shape, data.num_classes)
        size = data.sample_shape[0]
        return _compiled(model, config, adapter), size
    side, _, channels = data.image_shape
    size = config.image_size or spec.default_image_size or side
    data_shape = _image_shape(side, channels, config.data_format)
    if size == side:
        model = spec.build(data_shape, data.num_classes)
    else:
        inputs = keras.layers.Input(data_shape)
        base = spec.build(_image_shape(size, channels, config.data_format), data.num_classes)
        model = keras.models.Model(inputs, base(_common.upscale(inputs, size)), name=base.name)
    return _compiled(model, config, adapter), size


def _compiled(model, config: RunConfig, adapter):
    """``model`` compiled as every run compiles it."""
    model.compile(
        optimizer=adapter.optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **adapter.compile_options(config),
    )
    return model


def _image_shape(side: int, channels: int, data_format: str) -> tuple[int, int, int]:
    if data_format == "channels_first":
        return channels, side, side
    return side, side, channels


def describe_model(keras, adapter, model, size: int, input_kind: str = "images") -> dict:
    """The record's model section: what was built, what one sample is (an
    image of ``size`` pixels a side, or a sequence of ``size`` tokens), and
    its per-sample costs (multiply-adds, feature and parameter memory) where
    they can be computed."""
    tokens = input_kind == "tokens"
    described = {
        "name": model.name,
        "parameters": adapter.parameter_count(model),
        "image_size": None if tokens else size,
        "sequence_length": size if tokens else None,
        "sample_unit": "sequences" if tokens else "images",
        "data_format": _data_format(keras, model),
        # The policy in effect, read back from the model (Keras 2 has none).
        "dtype_policy": getattr(getattr(model, "dtype_policy", None), "name", None),
    }
    try:
        described.update(model_stats.describe(model, adapter.counted_weights(model)))
    except model_stats.StatsUnavailable as problem:
        # A user's model with, say, a variable-size input: the report leaves
        # the figures blank; the run itself is unaffected.
        print(f"keras-profiler: no per-image model figures: {problem}", file=sys.stderr)
    return described


def _data_format(keras, model) -> str:
    """The layout the model's layers were built with, read from the first
    layer that has one (Keras's global setting for a model with none)."""
    built = (getattr(layer, "data_format", None) for layer in model.layers)
    return next((f for f in built if f), None) or keras.backend.image_data_format()
