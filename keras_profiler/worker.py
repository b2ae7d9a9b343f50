"""The worker: one measured run, inside a fresh process.

``python -m keras_profiler.worker CONFIG.json RESULT.json EPOCHS.jsonl``. The
launcher has set the environment (KERAS_BACKEND, KERAS_HOME, allocator
switches) before this process imported anything. The worker never raises: it
writes a result document saying what happened, which the launcher turns into
a record. Each epoch's figures are appended to EPOCHS.jsonl as soon as the
epoch ends, so a run that fails, is killed or times out later keeps them.

A result's status is a record status (ok, oom, error), or ``usage_error``
when the run cannot start for a reason the user must fix (data missing):
the launcher then reports it and writes no record.

The steps themselves are keras_profiler.training's, which the benchmarks and
tests call too; this module only runs them in order and records what happened.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

from keras_profiler import models
from keras_profiler.config import RunConfig
from keras_profiler.errors import UsageError
from keras_profiler.inference import run as inference_run
from keras_profiler.training import description, layer_profile, nodes
from keras_profiler.training.data import load_data
from keras_profiler.training.fit import fit
from keras_profiler.training.model_builder import build_model, describe_model


def main(argv: list[str]) -> int:
    config_path, result_path, epochs_path = argv
    with open(config_path) as file:
        config = RunConfig.from_dict(json.load(file))
    result = run(config, epochs_path)
    with open(result_path, "w") as file:
        json.dump(result, file)
    # Non-zero on failure, so that a multi-process launch stops the other
    # workers instead of leaving them waiting in a collective.
    return 0 if result["status"] == "ok" else 1


def run(config: RunConfig, epochs_path: str) -> dict:
    """Trains as ``config`` says, streaming epochs to ``epochs_path``, and
    returns the result document."""
    try:
        import keras

        from keras_profiler import backends

        adapter = backends.get(config.backend)
        data = load_data(config, adapter.processes(config))
    except UsageError as problem:
        return {"status": "usage_error", "message": str(problem)}
    result = {}
    try:
        adapter.setup(config)
        collectives = adapter.engine_collectives(config)
        result["environment"] = description.describe_environment(keras, adapter)
        result["devices"] = description.describe_devices(adapter, config, result["environment"])
        with adapter.scope():
            model, size = build_model(keras, config, adapter, data)
        kind = models.input_kind(config.model)
        result["model"] = describe_model(keras, adapter, model, size, kind)
        result["distribution"] = description.describe_distribution(
            config, adapter, model, result["devices"]
        )
        if collectives:
            result["distribution"]["engine_collectives"] = collectives
        adapter.prepare(model, config)
        if config.mode == "infer":
            result["inference"] = inference_run.measure(keras, config, adapter, model, data)
            result.update(status="ok", error=None)
            adapter.teardown()
            return result
        result["stopped_when_stable"], fit_span = fit(
            keras, config, adapter, model, data, epochs_path, result["distribution"]
        )
        result["timeline"] = description.timeline(*fit_span)
        if config.profile_layers:
            result["layer_profile"] = layer_profile.measure(config, adapter, model, data)
        if config.nodes > 1:
            result["distribution"]["nodes"] = nodes.gather_nodes(config, adapter, model)
            result["distribution"]["rendezvous"] = {
                "coordinator": config.coordinator,
                "engine": adapter.multi_node_engine,
            }
        # After fit: Keras could have put its own wrapper in place of ours.
        result["distribution"].update(adapter.applied_settings(model))
        result.update(status="ok", error=None)
    except Exception as error:  # a failed run is a result to record, not a crash
        status = "oom" if adapter.is_out_of_memory(error) else "error"
        # When: of several processes, the one that failed first says why.
        result.update(status=status, error=traceback.format_exc(), failed_at=time.time())
        return result  # no teardown: other processes may be stuck in a collective
    adapter.teardown()
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
