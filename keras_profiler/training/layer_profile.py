"""``--profile-layers``: one device's training step, taken apart for the
scaling predictor (keras_profiler.predict): the forward and backward time,
and per layer with weights, its gradients' bytes and when they are ready,
in seconds from the start of backward, in the order backward makes them.

After training, a few more steps of the same batch (``train_on_batch``),
timed one of two ways:

- where the backend has hooks for it (torch: ``Backend.gradient_timer``),
  measured: when backward starts and each weight's gradient is ready (the
  latest of a layer's weights); the optimizer's update is what follows the
  last gradient, and the rest of the step (forward, the loss, Keras's own
  host work) counts as before backward;
- elsewhere (jax, tensorflow), apportioned: a third of the step forward and
  two thirds backward (a backward pass computes the gradients of both the
  inputs and the weights, each about a forward pass of multiply-adds), and
  backward spread over the layers, last first, by their multiply-adds.

Under torch both are kept, so that how far apportioning is from the hooks
is measured (``hooks_against_multiply_adds``).
"""

from __future__ import annotations

import statistics
import time

from keras_profiler import input_pipeline, model_stats
from keras_profiler.training.data import training_split

WARMUP_STEPS = 2
STEPS = 10
FORWARD_SHARE = 1 / 3  # of a step, where nothing measures it


def measure(config, adapter, model, data) -> dict:
    x, y = _one_batch(config, adapter, data)
    layers = model_stats.layer_costs(model)

    def step():
        model.train_on_batch(x, y)
        adapter.synchronize(model)

    for _ in range(WARMUP_STEPS):
        step()
    timer = adapter.gradient_timer(model)
    if timer is None:
        times = []
        for _ in range(STEPS):
            began = time.perf_counter()
            step()
            times.append(time.perf_counter() - began)
        step_s = statistics.median(times)
        forward_s = FORWARD_SHARE * step_s
        profile = {
            "method": "multiply-adds",
            **_phases(step_s, forward_s, step_s - forward_s, 0.0),
            "layers": apportioned(layers, step_s - forward_s),
        }
    else:
        with timer:
            for _ in range(STEPS):
                timer.step(step)
        profile = {"method": "autograd hooks", **from_hooks(layers, timer.steps)}
    return {
        "steps": STEPS,
        "batch_size": config.batch_size,
        "data_parallel_sync_points": adapter.data_parallel_sync_points(model),
        **profile,
    }


def _one_batch(config, adapter, data):
    x_train, y_train = training_split(config, data)
    x, y, batch = adapter.local_batch(x_train, y_train, config)
    return input_pipeline.as_input(x[:batch], config.data_format), y[:batch]


def _phases(step_s, forward_s, backward_s, update_s) -> dict:
    return dict(step_s=step_s, forward_s=forward_s, backward_s=backward_s, update_s=update_s)


def apportioned(layers: list[dict], backward_s: float) -> list[dict]:
    """Each layer's gradient ready once backward has done its multiply-adds
    and those of every layer after it (all by gradient bytes where no layer
    has multiply-adds); last layer first."""
    backward = list(reversed(layers))
    weights = [layer["macs_per_image"] for layer in backward]
    if not sum(weights):
        weights = [layer["gradient_bytes"] for layer in backward]
    total, done, result = sum(weights) or 1, 0, []
    for layer, weight in zip(backward, weights):
        done += weight
        result.append({**_public(layer), "ready_s": backward_s * done / total})
    return result


def from_hooks(layers: list[dict], steps: list[dict]) -> dict:
    """The medians over the timed steps: phases, and per layer the ready
    time of its last weight, beside the apportioned one."""
    backward_start = statistics.median(s["backward_start_s"] for s in steps)
    last = [max(s["ready_s"].values()) for s in steps]
    backward_s = statistics.median(t - s["backward_start_s"] for t, s in zip(last, steps))
    update_s = statistics.median(s["end_s"] - t for t, s in zip(last, steps))
    ready = {
        layer["layer"]: statistics.median(
            max(s["ready_s"][w] for w in layer["weights"]) - s["backward_start_s"] for s in steps
        )
        for layer in layers
    }
    by_macs = {row["layer"]: row["ready_s"] for row in apportioned(layers, backward_s)}
    rows = sorted(
        (
            {**_public(layer), "ready_s": ready[layer["layer"]],
             "ready_s_by_multiply_adds": by_macs[layer["layer"]]}
            for layer in layers
        ),
        key=lambda row: row["ready_s"],
    )  # fmt: skip
    gaps = [abs(r["ready_s"] - r["ready_s_by_multiply_adds"]) / backward_s for r in rows]
    step_s = statistics.median(s["step_s"] for s in steps)
    return {
        # Before backward: forward, the loss, and the step's own host work
        # outside the hooks (Keras's, before forward and after the update).
        **_phases(step_s, step_s - backward_s - update_s, backward_s, update_s),
        "forward_to_backward_s": backward_start,
        "layers": rows,
        "hooks_against_multiply_adds": {
            "mean_abs_difference_of_backward": statistics.fmean(gaps),
            "max_abs_difference_of_backward": max(gaps),
        },
    }


def _public(layer: dict) -> dict:
    kept = {k: layer[k] for k in ("layer", "gradient_bytes", "macs_per_image")}
    return {**kept, "tensors": len(layer["weights"])}
