"""Starts a keras-profiler module inside the MXNet environment.

``PYTHON bootstrap.py MODULE ARGS...`` runs ``python -m MODULE ARGS...``
(or ``python MODULE ARGS...`` for a MODULE ending in ``.py``) with two
differences that keras-mxnet needs, and nothing else:

- keras-profiler is not installed in that environment: its packages are
  registered from the folders the launcher names in KERAS_PROFILER_PACKAGES,
  so the worker, models/ and datasets/ are the very files the other backends
  run;
- Keras 2.2 imports ``Iterable`` and friends from ``collections``, removed in
  Python 3.10: they are aliased from ``collections.abc`` before Keras loads.

Standard library only: it runs before anything else can be imported.
"""

import collections
import collections.abc
import importlib.util
import json
import os
import runpy
import sys

ABC_NAMES = ("Callable", "Iterable", "Mapping", "MutableMapping", "MutableSet", "Sequence")


def alias_collections() -> None:
    for name in ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def register_packages(packages: dict) -> None:
    """Imports each package from its folder, parents first (names sorted)."""
    for name in sorted(packages):
        folder = packages[name]
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:  # as an import would: keras_profiler.models is an attribute too
            setattr(sys.modules[parent], child, module)


def main() -> None:
    # Python put this file's folder first on sys.path; its modules (adapter,
    # environment, probe) are not top-level modules and must not shadow any.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    alias_collections()
    register_packages(json.loads(os.environ["KERAS_PROFILER_PACKAGES"]))
    target = sys.argv[1]
    sys.argv = [target, *sys.argv[2:]]
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
