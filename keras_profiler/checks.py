"""Checks that a validated RunConfig can run on this machine, before any run
starts: what RunConfig cannot know (what is installed, the GPUs present).
Shared by the run command and the sweep."""

from __future__ import annotations

import sys

from keras_profiler import backends, gpus
from keras_profiler import models as model_registry
from keras_profiler.config import RunConfig, flag
from keras_profiler.errors import UsageError


def check_runnable(config: RunConfig, refuse_unsupported: bool = True) -> None:
    """Raises UsageError when this machine cannot run ``config``: its backend
    is not installed, it asks for devices or settings the machine lacks, or
    (unless ``refuse_unsupported`` is off, as for a sweep, which records such
    a configuration as not supported) its backend cannot express its model."""
    _check_installed(config.backend)
    _check_devices(config)
    reason = unsupported(config) if refuse_unsupported else None
    if reason:
        raise UsageError(reason)


def unsupported(config: RunConfig) -> str | None:
    """Why ``config``'s backend cannot express its model or span its nodes,
    or None."""
    adapter = backends.get(config.backend)
    if config.nodes > 1 and adapter.multi_node_strategy is None:
        return (
            f"{flag('nodes')} {config.nodes}: the {config.backend} backend cannot span nodes: "
            f"{adapter.multi_node_refusal}"
        )
    missing = [f for f in model_registry.needs(config.model) if f in adapter.lacks]
    if not missing:
        return None
    return (
        f"model {config.model} needs {' and '.join(missing)}, which the {config.backend} "
        f"backend ({adapter.keras_api}) lacks: choose another --backend"
    )


def _check_installed(backend: str) -> None:
    requirement = backends.get(backend).missing_requirement()
    if requirement:
        raise UsageError(
            f"backend {backend!r} needs {requirement}, which is not installed in "
            f"{sys.executable}: pip install {requirement}"
        )


def _check_devices(config: RunConfig) -> None:
    """More devices than the machine has, or a setting this machine cannot run."""
    present = gpus.count()
    if present and config.devices > present:
        gpus_flag = flag("devices")
        raise UsageError(
            f"{gpus_flag} {config.devices}: this machine has {present} GPU(s): "
            f"use {gpus_flag} {present} or fewer"
        )
    problem = backends.get(config.backend).problem(config, present)
    if problem:
        raise UsageError(f"{config.backend}: {problem}")
