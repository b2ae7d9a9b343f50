"""The isolated Python environment that keras-mxnet runs in.

keras-mxnet 2.2.4.3 and mxnet 1.9.1 need numpy<1.24, h5py<3.12 and
scipy<1.12, which Keras 3 and its backends cannot live with, so MXNet runs in
a virtual environment of its own. keras-profiler builds it on first use, in
its cache folder, from the pins below; ``--mxnet-python`` points at one the
user already has. Either way the interpreter is checked before any run starts,
and a problem is one line saying what to do, raised as a UsageError.

Runs in the launcher: no framework is imported here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from keras_profiler import gpus
from keras_profiler.errors import UsageError

MXNET_VERSION = "1.9.1"
# Everything the worker imports there, pinned to versions seen working together
# on Python 3.11. numpy 1.23.5 is the newest release mxnet 1.9.1 runs with
# (numpy 1.24 removed np.PZERO, and numpy 2 more); it has builds for Python
# 3.8 to 3.11 only, which is why the environment needs one of those.
REQUIREMENTS = (
    "keras-mxnet==2.2.4.3",
    "numpy==1.23.5",
    "h5py==3.11.0",
    "scipy==1.11.4",
    "psutil==7.2.2",
    "nvidia-ml-py==13.615.71",
)
# mxnet's CUDA builds of 1.9.1 on PyPI, by the CUDA version they were built
# against, newest first. A driver runs any CUDA runtime up to its own version.
CUDA_BUILDS = (
    ((11, 7), "mxnet-cu117"),
    ((11, 2), "mxnet-cu112"),
    ((11, 0), "mxnet-cu110"),
    ((10, 2), "mxnet-cu102"),
    ((10, 1), "mxnet-cu101"),
)
SUPPORTED_PYTHONS = ((3, 10), (3, 11))
COMPLETE_MARKER = "keras-profiler-env.json"
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
PROBE_MODULE = "keras_profiler.backends.mxnet.probe"
FIX = "or point --mxnet-python at a Python {pythons} with mxnet {mxnet} and keras-mxnet 2.2.4.3"


def cache_root() -> Path:
    """Where keras-profiler keeps what it builds ($KERAS_PROFILER_CACHE)."""
    return Path(os.environ.get("KERAS_PROFILER_CACHE", "~/.cache/keras-profiler")).expanduser()


def mxnet_distribution(cuda_driver: tuple[int, int] | None) -> str:
    """The mxnet package for a machine whose NVIDIA driver supports CUDA
    ``cuda_driver`` (None: no GPU): the newest CUDA build the driver can run,
    else the CPU build."""
    if cuda_driver is None:
        return "mxnet"
    for version, name in CUDA_BUILDS:
        if cuda_driver >= version:
            return name
    return "mxnet"


def requirements(distribution: str) -> list[str]:
    return [f"{distribution}=={MXNET_VERSION}", *REQUIREMENTS]


def env_folder(distribution: str, root: Path | None = None) -> Path:
    """The environment's folder; another set of pins gets another folder."""
    digest = hashlib.sha256("\n".join(requirements(distribution)).encode()).hexdigest()[:10]
    return (root or cache_root()) / f"mxnet-env-{distribution}-{digest}"


def python_of(folder: Path) -> Path:
    return folder / "bin" / "python"


def resolve(requested: str | None) -> str:
    """The interpreter MXNet workers run in: ``requested`` (--mxnet-python)
    once checked, else keras-profiler's own environment, built if absent.

    Raises:
        UsageError: it cannot be used or built; the message says why and what to do.
    """
    if requested:
        python = Path(requested).expanduser()
        probe(python, what=f"--mxnet-python {requested}")
        return str(python)
    return str(ensure())


def ensure(base_python: str | None = None) -> Path:
    """keras-profiler's MXNet environment's interpreter, built first if needed.

    Built under a lock (two runs started together build it once) and marked
    complete only at the end, so a build that was killed is redone, not used.
    """
    distribution = mxnet_distribution(gpus.cuda_driver_version())
    folder = env_folder(distribution)
    if (folder / COMPLETE_MARKER).exists():
        return python_of(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(folder.name + ".lock")):
        if not (folder / COMPLETE_MARKER).exists():
            _build(folder, distribution, base_python or _base_python())
    return python_of(folder)


