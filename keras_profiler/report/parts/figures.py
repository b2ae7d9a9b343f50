"""The one figure helper every plot of the reports draws with: a matplotlib
Figure of its own, its colours, and PNG bytes that are the same for the same
drawing and carry the mark that tells them from a user's own PNG.

The same records give byte-identical PNGs: fixed size and dpi, no software
stamp, no timestamp.
"""

from __future__ import annotations

import io

from keras_profiler.report.parts.marks import PNG_MARK

_DPI = 100
_SIZE_INCHES = (8.0, 5.0)

# matplotlib's tab10: ten colours told apart at a glance.
COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


def new_figure(size_inches: tuple[float, float] = _SIZE_INCHES):
    """A matplotlib Figure of its own, not pyplot's: no global state, nothing
    left open. Imported here so that reading records never needs matplotlib,
    and with the Agg canvas so that it draws on machines without a display."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=size_inches, dpi=_DPI)


def to_png(figure) -> bytes:
    """The figure as PNG bytes, the same for the same drawing: no software
    stamp, no timestamp, and the mark that says the file is ours."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None, "Comment": PNG_MARK})
    return buffer.getvalue()


def is_ours(data: bytes) -> bool:
    """Whether a PNG in the reports folder is a plot this tool wrote."""
    return PNG_MARK.encode() in data
