"""Inference profiling: forward-only latency and throughput per batch size."""
