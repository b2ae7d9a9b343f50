"""The sweep's ssh and slurm node launchers, without ssh or Slurm: fake
``ssh``, ``srun`` and ``scontrol`` on PATH log their argv and run the nodes'
command here, with a stub interpreter whose launcher trains nothing (node 0
records the run as not supported). What is checked: the commands built
(host order, coordinator, ranks, quoting), the matrix file's errors, and a
run whose nodes fail recorded as an error naming them."""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path

import pytest

from keras_profiler import records
from keras_profiler.config import RunConfig
from keras_profiler.nodes import launch, slurm, ssh
from keras_profiler.sweep import runner, spec
from keras_profiler.sweep.progress import Progress
from keras_profiler.sweep.spec import SpecError, SweepSpec

# ssh HOST COMMAND: COMMAND run here by a shell, as sshd would run it there;
# FAKE_SSH=refuse: exit 255, as for a host that cannot be reached, saying
# FAKE_SSH_SAYS on stderr where it is set; FAKE_SSH=hang: a minute of nothing.
FAKE_SSH = """\
import json, os, subprocess, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["ssh", *sys.argv[1:]]) + "\\n")
if os.environ.get("FAKE_SSH") == "hang":
    import time
    time.sleep(60)
if os.environ.get("FAKE_SSH") == "refuse":
    if os.environ.get("FAKE_SSH_SAYS"):
        print(os.environ["FAKE_SSH_SAYS"], file=sys.stderr)
    sys.exit(255)
sys.exit(subprocess.call(["sh", "-c", sys.argv[-1]]))
"""
# srun OPTIONS PROGRAM...: one task per node, each told its rank as srun does.
FAKE_SRUN = """\
import json, os, subprocess, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["srun", *sys.argv[1:]]) + "\\n")
words, options = sys.argv[1:], {}
while words[0].startswith("--"):
    name, _, value = words.pop(0).partition("=")
    options[name] = value or words.pop(0)
if os.environ.get("FAKE_SRUN") == "fail":
    print("srun: error: gpu02: task 1: Exited with exit code 1", file=sys.stderr)
    sys.exit(1)
tasks = int(options["--ntasks"])
env = {**os.environ, "SLURM_NTASKS": str(tasks), "SLURM_STEP_NODELIST": options["--nodelist"]}
started = [
    subprocess.Popen(words, env={**env, "SLURM_PROCID": str(rank)}, cwd=options.get("--chdir"))
    for rank in range(tasks)
]
sys.exit(max(task.wait() for task in started))
"""
FAKE_SCONTROL = """\
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["scontrol", *sys.argv[1:]]) + "\\n")
assert sys.argv[1:3] == ["show", "hostnames"]
print("\\n".join(os.environ["FAKE_HOSTS"].split()))
"""
# python -m keras_profiler.nodes.launch ...: the real node entry point, but
# its run trains nothing: node 0 records it as not supported.
STUB_PYTHON = """\
import sys
from keras_profiler import launcher
from keras_profiler.nodes import launch

def run(config, results_dir):
    print(f"stub node {config.node_rank} of {config.nodes} meets at {config.coordinator}",
          flush=True)
    if config.node_rank == 0:
        return launcher.record_not_supported(config, results_dir, "stub run")

assert sys.argv[1:3] == ["-m", "keras_profiler.nodes.launch"], sys.argv
launcher.run = run
sys.exit(launch.main(sys.argv[3:]))
"""


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    """Fake ssh, srun and scontrol first on PATH, their argv logged; the
    stub interpreter in a folder whose name has a space."""
    bin_dir = tmp_path / "bin"
    executable(bin_dir / "ssh", FAKE_SSH)
    executable(bin_dir / "srun", FAKE_SRUN)
    executable(bin_dir / "scontrol", FAKE_SCONTROL)
    log = tmp_path / "argv.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    for name in ("SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_NODELIST", "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    class Fakes:
        python = executable(tmp_path / "stub dir" / "python", STUB_PYTHON)

        @staticmethod
        def calls(program: str) -> list[list[str]]:
            lines = log.read_text().splitlines() if log.exists() else []
            return [argv for argv in map(json.loads, lines) if argv[0] == program]

    return Fakes


def matrix(folder: Path, cluster: str, nodes: str = "[1, 2]") -> Path:
    path = folder / "nodes.toml"
    path.write_text(
        '[matrix]\nbackends = ["torch"]\nmodels = ["tiny"]\ndata = ["synthetic"]\n'
        f"nodes = {nodes}\n[cluster]\n{cluster}\n[settings]\nepochs = 1\n"
    )
    return path


