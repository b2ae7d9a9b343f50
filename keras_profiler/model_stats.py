"""Per-image costs of a Keras model, read from the model itself.

The figures of a model summary table (multiply-adds, feature memory,
parameter memory) come from the built model's layers, so they cannot drift
from what was trained. The module imports no framework: it reads the model
object it is given, through attributes that Keras 3 (every backend) and
Keras 2.2 (keras-mxnet) both have, with a fallback where they differ.

What is counted:

* Multiply-adds: convolutions (Conv1D/2D/3D at any stride, padding, dilation
  and groups; their transposes; DepthwiseConv1D/2D; SeparableConv1D/2D) and
  Dense, one forward pass of one image (the published tables' convention:
  their "4 GFLOPs" for ResNet-50 are multiply-adds). Bias additions, batch
  normalisation, activations, pooling, element-wise additions and
  concatenations are not multiply-adds of note (a few operations per output
  element, against hundreds per element of a convolution) and are not
  counted, as in the published tables (fvcore, torchvision). Keras's
  MultiHeadAttention counts its query, key, value and output projections and
  its two products over the sequence (scores, and the weighted sum of values):
  the transformer's own cost, which grows with the square of the sequence
  length. A layer of a model's own counts itself where it defines
  ``forward_multiply_adds()`` (BERT's tied vocabulary logits do). Other
  layers with weights (recurrent, embeddings, EinsumDense on its own) are
  not counted.
* Feature memory: the model's input(s) and the output of every layer, for a
  batch of one, at each output's own dtype (bfloat16 outputs under mixed
  precision count 2 bytes). It is the total of the tensors the forward pass
  produces, not a peak: outputs that are views (Flatten, Reshape) or could be
  computed in place (ReLU) count in full.
* Parameter memory: every weight, trainable or not (batch-norm moving
  statistics included), at its own dtype; the caller may name the weights
  (the worker passes its backend adapter's ``counted_weights``, which leaves
  out keras-mxnet's stand-in gammas).

Nested models (a model used as a layer, as the worker's upscaling wrapper
does) are recursed into; their input layers stand for the tensor the outer
model feeds in and are not counted again. A layer called several times is
counted for its first call only (no registered model shares layers).
"""

from __future__ import annotations

import math
import re

# Layer class name -> how its multiply-adds are counted. Looked up along the
# class's MRO, nearest first, so that subclasses are counted as their base
# and Keras 2's Conv2DTranspose (a Conv2D subclass there) as a transpose.
_CONVOLUTIONS = ("Conv1D", "Conv2D", "Conv3D")
_TRANSPOSES = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
_SEPARABLE = ("SeparableConv1D", "SeparableConv2D")


class StatsUnavailable(ValueError):
    """A figure cannot be computed from this model (an unknown dimension, a
    layer with no output, a dtype of unknown size)."""


def describe(model, weights=None) -> dict:
    """The per-image costs of a built Keras model.

    Args:
        model: A built Keras 3 or Keras 2.2 model (functional or sequential).
        weights: the weights whose memory counts; default: all of the model's.

    Returns:
        A dict of ints: ``forward_macs_per_image`` (multiply-adds of one
        forward pass of one image), ``activation_bytes_per_image`` (the model's
        input(s) plus every layer's output(s) at batch 1) and
        ``parameter_bytes`` (all the weights). See the module docstring for
        what each counts.

    Raises:
        StatsUnavailable: If a figure cannot be computed from the model.
    """
    layers = list(leaf_layers(model))
    return {
        "forward_macs_per_image": sum(_macs(layer) for layer in layers),
        "activation_bytes_per_image": _input_bytes(model)
        + sum(_output_bytes(layer) for layer in layers),
        "parameter_bytes": sum(_bytes(w) for w in (model.weights if weights is None else weights)),
    }


def layer_costs(model) -> list[dict]:
    """Per layer with trainable weights, in forward order: its name, its
    multiply-adds for one image and its gradients' bytes (the trainable
    weights at their own dtype: float32 under mixed precision, whose
    variables stay float32), with the weights' paths."""
    costs = []
    for layer in leaf_layers(model):
        weights = list(getattr(layer, "trainable_weights", []))
        if weights:
            costs.append(
                {
                    "layer": layer.name,
                    "macs_per_image": _macs(layer),
                    "gradient_bytes": sum(_bytes(w) for w in weights),
                    "weights": [getattr(w, "path", None) or w.name for w in weights],
                }
            )
    return costs


def leaf_layers(model):
    """Every layer of ``model`` that is not itself a model, nested models
    recursed into, input layers left out."""
    for layer in model.layers:
        if _is_model(layer):
            yield from leaf_layers(layer)
        elif type(layer).__name__ != "InputLayer":
            yield layer


def _is_model(layer) -> bool:
    """Whether ``layer`` is a model (it has layers of its own)."""
    return isinstance(getattr(layer, "layers", None), list)


def _macs(layer) -> int:
    """Multiply-adds of one call of ``layer`` on one image; 0 for a layer
    whose arithmetic is not counted."""
    own = getattr(layer, "forward_multiply_adds", None)
    if callable(own):
        return int(own())
    kind = next((c.__name__ for c in type(layer).__mro__ if c.__name__ in _COUNTERS), None)
    return _COUNTERS[kind](layer) if kind else 0


