"""Validating input files with pydantic: one strict configuration, one way to report.

Every input format (trial specs, calibration targets, the segment model) is a
pydantic model; :func:`validate` checks a parsed file against it and turns the
first problem into one :class:`~strainsim.errors.InputError` line naming the
file, the field path, what was expected and what was found, with the nearest
valid name for an unknown key.

Examples
--------
>>> from pydantic import BaseModel
>>> from strainsim.schema import STRICT, validate
>>> class Ring(BaseModel):
...     model_config = STRICT
...     radius_inner: float
...     radius_outer: float
>>> validate(Ring, {"radius_inner": 0.1, "radius_outer": 0.2, "radius_iner": 0.0}, "rings.toml")
Traceback (most recent call last):
...
strainsim.errors.InputError: rings.toml: radius_iner: expected a known key (did you mean radius_inner?)
"""

from __future__ import annotations

import difflib
import typing

from pydantic import BaseModel, ConfigDict, ValidationError

from strainsim.errors import InputError

__all__ = ["STRICT", "validate", "field_path", "known_keys", "nearest_key"]

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
"""No unknown keys, no silent conversions (a bool is not a number, 2.5 is not a count),
no NaN or infinities."""


def field_path(loc) -> str:
    """``("segment", 3, "ring")`` -> ``segment[3].ring`` (list positions 1-based)."""
    out = ""
    for part in loc:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _inner(annotation):
    """The model class inside an annotation (``Model | None``, ``list[Model]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner(arg)
        if found is not None:
            return found
    return None


def known_keys(model: type[BaseModel], loc) -> list[str]:
    """The keys allowed at ``loc`` (the location of an unknown key)."""
    current = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        current = _inner(field.annotation) if field is not None else None
    return list(current.model_fields) if current is not None else []


def nearest_key(name: str, known) -> str | None:
    """The known key closest to a misspelt ``name`` (None when none is close)."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.5)
    return close[0] if close else None


def _expected(error, model) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        known = known_keys(model, error["loc"])
        close = nearest_key(error["loc"][-1], known)
        return "a known key" + (f" (did you mean {close}?)" if close else
                                f" (one of {', '.join(known)})" if known else "")
    if kind == "missing":
        return "a value (required)"
    bounds = [f"{word} {ctx[key]}" for key, word in (("ge", ">="), ("gt", ">"), ("le", "<="),
                                                       ("lt", "<")) if key in ctx]
    if bounds:
        return "a number " + " and ".join(bounds)
    if kind in ("float_type", "int_type", "finite_number", "int_from_float"):
        return {"float_type": "a number", "int_type": "a whole number",
                "int_from_float": "a whole number",
                "finite_number": "a finite number"}[kind]
    if kind == "literal_error":
        return "one of " + ctx.get("expected", "")
    if kind in ("model_type", "dict_type"):
        return "a table of keys"
    if kind == "list_type":
        return "a list"
    if kind == "string_type":
        return "a string"
    if kind == "bool_type":
        return "true or false"
    return str(error["msg"]).lower()


def validate(model: type[BaseModel], raw, source: str, expected=None, where=None):
    """``model`` validated from ``raw`` (a parsed file); the first problem as one
    :class:`InputError`. ``expected(error)`` may describe a field better and
    ``where(loc)`` name its place better (None from either: the default)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        error = errors[0]
        if error["type"] == "missing":  # a misspelt key: name it, with the nearest one
            error = next((e for e in errors if e["type"] == "extra_forbidden"
                          and e["loc"][:-1] == error["loc"][:-1]), error)
        text = (expected(error) if expected is not None else None) or _expected(error, model)
        found = (None if error["type"] in ("missing", "extra_forbidden")
                 else repr(error.get("input")))
        place = (where(error["loc"]) if where is not None else None) or field_path(error["loc"])
        raise InputError(source, place or None, text, found) from None
