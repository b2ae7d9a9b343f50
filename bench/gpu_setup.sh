# Sourced by the lent-GPU entry points (gpu_suite.sh, gpu_lease.sh): a
# Python 3.12 with torch, jax, nvidia-ml-py and pandas, but no Keras, no
# TensorFlow and no network. Installs the Keras wheels carried in .whl/
# into /tmp/site and lays keras-profiler out there as it installs (models/
# and datasets/ become keras_profiler.models and .datasets), then leaves
# the shell in a scratch folder, outside the checkout, so that
# `python -m keras_profiler` finds that layout, not the source folder.
# Sets: repo (the checkout), out ($OUT, or gpu-out/ in the checkout).
# Before the call, here:
#   mkdir -p .whl && cp ../shared/gpu-wheels/{keras_nightly,namex,optree}-*.whl .whl/
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${OUT:-$repo/gpu-out}" && cd "${OUT:-$repo/gpu-out}" && pwd)
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