def over_nodes(path: Path) -> list[RunConfig]:
    return [c for c in SweepSpec.load(path).configs(["torch"], [1]) if c.nodes > 1]


def loaded(matrix_or_spec) -> SweepSpec:
    return (
        matrix_or_spec if isinstance(matrix_or_spec, SweepSpec) else SweepSpec.load(matrix_or_spec)
    )


def launch_of(config: RunConfig, matrix_or_spec):
    """The launcher the sweep of that matrix starts ``config`` with."""
    return spec.launch_of(config, loaded(matrix_or_spec))


def sweep(configs: list[RunConfig], results, matrix_or_spec) -> list[records.RunRecord]:
    return runner.run(
        configs, results, {"torch": sys.executable}, Progress(len(configs)), loaded(matrix_or_spec)
    )


def test_a_matrix_runs_over_the_first_hosts_of_its_hosts_file(tmp_path, fakes, monkeypatch):
    (tmp_path / "hosts.txt").write_text(
        "# the sweep runs on node-b\nnode-b\nalice@node-a   # a user of its own\n\nnode-c\n"
    )
    path = matrix(tmp_path, 'launcher = "ssh"\nhosts = "hosts.txt"', nodes="[1, 2, 3]")
    configs = over_nodes(path)
    assert [(c.nodes, c.coordinator, c.interface, c.interconnect) for c in configs] == [
        (2, "node-b:29600", None, "ssh hosts.txt"),
        (3, "node-b:29600", None, "ssh hosts.txt"),
    ]
    assert launch_of(configs[0], path) == (
        ssh,
        {
            "port": 29600,
            "interconnect": "ssh hosts.txt",
            "interface": None,
            "python": sys.executable,
            "workdir": None,
            "hosts": ["node-b", "alice@node-a", "node-c"],
        },
    )
    # The settings name the link; the file is found beside the matrix, not here.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    given = 'launcher = "ssh"\nhosts = "hosts.txt"\nport = 29711\ninterconnect = "10gbe"\n'
    path = matrix(tmp_path, given + 'interface = "eth1"')
    (config,) = over_nodes(path)
    assert (config.coordinator, config.interface, config.interconnect) == (
        "node-b:29711",
        "eth1",
        "10gbe",
    )


def test_each_node_is_started_over_ssh_and_node_0_records_the_run(
    tmp_path, fakes, monkeypatch, capsys
):
    (tmp_path / "hosts.txt").write_text("node-b\nalice@node-a\nnode-c\n")
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    cluster = f'launcher = "ssh"\nhosts = "hosts.txt"\npython = "{fakes.python}"\n'
    path = matrix(tmp_path, cluster + f'workdir = "{workdir}"')
    (config,) = over_nodes(path)
    monkeypatch.chdir(tmp_path)
    (record,) = sweep([config], "results", path)  # relative: each node is given it whole

    config_json = json.dumps(config.to_dict(), separators=(",", ":"))
    calls = {argv[3]: argv for argv in fakes.calls("ssh")}
    assert sorted(calls) == ["alice@node-a", "node-b"]  # the first 2 hosts, node-c not
    for rank, host in enumerate(["node-b", "alice@node-a"]):
        command = calls[host][4]
        assert calls[host][:4] == ["ssh", "-o", "BatchMode=yes", host]
        assert command.startswith(f"cd '{workdir}' && '{fakes.python}' -m ")
        assert shlex.split(command) == [
            "cd", str(workdir), "&&", str(fakes.python), "-m", "keras_profiler.nodes.launch",
            config_json, str(rank), str(tmp_path / "results"), "-",
        ]  # fmt: skip
    # Node 0's record, found by the run id it printed; both nodes' output passed through.
    assert (record.status, record.error) == ("not_supported", "stub run")
    assert record.config["node_rank"] == 0 and record.config["coordinator"] == "node-b:29600"
    assert (tmp_path / "results" / record.run_id / records.RECORD_FILE).exists()
    out = capsys.readouterr().out
    assert "stub node 0 of 2 meets at node-b:29600" in out
    assert "stub node 1 of 2 meets at node-b:29600" in out
    assert launch.RUN_ID_LINE not in out


