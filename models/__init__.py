"""Model definitions shared by every backend, and the registry that finds them.

Every public module in this folder (a name not starting with ``_``) is a model,
registered under its file name. It defines::

    def build(input_shape, num_classes) -> keras.Model   # a functional model
    DEFAULT_IMAGE_SIZE = 299   # optional: the input size the model is run at;
                               # absent or None: the dataset's own size
    NEEDS = ("grouped convolutions",)  # optional: what of FEATURES it needs
                               # beyond the layers Keras 2.2 has too

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


@dataclass(frozen=True)
class ModelSpec:
    """A model builder and the input size it runs at."""

    name: str
    build: Callable
    default_image_size: int | None


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
    check(spec)
    path = _split_user_spec(spec)[0] if ":" in spec else Path(__path__[0]) / f"{spec}.py"
    for node in _parse(path).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "NEEDS" for t in node.targets
        ):
            found = tuple(ast.literal_eval(node.value))
            unknown = [f for f in found if f not in FEATURES]
            if unknown:
                raise ValueError(
                    f"{str(path)!r}: NEEDS names {', '.join(map(repr, unknown))}: "
                    f"use only {', '.join(map(repr, FEATURES))}"
                )
            return found
    return ()


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
    return ModelSpec(name, build, getattr(module, "DEFAULT_IMAGE_SIZE", None))


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
