"""The cluster a launcher describes in the environment (torchrun / Kubeflow,
Slurm, TF_CONFIG), read when the command line names none."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from keras_profiler.nodes.cluster_env import Cluster, detect, first_host


def test_torchrun_and_kubeflow_one_process_per_node():
    environ = {"WORLD_SIZE": "4", "RANK": "2", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29400"}
    assert detect(environ) == Cluster(
        4, 2, "10.0.0.1:29400", "torchrun (WORLD_SIZE, RANK, MASTER_ADDR)"
    )
    assert detect({"WORLD_SIZE": "3", "RANK": "0", "MASTER_ADDR": "h"}).coordinator == "h:29500"


def test_slurm_inside_srun_meets_on_the_first_node_of_the_list():
    environ = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_NODELIST": "gpu[03-05,07],cpu1"}
    cluster = detect(environ)
    assert (cluster.nodes, cluster.node_rank, cluster.coordinator) == (2, 1, "gpu03:29500")
    assert first_host("node7") == "node7" and first_host("a[1,2]") == "a1"


def test_tf_config_names_the_workers():
    tf_config = {
        "cluster": {"worker": ["w0:2222", "w1:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    assert detect({"TF_CONFIG": json.dumps(tf_config)}) == Cluster(2, 1, "w0:2222", "TF_CONFIG")


def test_one_node_or_nothing_said_is_no_cluster():
    assert detect({}) is None
    assert detect({"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_NODELIST": "n1"}) is None


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"WORLD_SIZE": "2", "RANK": "0"}, "WORLD_SIZE and RANK are set but MASTER_ADDR is not"),
        ({"WORLD_SIZE": "two", "RANK": "0"}, "WORLD_SIZE='two' is not a whole number"),
        ({"TF_CONFIG": "{}"}, "TF_CONFIG is not"),
    ],
)
def test_variables_that_make_no_cluster_say_why(environ, message):
    with pytest.raises(ValueError, match=message):
        detect(environ)


def test_the_command_reads_the_cluster_and_checks_it(tmp_path):
    # Slurm says 2 nodes; tensorflow cannot span them: refused before any run.
    env = dict(os.environ, SLURM_PROCID="0", SLURM_NTASKS="2", SLURM_NODELIST="n[1-2]")
    done = subprocess.run(
        [sys.executable, "-m", "keras_profiler", "--backend", "tensorflow", "--model", "tiny",
         "--results-dir", str(tmp_path / "results")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("keras-profiler: error: --nodes 2: the tensorflow backend")
    assert not (tmp_path / "results").exists()
