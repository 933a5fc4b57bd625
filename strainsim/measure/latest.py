"""The one rule for "the latest segment": who is later, and the latest of a patient's.

A segment is later than the current choice when its time is larger; on equal
times, when its tie-break value is larger (the peak strain magnitude where the
caller has one: the stronger-contracting of two segments peaking on the same
frame); on both equal, the lower segment number wins (segments are visited in
order, so the earlier one is kept). Times quantised to frames tie often, so the
tie-break is part of the rule, and every caller uses it: the engine's latest
viable segment, the markers' latest segment, the multimodality and electrical
targets of lead placement, and the true latest non-scar segment of the
activation model.

Examples
--------
>>> import numpy as np
>>> from strainsim.measure.latest import latest_of
>>> times = np.array([300.0, 450.0, 450.0, 200.0])
>>> allowed = np.array([True, True, True, True])
>>> int(latest_of(times, np.array([30.0, 20.0, 25.0, 40.0]), allowed))   # a tie: larger peak
3
>>> int(latest_of(times, np.zeros(4), allowed))   # a tie of both: the lower segment
2
>>> int(latest_of(times, np.zeros(4), np.zeros(4, bool)))   # nothing allowed
-1
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["later", "latest_of"]


@numba.njit(cache=True, inline="always")
def later(time, tie, best, best_time, best_tie):
    """Whether a segment at ``time`` with tie-break ``tie`` beats the current choice
    (``best`` its 0-based index, -1 for none yet) visited before it."""
    return best < 0 or time > best_time or (time == best_time and tie > best_tie)


@numba.njit(cache=True)
def latest_of(times, ties, allowed):
    """The latest allowed segment (1-based) by :func:`later`; -1 when none is allowed.

    Parameters
    ----------
    times : ndarray, shape (S,)
        Per-segment times (ms); NaN times are never chosen.
    ties : ndarray, shape (S,)
        Tie-break values (larger wins); zeros for none.
    allowed : ndarray of bool, shape (S,)
    """
    best = -1
    best_time = 0.0
    best_tie = 0.0
    for s in range(times.shape[0]):
        t = times[s]
        if allowed[s] and not np.isnan(t) and later(t, ties[s], best, best_time, best_tie):
            best, best_time, best_tie = s, t, ties[s]
    return best + 1 if best >= 0 else -1
