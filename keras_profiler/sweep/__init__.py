"""Sweeps: a matrix of runs from a definition file, run one by one, resumable.

``spec`` reads the matrix and expands it into RunConfigs, ``plan`` says which
of them the records already hold, ``runner`` runs the rest with a progress
display, and ``cli`` is ``python -m keras_profiler sweep``.
"""
