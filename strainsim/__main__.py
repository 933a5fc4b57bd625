"""``python -m strainsim``: the command line."""

import signal
import sys

from strainsim.app.cli import main


def _interrupt(signum, frame):
    # Ctrl-C or SIGTERM ends a run: workers shut down, outputs stay untouched, exit 130.
    # Once is enough: a second signal while the run shuts down would otherwise interrupt
    # the shutdown itself and end the process by a signal instead of exit 130.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run() -> None:
    """Console-script entry point."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)   # (a shell may have left it ignored)
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())


if __name__ == "__main__":
    run()
