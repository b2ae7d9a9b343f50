"""A sweep definition: the matrix of runs, read from TOML, and its expansion
into validated RunConfigs.

Each ``.toml`` file beside this module is a preset (``sweep --preset NAME``
runs ``NAME.toml``), one per reference table. A definition file (see
``keras-mxnet.toml``) has:

* ``[matrix]``: the dimensions, each a list: ``backends`` (or the string
  ``"installed"``), ``devices``, ``models``, ``batch_sizes``, ``data``
  (``synthetic``, ``real``, ``real-distorted``), ``precisions``, and
  ``repeats`` (a number), ``modes`` (``train``, the default, and/or
  ``infer``: forward-only latency, each batch size and device count of
  one node; the training-only settings left out); ``devices_up_to_present`` (default true) leaves
  out device counts above the GPUs present, keeping 1 on a machine without
  GPUs; false runs them as virtual CPU devices there.
* ``[strategies]``: optional, per backend, the strategies to run
  (``tensorflow = ["replicated", "parameter_server", "single"]``); default:
  the tool's own, ``single`` (a plain fit) on 1 device and the backend's
  data-parallel strategy on more, so the scaling report has its baseline.
  ``single`` runs at 1 device only; a data-parallel one named here runs at
  1 device too (its own cost).
* ``[settings]``: any other RunConfig field, for every run (``epochs``,
  ``steps_per_epoch``, ``image_size``, ``seed``, ``timeout_seconds``...).
* ``[models.<name>]``: settings for one model only (``epochs = 5``,
  ``image_size = 224``).
* ``[cluster]``: how the runs over ``nodes`` above 1 start: ``launcher``
  (``netns``, ``ssh`` or ``slurm``, each a module named in ``LAUNCHERS``)
  and its keys (netns: ``rates``; ssh: ``hosts``, a file found from the
  matrix file's folder; see docs/multi-node.md).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from keras_profiler import backends, datasets, models
from keras_profiler.config import MODES, TRAINING_ONLY, RunConfig
from keras_profiler.nodes import launch as node_launch
from keras_profiler.nodes import slurm, ssh

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).parent
# The matrix a bare sweep and run_all.sh run: the settings of the published
# keras-mxnet tables, the tool's first reference.
REFERENCE = HERE / "keras-mxnet.toml"
QUICK = HERE / "quick.toml"

INSTALLED = "installed"
# The node launchers of runs over several nodes ([cluster] launcher), each
# a module of one interface (see keras_profiler/nodes/launch.py).
LAUNCHERS = {"netns": node_launch, "ssh": ssh, "slurm": slurm}
# [cluster] keys that name a file, read relative to the matrix file.
_CLUSTER_FILES = ("hosts",)
# Data kinds, as the reference hardware tables name them, and the settings
# each stands for.
DATA_KINDS = {
    "synthetic": {"dataset": datasets.for_data_kind(synthetic=True), "distortions": False},
    "real": {"dataset": datasets.for_data_kind(synthetic=False), "distortions": False},
    "real-distorted": {"dataset": datasets.for_data_kind(synthetic=False), "distortions": True},
}
_MATRIX_KEYS = {
    "backends",
    "devices",
    "models",
    "batch_sizes",
    "data",
    "precisions",
    "repeats",
    "devices_up_to_present",
    "nodes",
    "modes",
}
# Set by the matrix, never by [settings].
DIMENSION_FIELDS = {
    "backend",
    "model",
    "devices",
    "batch_size",
    "dataset",
    "distortions",
    "precision",
    "strategy",
    "repeat",
    "mode",
}


def presets() -> dict[str, Path]:
    """The matrix files beside this module, by name (the file's, less
    .toml): adding a reference table's preset is adding its file."""
    return {path.stem: path for path in sorted(HERE.glob("*.toml"))}


# What a backend's problem() reads of a run, before its settings: the
# RunConfig defaults.
_PROBE = {
    f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING
} | {"devices": 1}


class SpecError(ValueError):
    """A definition that cannot be run: the message says what to change."""


