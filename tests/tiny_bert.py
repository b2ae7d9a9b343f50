"""A BERT small enough to learn the tokens dataset's task on a CPU in a
test: models/_bert.py's architecture at 2 layers, hidden size 64, 2 heads.
Used as ``--model tests/tiny_bert.py:build``."""

from keras_profiler.models import _bert

INPUT_KIND = "tokens"
DEFAULT_SEQUENCE_LENGTH = 16
NEEDS = ("attention", "layer normalisation")


def build(input_shape, num_classes):
    return _bert.build(
        input_shape, num_classes, name="tiny_bert", layers=2, hidden=64, heads=2, intermediate=128
    )