def _convolution_macs(layer) -> int:
    # Each output position takes one multiply-add per kernel weight: the
    # kernel holds (window x input channels / groups) per filter, so stride,
    # padding, dilation, groups and the kernel's layout (keras-mxnet stores it
    # channels-first) need no case of their own.
    positions = _output_elements(layer) // layer.filters
    return positions * _elements(layer.kernel)


def _transpose_macs(layer) -> int:
    # Each input element is scattered onto a window of every filter.
    window = math.prod(layer.kernel_size)
    return _elements(_first_input(layer)) * window * layer.filters


def _depthwise_macs(layer) -> int:
    # Each output element is one window of one input channel.
    return _output_elements(layer) * math.prod(layer.kernel_size)


def _separable_macs(layer) -> int:
    # A depthwise pass then a 1x1 convolution, both at the output's positions.
    positions = _output_elements(layer) // layer.filters
    return positions * (_elements(layer.depthwise_kernel) + _elements(layer.pointwise_kernel))


def _dense_macs(layer) -> int:
    # Each output element takes one multiply-add per input feature.
    return _output_elements(layer) * (_elements(layer.kernel) // layer.units)


def _attention_macs(layer) -> int:
    # Projections of query, key and value to heads x key (value) dimensions,
    # the scores (one key-dimension dot product per query and key position
    # and head), the weighted sum of values, and the output projection.
    heads, key_dim = layer.num_heads, layer.key_dim
    value_dim = layer.value_dim or key_dim
    # The tensors of the first call, in call order (query, value[, key]).
    tensors = list(layer._inbound_nodes[0].input_tensors)
    query, value = (_positions_and_width(t.shape) for t in tensors[:2])
    key = _positions_and_width(tensors[2].shape) if len(tensors) > 2 else value
    output_width = int(tuple(_outputs(layer)[0].shape)[-1])
    return (
        query[0] * query[1] * heads * key_dim
        + key[0] * key[1] * heads * key_dim
        + value[0] * value[1] * heads * value_dim
        + heads * query[0] * key[0] * (key_dim + value_dim)
        + query[0] * heads * value_dim * output_width
    )


def _positions_and_width(shape) -> tuple[int, int]:
    """(positions, features) of one sample of a (batch, ..., features) shape."""
    inner = tuple(shape)[1:]
    if any(d is None for d in inner):
        raise StatsUnavailable(f"an attention input of shape {tuple(shape)} has an unknown size")
    return math.prod(int(d) for d in inner[:-1]), int(inner[-1])


_COUNTERS = {
    "MultiHeadAttention": _attention_macs,
    **dict.fromkeys(_CONVOLUTIONS, _convolution_macs),
    **dict.fromkeys(_TRANSPOSES, _transpose_macs),
    **dict.fromkeys(_DEPTHWISE, _depthwise_macs),
    **dict.fromkeys(_SEPARABLE, _separable_macs),
    "Dense": _dense_macs,
}


def _input_bytes(model) -> int:
    """Bytes of the model's input(s) for one image."""
    return sum(_bytes(tensor) for tensor in model.inputs)


def _output_bytes(layer) -> int:
    """Bytes of the output(s) of ``layer``'s first call, for one image."""
    return sum(_bytes(tensor) for tensor in _outputs(layer))


def _output_elements(layer) -> int:
    """Elements of the (single) output of ``layer``'s first call, for one image."""
    return sum(_elements(tensor) for tensor in _outputs(layer))


def _outputs(layer) -> list:
    """The output tensor(s) of ``layer``'s first call, as a list."""
    try:
        # Keras 2's ``output`` refuses a layer called several times;
        # ``get_output_at`` does not. Keras 3's ``output`` is the first call's.
        get_output_at = getattr(layer, "get_output_at", None)
        output = get_output_at(0) if get_output_at else layer.output
    except (AttributeError, RuntimeError, ValueError) as error:  # never called
        raise StatsUnavailable(f"layer {layer.name!r} has no output: {error}") from None
    return list(output) if isinstance(output, (list, tuple)) else [output]


def _first_input(layer):
    """The input tensor of ``layer``'s first call."""
    get_input_at = getattr(layer, "get_input_at", None)
    return get_input_at(0) if get_input_at else layer.input


def _bytes(tensor) -> int:
    """Bytes of a tensor or weight, its leading batch dimension taken as 1."""
    return _elements(tensor) * _dtype_bytes(tensor.dtype)


def _elements(tensor) -> int:
    """Elements of a tensor or weight; a leading unknown (batch) dimension
    counts 1."""
    shape = tuple(tensor.shape)
    if shape and shape[0] is None:
        shape = (1, *shape[1:])
    if any(d is None for d in shape):
        raise StatsUnavailable(f"a tensor of shape {tuple(tensor.shape)} has an unknown size")
    return math.prod(int(d) for d in shape)


def _dtype_bytes(dtype) -> int:
    """Bytes of one element of ``dtype`` (a name such as ``"bfloat16"``, or a
    dtype object with a ``name``), read from the bit width in its name
    (``"float8_e4m3fn"``: 8)."""
    name = str(getattr(dtype, "name", dtype))
    if name == "bool":
        return 1
    bits = re.search(r"\d+", name)
    if not bits or int(bits.group()) % 8:
        raise StatsUnavailable(f"unknown size of dtype {name!r}")
    return int(bits.group()) // 8
