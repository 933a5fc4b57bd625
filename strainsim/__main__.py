"""``python -m strainsim``: the command line."""

import signal
import sys

from strainsim.app.cli import main


def _terminate(signum, frame):
    # SIGTERM ends a run like Ctrl-C: workers shut down, outputs stay untouched, exit 130
    raise KeyboardInterrupt


def run() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())


if __name__ == "__main__":
    run()
