"""The links a prediction runs over: published presets, the user's own link
as the all-reduce probe measured it, or one given by hand.

``--network`` takes, comma-separated:

- ``10gbe``, ``56gb-ib``: the MG-WFBP authors' fits of a whole all-reduce
  among p GPUs, time = a + b x bytes, for p = 2, 4, 8 and 16 on their
  clusters of 4 GPUs a node over 10 Gbit/s Ethernet and 56 Gbit/s
  InfiniBand: the tables ``p_alpha_beta_10Gbps`` and ``p_alpha_beta_56Gbps``
  of
  https://github.com/HKBU-HPML/MG-WFBP/blob/507f409db3d850cac8c65334059963eed501c204/distributed_optimizer.py
  (Shi, Chu and Li, "MG-WFBP", INFOCOM 2019). A fit covers the whole
  cluster (within and between its nodes), so it is used as it is, at the
  GPU counts fitted only: elsewhere the cell says it is outside the fit.
- ``100gbe``, ``100gb-ib``: the line rate alone (IEEE 802.3ba 100 Gbit/s
  Ethernet; InfiniBand EDR 4x, 100 Gbit/s), latency not modelled: no
  published fit of either was at hand, so these are bandwidth bounds.
- ``measured:RECORD``: the link a multi-node record measured, as one link
  of a ring among its ranks: where the record's engine timed its own
  collectives (jax: distribution.engine_collectives, what each of its
  per-tensor all-reduces costs, and one that the computation waits on),
  those; otherwise the all-reduce probe's latency + bandwidth fit
  (distribution.interconnect.fit).
- ``custom:BANDWIDTH,LATENCY``: e.g. ``custom:25gbit,20us``.

Within a node (``--intra``): ``nvlink`` (NVIDIA H100/H200 SXM, NVLink 4,
900 GB/s per GPU both directions together, 450 GB/s each way: the H100
datasheet), ``pcie4`` and ``pcie5`` (x16, 16 and 32 GT/s a lane, 128b/130b:
31.5 and 63 GB/s each way, PCI-SIG's base specifications).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from keras_profiler.errors import UsageError
from keras_profiler.predict.collectives import Link, ring_allreduce

MG_WFBP = (
    "https://github.com/HKBU-HPML/MG-WFBP/blob/507f409db3d850cac8c65334059963eed501c204/"
    "distributed_optimizer.py"
)


@dataclass(frozen=True)
class Network:
    """How long an all-reduce of m bytes takes among p ranks over it."""

    name: str
    link: Link  # one rank's link, for a ring
    source: str
    # Whole-collective fits by rank count: p -> (a seconds, b seconds/byte).
    fits: dict = field(default_factory=dict)
    # The --interconnect name of the runs measured over it (their cells).
    recorded_as: str | None = None

    def allreduce(self, nbytes: float, ranks: int) -> float:
        """An all-reduce among ``ranks``: the fit's where the network is a
        fit (OutsideFit at a count it does not cover), else a ring over
        ``link``."""
        if ranks < 2 or nbytes <= 0:
            return 0.0
        if self.fits:
            if ranks not in self.fits:
                raise OutsideFit(f"outside the fit ({', '.join(map(str, sorted(self.fits)))} GPUs)")
            a, b = self.fits[ranks]
            return a + b * nbytes
        return ring_allreduce(nbytes, ranks, self.link)


class OutsideFit(ValueError):
    """A fitted network asked for a GPU count it was not fitted at."""


def _fitted(name: str, fits: dict, what: str) -> Network:
    return Network(
        name=name,
        link=Link(0.0, float("inf")),  # unused: the fits are the whole collective
        fits=fits,
        recorded_as=name,
        source=f"{what}: the MG-WFBP authors' all-reduce fits for 2-16 workers ({MG_WFBP})",
    )


_MG_WFBP_56 = {
    16: (0.00023583677659915685, 4.0594787739537565e-10),
    8: (9.75367204301171e-05, 3.0568230536676206e-10),
    4: (4.204298980348825e-05, 2.0589360830118177e-10),
    2: (2.554691138304671e-06, 9.837548167872609e-11),
}
_MG_WFBP_10 = {
    16: (0.0009080981007148093, 7.395651186836712e-10),
    8: (0.0005230272768511732, 8.570746975492128e-10),
    4: (4.204298980348825e-05, 2.0589360830118177e-10),
    2: (2.554691138304671e-06, 9.837548167872609e-11),
}
GBIT = 1e9 / 8  # bytes/second in a Gbit/s
PRESETS = {
    "10gbe": _fitted("10gbe", _MG_WFBP_10, "10 Gbit/s Ethernet"),
    "56gb-ib": _fitted("56gb-ib", _MG_WFBP_56, "56 Gbit/s InfiniBand"),
    "100gbe": Network(
        "100gbe",
        Link(0.0, 100 * GBIT),
        "IEEE 802.3ba line rate, 100 Gbit/s; latency not modelled",
        recorded_as="100gbe",
    ),
    "100gb-ib": Network(
        "100gb-ib",
        Link(0.0, 100 * GBIT),
        "InfiniBand EDR 4x, 100 Gbit/s; latency not modelled",
        recorded_as="100gb-ib",
    ),
}
INTRA = {
    "nvlink": Network("nvlink", Link(0.0, 450e9), "H100/H200 SXM NVLink 4, 450 GB/s each way"),
    "pcie4": Network("pcie4", Link(0.0, 31.5e9), "PCIe 4.0 x16, 31.5 GB/s each way"),
    "pcie5": Network("pcie5", Link(0.0, 63e9), "PCIe 5.0 x16, 63 GB/s each way"),
}

_RATE = re.compile(r"^([\d.]+)\s*(gbit|mbit|kbit|gb|mb)$")
_TIME = re.compile(r"^([\d.]+)\s*(s|ms|us|ns)$")
_RATE_UNITS = {"gbit": 1e9 / 8, "mbit": 1e6 / 8, "kbit": 1e3 / 8, "gb": 1e9, "mb": 1e6}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def parse(text: str, table: dict | None = None) -> Network:
    """One ``--network`` (or ``--intra``) item; UsageError saying what to give."""
    table = PRESETS if table is None else table
    kind, _, rest = text.strip().partition(":")
    if kind == "measured" and rest:
        return measured(Path(rest))
    if kind == "custom" and rest:
        return custom(rest)
    if text in table:
        return table[text]
    raise UsageError(
        f"--network {text!r} is not a network: give {', '.join(table)}, measured:RECORD "
        "or custom:BANDWIDTH,LATENCY (e.g. custom:25gbit,20us)"
    )


def custom(text: str) -> Network:
    rate, _, latency = text.partition(",")
    r, t = _RATE.match(rate.strip().lower()), _TIME.match(latency.strip().lower())
    if not r or not t:
        raise UsageError(
            f"custom:{text} is not BANDWIDTH,LATENCY: give e.g. custom:25gbit,20us "
            "(gbit, mbit, gb or mb a second; s, ms, us or ns)"
        )
    beta = float(r.group(1)) * _RATE_UNITS[r.group(2)]
    alpha = float(t.group(1)) * _TIME_UNITS[t.group(2)]
    return Network(f"custom {rate.strip()}, {latency.strip()}", Link(alpha, beta), "given")


def measured(path: Path) -> Network:
    """The link of a multi-node record (its engine's own collectives, else
    its probe's fit), per rank of a ring."""
    file = path / "record.json" if path.is_dir() else path
    try:
        record = json.loads(file.read_text())
        link = record["distribution"]["interconnect"]
        engine = record["distribution"].get("engine_collectives")
        if engine:
            return _engine_measured(file, link, engine)
        fit, ranks = link["fit"], int(link["world_size"])
        alpha, beta = float(fit["alpha_s"]), float(fit["beta_bytes_per_s"])
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"measured:{path} holds no measured link: give a record of a run over several "
            "nodes (its distribution.interconnect has the all-reduce probe's fit)"
        ) from None
    steps = 2 * (ranks - 1)
    return Network(
        f"measured {link.get('name') or file.parent.name}",
        Link(alpha_s=alpha / steps, beta_bytes_per_s=beta * steps / ranks),
        f"the all-reduce probe of {file}: {alpha * 1e6:.1f} us + bytes / "
        f"{beta * 8 / 1e9:.3f} Gbit/s among {ranks} ranks",
        recorded_as=link.get("name"),
    )


def _engine_measured(file: Path, link: dict, engine: dict) -> Network:
    from keras_profiler.nodes import jax_collectives

    ring = jax_collectives.ring_link(engine)
    return Network(
        f"measured {link.get('name') or file.parent.name}",
        ring,
        f"{engine['engine']} in {file}: {engine['per_collective_s'] * 1e3:.2f} ms a collective"
        + _dependent(engine)
        + f", {engine['busbw_gbit_per_s']:.3f} Gbit/s bus among {engine['processes']} processes",
        recorded_as=link.get("name"),
    )


def _dependent(engine: dict) -> str:
    dependent = engine.get("dependent_s")
    return "" if dependent is None else f" ({dependent * 1e3:.2f} ms one the computation waits on)"
