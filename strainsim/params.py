"""Declared parameters: every model parameter's unit, plausible range and source, once.

A parameter class (a frozen dataclass of :mod:`strainsim.model`) declares each
field with :func:`quantity` or :func:`choice`; the declaration is the field's
metadata, so the class checks itself with :func:`check_declared`, and the spec
schema (:mod:`strainsim.studies.specs`), its JSON Schema, the command line and the
explorer read the same ranges. ``source`` names where a range or default comes
from (a citation key of ``cohorts/published/`` or a stated reason).

Examples
--------
>>> from dataclasses import dataclass
>>> from strainsim.params import check_declared, declarations, quantity
>>> @dataclass(frozen=True)
... class Example:
...     delay_ms: float = quantity(130.0, unit="ms", low=0.0, high=400.0,
...                                doc="Septal-to-lateral delay.")
...     def __post_init__(self):
...         check_declared(self)
>>> declarations(Example)["delay_ms"].unit
'ms'
>>> Example(delay_ms=1e300)
Traceback (most recent call last):
...
ValueError: delay_ms must be in [0, 400] ms, not 1e+300
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["Declaration", "quantity", "choice", "fixed", "declarations", "check_declared"]


@dataclass(frozen=True)
class Declaration:
    """One parameter's declaration.

    Attributes
    ----------
    unit : str
        ``"ms"``, ``"%"``, ``"fraction"``, ``"mL"``, ``"years"``, ``"fps"``, ... (``""``
        for a label).
    low, high : float or None
        Inclusive range (None for choices and fixed values).
    doc : str
        What the parameter is, in a sentence.
    source : str
        Where the default or range comes from.
    choices : tuple of str or None
        The allowed values of a label.
    integer : bool
        A whole number.
    optional : bool
        None is allowed (and means what ``doc`` says).
    settable : bool
        False for a parameter documented as fixed (not read from specs).
    """

    unit: str
    low: float | None
    high: float | None
    doc: str
    source: str = "stated"
    choices: tuple[str, ...] | None = None
    integer: bool = False
    optional: bool = False
    settable: bool = True


def quantity(default, *, unit: str, low: float, high: float, doc: str, source: str = "stated",
             integer: bool = False, optional: bool = False):
    """A dataclass field holding a number in ``[low, high]`` (``unit``)."""
    return dataclasses.field(default=default, metadata={"declaration": Declaration(
        unit, float(low), float(high), doc, source, None, integer, optional)})


def choice(default: str, options, *, doc: str, source: str = "stated"):
    """A dataclass field holding one of ``options``."""
    return dataclasses.field(default=default, metadata={"declaration": Declaration(
        "", None, None, doc, source, tuple(options))})


def fixed(default=None, *, doc: str, source: str = "stated", factory=None):
    """A dataclass field that specs do not set (documented as fixed, with its reason)."""
    extra = {"default_factory": factory} if factory is not None else {"default": default}
    return dataclasses.field(**extra, metadata={"declaration": Declaration(
        "", None, None, doc, source, settable=False)})


def declarations(cls) -> dict[str, Declaration]:
    """The declared fields of a parameter class, in order."""
    return {f.name: f.metadata["declaration"] for f in dataclasses.fields(cls)
            if "declaration" in f.metadata}


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_declared(obj) -> None:
    """Raise ValueError naming the first field of ``obj`` outside its declaration."""
    for name, d in declarations(type(obj)).items():
        value = getattr(obj, name)
        if not d.settable:
            continue
        if value is None and d.optional:
            continue
        if d.choices is not None:
            if value not in d.choices:
                raise ValueError(f"{name} must be one of {', '.join(d.choices)}, not {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, not {value!r}")
        if d.integer and value != int(value):
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        if not math.isfinite(value) or not d.low <= value <= d.high:
            unit = f" {d.unit}" if d.unit and d.unit != "fraction" else ""
            raise ValueError(f"{name} must be in [{_fmt(d.low)}, {_fmt(d.high)}]{unit}, "
                             f"not {value!r}")
