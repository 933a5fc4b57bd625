"""Errors a person can act on.

Every problem with user input (spec files, strain-curve files, CLI options)
raises :class:`InputError`. Its message is one line naming the file, the field
and what was expected; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input: one line naming where, what, and what was expected.

    Parameters
    ----------
    source : str
        The file (or ``"option --name"``) the problem is in.
    field : str or None
        The field, column or key at fault, if there is one.
    expected : str
        What was expected, phrased for a person ("a number", "increasing").
    found : str, optional
        What was found instead.
    """

    def __init__(self, source: str, field: str | None, expected: str, found: str | None = None):
        self.source = str(source)
        self.field = field
        self.expected = expected
        self.found = found
        where = self.source if field is None else f"{self.source}: {field}"
        msg = f"{where}: expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)
