"""Command line: ``python -m admm_sklearn compare|plan --help`` (see ``_cli``)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
