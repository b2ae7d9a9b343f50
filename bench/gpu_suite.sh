#!/usr/bin/env bash
# gpu_suite.py on a lent GPU machine (gpu_setup.sh says what it needs and
# installs), into $OUT; arguments go to 'gpu_suite.py run'. Run it with
# carry [".whl"] and, e.g.,
#   bash bench/gpu_suite.sh --commit <this commit>   (timeout_s 600)
# and, once $OUT came back: python bench/gpu_suite_report.py FOLDER.
source "$(dirname "$0")/gpu_setup.sh"
python3 "$repo/bench/gpu_suite.py" run --out "$out" "$@" 2>&1 | tee "$out/log.txt"
