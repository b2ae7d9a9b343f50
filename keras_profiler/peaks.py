"""Model FLOPs utilisation (MFU): training FLOP/s achieved over the devices' peak.

MFU says how much of the hardware a run used, so runs on different GPUs,
precisions and device counts can be compared on one scale. Peaks are the
vendors' dense figures (no 2:4 sparsity, which training does not use) for the
math mode a Keras dtype policy runs in; the FLOP count is the model's own
(``model_stats.describe``'s ``forward_macs_per_image``). Unknown devices, CPUs
and MIG slices (a fraction of the GPU, named like the whole GPU) have no peak
here; ``--peak-tflops`` supplies one.
"""

from __future__ import annotations

import re

# Dense peak TFLOP/s per device and math mode. Source: NVIDIA's data sheets
# (their tensor figures are "with sparsity": the dense figure is half), and
# where they give unrounded figures the architecture whitepapers (Hopper for
# H100 SXM5/PCIe, Ampere GA102 for RTX 3090, Ada for RTX 4090); GeForce
# tensor figures are those with FP32 accumulation, which the frameworks use.
# Modes: "bf16", "fp16" and "tf32" on tensor cores; "fp32" without them.
# A device has no entry for a mode it lacks. Left out for want of a vendor
# figure one can be sure of: A10G, L40, V100 SXM3/DGXS, GH200, H800, A800.
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H100 SXM": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "H100 PCIe": {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0, "fp32": 51.2},
    "H100 NVL": {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0},
    "H200": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "H200 NVL": {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5},
    "A10": {"bf16": 125.0, "fp16": 125.0, "tf32": 62.5, "fp32": 31.2},
    "L4": {"bf16": 121.0, "fp16": 121.0, "tf32": 60.0, "fp32": 30.3},
    "L40S": {"bf16": 362.05, "fp16": 362.05, "tf32": 183.0, "fp32": 91.6},
    "V100 SXM2": {"fp16": 125.0, "fp32": 15.7},
    "V100 PCIe": {"fp16": 112.0, "fp32": 14.0},
    "V100S PCIe": {"fp16": 130.0, "fp32": 16.4},
    "T4": {"fp16": 65.0, "fp32": 8.1},
    "RTX 4090": {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6, "fp32": 82.6},
    "RTX 3090": {"bf16": 71.0, "fp16": 71.0, "tf32": 35.6, "fp32": 35.6},
}

# Device-name patterns -> entry, most specific first; searched in the name
# with "-" and "_" read as spaces. Whole words only, so "A10" is not "A100"
# or "A10G", "L4" not "L40S", "H200" not "GH200"; GeForce names must end at
# the model number ("RTX 4090 D", "RTX 3090 Ti" and laptop parts differ).
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bH100\b.*\bNVL\b", "H100 NVL"),
    (r"\bH100\b.*\bPCIE\b", "H100 PCIe"),
    (r"\bH100\b", "H100 SXM"),
    (r"\bH200\b.*\bNVL\b", "H200 NVL"),
    (r"\bH200\b", "H200"),
    (r"\bA100\b", "A100"),
    (r"\bA10\b", "A10"),
    (r"\bL4\b", "L4"),
    (r"\bL40S\b", "L40S"),
    (r"\bV100S\b", "V100S PCIe"),
    (r"\bV100\b.*\bSXM2\b", "V100 SXM2"),
    (r"\bV100\b.*\bPCIE\b", "V100 PCIe"),
    (r"\bT4\b", "T4"),
    (r"\bRTX 4090$", "RTX 4090"),
    (r"\bRTX 3090$", "RTX 3090"),
)

# Keras dtype policy -> the math modes it may run in, preferred first, and
# each mode's label. float32 runs in TF32 where the device has it: see
# peak_tflops.
_MODES_BY_POLICY = {
    "mixed_bfloat16": ("bf16",),
    "bfloat16": ("bf16",),
    "mixed_float16": ("fp16",),
    "float16": ("fp16",),
    "float32": ("tf32", "fp32"),
}
_MODE_LABELS = {
    "bf16": "bf16 dense tensor",
    "fp16": "fp16 dense tensor",
    "tf32": "tf32 dense tensor",
    "fp32": "fp32 non-tensor",
}


