"""The harness-efficiency benchmark's child: hand-written training loops
(and a plain ``model.fit``) over the model the tool builds, in a process
with the environment the tool gives its worker.

``python bench/hand_loops.py FEED CONFIG.json``: FEED is one of
harness_settings.FEEDS (a backend's hand loop, batches on the device or fed
from NumPy) or harness_settings.PLAIN_FIT; CONFIG.json holds the Settings'
fields and the run's RunConfig under ``run``. The result is printed as one
JSON line after MARK. gpu_suite.py runs the same loops on one model in its
own child.

Example (in such a process, the model built with keras_profiler.training):

```python
result = LOOPS["jax"](keras, model, batches, "device", settings, config)
result["rate"]  # images/sec over epochs 2 and later
```
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness_settings import PLAIN_FIT, Settings  # bench/ is on the path when run

# Output of a child: the last stdout line starting with this marker.
MARK = "HARNESS-EFFICIENCY "


def main(argv: list[str]) -> int:
    """Builds the model as the tool does, runs the backend's hand loop fed
    as FEED says, and prints the result as one marked JSON line."""
    import keras

    from keras_profiler import backends, input_pipeline
    from keras_profiler.config import RunConfig
    from keras_profiler.training.data import load_data, training_split
    from keras_profiler.training.model_builder import build_model

    feed, config_path = argv
    document = json.loads(Path(config_path).read_text())
    config = RunConfig.from_dict(document.pop("run"))
    settings = Settings(**{**document, "backends": tuple(document["backends"])})
    adapter = backends.get(config.backend)
    data = load_data(config)  # the tool's images: same seed, size, count
    model, _ = build_model(keras, config, adapter, data)
    x_train, y_train = training_split(config, data)  # whole batches, as the tool
    x = input_pipeline.as_input(x_train, config.data_format)
    b = config.global_batch_size
    batches = [(x[i : i + b], y_train[i : i + b]) for i in range(0, len(x), b)]
    if feed == PLAIN_FIT:
        result = fit_loop(keras, model, x, y_train, settings, config)
    else:
        result = LOOPS[config.backend](keras, model, batches, feed, settings, config)
    result["keras"] = keras.__version__
    print(MARK + json.dumps(result), flush=True)
    return 0


def timed_epochs(step, batches, settings: Settings, sync, totals) -> dict:
    """Warm-up steps untimed, then ``epochs - 1`` timed epochs over
    ``batches``, each ended by ``sync`` (waits for the device). Returns the
    overall and per-epoch images/sec, and the mean loss and accuracy over
    every step from ``totals()`` (loss sum, correct count): a check that it
    trained."""
    for index in range(settings.warmup_steps):
        step(*batches[index % len(batches)])
    sync()
    seconds = []
    for _ in range(settings.epochs - 1):
        start = time.perf_counter()
        for batch in batches:
            step(*batch)
        sync()
        seconds.append(time.perf_counter() - start)
    images = len(batches) * len(batches[0][1])
    steps = settings.warmup_steps + len(seconds) * len(batches)
    loss_sum, correct = totals()
    return {
        "rate": images * len(seconds) / sum(seconds),
        "epoch_rates": [images / s for s in seconds],
        "mean_loss": float(loss_sum) / steps,
        "accuracy": float(correct) / (steps * len(batches[0][1])),
    }


def fit_loop(keras, model, x, y, settings: Settings, config) -> dict:
    """``model.fit`` as a user calls it (reshuffled each epoch, no progress
    bar, none of the tool's callbacks), ``epochs`` epochs in one call, each
    timed by a bare epoch clock that waits for the device once, at the
    epoch's end, by reading a weight back. The steady state, as the tool's:
    epochs 2 and later."""
    seconds = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            keras.ops.convert_to_numpy(self.model.trainable_variables[0].value)
            seconds.append(time.perf_counter() - self.start)

    history = model.fit(
        x,
        y,
        batch_size=config.global_batch_size,
        epochs=settings.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[EpochClock()],
    )
    images = (len(x) // config.global_batch_size) * config.global_batch_size
    steady = seconds[1:]
    return {
        "rate": images * len(steady) / sum(steady),
        "epoch_rates": [images / s for s in steady],
        "mean_loss": float(history.history["loss"][-1]),
        "how": "model.fit(x, y, shuffle=True, verbose=0)",
    }


def _loss_and_scaling(keras, model):
    """The loss the tool compiles ('sparse_categorical_crossentropy', mean over
    the batch) and whether the compiled optimizer scales the loss (Keras wraps
    it in a LossScaleOptimizer under mixed_float16)."""
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    return keras.losses.SparseCategoricalCrossentropy(), scaled


def jax_loop(keras, model, batches, feed, settings, config) -> dict:
    """The Keras guide's JAX loop: stateless_call and stateless_apply in one
    jax.jit-ed step whose state buffers are donated; loss and accuracy
    totals kept on the device, as fit's metrics are."""
    import jax
    import jax.numpy as jnp

    loss_fn, scaled = _loss_and_scaling(keras, model)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)

    def loss_and_aux(trainable, non_trainable, optimizer_variables, x, y):
        y_pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        loss = loss_fn(y, y_pred)
        to_differentiate = loss
        if scaled:  # the scale is an optimizer variable: read it from the state
            mapping = list(zip(optimizer.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping):
                to_differentiate = optimizer.scale_loss(loss)
        return to_differentiate, (loss, y_pred, non_trainable)

    grad_fn = jax.value_and_grad(loss_and_aux, has_aux=True)

    def train_step(state, x, y):
        trainable, non_trainable, optimizer_variables, (loss_sum, correct) = state
        (_, (loss, y_pred, non_trainable)), grads = grad_fn(
            trainable, non_trainable, optimizer_variables, x, y
        )
        trainable, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable
        )
        hits = jnp.sum(jnp.argmax(y_pred, axis=-1) == y)
        return trainable, non_trainable, optimizer_variables, (loss_sum + loss, correct + hits)

    step = jax.jit(train_step, donate_argnums=0)
    state = [
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
        (jnp.zeros((), "float32"), jnp.zeros((), "int32")),
    ]
    if feed == "device":
        batches = jax.device_put(batches)

    def run_step(x, y):
        state[:] = step(tuple(state), x, y)

    result = timed_epochs(
        run_step, batches, settings, lambda: jax.block_until_ready(state), lambda: state[3]
    )
    # The step donated the model's own buffers: give the model the trained
    # state, so that it stays usable (gpu_suite.py runs more loops on it).
    variables = [model.trainable_variables, model.non_trainable_variables, optimizer.variables]
    for group, values in zip(variables, state[:3]):
        for variable, value in zip(group, values):
            variable.assign(value)
    result["how"] = (
        "jax.jit(train_step, donate_argnums=0) over model.stateless_call and the "
        f"compiled {type(optimizer).__name__}'s stateless_apply"
    )
    result["device"] = str(jax.devices()[0].device_kind)
    return result


