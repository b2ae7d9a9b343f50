#!/usr/bin/env bash
# Regenerates reports/ from fresh runs in the reference settings: every
# installed Keras 3 backend and mxnet (in the environment keras-profiler
# builds; left out, saying why, where it cannot be built), ResNet-50 on CIFAR-10 (10 epochs) and Inception-v3
# on CIFAR-10 upscaled to 299x299 on the device (5 epochs), batch 32 per
# device, seed 1337, on 1, 2, 4, 8 and 16 GPUs, up to the GPUs present (one
# device on a machine without GPUs; DEVICES="1 2" overrides the list, e.g. to
# run virtual CPU devices). Extra arguments go to every run, e.g.
#   ./run_all.sh --dataset synthetic --steps-per-epoch 50
# A failed run is recorded and shown in the reports; the script goes on.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}

installed=$("$python" -c 'from keras_profiler import backends
print(",".join(n for n in backends.NAMES
               if not backends.get(n).own_environment and not backends.get(n).missing_requirement()))')
if "$python" -m keras_profiler setup-mxnet; then
  installed="${installed:+$installed,}mxnet"
else
  echo "run_all.sh: leaving mxnet out (the line above says why)" >&2
fi
[ -n "$installed" ] || { echo "run_all.sh: no Keras backend is installed" >&2; exit 2; }

gpus=$("$python" -c 'from keras_profiler import gpus; print(gpus.count())')
devices=${DEVICES:-$(for n in 1 2 4 8 16; do [ "$n" -le "$gpus" ] && echo "$n"; done)}
devices=${devices:-1}

profile() {
  # Exit status 1 means some run failed and was recorded: go on. 2 is bad input: stop.
  "$python" -m keras_profiler --backend "$installed" --no-report "$@" || [ $? -eq 1 ]
}
for n in $devices; do
  profile --model resnet50 --epochs 10 --gpus "$n" "$@"
  profile --model inception_v3 --epochs 5 --gpus "$n" "$@"
done
"$python" -m keras_profiler report
