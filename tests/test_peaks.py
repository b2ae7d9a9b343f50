"""Tests of keras_profiler.peaks: device names to peak TFLOP/s, the math mode
each Keras precision policy is measured against, training FLOPs and MFU,
and the ``--peak-tflops`` parser. Pure arithmetic: no framework, no GPU.
"""

from __future__ import annotations

import pytest

from keras_profiler import peaks

RESNET50_MACS = 3_857_973_248  # ResNet-50 at 224x224, from model_stats


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA H200 NVL", "H200 NVL"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A100-SXM4-40GB", "A100"),
        ("NVIDIA A100-PCIE-40GB", "A100"),
        ("NVIDIA A100 80GB PCIe", "A100"),
        ("Tesla V100-SXM2-16GB", "V100 SXM2"),
        ("Tesla V100-PCIE-32GB", "V100 PCIe"),
        ("Tesla V100S-PCIE-32GB", "V100S PCIe"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA A10", "A10"),
        ("Tesla T4", "T4"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("NVIDIA GeForce RTX 3090", "RTX 3090"),
        ("nvidia h100 pcie", "H100 PCIe"),
        ("NVIDIA_A100_SXM4_40GB", "A100"),
    ],
)
def test_device_names_match_their_entry(name, entry):
    assert peaks.device_entry(name) == entry


@pytest.mark.parametrize(
    "name",
    [
        "NVIDIA A10G",  # no vendor figure to be sure of
        "NVIDIA GH200 480GB",  # not "H200"
        "NVIDIA RTX A1000",  # not "A100"
        "NVIDIA L40",  # not "L4" nor "L40S"
        "NVIDIA GeForce RTX 4090 D",
        "NVIDIA GeForce RTX 3090 Ti",
        "NVIDIA GeForce RTX 4090 Laptop GPU",
        "NVIDIA A100-SXM4-40GB MIG 1g.5gb",  # a slice, not the whole GPU
        "Tesla V100-SXM3-32GB",
        "cpu",
        "TPU v4",
        "",
        None,
    ],
)
def test_unknown_devices_have_no_peak(name):
    assert peaks.device_entry(name) is None
    assert peaks.peak_tflops(name, "mixed_bfloat16") is None
    assert peaks.peak_tflops(name, "float32") is None


def test_every_pattern_names_an_entry():
    assert {entry for _, entry in peaks._NAME_PATTERNS} == set(peaks.PEAK_TFLOPS)


@pytest.mark.parametrize(
    ("name", "precision", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "mixed_bfloat16", (989.4, "bf16 dense tensor")),
        ("NVIDIA H100 80GB HBM3", "mixed_float16", (989.4, "fp16 dense tensor")),
        ("NVIDIA H100 80GB HBM3", "float32", (494.7, "tf32 dense tensor")),
        ("NVIDIA H100 PCIe", "mixed_bfloat16", (756.0, "bf16 dense tensor")),
        ("NVIDIA H100 PCIe", "float32", (378.0, "tf32 dense tensor")),
        ("NVIDIA H200", "mixed_bfloat16", (989.4, "bf16 dense tensor")),
        ("NVIDIA A100-SXM4-40GB", "float32", (156.0, "tf32 dense tensor")),
        ("NVIDIA A100 80GB PCIe", "mixed_float16", (312.0, "fp16 dense tensor")),
        ("Tesla V100-SXM2-16GB", "float32", (15.7, "fp32 non-tensor")),
        ("Tesla V100-SXM2-16GB", "mixed_float16", (125.0, "fp16 dense tensor")),
        ("Tesla V100-PCIE-32GB", "float32", (14.0, "fp32 non-tensor")),
        ("Tesla T4", "mixed_float16", (65.0, "fp16 dense tensor")),
        ("Tesla T4", "float32", (8.1, "fp32 non-tensor")),
    ],
)
def test_precision_picks_the_math_mode(name, precision, expected):
    assert peaks.peak_tflops(name, precision) == expected


@pytest.mark.parametrize(
    ("name", "precision"),
    [
        ("Tesla V100-SXM2-16GB", "mixed_bfloat16"),  # Volta has no bf16
        ("Tesla T4", "mixed_bfloat16"),  # nor has Turing
        ("NVIDIA H100 80GB HBM3", "float64"),  # no peak kept for it
        ("NVIDIA H100 80GB HBM3", None),
    ],
)
def test_precision_the_device_lacks_has_no_peak(name, precision):
    assert peaks.peak_tflops(name, precision) is None


def test_dense_peaks_are_below_sparse_marketing_figures():
    # Guards against a sparsity figure slipping in: no dense bf16 peak in the
    # table reaches the H100 SXM's 2:4-sparse 1978.9.
    assert max(p.get("bf16", 0) for p in peaks.PEAK_TFLOPS.values()) == 989.4


def test_training_flops_are_six_times_the_forward_macs():
    assert peaks.training_flops_per_image(RESNET50_MACS) == 6 * RESNET50_MACS


def test_mfu_of_resnet50_on_one_h100_in_bf16():
    # 6 * 3.857973248e9 * 2700 / 989.4e12 = 62.4992e12 / 989.4e12 = 0.06317
    value = peaks.mfu(RESNET50_MACS, 2700, 1, 989.4)
    assert value == pytest.approx(0.0632, abs=5e-4)
    assert round(value, 3) == 0.063


def test_mfu_halves_over_two_devices_at_the_same_throughput():
    one = peaks.mfu(RESNET50_MACS, 2700, 1, 989.4)
    assert peaks.mfu(RESNET50_MACS, 2700, 2, 989.4) == pytest.approx(one / 2)


def test_mfu_is_not_clamped():
    assert peaks.mfu(1e12, 1000, 1, 1.0) == pytest.approx(6000.0)


@pytest.mark.parametrize("missing", range(4))
def test_mfu_with_a_missing_input_is_none(missing):
    inputs = [RESNET50_MACS, 2700, 1, 989.4]
    inputs[missing] = None
    assert peaks.mfu(*inputs) is None


@pytest.mark.parametrize(("devices", "peak"), [(0, 989.4), (1, 0.0), (-1, 989.4)])
def test_mfu_rejects_non_positive_devices_or_peak(devices, peak):
    with pytest.raises(ValueError, match="positive device count and peak"):
        peaks.mfu(RESNET50_MACS, 2700, devices, peak)
