"""``python -m keras_profiler``: parse arguments, run, exit. Logic lives in cli."""

import sys

from keras_profiler.cli import main

if __name__ == "__main__":
    sys.exit(main())
