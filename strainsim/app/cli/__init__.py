"""The ``strainsim`` command line: one module per command group, each only parsing
options, calling the library and printing (:mod:`strainsim.app.cli.common` holds what
they share). Heavy modules (numba, matplotlib, the engine) are imported inside the
commands, so ``strainsim --help`` stays instant."""

from __future__ import annotations

import sys

import typer

# the command groups register their commands on the app
from strainsim.app.cli import bench, calibrate, explore, measure, meta, trials  # noqa: F401
from strainsim.app.cli.common import app
from strainsim.errors import InputError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning input errors into one line and exit code 2."""
    try:  # newer typer carries its own copy of click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click.exceptions import UsageError

    try:
        code = app(args=argv, prog_name="strainsim", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into an exit code outside standalone mode
            raise KeyboardInterrupt
    except InputError as exc:
        typer.echo(f"strainsim: error: {exc}", err=True)
        return 2
    except UsageError as exc:
        ctx = exc.ctx
        command = f"strainsim {ctx.info_name}" if ctx and ctx.parent else "strainsim"
        message = exc.format_message()
        if message:  # an empty message follows the help shown for a bare command
            typer.echo(f"{command}: error: {message}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("strainsim: interrupted; nothing was written", err=True)
        return 130
    except BrokenPipeError:  # output piped into a pager or head that closed early
        sys.stderr.close()
        return 0
    return 0



if __name__ == "__main__":
    sys.exit(main())
