"""Running a benchmark's measurement in a child process: a crash or a
timeout is a failed measurement with its reason, never a crash of the
benchmark, and what the child printed before it is kept.

Example:

```python
done = run_child([sys.executable, "bench/hand_loops.py", feed, path], env, timeout=600)
if done.returncode != 0:
    print("failed:", tail(done.stderr))
```
"""

from __future__ import annotations

import subprocess


def run_child(command: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Runs a measurement; a timeout is a failed measurement, not a crash,
    and keeps what the child printed before it (its finished results)."""
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        printed = expired.stdout or ""
        printed = printed.decode(errors="replace") if isinstance(printed, bytes) else printed
        return subprocess.CompletedProcess(command, -1, printed, f"timed out after {timeout:.0f} s")


def tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
