"""Command line: ``python -m admm_sklearn compare --help``."""

import sys

from ._compare import main

if __name__ == "__main__":
    sys.exit(main())