@pytest.mark.parametrize("said", ["", "ssh: connect to host node-b port 22: Connection refused"])
def test_nodes_that_ssh_cannot_reach_make_an_error_record_naming_them(
    tmp_path, fakes, monkeypatch, said
):
    (tmp_path / "hosts.txt").write_text("node-b\nnode-a\n")
    path = matrix(tmp_path, 'launcher = "ssh"\nhosts = "hosts.txt"')
    (config,) = over_nodes(path)
    monkeypatch.setenv("FAKE_SSH", "refuse")
    monkeypatch.setenv("FAKE_SSH_SAYS", said)  # ssh's own word on stderr, if any
    (record,) = sweep([config], tmp_path / "results", path)
    because = f": {said}" if said else ""
    assert (record.status, record.error) == (
        "error",
        f"launcher ssh: node 0 wrote no record: node 0 (node-b) ssh failed (exit 255){because}; "
        f"node 1 (node-a) ssh failed (exit 255){because}",
    )
    assert [r.run_id for r in records.load_all(tmp_path / "results")[0]] == [record.run_id]


def test_nodes_past_the_time_limit_are_stopped_and_recorded_so(tmp_path, fakes, monkeypatch):
    (tmp_path / "hosts.txt").write_text("node-b\nnode-a\n")
    path = matrix(tmp_path, 'launcher = "ssh"\nhosts = "hosts.txt"')
    path.write_text(path.read_text() + "timeout_seconds = 1\n")
    (config,) = over_nodes(path)
    monkeypatch.setenv("FAKE_SSH", "hang")
    monkeypatch.setattr(launch, "SLACK_S", 1)
    (record,) = sweep([config], tmp_path / "results", path)
    assert (record.status, record.error) == (
        "error",
        "launcher ssh: node 0 wrote no record: the nodes ran past 2 s and were stopped",
    )


def test_a_record_node_0_wrote_elsewhere_is_an_error_saying_where(tmp_path, fakes, monkeypatch):
    (tmp_path / "hosts.txt").write_text("node-b\nnode-a\n")
    cluster = f'launcher = "ssh"\nhosts = "hosts.txt"\npython = "{fakes.python}"\n'
    path = matrix(tmp_path, cluster)
    (config,) = over_nodes(path)
    _, settings = launch_of(config, path)
    elsewhere = tmp_path / "node-b's disk"
    # Node 0 writes where it is told; this machine looks in a results dir of its own.
    argv = ssh.commands(config, elsewhere, settings)
    monkeypatch.setattr(ssh, "commands", lambda config, results_dir, settings: argv)
    with pytest.raises(launch.LaunchFailed) as failed:
        ssh.run(config, tmp_path / "results", settings)
    (written,) = elsewhere.glob("*/record.json")
    path = tmp_path / "results" / written.parent.name / "record.json"
    assert str(failed.value) == (
        f"node 0 (node-b) wrote record {written.parent.name}, but this machine cannot read "
        f"{path}: run the sweep on node-b or share the results dir with it"
    )


