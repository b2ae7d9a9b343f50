#!/usr/bin/env bash
# gpu_suite.py on a lent GPU machine: Python 3.12 with torch, jax,
# nvidia-ml-py and pandas, but no Keras, no TensorFlow and no network.
# Installs the Keras wheels carried in .whl/ into /tmp/site, lays out
# keras-profiler there as it installs (models/ and datasets/ become
# keras_profiler.models and .datasets), then runs the suite into $OUT from
# outside the checkout (so that `python -m keras_profiler` finds that
# layout, not the source folder); arguments go to 'gpu_suite.py run'.
# Before the call, here:
#   mkdir -p .whl && cp ../shared/gpu-wheels/{keras_nightly,namex,optree}-*.whl .whl/
# then run it with carry [".whl"] and, e.g.,
#   bash bench/gpu_suite.sh --commit <this commit>   (timeout_s 600)
# and, once $OUT came back: python bench/gpu_suite_report.py FOLDER.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${OUT:-$repo/gpu-suite-out}" && cd "${OUT:-$repo/gpu-suite-out}" && pwd)
site=${KERAS_PROFILER_SITE:-/tmp/site}
if [ -d "$repo/.whl" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$repo"/.whl/*.whl
fi
rm -rf "$site/keras_profiler"
mkdir -p "$site"
cp -r "$repo/keras_profiler" "$site/keras_profiler"
cp -r "$repo/models" "$site/keras_profiler/models"
cp -r "$repo/datasets" "$site/keras_profiler/datasets"
export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
cd "$(mktemp -d)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
fi
KERAS_BACKEND=jax python3 -c "import keras, keras_profiler.models; print('keras', keras.__version__)"
python3 "$repo/bench/gpu_suite.py" run --out "$out" "$@" 2>&1 | tee "$out/log.txt"
