"""Report pages: one module per page, named after the file it writes
(``models.py`` writes models.md, ``batch_sizes.py`` batch-sizes.md,
``records.py`` records.csv and records.jsonl, ``model.py`` one <model>.md per
model). Every module of this package is a page, and ``registered`` finds them:
adding a page is adding a module here (and its test), nothing else.

A page module has:

* ``POSITION``: where the index (reports/README.md) lists its files;
* ``page(frame, cells, epochs)``: file name -> markdown text, CSV/JSON text
  or PNG bytes, {} when the records have nothing for it; every markdown page
  starts with the mark (``parts.marks.markdown``), every PNG carries it
  (``parts.figures.to_png``);
* ``DESCRIPTIONS``: file name -> what the index says of it, for every file
  but the plots; or, where the file names follow the records (the model
  pages), ``describe_page(name, cells)`` instead;
* for files that cannot carry the mark (CSV, JSON lines), ``FILES``, their
  fixed names, and ``is_ours(name, data)``, so that a stale one is removed and
  a user's own file is not.

Example:

```python
# keras_profiler/report/pages/energy.py writes energy.md
PAGE = "energy.md"
POSITION = 90
DESCRIPTIONS = {PAGE: "images per joule by backend"}

def page(frame, cells, epochs):
    if not len(frame):
        return {}
    return {PAGE: markdown(["# Energy", "", ...])}
```
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def registered() -> list[ModuleType]:
    """Every page module of this package, in the index's order (POSITION)."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
    ]
    return sorted(modules, key=lambda module: (module.POSITION, module.__name__))


def description(module: ModuleType, name: str, cells) -> str:
    """What the index says of the file ``name`` that page ``module`` wrote."""
    describe = getattr(module, "describe_page", None)
    return describe(name, cells) if describe else module.DESCRIPTIONS[name]
