"""Study tables (CSV) read as effect sizes: ``study,yi,vi``, counts
(odds ratios) or means and SDs (mean differences).
"""

from __future__ import annotations

import numpy as np

from strainsim.stats.effects import (
    EffectSizes,
    effect_sizes,
    log_odds_ratio,
    mean_difference,
    standardized_mean_difference,
)

__all__ = [
    "read_meta_csv",
    "read_study_table",
    "LAYOUTS",
]

# ---------------------------------------------------------------------------------------
# reading study tables
# ---------------------------------------------------------------------------------------
_LAYOUTS = {
    "GEN": ("yi", "vi"),
    "OR": ("events_t", "n_t", "events_c", "n_c"),
    "MD": ("mean_t", "sd_t", "n_t", "mean_c", "sd_c", "n_c"),
}
_LAYOUT_TEXT = " or ".join("study," + ",".join(cols) for cols in _LAYOUTS.values())
LAYOUTS = {"yi-vi": "GEN", "counts": "OR", "means": "MD"}
"""The layouts a study table can hold, by the name ``--layout`` takes."""


def read_meta_csv(path, measure: str | None = None, order_by: str | None = None, *,
                  layout: str | None = None) -> EffectSizes:
    """Read a study table (CSV) and compute its effect sizes.

    The table has a ``study`` column and either ``yi,vi`` (effect sizes and
    sampling variances), ``events_t,n_t,events_c,n_c`` (2x2 counts, measure
    OR) or ``mean_t,sd_t,n_t,mean_c,sd_c,n_c`` (measure MD or SMD).

    Parameters
    ----------
    path : str or Path
    measure : {"OR", "MD", "SMD"}, optional
        Default: OR for counts, MD for means; with ``yi,vi`` it only labels
        the result (``OR`` means yi are log odds ratios).
    order_by : str, optional
        A numeric column (a year, say) to order the studies by (stable).
    layout : {"yi-vi", "counts", "means"}, optional
        Which layout to read; needed when the table holds the columns of more than
        one (a table with both effect sizes and counts is ambiguous and refused).

    Raises
    ------
    InputError
        One line naming the file, row, column and what was expected.
    """
    return read_study_table(path, measure, order_by, layout=layout)[0]


def read_study_table(path, measure: str | None = None, order_by: str | None = None, *,
                     layout: str | None = None) -> tuple[EffectSizes, dict]:
    """:func:`read_meta_csv`, and the table's numeric columns in the same study order."""
    from strainsim.errors import InputError
    from strainsim.files import read_csv_table

    table = read_csv_table(path, "study")
    effects = _effects_from_table(table, measure, layout)
    if order_by is None:
        return effects, table.values
    key = order_by.strip().lower()
    if key not in table.values:
        raise InputError("option --order-by", None, "a numeric column of "
                         f"{table.source}: " + ", ".join(table.values), order_by)
    order = np.argsort(table.values[key], kind="stable")
    ordered = EffectSizes(yi=effects.yi[order], vi=effects.vi[order],
                          study=tuple(effects.study[i] for i in order),
                          measure=effects.measure,
                          counts=None if effects.counts is None else effects.counts[order])
    return ordered, {name: column[order] for name, column in table.values.items()}


def _effects_from_table(table, measure, wanted: str | None = None) -> EffectSizes:
    from strainsim.errors import InputError

    present = set(table.columns) - {"study"}
    found = [name for name, cols in _LAYOUTS.items() if set(cols) <= present]
    names = {code: name for name, code in LAYOUTS.items()}
    if wanted is not None:
        if wanted not in LAYOUTS:
            raise InputError("option --layout", None, "one of " + ", ".join(LAYOUTS),
                             repr(wanted))
        if LAYOUTS[wanted] not in found:
            raise InputError(table.source, "header", f"the {wanted} columns study,"
                             + ",".join(_LAYOUTS[LAYOUTS[wanted]]), ",".join(table.columns))
        layout = LAYOUTS[wanted]
    elif len(found) > 1:
        raise InputError(table.source, "header", "the columns of one layout, or --layout "
                         "naming which to read", "the columns of "
                         + " and ".join(names[code] for code in found))
    elif not found:
        raise InputError(table.source, "header", f"columns {_LAYOUT_TEXT}",
                         ",".join(table.columns))
    else:
        layout = found[0]
    allowed = {"GEN": ("OR", "MD", "SMD", "GEN"), "OR": ("OR",), "MD": ("MD", "SMD")}[layout]
    measure = measure or {"GEN": "GEN", "OR": "OR", "MD": "MD"}[layout]
    if measure not in allowed:
        raise InputError("option --measure", None,
                         f"one of {', '.join(allowed)} for a table with columns "
                         f"{','.join(_LAYOUTS[layout])}", measure)
    v = table.values

    def fail(column, i, expected):
        raise InputError(table.source, f"row {table.rows[i]}, column {column!r}", expected,
                         f"{v[column][i]:g}")

    def check(column, ok, expected):
        bad = np.flatnonzero(~ok)
        if bad.size:
            fail(column, bad[0], expected)

    if layout == "GEN":
        check("vi", v["vi"] > 0, "a positive sampling variance")
        return effect_sizes(v["yi"], v["vi"], study=table.labels, measure=measure)
    for column in ("n_t", "n_c"):
        check(column, v[column] > 0, "a positive number of patients")
        check(column, v[column] <= 1e9, "at most 1e9 patients")
        check(column, v[column] == np.round(v[column]), "a whole number of patients")
    if layout == "OR":
        for events, n in (("events_t", "n_t"), ("events_c", "n_c")):
            check(events, v[events] == np.round(v[events]), "a whole number of events")
            check(events, (v[events] >= 0) & (v[events] <= v[n]),
                  f"events between 0 and {n}")
        return log_odds_ratio(v["events_t"], v["n_t"], v["events_c"], v["n_c"],
                              study=table.labels)
    for column in ("sd_t", "sd_c"):
        check(column, v[column] >= 0, "a standard deviation >= 0")
    check("sd_t", (v["sd_t"] > 0) | (v["sd_c"] > 0), "a positive SD in at least one arm")
    args = (v["mean_t"], v["sd_t"], v["n_t"], v["mean_c"], v["sd_c"], v["n_c"])
    if measure == "SMD":
        try:
            return standardized_mean_difference(*args, study=table.labels)
        except ValueError as exc:
            raise InputError(table.source, None, "data a standardized mean difference can use",
                             str(exc)) from None
    try:
        return mean_difference(*args, study=table.labels)
    except ValueError as exc:  # zero variance in a study
        raise InputError(table.source, None, "positive sampling variances", str(exc)) from None