def device_entry(device_name: str | None) -> str | None:
    """The ``PEAK_TFLOPS`` entry a device name matches, or None.

    Args:
        device_name: an NVML/framework name such as "NVIDIA H100 80GB HBM3",
            "NVIDIA A100-SXM4-40GB" or jax's ``device_kind``; case is ignored.
    """
    if not device_name:
        return None
    name = " ".join(re.sub(r"[-_]", " ", device_name).split())
    if re.search(r"\bMIG\b", name, re.IGNORECASE):
        return None
    return next(
        (entry for pattern, entry in _NAME_PATTERNS if re.search(pattern, name, re.IGNORECASE)),
        None,
    )


def peak_tflops(device_name: str | None, precision: str | None) -> tuple[float, str] | None:
    """The dense peak TFLOP/s of one device for a Keras precision policy.

    mixed_bfloat16 is measured against the bf16 tensor-core peak,
    mixed_float16 against fp16 tensor-core (FP32 accumulation). float32 is
    measured against the TF32 tensor-core peak where the device has TF32
    (Ampere and newer), because that is the math the frameworks use by
    default for float32 convolutions there (jax's default precision,
    TensorFlow's TensorFloat-32 execution, PyTorch's
    ``cudnn.allow_tf32``); elsewhere against plain FP32.

    Args:
        device_name: the device's NVML/framework name (see ``device_entry``).
        precision: a Keras dtype policy name, e.g. "mixed_bfloat16".

    Returns:
        (peak TFLOP/s, math mode label), e.g. (989.4, "bf16 dense tensor"), or
        None for an unknown device, a CPU, a MIG slice, a policy with no
        peak here (float64), or a precision the device lacks (bf16 on a V100).
    """
    entry = device_entry(device_name)
    if entry is None:
        return None
    peaks = PEAK_TFLOPS[entry]
    mode = next((m for m in _MODES_BY_POLICY.get(precision, ()) if m in peaks), None)
    return (peaks[mode], _MODE_LABELS[mode]) if mode else None


def training_flops_per_image(forward_macs_per_image: float) -> float:
    """Training FLOPs of one image: 6 x the forward multiply-adds.

    A multiply-add is 2 FLOPs, and the backward pass (gradients with respect
    to activations and to weights) costs about twice the forward, so one
    training step is 3 x 2 x MACs: the convention of PaLM's MFU and of
    MLPerf-style estimates. Layers ``model_stats`` does not count (batch
    norm, activations, pooling) are left out here too.
    """
    return 6.0 * forward_macs_per_image


def mfu(
    forward_macs_per_image: float | None,
    images_per_second: float | None,
    devices: int | None,
    peak_tflops_per_device: float | None,
) -> float | None:
    """Model FLOPs utilisation: training FLOP/s achieved / (peak x devices).

    Args:
        forward_macs_per_image: ``forward_macs_per_image`` of the run's model.
        images_per_second: the run's steady-state training throughput, all
            devices together.
        devices: the number of devices that throughput was measured on.
        peak_tflops_per_device: dense peak TFLOP/s of one device (see
            ``peak_tflops``).

    Returns:
        A fraction, not clamped: above 1 means the FLOP count or the peak is
        wrong, which must stay visible. None when any input is None.

    Raises:
        ValueError: If devices or the peak is not positive.
    """
    inputs = (forward_macs_per_image, images_per_second, devices, peak_tflops_per_device)
    if any(value is None for value in inputs):
        return None
    if devices <= 0 or peak_tflops_per_device <= 0:
        raise ValueError(
            f"mfu needs a positive device count and peak; got devices={devices}, "
            f"peak_tflops_per_device={peak_tflops_per_device}"
        )
    achieved = training_flops_per_image(forward_macs_per_image) * images_per_second
    return achieved / (peak_tflops_per_device * 1e12 * devices)