@dataclass
class SweepSpec:
    """The matrix, before the machine is taken into account."""

    backends: list[str] | str = INSTALLED
    devices: list[int] = field(default_factory=lambda: [1])
    models: list[str] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=lambda: [32])
    data: list[str] = field(default_factory=lambda: ["real"])
    precisions: list[str] = field(default_factory=lambda: ["float32"])
    repeats: int = 1
    devices_up_to_present: bool = True
    nodes: list[int] = field(default_factory=lambda: [1])
    modes: list[str] = field(default_factory=lambda: ["train"])
    # How runs over several nodes start ([cluster]): launcher, and its
    # settings (netns: the link rates, each a dimension; ssh: the hosts file).
    cluster: dict = field(default_factory=dict)
    strategies: dict[str, list[str]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    model_settings: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        """Reads a definition file; SpecError names the file and the problem."""
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text())
        except OSError as error:
            raise SpecError(f"cannot read sweep file {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"{path} is not valid TOML: {error}") from None
        cluster = document.get("cluster")
        if isinstance(cluster, dict):
            document["cluster"] = _relative_to(path.parent, cluster)
        try:
            return cls.from_document(document)
        except SpecError as error:
            raise SpecError(f"{path}: {error}") from None

    @classmethod
    def from_document(cls, document: dict) -> SweepSpec:
        unknown = sorted(set(document) - {"matrix", "strategies", "settings", "models", "cluster"})
        if unknown:
            raise SpecError(
                f"unknown table(s) {', '.join(unknown)}: a sweep file has [matrix], "
                "[strategies], [settings], [cluster] and [models.<name>]"
            )
        matrix = dict(document.get("matrix", {}))
        wrong = sorted(set(matrix) - _MATRIX_KEYS)
        if wrong:
            raise SpecError(
                f"unknown [matrix] key(s) {', '.join(wrong)}: it takes "
                f"{', '.join(sorted(_MATRIX_KEYS))}"
            )
        spec = cls(
            **matrix,
            strategies=dict(document.get("strategies", {})),
            cluster=dict(document.get("cluster", {})),
            settings=dict(document.get("settings", {})),
            model_settings={k: dict(v) for k, v in document.get("models", {}).items()},
        )
        spec.check()
        return spec

    def replace(self, **changes) -> SweepSpec:
        """A copy with some dimensions or settings changed (command-line
        overrides). Given models keep the [models.X] tables of theirs the file
        has; given batch sizes replace the models' own too."""
        own = {m: dict(s) for m, s in changes.get("model_settings", self.model_settings).items()}
        if "models" in changes:
            own = {m: s for m, s in own.items() if m in changes["models"]}
        if "batch_sizes" in changes:
            own = {m: {k: v for k, v in s.items() if k != "batch_sizes"} for m, s in own.items()}
        spec = dataclasses.replace(self, **{**changes, "model_settings": own})
        spec.check()
        return spec

    def _spreads(self, device_counts: list[int]) -> list[tuple[int, dict]]:
        """(devices per node, cluster settings) of every spread of a run:
        each device count on one node, then on each node count above one as
        the launcher of [cluster] runs it (netns: over each of its links)."""
        spreads = [(n, {}) for n in device_counts] if 1 in self.nodes else []
        if max(self.nodes) == 1:
            return spreads
        launcher, settings = self.launcher()
        for nodes in (n for n in self.nodes if n > 1):
            for cluster in launcher.clusters(settings, nodes):
                spreads += [(n, cluster) for n in device_counts]
        return spreads

    def launcher(self):
        """The node launcher of [cluster], and its settings for this
        matrix's node counts; SpecError, one line, saying what to change."""
        name = self.cluster.get("launcher")
        if name is None:
            raise SpecError(
                f'nodes {self.nodes} need [cluster] launcher = "netns" (nodes as network '
                'namespaces on this machine), "ssh" (the hosts of a file) or "slurm" (srun '
                "inside an allocation): see docs/multi-node.md"
            )
        launcher = LAUNCHERS[name]
        try:
            return launcher, launcher.settle(self.cluster, self.nodes)
        except ValueError as error:
            raise SpecError(str(error)) from None

    def _strategies(self, backend: str, cluster: dict) -> list:
        """The strategies a backend runs: over several nodes only the one
        that spans them (none named: the config says it cannot)."""
        if cluster:
            return [backends.get(backend).multi_node_strategy]
        return self.strategies.get(backend, [None])

    def strategies_for(self, gpus_present: int) -> tuple[SweepSpec, list[str]]:
        """The spec less the strategies its backends run on GPUs only (NCCL)
        when this machine has none, and a line saying each one left out, so
        that a GPU table's preset still runs, capped, on CPUs."""
        if gpus_present:
            return self, []
        kept, notes = {}, []
        for backend, names in self.strategies.items():
            adapter = backends.get(backend)
            kept[backend] = []
            for name in names:
                probe = types.SimpleNamespace(
                    **{**_PROBE, **self.settings, "backend": backend, "strategy": name}
                )
                problem = adapter.problem(probe, 0)
                if problem and not adapter.problem(probe, 1):
                    notes.append(f"leaving out {backend}'s strategy {name}: {problem}")
                else:
                    kept[backend].append(name)
        return (dataclasses.replace(self, strategies=kept), notes) if notes else (self, [])

    def check(self) -> None:
        """Checks what can be checked before configs are built."""
        if not self.models:
            raise SpecError("no models: set [matrix] models, or --models")
        if self.backends != INSTALLED:
            _check_list("backends", self.backends, str)
            _check_names("backend", self.backends, backends.NAMES)
        for name, kind in (("devices", int), ("batch_sizes", int)):
            _check_list(name, getattr(self, name), kind)
        for name in ("models", "data", "precisions", "modes"):
            _check_list(name, getattr(self, name), str)
        _check_names("data kind", self.data, DATA_KINDS)
        _check_names("mode", self.modes, MODES)
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise SpecError(f"repeats must be a whole number of at least 1, got {self.repeats!r}")
        _check_names("backend in [strategies]", self.strategies, backends.NAMES)
        self._check_cluster()
        fields = {f.name for f in dataclasses.fields(RunConfig)}
        for where, settings in [("[settings]", self.settings)] + [
            (f"[models.{m}]", s) for m, s in self.model_settings.items()
        ]:
            _check_settings(where, settings, fields)
        stray = sorted(set(self.model_settings) - set(self.models))
        if stray:
            raise SpecError(
                f"[models.{stray[0]}] sets a model the matrix does not run: "
                f"add it to models or remove the table"
            )

    def _check_cluster(self) -> None:
        """nodes and [cluster] make runs that can start."""
        _check_list("nodes", self.nodes, int)
        if any(n < 1 for n in self.nodes):
            raise SpecError(f"nodes must be whole numbers of at least 1, got {self.nodes}")
        name = self.cluster.get("launcher")
        if name is not None and (not isinstance(name, str) or name not in LAUNCHERS):
            raise SpecError(
                f"[cluster] launcher {name!r} is not a node launcher: choose from "
                f"{', '.join(LAUNCHERS)}"
            )
        unknown = sorted(set(self.cluster) - {"launcher", *_cluster_keys(name)})
        if unknown:
            takes = (
                f'launcher = "{name}" takes {", ".join(LAUNCHERS[name].KEYS)}'
                if name
                else "it takes launcher and that launcher's keys"
            )
            raise SpecError(f"[cluster]: unknown key(s) {', '.join(unknown)}: {takes}")
        if max(self.nodes) > 1:
            self.launcher()

    def configs(self, backend_names: list[str], device_counts: list[int]) -> list[RunConfig]:
        """Every run of the matrix for these backends and device counts, in
        the order they run: repetition by repetition (a stopped sweep has a
        complete first pass sooner), then model, data kind, precision, mode,
        batch size, device count, backend, strategy. Inference runs on one
        node, without the training-only settings.

        Raises:
            SpecError: a combination RunConfig rejects, saying which.
        """
        combinations = itertools.product(
            range(1, self.repeats + 1), self.models, self.data, self.precisions, self.modes
        )
        spreads = self._spreads(device_counts)
        result = []
        for repeat, model, kind, precision, mode in combinations:
            own = dict(self.model_settings.get(model, {}))
            batches = own.pop("batch_sizes", self.batch_sizes)
            fields = {
                **_settings_for(self.settings, model),
                **own,
                **data_settings(kind, model),
                "model": model,
                "precision": precision,
                "repeat": repeat,
            }
            if mode == "infer":
                result += _inference_configs(fields, batches, device_counts, backend_names)
            else:
                result += self._training_configs(fields, batches, spreads, backend_names)
        return result

    def _training_configs(self, fields, batches, spreads, backend_names) -> list[RunConfig]:
        """The training runs of one model, data kind and precision: each
        batch size, spread, backend and strategy."""
        result = []
        for batch, (devices, cluster), backend in itertools.product(
            batches, spreads, backend_names
        ):
            for strategy in self._strategies(backend, cluster):
                if strategy == "single" and devices > 1:
                    continue  # the 1-device baseline only
                result.append(
                    _config(
                        {
                            **cluster,
                            **fields,
                            "backend": backend,
                            "batch_size": batch,
                            "devices": devices,
                            "strategy": strategy,
                        }
                    )  # fmt: skip
                )
        return result


def _inference_configs(fields: dict, batches: list[int], device_counts, backend_names) -> list:
    """The inference runs of one model, data kind and precision: each batch
    size, device count (of one node: serving spans no nodes) and backend. A
    backend that cannot serve over several devices is recorded as not
    supported there (checks.unsupported), as training's gaps are."""
    kept = {k: v for k, v in fields.items() if k not in TRAINING_ONLY}
    return [
        _config(
            {**kept, "backend": backend, "batch_size": batch, "devices": devices, "mode": "infer"}
        )  # fmt: skip
        for batch in batches
        for devices in device_counts
        for backend in backend_names
    ]


def launch_of(config: RunConfig, spec: SweepSpec | None = None):
    """(the node launcher, its settings) that start ``config``, a run over
    several nodes: ``spec``'s [cluster] launcher, the sweep that built it;
    else netns where its interconnect names a netns link (a config made
    with netns_cluster).

    Raises:
        ValueError: no launcher is known for it.
    """
    if spec is not None and spec.cluster.get("launcher"):
        return spec.launcher()
    return node_launch, {"rates": [node_launch.rate_of(config)]}


def _cluster_keys(launcher: str | None) -> set[str]:
    """The [cluster] keys ``launcher`` takes (any launcher's, where none is named)."""
    chosen = [LAUNCHERS[launcher]] if launcher else LAUNCHERS.values()
    return {key for module in chosen for key in module.KEYS}


def _relative_to(folder: Path, cluster: dict) -> dict:
    """[cluster] with the files it names found from ``folder``."""
    return {
        key: str(folder / value) if key in _CLUSTER_FILES and isinstance(value, str) else value
        for key, value in cluster.items()
    }


def _config(fields: dict) -> RunConfig:
    try:
        return RunConfig(**fields)
    except (ValueError, TypeError) as error:
        which = ", ".join(
            f"{k} {fields[k]}"
            for k in ("backend", "model", "devices", "batch_size", "strategy")
            if fields.get(k) is not None
        )
        raise SpecError(f"{which}: {error}") from None


def _check_list(name: str, value, kind) -> None:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{name} must be a non-empty list, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, kind):
            raise SpecError(f"{name} must hold {kind.__name__}s, got {item!r}")


