"""Trains one step of a small model with three BatchNormalization layers in
a row (the middle one frozen when asked) under keras.distribution.
DataParallel on 2 virtual CPU devices, with XLA dumping its compiled
programs, and prints the all-reduces in the compiled train step and what
the jax adapter counts for the model. Run as a script, in the environment
under test: ``python sync_point_count.py DUMP_FOLDER [frozen]``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def main(dump: str, frozen: bool) -> None:
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=2 --xla_dump_hlo_as_text "
        f"--xla_dump_to={dump} --xla_dump_hlo_module_re=.*train_step.*"
    )
    import keras
    import numpy as np

    from keras_profiler.backends import jax as jax_backend

    keras.distribution.set_distribution(keras.distribution.DataParallel())
    inputs = keras.Input((8, 8, 3))
    x = inputs
    for i in range(3):
        x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(trainable=not (frozen and i == 1))(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(np.ones((8, 8, 8, 3), "float32"), np.zeros(8, "int32"), batch_size=8, verbose=0)
    (program,) = Path(dump).glob("*train_step*after_optimizations.txt")
    entry = program.read_text().split("\nENTRY", 1)[1]
    print("all-reduces", len(re.findall(r" all-reduce\(", entry)))
    print("counted", jax_backend.ADAPTER.data_parallel_sync_points(model))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] == ["frozen"])