def tensorflow_loop(keras, model, batches, feed, settings, config) -> dict:
    """The Keras guide's TensorFlow loop: a tf.function step with GradientTape
    and the compiled optimizer's apply, XLA as the tool sets it."""
    import tensorflow as tf

    loss_fn, _ = _loss_and_scaling(keras, model)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    loss_sum, correct = tf.Variable(0.0), tf.Variable(0, dtype=tf.int64)

    @tf.function(jit_compile=config.jit_compile)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = loss_fn(y, y_pred)
            to_differentiate = optimizer.scale_loss(loss)  # the loss itself unless scaled
        grads = tape.gradient(to_differentiate, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        loss_sum.assign_add(loss)
        hits = tf.argmax(y_pred, axis=-1, output_type=tf.int32) == tf.cast(y, tf.int32)
        correct.assign_add(tf.reduce_sum(tf.cast(hits, tf.int64)))

    if feed == "device":
        device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
        with tf.device(device):
            batches = [(tf.identity(x), tf.identity(y)) for x, y in batches]
    result = timed_epochs(
        train_step, batches, settings, loss_sum.numpy, lambda: (loss_sum.numpy(), correct.numpy())
    )
    result["traces"] = train_step.experimental_get_tracing_count()
    result["how"] = (
        f"tf.function(jit_compile={config.jit_compile}) with GradientTape and the "
        f"compiled {type(optimizer).__name__}'s apply"
    )
    result["device"] = "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU"
    return result


def torch_loop(keras, model, batches, feed, settings, config) -> dict:
    """The Keras guide's PyTorch loop: an eager forward, loss.backward() and
    an optimizer step (torch.optim.SGD, or the compiled Keras optimizer as fit
    uses; the Keras one always when it scales the loss)."""
    import torch

    loss_fn, scaled = _loss_and_scaling(keras, model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    totals = torch.zeros(2, device=device)
    update, how = _torch_update(model, config, settings.torch_optimizer, scaled)

    def step(x, y):
        if feed == "numpy":
            x, y = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
        y_pred = model(x, training=True)
        loss = loss_fn(y, y_pred)
        update(loss)
        with torch.no_grad():
            totals[0] += loss.detach()
            totals[1] += (y_pred.argmax(dim=-1) == y).sum()

    if feed == "device":
        batches = [
            (torch.as_tensor(x, device=device), torch.as_tensor(y, device=device))
            for x, y in batches
        ]

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
        totals.tolist()

    result = timed_epochs(step, batches, settings, sync, totals.tolist)
    result["how"] = f"eager forward, loss.backward(), {how}"
    result["device"] = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    return result


def _torch_update(model, config, choice: str, scaled: bool):
    """The torch loop's backward pass and weight update, and its description."""
    import torch

    if choice == "torch" and not scaled:
        # Same rule as Keras's SGD at a fixed rate: torch's v = m v + g,
        # w -= lr v is Keras's v' = m v' - lr g, w += v' with v' = -lr v.
        params = [v.value for v in model.trainable_variables]
        sgd = torch.optim.SGD(params, lr=config.effective_learning_rate, momentum=0.9, foreach=True)

        def update(loss):
            sgd.zero_grad(set_to_none=True)
            loss.backward()
            sgd.step()

        rate = config.effective_learning_rate
        return update, f"torch.optim.SGD(lr={rate}, momentum=0.9, foreach=True)"
    optimizer, trainable = model.optimizer, model.trainable_variables

    def update(loss):
        model.zero_grad()
        optimizer.scale_loss(loss).backward()
        with torch.no_grad():
            optimizer.apply([v.value.grad for v in trainable], trainable)

    return update, f"the compiled Keras {type(optimizer).__name__}'s apply"


# Each backend's hand-written loop.
LOOPS = {"jax": jax_loop, "tensorflow": tensorflow_loop, "torch": torch_loop}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
