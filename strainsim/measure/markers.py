"""Activation markers beyond time-to-peak: onset of shortening/thickening and
cross-correlation delay, measured with the engine's own machinery.

Every marker gives each segment a time (ms after QRS onset, or a delay on that
scale) whose order is the order of mechanical activation; the latest viable
segment is then the viable segment with the largest marker time (ties: the
larger peak magnitude, then the lower segment number, as in the engine).
Viability and the peak always come from :func:`strainsim.measure.engine.measure`.

``"ttp"``
    Time to peak of the smoothed curve (the engine's own TTP).
``"onset"``
    Time at which the smoothed curve first rises from its value at QRS onset
    by ``onset_fraction`` of the way to its peak (thickening for radial,
    shortening for longitudinal strain), linearly interpolated between frames.
``"xcorr"``
    The lag (ms) that best aligns the segment's smoothed curve with a reference
    curve (the mean of the patient's viable segments, or one segment): the
    largest Pearson correlation over the overlapping frames, for lags up to
    ``max_lag_ms``, with a parabolic refinement between frames. Positive: later
    than the reference.

The smoothing is the engine's (a centred moving average of ``2h + 1`` frames,
NaN samples skipped), and one kernel runs the engine's per-curve routines and
the marker on the same rows, patient by patient. The kernel has a plain-numpy
reference in ``tests/naive.py`` that the tests hold it to.

Examples
--------
>>> import numpy as np
>>> from strainsim.measure.markers import measure_marker
>>> t = np.arange(60) * 10.0
>>> curve = lambda onset: np.clip((t - onset) / 200.0, 0, 1) * 25.0
>>> strain = np.array([[curve(100.0 + 5 * s) for s in range(17)]])
>>> result = measure_marker(strain, t, marker="onset", smooth_ms=0)
>>> int(result.latest_segment[0]), round(float(result.time_ms[0, 16] - result.time_ms[0, 0]))
(17, 80)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from strainsim.measure.engine import (
    DEFAULT_SCAR_THRESHOLD_PCT,
    DEFAULT_SMOOTH_MS,
    EngineResult,
    engine_outputs,
    measure,
    measure_patient,
    prepare,
    result_from_outputs,
    smoothed_at,
)
from strainsim.measure.latest import later
from strainsim.segments import SegmentModel

__all__ = ["MARKERS", "MarkerResult", "measure_marker", "max_lag_frames"]

MARKERS = ("ttp", "onset", "xcorr")
_CODES = {"ttp": 0, "onset": 1, "xcorr": 2}


@dataclass(frozen=True)
class MarkerResult:
    """Marker times and the latest viable segment by them.

    Attributes
    ----------
    marker : str
    time_ms : ndarray, shape (N, S)
        The marker's time per segment (ms); NaN where it is undefined.
    latest_segment : ndarray of int, shape (N,)
        Viable segment with the largest marker time (-1 when none).
    engine : EngineResult
        TTP, peaks and viability from the engine.
    """

    marker: str
    time_ms: np.ndarray
    latest_segment: np.ndarray
    engine: EngineResult


@numba.njit(cache=True, inline="always")
def _smooth_fast(row, k, half):
    # smoothed_at with the arithmetic of the engine's 3-frame fast path (the same numbers)
    # when the window has no NaN sample
    if half == 1:
        n = row.shape[0]
        if 0 < k < n - 1:
            value = ((row[k - 1] + row[k]) + row[k + 1]) * (1.0 / 3.0)
        elif k == 0:
            value = (row[0] + row[1]) * 0.5
        else:
            value = (row[k - 1] + row[k]) * 0.5
        if value == value:
            return value
    return smoothed_at(row, k, half)


@numba.njit(cache=True, inline="always")
def _onset(row, half, peak_frame, sign, fraction, time_ms):
    # first crossing of start + fraction * (peak - start) before the peak, interpolated
    if peak_frame < 0:
        return np.nan
    start = sign * _smooth_fast(row, 0, half)
    if np.isnan(start):
        return np.nan
    level = start + fraction * (sign * _smooth_fast(row, peak_frame, half) - start)
    before = start
    for k in range(1, peak_frame + 1):
        here = sign * _smooth_fast(row, k, half)
        if here >= level and not np.isnan(before):
            if here == before:
                return time_ms[k]
            w = (level - before) / (here - before)
            return time_ms[k - 1] + w * (time_ms[k] - time_ms[k - 1])
        before = here
    return time_ms[peak_frame]


@numba.njit(cache=True, inline="always")
def _latest_row(times, viable, peak, sign, candidate):
    # the latest viable candidate by the one rule (strainsim.measure.latest): ties go to
    # the larger peak magnitude, then the lower segment; -1 when none
    best = -1
    best_t = 0.0
    best_amp = 0.0
    for s in range(times.shape[0]):
        t = times[s]
        if viable[s] and candidate[s] and not np.isnan(t):
            amp = sign * peak[s]
            if later(t, amp, best, best_t, best_amp):
                best, best_t, best_amp = s, t, amp
    return best + 1 if best >= 0 else -1


@numba.njit(cache=True, inline="always")
def _xcorr_lag(x, ref, max_lag):
    # lag (frames, refined) maximizing the Pearson correlation of x[k] and ref[k - lag]
    # over the overlapping samples where both are measured (at least 3)
    n = x.shape[0]
    best = -np.inf
    best_lag = 0
    values = np.full(2 * max_lag + 1, -np.inf)
    for i in range(2 * max_lag + 1):
        lag = i - max_lag
        sa = sb = saa = sbb = sab = 0.0
        count = 0
        for k in range(max(0, lag), min(n, n + lag)):
            a = x[k]
            b = ref[k - lag]
            if not (np.isnan(a) or np.isnan(b)):
                sa += a
                sb += b
                saa += a * a
                sbb += b * b
                sab += a * b
                count += 1
        if count >= 3:
            va = saa - sa * sa / count
            vb = sbb - sb * sb / count
            if va > 0.0 and vb > 0.0:
                values[i] = (sab - sa * sb / count) / math.sqrt(va * vb)
                if values[i] > best:
                    best = values[i]
                    best_lag = i
    if best == -np.inf:
        return np.nan
    shift = 0.0
    if 0 < best_lag < 2 * max_lag:
        left, mid, right = values[best_lag - 1], values[best_lag], values[best_lag + 1]
        denom = left - 2.0 * mid + right
        if denom < 0.0 and left > -np.inf and right > -np.inf:
            shift = 0.5 * (left - right) / denom
    return best_lag - max_lag + shift


@numba.njit(parallel=True, cache=True)
def _marker_kernel(rec, strain, out, code, fraction, reference, max_lag, frames, times_out,
                   marker_latest):
    """The engine and a marker in one pass per patient (records unpacked once: numba's
    parallel loops lose writes made through a tuple's fields in inlined code)."""
    half, sign, time_ms, threshold = rec.half, rec.sign, rec.time_ms, rec.threshold
    candidate, basal_mid, septal, lateral = (rec.candidate, rec.basal_mid, rec.septal,
                                             rec.lateral)
    peak, ttp, viable, latest = out.peak, out.ttp, out.viable, out.latest
    sd, maxmin, sept_lat = out.sd, out.maxmin, out.sept_lat
    n, n_seg, n_frames = strain.shape
    dt = (time_ms[n_frames - 1] - time_ms[0]) / (n_frames - 1) if n_frames > 1 else 1.0
    for i in numba.prange(n):  # no allocation in here: allocators contend across threads
        measure_patient(strain, i, half, sign, time_ms, threshold, candidate, basal_mid,
                        septal, lateral, peak, ttp, viable, latest, sd, maxmin, sept_lat,
                        frames)
        if code == 0:
            for s in range(n_seg):
                times_out[i, s] = ttp[i, s]
        elif code == 1:
            for s in range(n_seg):
                times_out[i, s] = _onset(strain[i, s], half, frames[i, s], sign, fraction,
                                         time_ms)
        else:
            _xcorr_patient(strain, i, half, viable, reference, max_lag, dt, times_out)
        marker_latest[i] = _latest_row(times_out[i], viable[i], peak[i], sign, candidate)


@numba.njit(cache=True)
def _xcorr_patient(strain, i, half, viable, reference, max_lag, dt, times_out):
    n_seg, n_frames = strain.shape[1], strain.shape[2]
    smooth = np.empty((n_seg, n_frames))
    for s in range(n_seg):
        for k in range(n_frames):
            smooth[s, k] = smoothed_at(strain[i, s], k, half)
    ref = np.zeros(n_frames)
    if reference >= 0:
        for k in range(n_frames):
            ref[k] = smooth[reference, k]
    else:
        counts = np.zeros(n_frames)
        for s in range(n_seg):
            if viable[i, s]:
                for k in range(n_frames):
                    if not np.isnan(smooth[s, k]):
                        ref[k] += smooth[s, k]
                        counts[k] += 1
        for k in range(n_frames):
            ref[k] = ref[k] / counts[k] if counts[k] > 0 else np.nan
    _demean(ref)
    for s in range(n_seg):
        _demean(smooth[s])
        times_out[i, s] = _xcorr_lag(smooth[s], ref, max_lag) * dt


@numba.njit(cache=True, inline="always")
def _demean(x):
    total = 0.0
    count = 0
    for k in range(x.shape[0]):
        if not np.isnan(x[k]):
            total += x[k]
            count += 1
    if count > 0:
        mean = total / count
        for k in range(x.shape[0]):
            x[k] -= mean


def _check(marker, onset_fraction, max_lag_ms, reference):
    if marker not in MARKERS:
        raise ValueError(f"marker must be one of {MARKERS}, not {marker!r}")
    if not 0.0 < onset_fraction < 1.0:
        raise ValueError("onset_fraction must be in (0, 1)")
    if max_lag_ms <= 0:
        raise ValueError("max_lag_ms must be > 0")
    if reference is not None and not 1 <= int(reference) <= 17:
        raise ValueError("reference must be a segment number 1-17")


def max_lag_frames(time_ms, max_lag_ms) -> int:
    """The cross-correlation's largest lag (frames) for ``max_lag_ms``."""
    dt = float(np.median(np.diff(time_ms))) if time_ms.size > 1 else 1.0
    return int(max(1, min(round(max_lag_ms / dt), time_ms.size - 1)))


def measure_marker(strain, time_ms, *, marker: str = "ttp", kind: str = "radial",
                   smooth_ms: float = DEFAULT_SMOOTH_MS,
                   scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
                   onset_fraction: float = 0.1, reference: int | None = None,
                   max_lag_ms: float = 200.0, candidates=None,
                   model: SegmentModel | None = None) -> MarkerResult:
    """Measure an activation marker per segment and the latest viable segment by it.

    One pass per patient: the engine's per-curve routines (peak, TTP, viability,
    dyssynchrony) and the marker on the same rows.

    Parameters
    ----------
    strain, time_ms, kind, smooth_ms, scar_threshold_pct, candidates, model
        As for :func:`strainsim.measure.engine.measure`.
    marker : {"ttp", "onset", "xcorr"}
        See the module docstring.
    onset_fraction : float
        ``"onset"``: fraction of the rise to the peak that marks the onset (0-1).
    reference : int, optional
        ``"xcorr"``: reference segment (1-17); default the mean curve of the
        patient's viable segments.
    max_lag_ms : float
        ``"xcorr"``: largest lag searched (ms).

    Returns
    -------
    MarkerResult
    """
    _check(marker, onset_fraction, max_lag_ms, reference)
    if marker == "ttp":  # the engine's own measurement, latest segment included
        engine = measure(strain, time_ms, kind=kind, smooth_ms=smooth_ms,
                         scar_threshold_pct=scar_threshold_pct, candidates=candidates,
                         model=model)
        return MarkerResult(marker=marker, time_ms=engine.ttp_ms,
                            latest_segment=engine.latest_segment, engine=engine)
    strain, rec = prepare(strain, time_ms, kind, smooth_ms, scar_threshold_pct, model,
                           candidates)
    out = engine_outputs(strain.shape[0], strain.shape[1])
    times = np.empty(strain.shape[:2])
    frames = np.empty(strain.shape[:2], dtype=np.int64)
    latest = np.empty(strain.shape[0], dtype=np.int64)
    _marker_kernel(rec, strain, out, _CODES[marker], float(onset_fraction),
                   -1 if reference is None else int(reference) - 1,
                   max_lag_frames(rec.time_ms, max_lag_ms), frames, times, latest)
    return MarkerResult(marker=marker, time_ms=times, latest_segment=latest,
                        engine=result_from_outputs(out, kind, scar_threshold_pct, rec.half))
