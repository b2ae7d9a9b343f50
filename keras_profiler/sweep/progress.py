"""The sweep's own progress display, beside Keras's per-epoch one: how many
runs are done of how many, the one starting now, the time elapsed and an
estimate of the time left. Elapsed time and the estimate are shown only on a
terminal: logs (CI) get one plain line per run."""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts runs; the estimate is the mean time of this sweep's runs so far
    times the runs left (no estimate before the first run ends)."""

    def __init__(self, total: int, stream=None, clock=time.monotonic):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.clock = clock
        self.started = clock()
        self._durations: list[float] = []
        self._run_started = None

    def starting(self, description: str) -> None:
        self._run_started = self.clock()
        prefix = f"[{self.done + 1}/{self.total}]"
        if self.interactive:
            prefix += f" {self._times()}"
        self._say(f"{prefix} {description}")

    def finished(self) -> None:
        self.done += 1
        if self._run_started is not None:
            self._durations.append(self.clock() - self._run_started)

    def _times(self) -> str:
        elapsed = self.clock() - self.started
        left = self.total - self.done
        if not self._durations:
            return f"elapsed {clock_text(elapsed)}, time left unknown until a run ends |"
        estimate = sum(self._durations) / len(self._durations) * left
        return f"elapsed {clock_text(elapsed)}, about {clock_text(estimate)} left |"

    def _say(self, line: str) -> None:
        print(f"keras-profiler sweep: {line}", file=self.stream, flush=True)


def clock_text(seconds: float) -> str:
    """'1:02:03' for hours, minutes and seconds."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
