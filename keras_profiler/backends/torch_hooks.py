"""When each gradient is ready in a torch training step, from autograd's own
hooks: the model's forward pre-hook and hook (forward begins and ends), a
hook on the output's gradient (backward begins: the loss's gradient has
reached the model) and each weight's post-accumulate-grad hook (its
gradient is complete, as DDP's buckets see it). On a GPU each hook waits
for the device first, so that a time is when the work ended, not when it
was queued; that wait slows the step it times.

Example:

```python
with GradientTimer(model) as timer:
    model.train_on_batch(x, y)
timer.steps[-1]   # {"forward_s": ..., "backward_start_s": ..., "ready_s": {path: s}, ...}
```
"""

from __future__ import annotations

import time


class GradientTimer:
    def __init__(self, model):
        self.model = model
        self.steps: list[dict] = []
        self._handles = []
        self._marks: dict = {}

    def __enter__(self):
        import torch

        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)

        def mark(key):
            sync()
            self._marks.setdefault(key, time.perf_counter())

        def forward_ended(module, inputs, output):
            mark("forward_end")
            if isinstance(output, torch.Tensor) and output.requires_grad:
                output.register_hook(lambda grad: mark("backward_start"))

        def ready(path):
            return lambda parameter: mark(path)

        self._handles = [
            self.model.register_forward_pre_hook(lambda module, inputs: mark("forward_start")),
            self.model.register_forward_hook(forward_ended),
        ] + [
            w.value.register_post_accumulate_grad_hook(ready(w.path))
            for w in self.model.trainable_weights
        ]
        return self

    def step(self, run_step) -> None:
        """Runs one step (``run_step()``), timing it."""
        self._marks = {}
        began = time.perf_counter()
        run_step()
        ended = time.perf_counter()
        marks, paths = self._marks, [w.path for w in self.model.trainable_weights]
        start = marks["forward_start"]
        self.steps.append(
            {
                "step_s": ended - began,
                "forward_s": marks["forward_end"] - start,
                "backward_start_s": marks["backward_start"] - start,
                "ready_s": {p: marks[p] - start for p in paths if p in marks},
                "end_s": ended - start,
            }
        )

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        return False
