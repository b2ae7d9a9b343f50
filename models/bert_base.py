"""BERT-Base (uncased): 12 layers, hidden size 768, 12 heads, feed-forward
3,072, with the pre-training language-model head (models/_bert.py).

Reads token sequences (``--dataset tokens``), 128 tokens a sequence unless
``--sequence-length`` says otherwise. Its backbone holds 109,482,240
parameters, the published count of the original uncased checkpoint.
"""

from __future__ import annotations

from . import _bert
from ._common import named_builder

INPUT_KIND = "tokens"
DEFAULT_SEQUENCE_LENGTH = 128
NEEDS = ("attention", "layer normalisation")
SIZE = dict(layers=12, hidden=768, heads=12, intermediate=3072)

build = named_builder(_bert.build, "bert_base", **SIZE)
