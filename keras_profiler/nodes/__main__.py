"""``python -m keras_profiler.nodes``: see ``command``."""

import sys

from keras_profiler.nodes.command import main

if __name__ == "__main__":
    sys.exit(main())
