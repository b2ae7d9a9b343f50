"""BERT-Large (uncased): 24 layers, hidden size 1,024, 16 heads,
feed-forward 4,096, with the pre-training language-model head
(models/_bert.py).

Reads token sequences (``--dataset tokens``), 128 tokens a sequence unless
``--sequence-length`` says otherwise. Its backbone holds 335,141,888
parameters, the published count of the original uncased checkpoint.
"""

from __future__ import annotations

from . import _bert
from ._common import named_builder

INPUT_KIND = "tokens"
DEFAULT_SEQUENCE_LENGTH = 128
NEEDS = ("attention", "layer normalisation")
SIZE = dict(layers=24, hidden=1024, heads=16, intermediate=4096)

build = named_builder(_bert.build, "bert_large", **SIZE)