def test_inside_an_allocation_each_run_is_one_srun_step(tmp_path, fakes, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[01-03]")
    monkeypatch.setenv("FAKE_HOSTS", "gpu01 gpu02 gpu03")
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    cluster = f'launcher = "slurm"\npython = "{fakes.python}"\nworkdir = "{workdir}"\n'
    path = matrix(tmp_path, cluster + "port = 29650", nodes="[1, 2, 3]")
    configs = over_nodes(path)
    assert [(c.nodes, c.coordinator, c.interconnect) for c in configs] == [
        (2, "gpu01:29650", "slurm"),
        (3, "gpu01:29650", "slurm"),
    ]
    assert fakes.calls("scontrol")[0] == ["scontrol", "show", "hostnames", "gpu[01-03]"]
    assert launch_of(configs[0], path)[0] is slurm
    finished = sweep(configs, tmp_path / "results", path)

    for config, argv in zip(configs, fakes.calls("srun")):
        n, hosts = str(config.nodes), ",".join(["gpu01", "gpu02", "gpu03"][: config.nodes])
        assert argv == [
            "srun", "--nodes", n, "--ntasks", n, "--ntasks-per-node", "1", "--kill-on-bad-exit=1",
            "--nodelist", hosts, "--chdir", str(workdir), str(fakes.python), "-m",
            "keras_profiler.nodes.launch", json.dumps(config.to_dict(), separators=(",", ":")),
            "env", str(tmp_path / "results"), "-",
        ]  # fmt: skip
    # Each task took its rank from SLURM_PROCID; node 0 wrote the record.
    assert [(r.status, r.config["nodes"], r.config["node_rank"]) for r in finished] == [
        ("not_supported", 2, 0),
        ("not_supported", 3, 0),
    ]
    out = capsys.readouterr().out
    for rank in range(3):
        assert f"stub node {rank} of 3 meets at gpu01:29650" in out


def test_a_failed_srun_step_is_an_error_record_saying_how(tmp_path, fakes, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_NODELIST", "gpu[01-02]")  # Slurm before 20.11
    monkeypatch.setenv("FAKE_HOSTS", "gpu01 gpu02")
    monkeypatch.setenv("FAKE_SRUN", "fail")
    path = matrix(tmp_path, 'launcher = "slurm"')
    (config,) = over_nodes(path)
    (record,) = sweep([config], tmp_path / "results", path)
    assert (record.status, record.error) == (
        "error",
        "launcher slurm: node 0 wrote no record: srun on gpu01,gpu02 exited 1: "
        "srun: error: gpu02: task 1: Exited with exit code 1",
    )


def test_netns_runs_go_as_before(monkeypatch, tmp_path):
    spec_ = SweepSpec.from_document(
        {
            "matrix": {"backends": ["torch"], "models": ["tiny"], "nodes": [1, 2]},
            "cluster": {"launcher": "netns", "rates": ["1gbit", "100mbit"]},
        }
    )
    configs = [c for c in spec_.configs(["torch"], [1]) if c.nodes > 1]
    assert [c.interconnect for c in configs] == ["netns 1gbit", "netns 100mbit"]
    assert launch_of(configs[0], spec_) == (launch, {"rates": ["1gbit", "100mbit"]})
    # A config made by hand with netns_cluster still runs over netns.
    cluster = launch.netns_cluster("300mbit")
    by_hand = RunConfig(backend="torch", model="tiny", nodes=2, **cluster)
    assert spec.launch_of(by_hand) == (launch, {"rates": ["300mbit"]})
    # Node 0 lost: the same error record as before; the namespaces taken down.
    downs = []
    monkeypatch.setattr(launch, "run_netns", lambda config, results_dir: None)
    monkeypatch.setattr(launch.netns, "down", lambda: downs.append(True))
    (record,) = sweep([configs[0]], tmp_path / "results", spec_)
    assert (record.status, record.error) == ("error", "node 0 ended without a record")
    assert downs == [True]


def test_a_node_reads_its_config_inline_or_from_a_file_and_says_its_run_id(
    tmp_path, monkeypatch, capsys
):
    from keras_profiler import launcher

    config = RunConfig(backend="torch", model="tiny", nodes=2, coordinator="node-b:29600")
    ran = []
    monkeypatch.setattr(launcher, "run", lambda c, d: ran.append(c) or records.RunRecord(
        run_id=f"run-{c.node_rank}", status="ok", config=c.to_dict(), started_at="",
        finished_at="", wall_seconds=0.0, environment={}, devices=[]))  # fmt: skip
    text = json.dumps(config.to_dict())
    assert launch.main([text, "0", str(tmp_path), "-"]) == 0
    assert capsys.readouterr().out == f"{launch.RUN_ID_LINE}run-0\n"
    (tmp_path / "config.json").write_text(text)
    run_id = tmp_path / "id"
    assert launch.main([str(tmp_path / "config.json"), "0", str(tmp_path), str(run_id)]) == 0
    assert run_id.read_text() == "run-0" and capsys.readouterr().out == ""
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_NODELIST", "node-b,node-a")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert launch.main([text, "env", str(tmp_path), "-"]) == 0
    assert [c.node_rank for c in ran] == [0, 0, 1] and capsys.readouterr().out == ""
    monkeypatch.setenv("SLURM_NTASKS", "3")
    with pytest.raises(SystemExit) as refused:
        launch.main([text, "env", str(tmp_path), "-"])
    assert str(refused.value) == (
        "keras-profiler: NODE_RANK env: the environment describes 3 node(s) (Slurm "
        "(SLURM_PROCID, SLURM_NTASKS)), not the run's 2: start one task per node "
        "(srun --ntasks-per-node 1)"
    )


HOSTS = "node-b\nnode-a\n"


@pytest.mark.parametrize(
    "cluster, hosts, nodes, message",
    [
        (
            'launcher = "ssh"',
            HOSTS,
            "[1, 2]",
            '[cluster] launcher = "ssh" needs hosts, a file of one host per line',
        ),
        (
            'launcher = "ssh"\nhosts = "nowhere.txt"',
            HOSTS,
            "[1, 2]",
            "[cluster] hosts: cannot read {tmp}/nowhere.txt: No such file or directory",
        ),
        (
            'launcher = "ssh"\nhosts = "hosts.txt"',
            HOSTS,
            "[1, 2, 4]",
            "[cluster] hosts: {tmp}/hosts.txt lists 2 host(s), and nodes [1, 2, 4] needs 4: "
            "add hosts or leave out the larger node counts",
        ),
        (
            'launcher = "ssh"\nhosts = "hosts.txt"',
            "node-b\nnode-a extra\n",
            "[1, 2]",
            "[cluster] hosts: {tmp}/hosts.txt line 2: 'node-a extra' is not one host",
        ),
        (
            'launcher = "ssh"\nhosts = "hosts.txt"',
            "node-b\nnode-b\n",
            "[1, 2]",
            "[cluster] hosts: {tmp}/hosts.txt lists node-b twice: each node is a host of its own",
        ),
        (
            'launcher = "ssh"\nhosts = "hosts.txt"\nrates = ["1gbit"]',
            HOSTS,
            "[1, 2]",
            '[cluster]: unknown key(s) rates: launcher = "ssh" takes hosts, port, interconnect, '
            "interface, python, workdir",
        ),
        (
            'launcher = "ssh"\nhosts = "hosts.txt"\nport = 70000',
            HOSTS,
            "[1, 2]",
            "[cluster] port must be a port number from 1 to 65534 (the probe takes the next), "
            "got 70000",
        ),
        (
            'launcher = "slurm"',
            HOSTS,
            "[1, 2]",
            "launcher slurm needs a Slurm allocation: run the sweep inside salloc or sbatch",
        ),
        (
            'launcher = "slurm"\nhosts = "hosts.txt"',
            HOSTS,
            "[1, 2]",
            '[cluster]: unknown key(s) hosts: launcher = "slurm" takes port, interconnect, '
            "interface, python, workdir",
        ),
        (
            'launcher = "k8s"',
            HOSTS,
            "[1, 2]",
            "[cluster] launcher 'k8s' is not a node launcher: choose from netns, ssh, slurm",
        ),
        (
            "",
            HOSTS,
            "[1, 2]",
            'nodes [1, 2] need [cluster] launcher = "netns" (nodes as network namespaces on this '
            'machine), "ssh" (the hosts of a file) or "slurm" (srun inside an allocation): see '
            "docs/multi-node.md",
        ),
        (
            'launcher = "netns"',
            HOSTS,
            "[1, 2]",
            '[cluster] launcher = "netns" needs rates, e.g. ["1gbit", "100mbit"]',
        ),
    ],
)
def test_a_matrix_whose_nodes_cannot_start_is_one_line_saying_why(
    tmp_path, fakes, cluster, hosts, nodes, message
):
    (tmp_path / "hosts.txt").write_text(hosts)
    path = matrix(tmp_path, cluster, nodes)
    with pytest.raises(SpecError) as refused:
        SweepSpec.load(path)
    assert str(refused.value) == f"{path}: " + message.format(tmp=tmp_path)


def test_slurm_needs_enough_nodes_and_the_tools(tmp_path, fakes, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[01-02]")
    monkeypatch.setenv("FAKE_HOSTS", "gpu01 gpu02")
    path = matrix(tmp_path, 'launcher = "slurm"', nodes="[1, 2, 4]")
    with pytest.raises(SpecError) as refused:
        SweepSpec.load(path)
    assert str(refused.value) == (
        f"{path}: launcher slurm: the allocation has 2 node(s), and nodes [1, 2, 4] needs 4: "
        "allocate 4 (salloc --nodes 4)"
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SpecError) as refused:
        SweepSpec.load(path)
    assert str(refused.value) == f"{path}: launcher slurm needs srun and scontrol, not on PATH"
    (tmp_path / "hosts.txt").write_text(HOSTS)
    path = matrix(tmp_path, 'launcher = "ssh"\nhosts = "hosts.txt"')
    with pytest.raises(SpecError) as refused:
        SweepSpec.load(path)
    assert str(refused.value) == (
        f'{path}: [cluster] launcher = "ssh" needs the ssh client: ssh is not on PATH'
    )