def _build(folder: Path, distribution: str, base_python: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # what a killed build left
    _check_base_python(base_python)
    _tell(
        f"building the MXNet environment ({distribution} {MXNET_VERSION}, keras-mxnet "
        f"2.2.4.3) in {folder}: once, about a minute"
    )
    try:
        _step([base_python, "-m", "venv", str(folder)], "python -m venv failed")
        pip = [str(python_of(folder)), "-m", "pip", "install", "--disable-pip-version-check"]
        _step([*pip, "--quiet", *requirements(distribution)], "pip could not install it")
        found = probe(python_of(folder), what=f"the environment in {folder}")
    except UsageError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise UsageError(f"could not build the MXNet environment: {error}") from None
    found["distribution"] = distribution
    _write_atomically(folder / COMPLETE_MARKER, json.dumps(found, indent=2))


def _base_python() -> str:
    """The interpreter keras-profiler runs on, outside any virtual environment."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _check_base_python(python: str) -> None:
    version = _python_version(python, what=python)
    if version not in SUPPORTED_PYTHONS:
        raise UsageError(
            f"{python} is Python {version[0]}.{version[1]}, and mxnet {MXNET_VERSION} needs "
            f"numpy<1.24, built for Python 3.8 to 3.11 only: run 'python -m keras_profiler "
            f"setup-mxnet --python PATH' with a Python 3.10 or 3.11, " + _fix()
        )


def _step(command: list[str], what: str) -> None:
    """Runs one build step; a failure becomes one line ending in pip's own reason."""
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise UsageError(
            f"{what} ({_reason(completed.stderr)}): check that this machine can reach "
            "the package index and retry, " + _fix()
        )


def _reason(stderr: str) -> str:
    """pip's own reason for failing, the last line it printed as an error."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no message"])[-1].removeprefix("ERROR: ")


def probe(python: Path | str, what: str) -> dict:
    """Imports mxnet and keras-mxnet in ``python`` through the worker's own
    bootstrap (so the project's code is checked too) and returns their versions.

    Raises:
        UsageError: ``python`` is missing, too old, or lacks mxnet or keras-mxnet.
    """
    version = _python_version(python, what)
    if version < SUPPORTED_PYTHONS[0]:
        raise UsageError(
            f"{what} is Python {version[0]}.{version[1]}; the worker needs 3.10 or newer, " + _fix()
        )
    with tempfile.TemporaryDirectory(prefix="keras-profiler-probe-") as home:
        # A private Keras home: importing keras-mxnet writes its keras.json.
        env = dict(os.environ, **bootstrap_environment(), KERAS_HOME=home, KERAS_BACKEND="mxnet")
        completed = subprocess.run(
            [str(python), str(BOOTSTRAP), PROBE_MODULE],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    if completed.returncode != 0:
        raise UsageError(
            f"{what} cannot run the MXNet worker ({_last_line(completed.stderr)}): "
            f"pip install {' '.join(requirements('mxnet'))} there, or leave out "
            "--mxnet-python and keras-profiler builds its own environment"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def bootstrap_environment() -> dict[str, str]:
    """Tells the bootstrap where this install's packages are, so that the MXNet
    interpreter runs the very same files (models/, datasets/, the worker)."""
    import keras_profiler
    import keras_profiler.datasets
    import keras_profiler.models

    packages = {
        module.__name__: module.__path__[0]
        for module in (keras_profiler, keras_profiler.models, keras_profiler.datasets)
    }
    return {"KERAS_PROFILER_PACKAGES": json.dumps(packages)}


def _python_version(python: Path | str, what: str) -> tuple[int, int]:
    try:
        completed = subprocess.run(
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError as error:
        raise UsageError(f"{what}: cannot run it ({error.strerror})") from None
    if completed.returncode != 0:
        raise UsageError(f"{what}: not a working Python ({_last_line(completed.stderr)})")
    major, minor = (int(part) for part in completed.stdout.split())
    return major, minor


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _fix() -> str:
    pythons = " or ".join(f"{major}.{minor}" for major, minor in SUPPORTED_PYTHONS)
    return FIX.format(pythons=pythons, mxnet=MXNET_VERSION)


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _tell(message: str) -> None:
    print(f"keras-profiler: {message}", file=sys.stderr, flush=True)
