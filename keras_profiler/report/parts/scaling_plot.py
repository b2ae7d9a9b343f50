"""The model pages' scaling plot: steady-state images/sec against device
count, one line per series, with each series' ideal (linear) scaling dashed
beside it, and error bars of one standard deviation where a cell has several
ok repeats. Drawn with the shared figure helper (``figures``).
"""

from __future__ import annotations

from keras_profiler.report.data.series import Series
from keras_profiler.report.parts.figures import COLOURS, new_figure, to_png


def file_name(model_file: str, setup_number: int) -> str:
    """The plot of setup ``setup_number`` of a model page (``model_file``.md)."""
    return f"{model_file}-scaling-{setup_number}.png"


def worth_plotting(series: list[Series]) -> bool:
    """True when some backend has ok runs at two or more device counts: with
    fewer there is no scaling to see."""
    counts: dict[str, set[int]] = {}
    for each in series:
        counts.setdefault(each.backend, set()).update(each.ok_rates())
    return any(len(devices) >= 2 for devices in counts.values())


def scaling_png(series: list[Series], title: str, batch_size: int, unit: str = "images") -> bytes:
    """The plot as PNG bytes.

    Args:
        series: The setup's series, in the order of the comparison table.
        title: Model, hardware and data, one or two lines.
        batch_size: Per-device batch, for the x axis label.
        unit: What a sample is (images, sequences), for the y axis label.
    """
    figure = new_figure()
    axes = figure.add_subplot()
    ticks: set[int] = set()
    for index, each in enumerate(series):
        rates = each.ok_rates()
        ticks.update(rates)
        _draw(axes, each.label, rates, COLOURS[index % len(COLOURS)], each.ok_stdevs())
    _decorate(axes, sorted(ticks), title, batch_size, unit)
    return to_png(figure)


def _draw(axes, label: str, rates: dict[int, float], colour, stdevs: dict[int, float]) -> None:
    """One series, its error bars, and its ideal line from its own 1-device rate."""
    devices = sorted(rates)
    if not devices:
        return
    axes.plot(devices, [rates[d] for d in devices], marker="o", color=colour, label=label)
    spread = [d for d in devices if d in stdevs]
    if spread:
        axes.errorbar(
            spread,
            [rates[d] for d in spread],
            yerr=[stdevs[d] for d in spread],
            fmt="none",
            ecolor=colour,
            capsize=3,
        )
    if 1 in rates and len(devices) > 1:
        ideal = [rates[1] * d for d in devices]
        axes.plot(devices, ideal, linestyle="--", color=colour, label=f"{label}, ideal")


def _decorate(axes, ticks: list[int], title: str, batch_size: int, unit: str) -> None:
    axes.set_xscale("log", base=2)
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.minorticks_off()
    axes.set_ylim(bottom=0)
    axes.set_xlabel(f"devices (batch {batch_size} per device)")
    axes.set_ylabel(f"{unit}/sec, steady state")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
