"""Which machine a run was measured on.

A sweep resumes only from records made on the machine it runs on: a record
copied in from another machine is reported beside this machine's, but never
settles, replaces or hides a configuration here.

A machine's identity is a short hash of two things:

- its hardware, as every record describes it (CPU model, logical cores,
  memory, each GPU's model and memory): machines that differ in any of these
  are never one;
- a key that tells apart two machines of the same type: the GPUs' UUIDs where
  there are GPUs (one per board, the same in every container on the host);
  else the operating system's machine ID (``/etc/machine-id``) with the
  kernel's boot ID; else the host name with the boot ID.
  ``KERAS_PROFILER_MACHINE`` names the machine outright.

The host name alone would not do: containers get random names, so one machine
would look new at every start. The hardware alone would merge two machines of
one type. The machine ID alone would merge every virtual machine made from one
image that carries its machine ID (as this project's own machines do: the
records committed in results/ came from such a twin), so without GPUs the
boot ID is part of the key: a reboot makes the machine new, and its
configurations are measured again (the safe direction; name the machine with
``KERAS_PROFILER_MACHINE`` to resume across reboots). The key is hashed
before it is recorded, as machine-id(5) asks of programs that use the
machine ID.

Records of schema 3 and earlier hold no key. Their identity is computed from
their host name and hardware and starts with ``legacy-``; it never equals a
current identity, so such records never settle a configuration (the worst
that can come of it is a configuration measured again, never one skipped).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

from keras_profiler import gpus

NAME_VARIABLE = "KERAS_PROFILER_MACHINE"
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
LEGACY_PREFIX = "legacy-"
# The environment fields (environment.collect) that describe the hardware.
HARDWARE_FIELDS = ("cpu_model", "cpu_cores_logical", "memory_mib")


def key() -> tuple[str, str]:
    """(where the key came from, the key itself, not yet hashed)."""
    named = os.environ.get(NAME_VARIABLE, "").strip()
    if named:
        return "named", named
    uuids = gpus.uuids()
    if uuids:
        return "gpu-uuids", ",".join(sorted(uuids))
    boot = _read(BOOT_ID_FILE) or ""
    for path in MACHINE_ID_FILES:
        text = _read(path)
        if text:
            return "machine-id+boot-id", f"{text}:{boot}"
    return "host+boot-id", f"{socket.gethostname()}:{boot}"


def describe(environment: dict) -> dict:
    """``machine_id`` and ``machine_id_source`` for a record's environment,
    from its hardware fields and this machine's key."""
    source, raw = key()
    return {"machine_id": identity(environment, _digest(raw)), "machine_id_source": source}


def identity_of(environment: dict) -> str:
    """The machine identity a record's environment holds, or, for records that
    predate it, one computed from their host name and hardware."""
    if environment.get("machine_id"):
        return environment["machine_id"]
    return LEGACY_PREFIX + identity(environment, f"host:{environment.get('host')}")


def identity(environment: dict, hashed_key: str) -> str:
    hardware = {name: environment.get(name) for name in HARDWARE_FIELDS}
    hardware["gpus"] = [(g.get("name"), g.get("memory_mib")) for g in environment.get("gpus") or []]
    return _digest(json.dumps([hashed_key, hardware], sort_keys=True))[:12]


def _digest(text: str) -> str:
    return hashlib.sha256(f"keras-profiler machine:{text}".encode()).hexdigest()


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None
