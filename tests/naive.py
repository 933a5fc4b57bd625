"""Plain-numpy references that the compiled code is held to (and nothing else uses).

The engine measures users' data, so it is written twice: the numba kernels in
:mod:`strainsim.measure.engine` and :mod:`strainsim.measure.markers`, and these
loops over whole arrays, which share one moving average.
"""

from __future__ import annotations

import warnings

import numpy as np

from strainsim.measure.engine import (
    DEFAULT_SCAR_THRESHOLD_PCT,
    DEFAULT_SMOOTH_MS,
    EngineOutputs,
    EngineResult,
    prepare,
    result_from_outputs,
)
from strainsim.measure.markers import max_lag_frames
from strainsim.segments import SegmentModel


def moving_average(strain: np.ndarray, half: int) -> np.ndarray:
    """Centred moving average over ``2*half + 1`` frames of (N, S, T) curves: NaN samples
    skipped, windows shrinking at the edges, NaN where a window holds no sample; the
    window sum times ``1/count``, summed in the kernel's order."""
    n, s, t = strain.shape
    finite = ~np.isnan(strain)
    values = np.where(finite, strain, 0.0)
    total = np.zeros((n, s, t))
    count = np.zeros((n, s, t))
    for offset in range(-half, half + 1):
        lo, hi = max(0, -offset), min(t, t - offset)
        total[:, :, lo:hi] += values[:, :, lo + offset:hi + offset]
        count[:, :, lo:hi] += finite[:, :, lo + offset:hi + offset]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total * (1.0 / count), np.nan)


def peak_kernel_numpy(strain: np.ndarray, half: int, sign: float):
    """Numpy reference of the kernel's first half: smoothed peak frame and signed peak per curve.

    Parameters
    ----------
    strain : ndarray, shape (N, S, T)
    half : int
        Half-width of the moving average (frames); the window is ``2*half + 1``.
    sign : float
        +1 to find maxima (radial), -1 to find minima (longitudinal).

    Returns
    -------
    peak_frame : ndarray of int64, shape (N, S)
        Frame index of the peak, -1 for an all-NaN curve.
    peak_strain : ndarray, shape (N, S)
        Smoothed strain at that frame (%), NaN for an all-NaN curve.
    """
    smooth = sign * moving_average(strain, half)
    smooth[np.isnan(smooth)] = -np.inf
    frame = np.argmax(smooth, axis=2)
    best = np.take_along_axis(smooth, frame[:, :, None], axis=2)[:, :, 0]
    empty = np.isneginf(best)
    frame = np.where(empty, -1, frame).astype(np.int64)
    peak = np.where(empty, np.nan, sign * best)
    return frame, peak


def summary_kernel_numpy(frame, peak, time_ms, sign, threshold, candidate, basal_mid, septal,
                         lateral):
    """Numpy reference of the kernel's second half: TTP, viability, latest segment, dyssynchrony.

    Parameters
    ----------
    frame, peak : ndarray, shape (N, S)
        Peak frame (-1 for none) and signed peak strain from :func:`peak_kernel_numpy`.
    time_ms : ndarray, shape (T,)
    sign : float
        +1 radial, -1 longitudinal.
    threshold : float
        Scar threshold on the peak magnitude (%).
    candidate : ndarray of bool, shape (S,)
        Segments allowed as the target.
    basal_mid, septal, lateral : ndarray of int64
        0-based segment indices for the indices.

    Returns
    -------
    ttp_ms, viable, latest, sd, maxmin, septal_lateral
    """
    ttp_ms = np.where(frame >= 0, time_ms[np.maximum(frame, 0)], np.nan)
    amplitude = sign * peak
    with np.errstate(invalid="ignore"):
        viable = amplitude >= threshold
    ok = viable & candidate[None, :] & ~np.isnan(ttp_ms)
    key_ttp = np.where(ok, ttp_ms, -np.inf)
    best_ttp = key_ttp.max(axis=1, initial=-np.inf)
    tied = ok & (key_ttp == best_ttp[:, None])
    key_amp = np.where(tied, amplitude, -np.inf)
    best_amp = key_amp.max(axis=1, initial=-np.inf)
    winner = tied & (key_amp == best_amp[:, None])
    latest = np.where(ok.any(axis=1), np.argmax(winner, axis=1) + 1, -1).astype(np.int64)

    sub = ttp_ms[:, basal_mid]
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        sd = np.nanstd(sub, axis=1, ddof=1)
        maxmin = np.nanmax(sub, axis=1) - np.nanmin(sub, axis=1)
        sept_lat = np.nanmean(ttp_ms[:, lateral], axis=1) - np.nanmean(ttp_ms[:, septal], axis=1)
    counts = (~np.isnan(sub)).sum(axis=1)
    sd = np.where(counts >= 2, sd, np.nan)
    return ttp_ms, viable, latest, sd, maxmin, sept_lat


