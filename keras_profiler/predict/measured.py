"""What a prediction starts from: a ``--profile-layers`` record's step, in
the units schedules.Profile takes, scaled to the run's own measured speed so
that at one device the prediction is the measurement; and the records that
measured the configurations predicted, to set beside them.

Example:

```python
source = Source.load("results/20261203T...-resnet18-torch-.../record.json")
source.profile.compute_s, source.images_per_second
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from keras_profiler.errors import UsageError
from keras_profiler.predict.schedules import Gradient, Profile


@dataclass(frozen=True)
class Source:
    record: dict
    profile: Profile
    images_per_second: float  # measured, one device
    method: str  # how the layers were timed

    @property
    def config(self) -> dict:
        return self.record["config"]

    @property
    def batch_size(self) -> int:
        return int(self.config["batch_size"])

    @classmethod
    def load(cls, path: str | Path) -> Source:
        """The profiled record at ``path`` (a record.json, its folder, or a
        results folder holding one profiled record)."""
        record = _read(Path(path))
        lp, summary = record.get("layer_profile") or {}, record.get("summary") or {}
        speed = summary.get("steady_images_per_second")
        if record.get("status") != "ok" or not lp:
            raise UsageError(
                f"--from {path}: no ok run with a layer profile: run it on one device with "
                "--profile-layers first, e.g. python -m keras_profiler --backend torch "
                "--model resnet18 --profile-layers"
            )
        if not speed:
            raise UsageError(
                f"--from {path}: the run has no steady-state speed (one epoch only): profile "
                "a run of at least 2 epochs"
            )
        step = int(record["config"]["batch_size"]) / speed
        scale = step / lp["step_s"]  # the profiled steps against fit's steady ones
        profile = Profile(
            forward_s=lp["forward_s"] * scale,
            backward_s=lp["backward_s"] * scale,
            update_s=lp["update_s"] * scale,
            gradients=[_gradient(r, scale) for r in lp["layers"]],
            # Records before the count was kept: none, as the model then had.
            sync_points=int(lp.get("data_parallel_sync_points", 0)),
        )
        return cls(record, profile, speed, lp["method"])


def _gradient(row: dict, scale: float) -> Gradient:
    # Records before tensor counts were kept hold one tensor a layer.
    return Gradient(row["gradient_bytes"], row["ready_s"] * scale, row.get("tensors", 1))


def _read(path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    if (path / "record.json").is_file():
        return json.loads((path / "record.json").read_text())
    every = [json.loads(p.read_text()) for p in sorted(path.glob("*/record.json"))]
    profiled = [r for r in every if r.get("layer_profile") and r.get("status") == "ok"]
    if len(profiled) != 1:
        raise UsageError(
            f"--from {path}: {len(profiled)} profiled records there: name one record.json"
        )
    return profiled[0]


def matching_runs(results_dir: Path, source: Source) -> list[dict]:
    """The ok records of the source's model, batch, backend and precision
    (over any devices and nodes), for the measured cells."""
    keys = ("model", "batch_size", "backend", "precision", "dataset", "image_size")
    found = []
    for path in sorted(Path(results_dir).glob("*/record.json")):
        record = json.loads(path.read_text())
        config = record.get("config", {})
        if record.get("status") == "ok" and all(
            config.get(k) == source.config.get(k) for k in keys
        ):
            found.append(record)
    return found
