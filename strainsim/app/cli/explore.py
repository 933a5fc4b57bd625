"""The ``explore`` command: the concordance explorer's server."""

from __future__ import annotations

from pathlib import Path

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



@app.command()
def lesson(
    out: Path = typer.Option(Path("out/lesson"), help="Output folder (index.html)."),
    replicates: int = typer.Option(200, help="Virtual meta-analyses behind the figures."),
):
    """Write the explorer's lesson as one HTML page that opens from the file system with
    no server: figures for the calibrated world over the concordance levels, a slider,
    and guided questions to answer before each reveal."""
    from strainsim.app.cli.common import progress_bar
    from strainsim.files import check_output_folder, output_folder, write_text_atomic

    if not 2 <= replicates <= 10_000:
        raise InputError("option --replicates", None, "a number in [2, 10000]",
                         str(replicates))
    check_output_folder(out)
    from strainsim.app.explorer import POWER_LEVELS
    from strainsim.app.lesson import build_lesson

    progress, advance = progress_bar(len(POWER_LEVELS), "concordance levels")
    with progress:
        page = build_lesson(replicates=replicates, progress=advance)
    with output_folder(out) as stage:
        write_text_atomic(stage / "index.html", page)
    typer.echo(f"lesson page -> {out}/index.html (open it in a browser; no server needed)")
