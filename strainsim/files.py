"""Files: reading small CSV tables, and writing outputs atomically.

Every output is written to a temporary file or folder beside its target and
moved in at the end, so it is complete or untouched; files get 0666 less the
umask.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from strainsim.errors import InputError

__all__ = [
    "CsvTable",
    "csv_rows",
    "read_csv_table",
    "atomic_path",
    "check_output_folder",
    "check_writable_place",
    "output_folder",
    "write_text_atomic",
    "write_csv",
    "json_safe",
    "write_json",
]


@dataclass(frozen=True)
class CsvTable:
    """A CSV file with a header row and one text column (``label``), the rest numbers.

    Attributes
    ----------
    source : str
        The file read.
    columns : tuple of str
        Header names, lower-cased and stripped.
    labels : tuple of str
        The text column, one per row.
    values : dict of str to ndarray
        The numeric columns.
    rows : tuple of int
        File line number of each data row (for messages).
    """

    source: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]
    values: dict
    rows: tuple[int, ...]


def csv_rows(path: str | Path, expected: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows with their line numbers; missing, binary or empty files raise."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = [(n, row) for n, row in enumerate(csv.reader(fh), start=1)
                     if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise InputError(source, None, "an existing CSV file", "no such file") from None
    except IsADirectoryError:
        raise InputError(source, None, "a CSV file", "a folder") from None
    except PermissionError:
        raise InputError(source, None, "a file that can be read", "permission denied") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(source, None, "a UTF-8 CSV text file", type(exc).__name__) from None
    if not lines:
        raise InputError(source, None, expected, "an empty file")
    return lines


def read_csv_table(path: str | Path, label: str) -> CsvTable:
    """Read a small CSV table whose ``label`` column is text and every other column numeric.

    Raises
    ------
    InputError
        Missing file, empty file, a missing ``label`` column, a ragged row or a
        cell that is not a number (naming the row and column).
    """
    source = str(path)
    lines = csv_rows(path, "a header row and data rows")
    header = [cell.strip().lower() for cell in lines[0][1]]
    if label not in header:
        raise InputError(source, "header", f"a {label!r} column", ",".join(header))
    if len(set(header)) != len(header):
        raise InputError(source, "header", "each column once", ",".join(header))
    body = lines[1:]
    if not body:
        raise InputError(source, "rows", "at least one data row", "none")
    import numpy as np  # here: the command line imports this module and starts fast

    values = {name: np.empty(len(body)) for name in header if name != label}
    labels = []
    for i, (line_no, row) in enumerate(body):
        if len(row) != len(header):
            raise InputError(source, f"row {line_no}", f"{len(header)} cells", f"{len(row)}")
        for name, cell in zip(header, row, strict=True):
            text = cell.strip()
            if name == label:
                labels.append(text or f"row {line_no}")
                continue
            try:
                values[name][i] = float(text)
            except ValueError:
                raise InputError(source, f"row {line_no}, column {name!r}", "a number",
                                 repr(text)) from None
            if not np.isfinite(values[name][i]):
                raise InputError(source, f"row {line_no}, column {name!r}", "a finite number",
                                 repr(text))
    return CsvTable(source=source, columns=tuple(header), labels=tuple(labels), values=values,
                    rows=tuple(n for n, _ in body))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The file gets the permissions a newly created file would (0666 less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_folder(out: str | Path, option: str = "--out") -> None:
    """Refuse, before any computation, an output folder that is a file or cannot be
    written (one :class:`~strainsim.errors.InputError`)."""
    from strainsim.errors import InputError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"option {option}", None, "a folder", f"the file {out}")
    check_writable_place(out if out.exists() else out.parent, out, option)


def check_writable_place(folder: Path, target: Path, option: str) -> None:
    """``folder`` (or its nearest existing ancestor) is a folder that can be written."""
    from strainsim.errors import InputError

    probe = folder if str(folder) else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"option {option}", None, "a place in a folder",
                         f"{target} (under the file {probe})")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"option {option}", None, "a folder that can be written",
                         f"{target} (in {probe})")


@contextmanager
def output_folder(out: str | Path, option: str = "--out"):
    """Write a command's files into a temporary folder beside ``out``, moved in at the end.

    On success every file is moved into ``out`` (created if needed); on failure or
    interruption ``out`` is untouched (no new file beside old ones).
    """
    out = Path(out)
    check_output_folder(out, option)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.partial-"))
    try:
        yield staging
        out.mkdir(exist_ok=True)
        mode = 0o666 & ~_umask()
        for item in sorted(staging.iterdir()):
            if item.is_file():
                os.chmod(item, mode)
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv(path: str | Path, header, rows) -> None:
    """Write a CSV table atomically with the standard csv module (cells with commas,
    quotes or line breaks are quoted; ``rows`` may be any iterable, written as it comes)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def json_safe(value):
    """``value`` with NaN and infinities as None and numpy scalars as plain numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, data) -> None:
    """Write ``data`` as indented JSON, atomically (NaN refused: pass it through
    :func:`json_safe` first)."""
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