def _check_names(what: str, names, known) -> None:
    for name in names:
        if name not in known:
            raise SpecError(f"unknown {what} {name!r}: choose from {', '.join(known)}")


def _check_batch_sizes(where: str, sizes) -> None:
    """A model's own batch sizes: a list of positive integers."""
    if (
        not isinstance(sizes, list)
        or not sizes
        or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in sizes)
    ):
        raise SpecError(f"{where}: batch_sizes must be a list of positive integers, not {sizes!r}")


# Settings that size one kind of sample: a sweep's [settings] (or the
# command line) gives each to the models of that kind only.
_SIZES = {"image_size": "images", "sequence_length": "tokens"}


def _settings_for(settings: dict, model: str) -> dict:
    """The sweep-wide settings that apply to ``model``: an image size to
    image models, a sequence length to text models, the rest to all."""
    try:
        samples = models.input_kind(model)
    except ValueError:  # no such model: RunConfig says so
        return settings
    return {k: v for k, v in settings.items() if _SIZES.get(k, samples) == samples}


def data_settings(kind: str, model: str) -> dict:
    """The dataset and distortions a data kind of the reference tables
    stands for, for ``model``'s kind of samples (images or tokens)."""
    settings = dict(DATA_KINDS[kind])
    try:
        samples = models.input_kind(model)
    except ValueError:  # no such model: RunConfig says so, as for any setting
        return settings
    if samples != "images":
        try:
            settings["dataset"] = datasets.for_data_kind(kind == "synthetic", samples)
        except StopIteration:
            raise SpecError(
                f'no {kind} data of {samples} for {model}: give it data = ["synthetic"] '
                "in a sweep of its own"
            ) from None
    return settings


def _check_settings(where: str, settings: dict, fields: set[str]) -> None:
    for key in settings:
        if key == "batch_sizes" and where.startswith("[models."):
            _check_batch_sizes(where, settings[key])
            continue
        if key in DIMENSION_FIELDS:
            raise SpecError(
                f"{where} sets {key}, which the [matrix] decides: set it there "
                "(backends, models, devices, batch_sizes, data, precisions, modes, [strategies])"
            )
        if key not in fields:
            raise SpecError(
                f"{where}: unknown setting {key!r}: settings are RunConfig fields "
                f"({', '.join(sorted(fields - DIMENSION_FIELDS))})"
            )
