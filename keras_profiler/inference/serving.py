"""How an inference run calls Keras's compiled predict step, one batch at a
time: each object takes a batch, returns its outputs on the host (so the
device is done with it), and is closed once.

- ``PredictOnBatch``: ``model.predict_on_batch``, Keras's one-batch API.
- ``ThreadedJaxState``: under jax, ``predict_on_batch`` gathers the model's
  variables into a state before the call and writes them all back after
  it, work of the host on every batch that a server does not do; Keras's
  own ``predict`` loop gathers the state once, passes it from batch to
  batch through the compiled predict function (which donates it) and
  writes it back once, at the end. This calls it the same way. The first
  batch goes through ``predict_on_batch``, which builds the model and
  compiles the function.
"""

from __future__ import annotations

import numpy as np


class PredictOnBatch:
    step = "Keras predict_on_batch (compiled predict step; outputs returned to the host)"

    def __init__(self, model):
        self.model = model

    def __call__(self, batch):
        return self.model.predict_on_batch(batch)

    def close(self) -> None:
        pass


class ThreadedJaxState:
    step = (
        "Keras's compiled predict function (jit), called as Keras's predict loop calls it: the "
        "model's state passed from batch to batch, written back to its variables once at the "
        "end; outputs returned to the host"
    )

    def __init__(self, model):
        import keras

        self.model = model
        self.state = None
        self._to_host = lambda outputs: keras.tree.map_structure(np.asarray, outputs)

    def __call__(self, batch):
        if self.state is None:  # builds the model and compiles the function
            outputs = self.model.predict_on_batch(batch)
            self.state = (
                [v.value for v in self.model.trainable_variables],
                [v.value for v in self.model.non_trainable_variables],
            )
            return outputs
        outputs, self.state = self.model.predict_function(self.state, iter([(batch,)]))
        return self._to_host(outputs)

    def close(self) -> None:
        """The variables hold the state's arrays again (the first threaded
        call donated the ones they held)."""
        if self.state is None:
            return
        trainable, non_trainable = self.state
        for variable, value in zip(self.model.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(self.model.non_trainable_variables, non_trainable):
            variable.assign(value)
        self.state = None
