"""Nodes beyond one machine's devices, and the links between them.

``netns`` makes N "nodes" on this machine as network namespaces joined by a
bridge, each link shaped with ``tc`` (``python -m keras_profiler.nodes up``);
``probe`` times an all-reduce between processes, as nccl-tests reports it, so
that a multi-node figure comes with the link it was measured on. Importing
this package loads no framework (the probe imports torch when it runs).
"""
