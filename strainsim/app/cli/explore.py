"""The ``explore`` command: the concordance explorer's server."""

from __future__ import annotations

import typer

from strainsim.app.cli.common import (
    app,
    check_workers,
)
from strainsim.errors import InputError


@app.command()
def explore(
    port: int = typer.Option(5006, help="Port to serve the page on."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (default: this "
                             "machine only; 0.0.0.0 opens it to the network)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
    workers: int = typer.Option(2, help="Worker processes for the power curves."),
    precompute: bool = typer.Option(True, help="Compute the default world's power curve "
                                    "precisely before serving (a few seconds)."),
):
    """Serve the concordance explorer: an interactive page for teaching."""
    import socket

    check_workers(workers)
    if not 1 <= port <= 65535:
        raise InputError("option --port", None, "a port number in [1, 65535]", str(port))
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise InputError("option --port/--host", None, "a free port on an address of this "
                         "machine", f"{host}:{port} ({exc.strerror or exc})") from None
    from strainsim.app.explorer_page import serve

    try:  # the server runs until Ctrl-C (or SIGTERM), which it handles by returning
        serve(port, host, open_browser=not no_browser, workers=workers, precompute=precompute)
    except KeyboardInterrupt:
        pass
    raise typer.Exit(130)  # stopped by Ctrl-C or SIGTERM: main() says so in one line

