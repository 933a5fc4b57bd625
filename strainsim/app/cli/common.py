"""What every command shares: the app, option choices, checks of options, output."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from strainsim.errors import InputError
from strainsim.files import json_safe, write_csv, write_json

__all__ = ["app", "json_safe", "write_csv", "write_json"]

app = typer.Typer(
    name="strainsim",
    help="Speckle-tracking lead-targeting simulator for cardiac resynchronization therapy.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no <bool> metavars, no wrapped boxes in pipes
)


def _show_version(value: bool) -> None:
    if value:
        from strainsim import __version__

        typer.echo(f"strainsim {__version__}")
        raise typer.Exit()


@app.callback()
def _app(version: bool = typer.Option(False, "--version", callback=_show_version,
                                      is_eager=True, help="Show the version and exit.")):
    """Speckle-tracking lead-targeting simulator for cardiac resynchronization therapy."""


class StrainKind(str, Enum):
    radial = "radial"
    longitudinal = "longitudinal"


class Measure(str, Enum):
    OR = "OR"
    MD = "MD"
    SMD = "SMD"


class Layout(str, Enum):
    yi_vi = "yi-vi"
    counts = "counts"
    means = "means"


class Method(str, Enum):
    FE = "FE"
    MH = "MH"
    DL = "DL"
    REML = "REML"
    ML = "ML"
    PM = "PM"
    HE = "HE"


class Test(str, Enum):
    z = "z"
    knha = "knha"


class Spending(str, Enum):
    obf = "obf"
    pocock = "pocock"
    hsd = "hsd"


class Futility(str, Enum):
    none = "none"
    binding = "binding"
    non_binding = "non-binding"


class ActivationModel(str, Enum):
    pattern = "pattern"
    eikonal = "eikonal"


class Marker(str, Enum):
    ttp = "ttp"
    onset = "onset"
    xcorr = "xcorr"


def echo_json(data: dict) -> None:
    typer.echo(json.dumps(data, indent=2, allow_nan=False))


def echo_json_streamed(info: dict) -> None:
    """``echo_json(info)``, written a patient at a time (the same text)."""
    patients = info.get("patients")
    if patients is None:
        echo_json(info)
        return
    head = {k: v for k, v in info.items() if k != "patients"}
    text = json.dumps(head, indent=2, allow_nan=False)
    out = sys.stdout
    out.write(text[:-2] + ',\n  "patients": [')
    for k, patient in enumerate(patients):
        body = json.dumps(patient, indent=2, allow_nan=False).replace("\n", "\n    ")
        out.write(("," if k else "") + "\n    " + body)
    out.write("\n  ]\n}\n")


def print_table(table) -> None:
    from rich.console import Console

    # in a pipe or a file, wide enough that cells do not wrap
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))
    console.print(table)


def parse_segments(text: str | None, option: str) -> list[int]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 17:
            raise InputError(f"option {option}", None,
                             "comma-separated segment numbers 1-17", repr(part))
        out.append(int(part))
    return out


def parse_floats(text: str, option: str, lo: float, hi: float) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"option {option}", None, "comma-separated numbers", repr(text)) from None
    if not values or not all(lo <= v <= hi for v in values):
        raise InputError(f"option {option}", None, f"numbers in [{lo:g}, {hi:g}]", repr(text))
    return sorted(set(values))


def parse_assignments(texts: list[str] | None, option: str) -> dict[str, float]:
    """``section.field=value`` options (repeated) as a dict, each name once."""
    out: dict[str, float] = {}
    for text in texts or []:
        name, eq, value = text.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not eq or "." not in name or number is None:
            raise InputError(f"option {option}", None, "section.field=number", repr(text))
        if name in out:
            raise InputError(f"option {option}", None, "each parameter once", repr(name))
        out[name] = number
    return out


def check_range(value: float, lo: float, hi: float, option: str) -> None:
    if not lo <= value <= hi:
        raise InputError(f"option {option}", None, f"a value in [{lo:g}, {hi:g}]", f"{value:g}")


MAX_FOREST_STUDIES = 200  # a row per study: beyond this a forest plot is unreadable


MAX_PATIENT_TABLE = 1_000_000  # cohort without --summary-only holds every patient (~2 GB)


def check_output(path: Path | None, option: str, suffixes: tuple[str, ...]) -> None:
    """An output file: the right suffix, not a folder, in a folder that can be written."""
    if path is None:
        return
    if path.suffix.lower() not in suffixes:
        raise InputError(f"option {option}", None, "a file name ending in " + " or ".join(suffixes),
                         repr(str(path)))
    if path.is_dir():
        raise InputError(f"option {option}", None, "a file name", f"the folder {path}")
    from strainsim.files import check_writable_place

    check_writable_place(path.parent, path, option)


def check_workers(workers: int) -> None:
    if not 1 <= workers <= 256:
        raise InputError("option --workers", None, "a number of workers in [1, 256]",
                         str(workers))


def progress_bar(total: int, label: str):
    """A rich progress bar on stderr; returns (context manager, advance callback)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task(label, total=total)
    return progress, lambda done: progress.update(task, completed=done)


def fmt_cell(value) -> str:
    """A CSV cell: a number to six significant digits (NaN empty), text as it is."""
    import math

    if isinstance(value, str):
        return value
    return "" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"


def ttp_title(info: dict) -> str:
    latest = info["latest_segment"]
    d = info["dyssynchrony"]
    head = (f"latest viable segment: {latest} ({info['latest_name']})" if latest
            else "no viable segment")
    return (f"{info['source']} ({info['strain']}, {info['fps']:g} fps) - {head}; "
            f"SD TTP {d['sd_ttp_ms']} ms, septal-lateral {d['septal_lateral_ms']} ms")



def check_option(value: float, cls, attr: str, option: str) -> None:
    """``value`` within the declared range of ``cls.attr`` (the same range a spec file
    gets), else one :class:`InputError` naming ``option``."""
    from strainsim.params import declarations

    d = declarations(cls)[attr]
    unit = f" {d.unit}" if d.unit and d.unit != "fraction" else ""
    if not d.low <= value <= d.high:
        raise InputError(f"option {option}", None, f"a value in [{d.low:g}, {d.high:g}]{unit}",
                         f"{value:g}")
