"""Locate the data shipped with strainsim (``segments/`` and ``cohorts/``).

In an installed wheel the data live in ``strainsim/data/``; in a source
checkout (including an editable install) they are the top-level ``segments/``
and ``cohorts/`` folders. :func:`data_path` hides the difference.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from strainsim.errors import InputError

__all__ = ["data_path", "read_toml"]

_KINDS = ("segments", "cohorts")


def data_path(kind: str, name: str | None = None) -> Path:
    """Path of a shipped data folder, or of one file in it.

    Parameters
    ----------
    kind : {"segments", "cohorts"}
        Which data folder.
    name : str, optional
        A file inside that folder.

    Returns
    -------
    pathlib.Path
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
    packaged = Path(str(resources.files("strainsim"))) / "data" / kind
    if packaged.is_dir():
        base = packaged
    else:  # source checkout / editable install
        base = Path(__file__).resolve().parent.parent / kind
    return base if name is None else base / name


def read_toml(path: str | Path) -> dict:
    """Read a TOML file, turning every failure into one clear :class:`InputError`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(str(path), None, "an existing TOML file", "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), None, "a TOML file", "a folder") from None
    except PermissionError:
        raise InputError(str(path), None, "a file that can be read",
                         "permission denied") from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), None, "UTF-8 text", f"byte {exc.start}: "
                         f"{exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), None, "valid TOML", str(exc)) from None
