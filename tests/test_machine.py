"""A configuration is settled only by a record made on this machine."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from keras_profiler import environment, gpus, machine, records
from keras_profiler.config import RunConfig
from keras_profiler.sweep import plan

ROOT = Path(__file__).resolve().parent.parent
HARDWARE = {"cpu_model": "AMD EPYC", "cpu_cores_logical": 2, "memory_mib": 24105, "gpus": []}
# A record committed in results/ (schema 2): made on another machine (host "vm", an AMD
# EPYC), before records held a machine identity.
COMMITTED = "20261123T150836Z-tiny-jax-single-1dev-b32-float32-synthetic-s1337-f2eb8b"


def _load(folder: Path) -> records.RunRecord:
    return records.RunRecord.from_dict(json.loads((folder / records.RECORD_FILE).read_text()))


@pytest.fixture
def no_gpus(monkeypatch):
    monkeypatch.setattr(gpus, "uuids", lambda: [])
    monkeypatch.delenv(machine.NAME_VARIABLE, raising=False)


def test_the_key_is_the_gpus_uuids_then_the_machine_id_then_the_host(
    no_gpus, tmp_path, monkeypatch
):
    id_file = tmp_path / "machine-id"
    id_file.write_text("0123456789abcdef\n")
    boot_file = tmp_path / "boot_id"
    boot_file.write_text("b007-1\n")
    monkeypatch.setattr(machine, "MACHINE_ID_FILES", (str(tmp_path / "absent"), str(id_file)))
    monkeypatch.setattr(machine, "BOOT_ID_FILE", str(boot_file))
    assert machine.key() == ("machine-id+boot-id", "0123456789abcdef:b007-1")
    monkeypatch.setattr(gpus, "uuids", lambda: ["GPU-b", "GPU-a"])
    assert machine.key() == ("gpu-uuids", "GPU-a,GPU-b")
    monkeypatch.setenv(machine.NAME_VARIABLE, "rack-3-node-7")
    assert machine.key() == ("named", "rack-3-node-7")
    monkeypatch.delenv(machine.NAME_VARIABLE)
    monkeypatch.setattr(gpus, "uuids", lambda: [])
    monkeypatch.setattr(machine, "MACHINE_ID_FILES", ())
    assert machine.key() == ("host+boot-id", f"{socket.gethostname()}:b007-1")


def test_two_virtual_machines_from_one_image_differ_by_their_boot(no_gpus, tmp_path, monkeypatch):
    # One image, one baked-in machine ID, one host name, one hardware type.
    id_file, boot_file = tmp_path / "machine-id", tmp_path / "boot_id"
    id_file.write_text("0123456789abcdef\n")
    monkeypatch.setattr(machine, "MACHINE_ID_FILES", (str(id_file),))
    monkeypatch.setattr(machine, "BOOT_ID_FILE", str(boot_file))
    boot_file.write_text("first-vm\n")
    first = machine.describe(HARDWARE)["machine_id"]
    boot_file.write_text("second-vm\n")
    assert machine.describe(HARDWARE)["machine_id"] != first


def test_two_machines_of_one_type_differ_and_one_machine_stays_itself(no_gpus, monkeypatch):
    monkeypatch.setenv(machine.NAME_VARIABLE, "node-a")
    first = machine.describe(HARDWARE)
    assert first == machine.describe(dict(HARDWARE, host="a-new-random-container-name"))
    assert first["machine_id_source"] == "named" and len(first["machine_id"]) == 12
    monkeypatch.setenv(machine.NAME_VARIABLE, "node-b")  # same hardware, another machine
    assert machine.describe(HARDWARE)["machine_id"] != first["machine_id"]
    monkeypatch.setenv(machine.NAME_VARIABLE, "node-a")  # same key, other hardware
    assert machine.describe(dict(HARDWARE, memory_mib=48210))["machine_id"] != first["machine_id"]


def test_the_machine_id_itself_is_not_recorded(no_gpus, tmp_path, monkeypatch):
    id_file = tmp_path / "machine-id"
    id_file.write_text("5f2c0e9a4b7d41c3a8e6d0b1c2f3a4b5\n")  # made up
    monkeypatch.setattr(machine, "MACHINE_ID_FILES", (str(id_file),))
    assert "5f2c0e9a" not in json.dumps(machine.describe(HARDWARE))


def test_records_before_schema_4_get_a_legacy_identity_from_host_and_hardware():
    old = _load(ROOT / "results" / COMMITTED)
    assert old.schema_version < 4 and "machine_id" not in old.environment
    assert old.machine_id.startswith(machine.LEGACY_PREFIX)
    assert old.machine_id != environment.collect()["machine_id"]
    same_host_other_cpu = dict(old.environment, cpu_model="Intel(R) Xeon(R) Processor")
    assert machine.identity_of(same_host_other_cpu) != old.machine_id


def _config(batch_size: int) -> RunConfig:
    return RunConfig(backend="jax", model="tiny", dataset="synthetic", batch_size=batch_size)


def _record(folder: Path, run_id: str, config: RunConfig, environment_: dict) -> None:
    record = _load(ROOT / "results" / COMMITTED)
    record.run_id, record.config, record.environment = run_id, config.to_dict(), environment_
    records.write(record, folder)


def test_only_this_machines_records_settle_a_configuration(tmp_path):
    here = environment.collect()
    elsewhere = dict(here, machine_id="0123456789ab", host="another-box")
    copied_in, made_here, untouched = _config(8), _config(16), _config(24)
    _record(tmp_path, "from-elsewhere", copied_in, elsewhere)
    _record(tmp_path, "from-here", made_here, here)
    todo, skipped = plan.pending([copied_in, made_here, untouched], tmp_path, force=False)
    assert [c.batch_size for c in todo] == [8, 24]
    assert skipped == {"ok": 1}


def test_a_record_copied_from_the_committed_results_settles_nothing_here(tmp_path):
    shutil.copytree(ROOT / "results" / COMMITTED, tmp_path / COMMITTED)
    old = _load(tmp_path / COMMITTED)
    config = RunConfig.from_dict(old.config)
    assert plan.pending([config], tmp_path, force=False) == ([config], {})
    assert plan.pending([config], tmp_path, force=False, machine_id=old.machine_id)[0] == []


@pytest.mark.slow
def test_a_sweep_over_both_machines_records_runs_only_what_this_machine_lacks(tmp_path, run_cli):
    results = tmp_path / "results"
    here = environment.collect()
    elsewhere = dict(here, machine_id="0123456789ab", host="another-box")
    _record(results, "from-elsewhere", _sweep_config(8), elsewhere)
    _record(results, "from-here", _sweep_config(16), here)
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(
        '[matrix]\nbackends = ["jax"]\ndevices = [1]\nmodels = ["tiny"]\n'
        'batch_sizes = [8, 16]\ndata = ["synthetic"]\n'
        "[settings]\nepochs = 1\nsteps_per_epoch = 2\ntest_samples = 64\n"
    )
    completed = run_cli("sweep", str(matrix))  # into tmp_path / "results", "reports"
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "2 configuration(s), 1 to run; already recorded on this machine, skipped: 1 ok" in (
        completed.stderr
    )
    last_lines = completed.stdout.strip().splitlines()[-2:]
    assert last_lines[0] == (
        "keras-profiler sweep: measured here ("
        f"{here['cpu_model']}, {here['cpu_cores_logical']} cores, machine {here['machine_id']}): "
        "1 run(s), 1 ok"
    )
    assert f"{tmp_path / 'reports' / 'tiny.md'}" in last_lines[1]
    made = [
        r for r in records.load_all(results)[0] if r.run_id not in ("from-elsewhere", "from-here")
    ]
    assert [(r.status, r.config["batch_size"], r.machine_id) for r in made] == [
        ("ok", 8, here["machine_id"])
    ]


def _sweep_config(batch_size: int) -> RunConfig:
    return RunConfig(
        backend="jax",
        model="tiny",
        dataset="synthetic",
        batch_size=batch_size,
        epochs=1,
        steps_per_epoch=2,
        test_samples=64,
    )


def test_two_machines_of_one_type_get_a_column_each_in_the_reports(tmp_path):
    from test_report import run

    from keras_profiler import report

    first, second = run("r1", "jax", 1, steady=2.0), run("r2", "jax", 1, steady=4.0)
    first.environment["machine_id"], second.environment["machine_id"] = (
        "aaaaaaaaaaaa",
        "bbbbbbbbbbbb",
    )
    for record in (first, second):
        records.write(record, tmp_path / "results")
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    # Each machine's run is its own cell (160 and 80 images/sec), not the later one alone.
    assert "Test CPU (2 cores), machine aaaaaaaaaaaa" in page
    assert "Test CPU (2 cores), machine bbbbbbbbbbbb" in page
    assert "160.00" in page and "80.00" in page


def test_one_machine_keeps_its_plain_hardware_name(tmp_path):
    from test_report import run

    from keras_profiler import report

    records.write(run("r1", "jax", 1), tmp_path / "results")
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert "Test CPU (2 cores)" in page and ", machine " not in page
