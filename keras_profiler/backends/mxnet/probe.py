"""Prints, as one JSON line, what the MXNet environment holds.

Run through the bootstrap by ``environment.probe``: it succeeds only where the
worker itself could start (keras-profiler's packages load, mxnet and
keras-mxnet import), and says which versions it found.
"""

import json

from keras_profiler.backends import mxnet

if __name__ == "__main__":
    print(json.dumps(mxnet.ADAPTER.library_versions()))
