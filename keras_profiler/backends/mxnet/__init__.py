"""The mxnet backend: MXNet 1.9 through keras-mxnet 2.2.4.3 (the Keras 2.2 API).

It runs in a Python environment of its own, which keras-profiler builds:

- ``adapter``: the ``Backend`` the rest of keras-profiler asks;
- ``environment``: builds, finds and probes that environment;
- ``bootstrap``: starts a keras-profiler module inside it (standard library only);
- ``probe``: what the environment holds, printed from inside it.
"""

from keras_profiler.backends.mxnet.adapter import ADAPTER

__all__ = ["ADAPTER"]
