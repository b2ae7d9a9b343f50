"""A page's words for its samples: images, or the sequences of a text model.

The pages are written about images, the unit of every model but the text
models; a page about one text model (its model page) says sequences instead,
so that its throughput is named in its own unit (tokens/sec has rows of its
own). Pages that mix models keep the word images and say, once, what it
means for a text model (``MIXED_NOTE``).
"""

from __future__ import annotations

# (written, for sequences): the phrases the pages use, longest first.
_PHRASES = [
    ("Images processed per sec", "Sequences processed per sec"),
    ("Images/sec", "Sequences/sec"),
    ("images/sec", "sequences/sec"),
    ("training images", "training sequences"),
    ("test images", "test sequences"),
    ("the images of epochs", "the sequences of epochs"),
    ("images per device", "sequences per device"),
]
MIXED_NOTE = (
    "For a model of token sequences (bert_base, bert_large) a sample is a sequence: its "
    "images/sec are sequences/sec, and its model page gives tokens/sec beside them."
)


def reword(lines: list[str], unit: str) -> list[str]:
    """``lines`` as written for images, reworded for samples of ``unit``."""
    if unit != "sequences":
        return lines
    reworded = []
    for line in lines:
        for written, replacement in _PHRASES:
            line = line.replace(written, replacement)
        reworded.append(line)
    return reworded


def note_mixed(text: str, text_models: set[str]) -> str:
    """``text`` (a page in markdown) with MIXED_NOTE under its title where
    it gives images/sec and names one of ``text_models``."""
    if "images/sec" not in text or not any(f"| {m} " in text for m in text_models):
        return text
    lines = text.split("\n")
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    return "\n".join([*lines[: title + 1], "", MIXED_NOTE, *lines[title + 1 :]])
