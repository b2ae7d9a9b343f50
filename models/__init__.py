"""Model definitions shared by every backend, and the registry that finds them.

Every public module in this folder (a name not starting with ``_``) is a model,
registered under its file name. It defines::

    def build(input_shape, num_classes) -> keras.Model   # a functional model
    DEFAULT_IMAGE_SIZE = 299   # optional: the input size the model is run at;
                               # absent or None: the dataset's own size
    NEEDS = ("grouped convolutions",)  # optional: what of FEATURES it needs
                               # beyond the layers Keras 2.2 has too
    INPUT_KIND = "tokens"      # optional: what one sample is (INPUT_KINDS);
                               # absent: "images"

A model of token sequences is built as ``build((sequence_length,),
vocabulary_size)``: it reads integer token ids and predicts a token at every
position, and defines ``DEFAULT_SEQUENCE_LENGTH`` instead of
``DEFAULT_IMAGE_SIZE``.

The files use only layers present in both Keras 3 and Keras 2.2, so that the
same definitions serve the Keras 3 backends and keras-mxnet. Listing and
checking names never imports Keras: the launcher validates ``--model`` before
any framework is loaded.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

USER_MODEL_HINT = "give a registered name or path/to/file.py:function"
# What a model may need beyond the layers both Keras 3 and Keras 2.2 have; a
# backend names those of them it lacks (Backend.lacks), and a run of a model
# on a backend that lacks what it needs is refused, or recorded by a sweep as
# not supported.
FEATURES = (
    "grouped convolutions",
    "local response normalisation",
    "attention",
    "layer normalisation",
)

# What one sample of a model's input is: an image (H x W x C pixels), or a
# sequence of integer token ids.
INPUT_KINDS = ("images", "tokens")


@dataclass(frozen=True)
class ModelSpec:
    """A model builder and the input size it runs at."""

    name: str
    build: Callable
    default_image_size: int | None
    input_kind: str = "images"
    default_sequence_length: int | None = None

    def sample_shape(
        self, size: int | None = None, data_format: str = "channels_last", channels: int = 3
    ) -> tuple[int, ...]:
        """The shape of one sample the model is built for: ``(size,)``
        tokens, or a ``size`` x ``size`` image with ``channels`` in
        ``data_format``. ``size`` None: the model's default (an image model
        with none: CIFAR-10's 32)."""
        if self.input_kind == "tokens":
            return (size or self.default_sequence_length,)
        side = size or self.default_image_size or 32
        if data_format == "channels_first":
            return channels, side, side
        return side, side, channels


def available() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def check(spec: str) -> None:
    """Raises ValueError with what to change when ``spec`` names no model.

    Works without importing Keras: a user's file is parsed, not run.
    """
    if ":" not in spec:
        if spec not in available():
            raise ValueError(
                f"unknown model {spec!r}: choose one of {', '.join(available())} "
                f"or {USER_MODEL_HINT}"
            )
        return
    path, function = _split_user_spec(spec)
    if not path.is_file():
        raise ValueError(f"model file {str(path)!r} not found: {USER_MODEL_HINT}")
    tree = _parse(path)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if function not in defined:
        raise ValueError(
            f"{str(path)!r} defines no top-level function {function!r}: "
            f"define {function}(input_shape, num_classes) there"
        )


def needs(spec: str) -> tuple[str, ...]:
    """The FEATURES the model named by ``spec`` needs (its module's ``NEEDS``),
    read from its source without importing it (or Keras)."""
    found = tuple(_constant(spec, "NEEDS", ()))
    unknown = [f for f in found if f not in FEATURES]
    if unknown:
        raise ValueError(
            f"{str(_source(spec))!r}: NEEDS names {', '.join(map(repr, unknown))}: "
            f"use only {', '.join(map(repr, FEATURES))}"
        )
    return found


def input_kind(spec: str) -> str:
    """What one sample of the model named by ``spec`` is (one of
    INPUT_KINDS: its module's ``INPUT_KIND``, else "images"), read from its
    source without importing it."""
    kind = _constant(spec, "INPUT_KIND", "images")
    if kind not in INPUT_KINDS:
        raise ValueError(
            f"{str(_source(spec))!r}: INPUT_KIND is {kind!r}: use one of "
            f"{', '.join(map(repr, INPUT_KINDS))}"
        )
    return kind


def default_sequence_length(spec: str) -> int | None:
    """The sequence length a model of token sequences runs at without
    --sequence-length (its ``DEFAULT_SEQUENCE_LENGTH``), read from its source."""
    return _constant(spec, "DEFAULT_SEQUENCE_LENGTH", None)


def _source(spec: str) -> Path:
    """The file that defines the model named by ``spec``."""
    check(spec)
    return _split_user_spec(spec)[0] if ":" in spec else Path(__path__[0]) / f"{spec}.py"


def _constant(spec: str, name: str, default):
    """The literal value of the module-level ``name = ...`` in the model's
    source, or ``default`` where it assigns none."""
    for node in _parse(_source(spec)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return default


def load(spec: str) -> ModelSpec:
    """Imports the builder named by ``spec`` (a registered name or file.py:function)."""
    check(spec)
    if ":" in spec:
        path, function = _split_user_spec(spec)
        module = _import_file(path)
        name = f"{path.stem}:{function}"
        build = getattr(module, function)
    else:
        module = importlib.import_module(f"{__name__}.{spec}")
        name = spec
        build = module.build
    return ModelSpec(
        name,
        build,
        getattr(module, "DEFAULT_IMAGE_SIZE", None),
        input_kind(spec),
        getattr(module, "DEFAULT_SEQUENCE_LENGTH", None),
    )


def _parse(path: Path) -> ast.Module:
    """The file's syntax tree; ValueError saying where it does not parse."""
    try:
        return ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        raise ValueError(
            f"{str(path)!r} is not valid Python: line {error.lineno}: {error.msg}"
        ) from None


def _split_user_spec(spec: str) -> tuple[Path, str]:
    path, _, function = spec.rpartition(":")
    return Path(path).expanduser(), function


def _import_file(path: Path):
    module_spec = importlib.util.spec_from_file_location(f"user_model_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
