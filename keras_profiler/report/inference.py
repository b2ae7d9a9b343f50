"""reports/inference.md: what ``python -m keras_profiler infer`` measured,
per model and machine, in the layout of speed-and-memory-by-batch-size.md:
a latency table (p50 / p90 ms) and a throughput table (samples/sec), a row
per backend and precision, a column per batch size; a failed batch size
keeps its cell ('out of memory'); the SingleStream (p90 at batch 1) and
Offline (best samples/sec) figures per backend; and a plot of p50 latency
by batch size. Inference records are kept off the training pages, whose
cells they would otherwise join.
"""

from __future__ import annotations

from keras_profiler.report.data.cells import FAILED
from keras_profiler.report.pages.model import page_name as model_page_name
from keras_profiler.report.parts import figures
from keras_profiler.report.parts.marks import markdown

PAGE = "inference.md"
DESCRIPTION = "inference latency percentiles and throughput by batch size, per backend"


def is_inference(record) -> bool:
    return record.config.get("mode", "train") == "infer"


def page(records: list) -> dict[str, str | bytes]:
    """inference.md and its plots; {} without inference records."""
    if not records:
        return {}
    lines = [
        "# Inference",
        "",
        "Forward only, through Keras's compiled predict step, the device waited for at each "
        "batch (docs/usage.md#inference). Batch: samples a device; over several devices "
        "each measured batch holds that many a device. Latency per batch: p50 / p90 in "
        "milliseconds; throughput: samples/sec. The latest record of each cell.",
    ]
    files: dict[str, str | bytes] = {}
    for number, (title, group) in enumerate(_groups(records), start=1):
        lines += ["", f"## {title}", ""] + _tables(group)
        files[f"inference-{number}.png"] = _plot(title, group)
        lines += ["", f"![p50 latency by batch size](inference-{number}.png)"]
    files[PAGE] = markdown(lines)
    return files


def link_model_pages(files: dict[str, str | bytes], records: list) -> None:
    """Ends each model page in ``files`` whose model was also served with
    the inference.md sections that show it."""
    sections: dict[str, list[str]] = {}
    for title, group in _groups(records):
        sections.setdefault(model_page_name(group[0].config["model"]), []).append(title)
    for name, titles in sections.items():
        if isinstance(files.get(name), str):
            where = "; ".join(f"*{title}*" for title in titles)
            files[name] = (
                files[name].rstrip("\n")
                + f"\n\n## Inference\n\nForward-only latency and throughput of this model: "
                f"[{PAGE}]({PAGE}), {where}.\n"
            )


def _groups(records: list) -> list[tuple[str, list]]:
    by_title: dict[str, list] = {}
    for record in sorted(records, key=lambda r: r.started_at):
        config = record.config
        cpu = record.environment.get("cpu_model", "?")
        gpus = ", ".join(g["name"] for g in record.environment.get("gpus") or []) or cpu
        title = f"{config['model']} on {gpus}: {config['dataset']}"
        by_title.setdefault(title, []).append(record)
    return sorted(by_title.items())


def _tables(records: list) -> list[str]:
    latest = {}
    for record in records:  # oldest first: the latest stays
        config = record.config
        key = (config["backend"], config["precision"], config.get("devices", 1))
        latest[(*key, config["batch_size"])] = record
    rows = sorted({key[:3] for key in latest})
    batches = sorted({key[3] for key in latest})
    head = "| backend | precision | devices | " + " | ".join(f"batch {b}" for b in batches) + " |"
    rule = "|" + " --- |" * (3 + len(batches))

    def cell(key, text):
        record = latest.get(key)
        if record is None:
            return "not run"
        if record.status != "ok":
            return FAILED.get(record.status, record.status)
        return text(record.inference)

    latency = [head, rule] + [
        f"| {b} | {p} | {d} | " + " | ".join(
            cell((b, p, d, n), lambda f: f"{f['p50_s'] * 1e3:.2f} / {f['p90_s'] * 1e3:.2f}")
            for n in batches
        ) + " |"
        for b, p, d in rows
    ]  # fmt: skip
    throughput = [head, rule] + [
        f"| {b} | {p} | {d} | " + " | ".join(
            cell((b, p, d, n), lambda f: f"{f['samples_per_second']:.1f}") for n in batches
        ) + " |"
        for b, p, d in rows
    ]  # fmt: skip
    scenarios = ["| backend | precision | devices | SingleStream: p90 at batch 1 (ms) | Offline: "
                 "best samples/sec (batch) |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for b, p, d in rows:
        ok = [latest[k] for k in latest if k[:3] == (b, p, d) and latest[k].status == "ok"]
        single = next((r.inference for r in ok if r.config["batch_size"] == 1), None)
        best = max(ok, key=lambda r: r.inference["samples_per_second"], default=None)
        p90 = f"{single['p90_s'] * 1e3:.2f}" if single else "not run"
        if d > 1:  # one sample at a time is SingleStream; a batch a device is not
            p90 = f"n/a: {d} devices"
        offline = (
            f"{best.inference['samples_per_second']:.1f} ({best.config['batch_size']})"
            if best
            else "none ok"
        )
        scenarios.append(f"| {b} | {p} | {d} | {p90} | {offline} |")
    energy = _energy(latest, rows, batches, head, rule)
    return ["Latency, p50 / p90 (ms):", "", *latency, "", "Throughput (samples/sec):", "",
            *throughput, "", *scenarios, *energy]  # fmt: skip


def _energy(latest: dict, rows, batches, head: str, rule: str) -> list[str]:
    """GPU energy per sample (mJ) and mean power (W) over the measured
    batches, by the GPUs' NVML counters; nothing where no record has it
    (CPU runs)."""
    ok = [r for r in latest.values() if r.status == "ok"]
    if not any(r.inference.get("energy_per_sample_j") for r in ok):
        return []

    def cell(key):
        record = latest.get(key)
        if record is None:
            return "not run"
        if record.status != "ok":
            return FAILED.get(record.status, record.status)
        energy = record.inference.get("energy_per_sample_j")
        power = (record.inference.get("telemetry") or {}).get("power_mean_w")
        if not energy:
            return "n/a"
        return f"{energy * 1e3:.2f}" + (f" / {power:.0f} W" if power else "")

    table = [f"| {b} | {p} | {d} | " + " | ".join(cell((b, p, d, n)) for n in batches) + " |"
             for b, p, d in rows]  # fmt: skip
    return ["", "GPU energy per sample (mJ) / mean power, over the measured batches:", "",
            head, rule, *table]  # fmt: skip


def _plot(title: str, records: list) -> bytes:
    figure = figures.new_figure()
    axis = figure.add_subplot(1, 1, 1)
    series: dict[str, list] = {}
    for record in records:
        if record.status == "ok":
            devices = record.config.get("devices", 1)
            key = f"{record.config['backend']} {record.config['precision']}" + (
                f", {devices} devices" if devices > 1 else ""
            )
            series.setdefault(key, []).append(
                (record.config["batch_size"], record.inference["p50_s"] * 1e3)
            )
    for name, points in sorted(series.items()):
        points = sorted(dict(points).items())
        axis.plot([p[0] for p in points], [p[1] for p in points], "o-", label=name)
    axis.set(title=title, xlabel="batch size", ylabel="p50 latency (ms)")
    axis.set_xscale("log", base=2)
    axis.legend(fontsize="small")
    return figures.to_png(figure)
