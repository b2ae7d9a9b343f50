"""One measured run's steps, as a library: what the worker runs, in order,
and what the benchmarks and tests call to build a model or load data exactly
as a run does.

- ``data``: the run's images (only the rows it trains on, after a memory
  check for generated data) and its whole-batch training split;
- ``model_builder``: the compiled model under test and the record's model
  section;
- ``fit``: ``fit`` with the profiler, the replica check and the epoch stream;
- ``description``: the record's environment, devices, distribution and
  timeline sections.

Importing this package loads no framework; the functions that need Keras
take the imported module as an argument, so the same code runs under Keras 3
and under keras-mxnet's Keras 2.2.

Example:

```python
import keras
from keras_profiler import backends
from keras_profiler.config import RunConfig
from keras_profiler.training.data import load_data, training_split
from keras_profiler.training.model_builder import build_model

config = RunConfig(backend="jax", model="tiny", dataset="synthetic", steps_per_epoch=4)
adapter = backends.get(config.backend)
data = load_data(config)
model, image_size = build_model(keras, config, adapter, data)
x_train, y_train = training_split(config, data)
```
"""
