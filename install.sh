#!/usr/bin/env bash
# Creates .venv here and installs keras-profiler into it, editable, with the
# jax, tensorflow and torch backends and the test tools, at the versions
# tested together (constraints.txt).
#
# keras-nightly then replaces the Keras 3.15.1 that TensorFlow pulls in: it is
# the first Keras that runs PyTorch's DistributedDataParallel inside
# model.fit, which torch's data-parallel runs need. --no-deps keeps the pinned
# versions of everything else.
#
# Set PYTHON to build the environment from another interpreter.
set -euo pipefail
cd "$(dirname "$0")"
"${PYTHON:-python3}" -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e ".[all,test]"
.venv/bin/pip install -q --no-deps --force-reinstall keras-nightly==3.16.0.dev2026102704
