"""Reports: pure functions from run records to markdown files and PNG plots.

The same records always give byte-identical reports: nothing here reads the
clock, the machine or the order files were found in.

Layout:

* ``data/``: the records as figures: one row per record (``frame``), the
  repeats of a configuration as one cell (``cells``), a setup's cells as
  series, one per backend and strategy (``series``);
* ``parts/``: what several pages show: a setup in words, the per-backend and
  comparison tables, the scaling plot, the shared figure helper, the marks;
* ``pages/``: one module per page, named after the file it writes, found by
  ``pages.registered``;
* ``readme``: README.md, the index of the pages.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from keras_profiler import records
from keras_profiler.report import inference, pages, readme
from keras_profiler.report.data.cells import per_cell
from keras_profiler.report.data.frame import epochs_frame, records_frame
from keras_profiler.report.parts import figures, units
from keras_profiler.report.parts.marks import GENERATED_MARK

__all__ = ["GENERATED_MARK", "generate", "render"]


def generate(results_dir: str | Path, reports_dir: str | Path) -> tuple[list[Path], list[str]]:
    """Regenerates reports_dir from the records in results_dir.

    Returns:
        The files written, and one line per results file that was skipped.
    """
    loaded, problems = records.load_all(results_dir)
    training = [r for r in loaded if not inference.is_inference(r)]
    served = [r for r in loaded if inference.is_inference(r)]
    files = render(records_frame(training), problems, epochs_frame(training), served)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = reports_dir / name
        data = content.encode() if isinstance(content, str) else content
        # Unchanged files are left alone, so their modification times say
        # when their figures last changed.
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    _remove_stale(reports_dir, set(files))
    return written, problems


def render(
    frame: pd.DataFrame,
    problems: list[str],
    epochs: pd.DataFrame | None = None,
    inference_records: list | None = None,
) -> dict[str, str | bytes]:
    """File name -> content of every report file: markdown text, PNG bytes;
    the training pages from ``frame``, inference.md from its own records."""
    files: dict[str, str | bytes] = {}
    contents: list[tuple[str, str]] = []  # (file, what it shows) for the index
    epochs = epochs_frame([]) if epochs is None else epochs
    cells = per_cell(frame)
    text_models = set(cells.loc[cells["sample_unit"] == "sequences", "model"])
    for module in pages.registered():
        for name, content in module.page(frame, cells, epochs).items():
            if isinstance(content, str):
                content = units.note_mixed(content, text_models)
            files[name] = content
            if not name.endswith(".png"):
                contents.append((name, pages.description(module, name, cells)))
    for name, content in inference.page(inference_records or []).items():
        files[name] = content
        if name == inference.PAGE:
            contents.append((name, inference.DESCRIPTION))
    inference.link_model_pages(files, inference_records or [])
    # Pages first, then the data files, each in the order made.
    contents.sort(key=lambda item: not item[0].endswith(".md"))
    files[readme.PAGE] = readme.index(frame, cells, problems, contents)
    return files


def _remove_stale(reports_dir: Path, current: set[str]) -> None:
    """Deletes pages, plots and exports this tool generated earlier that no
    record backs now; files it did not generate are never touched."""
    for path in reports_dir.glob("*.md"):
        if path.name not in current and path.read_text().startswith(GENERATED_MARK):
            path.unlink()
    for path in reports_dir.glob("*.png"):
        if path.name not in current and figures.is_ours(path.read_bytes()):
            path.unlink()
    # Files that cannot carry the mark (the exports): only their pages' exact
    # names, holding what those pages write there, are ever removed.
    for module in pages.registered():
        for name in getattr(module, "FILES", ()):
            path = reports_dir / name
            if name not in current and path.is_file() and module.is_ours(name, path.read_bytes()):
                path.unlink()
