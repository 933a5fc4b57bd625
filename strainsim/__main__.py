"""``python -m strainsim``: the command line."""

import sys

from .cli import main


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
