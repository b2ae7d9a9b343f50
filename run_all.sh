#!/usr/bin/env bash
# Regenerates reports/ from fresh runs of the reference matrix
# (keras_profiler/sweep/keras-mxnet.toml): every installed backend (mxnet where
# its environment can be built), ResNet-50 on CIFAR-10 for 10 epochs and
# Inception-v3 on CIFAR-10 upscaled to 299x299 for 5, batch 32 per device,
# seed 1337, on 1, 2, 4, 8 and 16 GPUs up to those present (1 device on a
# machine without GPUs). A thin wrapper around 'python -m keras_profiler
# sweep': arguments go to it, e.g.
#   ./run_all.sh --data synthetic --steps-per-epoch 50
#   ./run_all.sh --batch-sizes 10,20,30,40 --repeats 3
#   ./run_all.sh --quick                # a few minutes on CPUs
#   ./run_all.sh --preset batch-sizes   # another reference table's matrix
#   ./run_all.sh my-matrix.toml         # any other matrix
# Stopped or killed, it continues where it stopped when run again; a failed
# run is recorded and shown in the reports, and the sweep goes on.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
exec "$python" -m keras_profiler sweep "$@"
