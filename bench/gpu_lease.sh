#!/usr/bin/env bash
# gpu_lease.py on a lent GPU machine (gpu_setup.sh says what it needs and
# installs), into $OUT; arguments go to gpu_lease.py. Run it with
# carry [".whl"] and, e.g.,
#   bash bench/gpu_lease.sh --commit <this commit>   (timeout_s 600)
# and, once $OUT came back, unpack results.tar.gz into results/.
source "$(dirname "$0")/gpu_setup.sh"
python3 "$repo/bench/gpu_lease.py" --out "$out" "$@" 2>&1 | tee "$out/log.txt"