class _quiet_nan_warnings:
    def __enter__(self):
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def measure_numpy(strain, time_ms, *, kind: str = "radial",
                  smooth_ms: float = DEFAULT_SMOOTH_MS,
                  scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
                  candidates=None, model: SegmentModel | None = None) -> EngineResult:
    """Plain-numpy reference of :func:`measure` (same arguments, same results)."""
    strain, rec = prepare(strain, time_ms, kind, smooth_ms, scar_threshold_pct, model,
                           candidates)
    frame, peak = peak_kernel_numpy(strain.astype(np.float64, copy=False), rec.half, rec.sign)
    summary = summary_kernel_numpy(frame, peak, rec.time_ms, rec.sign, rec.threshold,
                                   rec.candidate, rec.basal_mid, rec.septal, rec.lateral)
    ttp_ms, viable, latest, sd, maxmin, sept_lat = summary
    outputs = EngineOutputs(peak=peak, ttp=ttp_ms, viable=viable, latest=latest, sd=sd,
                            maxmin=maxmin, sept_lat=sept_lat)
    return result_from_outputs(outputs, kind, scar_threshold_pct, rec.half)


def marker_times_numpy(strain, time_ms, *, marker: str, kind: str = "radial",
                       smooth_ms: float = DEFAULT_SMOOTH_MS,
                       scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
                       onset_fraction: float = 0.1, reference: int | None = None,
                       max_lag_ms: float = 200.0) -> np.ndarray:
    """Plain-numpy reference of the marker kernel (same arguments, same times)."""
    engine = measure_numpy(strain, time_ms, kind=kind, smooth_ms=smooth_ms,
                           scar_threshold_pct=scar_threshold_pct)
    if marker == "ttp":
        return engine.ttp_ms.copy()
    strain, rec = prepare(strain, time_ms, kind, smooth_ms, scar_threshold_pct, None, None)
    time_ms, half, sign = rec.time_ms, rec.half, rec.sign
    peak_frame = np.where(np.isnan(engine.ttp_ms), -1,
                          np.searchsorted(time_ms, np.nan_to_num(engine.ttp_ms)))
    max_lag = max_lag_frames(time_ms, max_lag_ms)
    ref = -1 if reference is None else int(reference) - 1
    n, n_seg, n_frames = strain.shape
    smooth = moving_average(strain, half)
    out = np.full((n, n_seg), np.nan)
    if marker == "onset":
        for i in range(n):
            for s in range(n_seg):
                f = peak_frame[i, s]
                x = sign * smooth[i, s]
                if f < 0 or np.isnan(x[0]):
                    continue
                level = x[0] + onset_fraction * (x[f] - x[0])
                hits = np.flatnonzero((x[1:f + 1] >= level) & ~np.isnan(x[:f]))
                if hits.size == 0:
                    out[i, s] = time_ms[f]
                    continue
                k = hits[0] + 1
                if x[k] == x[k - 1]:
                    out[i, s] = time_ms[k]
                else:
                    w = (level - x[k - 1]) / (x[k] - x[k - 1])
                    out[i, s] = time_ms[k - 1] + w * (time_ms[k] - time_ms[k - 1])
        return out
    dt = (time_ms[-1] - time_ms[0]) / (n_frames - 1) if n_frames > 1 else 1.0
    for i in range(n):
        if ref >= 0:
            r = smooth[i, ref].copy()
        else:
            rows = smooth[i, engine.viable[i]]
            with np.errstate(invalid="ignore"):
                r = np.nansum(rows, axis=0) / np.maximum((~np.isnan(rows)).sum(axis=0), 1)
            r[(~np.isnan(rows)).sum(axis=0) == 0] = np.nan
        r = r - np.nanmean(r) if np.any(~np.isnan(r)) else r
        for s in range(n_seg):
            x = smooth[i, s]
            x = x - np.nanmean(x) if np.any(~np.isnan(x)) else x
            vals = np.full(2 * max_lag + 1, -np.inf)
            for j, lag in enumerate(range(-max_lag, max_lag + 1)):
                k = np.arange(max(0, lag), min(n_frames, n_frames + lag))
                a, b = x[k], r[k - lag]
                ok = ~(np.isnan(a) | np.isnan(b))
                if ok.sum() < 3:
                    continue
                a, b = a[ok], b[ok]
                va = np.sum(a * a) - np.sum(a) ** 2 / a.size
                vb = np.sum(b * b) - np.sum(b) ** 2 / b.size
                if va > 0 and vb > 0:
                    vals[j] = (np.sum(a * b) - np.sum(a) * np.sum(b) / a.size) / np.sqrt(va * vb)
            if not np.isfinite(vals).any():
                continue
            b = int(np.argmax(vals))
            shift = 0.0
            if 0 < b < 2 * max_lag:
                left, mid, right = vals[b - 1], vals[b], vals[b + 1]
                denom = left - 2 * mid + right
                if denom < 0 and np.isfinite(left) and np.isfinite(right):
                    shift = 0.5 * (left - right) / denom
            out[i, s] = (b - max_lag + shift) * dt
    return out
