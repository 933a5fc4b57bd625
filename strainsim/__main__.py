"""``python -m strainsim``: the command line."""

import os
import signal
import sys

from strainsim.app.cli import main


def _already_interrupted(signum, frame):
    """A later signal while the run shuts down: nothing to do."""


def _interrupt(signum, frame):
    # Ctrl-C or SIGTERM ends a run: workers shut down, outputs stay untouched, exit 130.
    # Once is enough: a second signal while the run shuts down would otherwise interrupt
    # the shutdown itself and end the process by a signal instead of exit 130. The later
    # ones go to a handler that does nothing, not to SIG_IGN: a signal that arrived just
    # before this one ran is still pending, and finding no Python handler CPython would
    # print a traceback ("Signal 15 ignored due to race condition").
    signal.signal(signal.SIGINT, _already_interrupted)
    signal.signal(signal.SIGTERM, _already_interrupted)
    raise KeyboardInterrupt


def run() -> None:
    """Console-script entry point."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)   # (a shell may have left it ignored)
    signal.signal(signal.SIGTERM, _interrupt)
    code = main()
    if code == 130:
        # An interrupt, reported and cleaned up: end with 130 now. CPython 3.11 remembers
        # a KeyboardInterrupt that passed through an eval() of a string (namedtuple builds
        # its classes that way while a module imports), even one caught later, and at
        # exit would end the process by SIGINT instead of with this code.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    run()
