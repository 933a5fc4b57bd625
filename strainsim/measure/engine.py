"""The activation-mapping core: time-to-peak strain and the latest viable segment.

For a batch of segmental strain curves, shape ``(N, S, T)`` with ``S`` = 17
AHA segments, the engine

1. smooths each curve with a centred moving average of ``2*h + 1`` frames
   (NaN samples are skipped; windows shrink at the edges; the mean is the
   window sum times ``1/count``),
2. finds the peak of the smoothed curve (the maximum for radial strain, the
   minimum for longitudinal strain; the first frame on ties) and reports its
   time after QRS onset (``ttp_ms``) and its signed value (``peak_strain``),
3. calls a segment viable when its peak magnitude reaches the scar threshold
   (default 10 %: trials called a segment scar below 10 % peak radial strain),
4. picks the latest viable segment per patient by the one rule of
   :mod:`strainsim.measure.latest`: the largest TTP; on a tie the larger peak
   magnitude; then the lower segment number. A patient with no viable segment
   gets ``-1``,
5. computes dyssynchrony indices: the SD of TTP over the 12 basal and mid
   segments (sample SD, ``ddof=1``), their max-min TTP difference, and the
   septal-to-lateral delay (mean TTP of the basal+mid anterolateral and
   inferolateral segments minus that of the basal+mid anteroseptal and
   inferoseptal segments). Segments without a TTP are left out.

All five steps run in one numba kernel, parallel over patients and cached
(with fast paths for the default 3-frame window and for no smoothing, which
fall back on the general loop when a curve has NaN samples). The tests hold it to
a plain-numpy reference (``tests/naive.py``): identical TTPs, viability and
latest segments; floating-point indices agree to rounding.

Examples
--------
>>> import numpy as np
>>> from strainsim.measure.engine import measure
>>> time_ms = np.arange(50) * 20.0
>>> strain = np.zeros((1, 17, 50))
>>> strain[0, :, 10] = 20.0          # every segment peaks at 200 ms ...
>>> strain[0, 4, 10], strain[0, 4, 30] = 0.0, 25.0   # ... but segment 5 at 600 ms
>>> result = measure(strain, time_ms, smooth_ms=0)
>>> int(result.latest_segment[0]), float(result.ttp_ms[0, 4])
(5, 600.0)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numba
import numpy as np

from strainsim.measure.latest import later
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = [
    "EngineResult",
    "EngineRecord",
    "EngineOutputs",
    "engine_record",
    "engine_outputs",
    "measure",
    "half_window_frames",
    "DEFAULT_SCAR_THRESHOLD_PCT",
    "DEFAULT_SMOOTH_MS",
]

DEFAULT_SCAR_THRESHOLD_PCT = 10.0
DEFAULT_SMOOTH_MS = 50.0


@dataclass(frozen=True)
class EngineResult:
    """What the engine measured.

    Attributes
    ----------
    ttp_ms : ndarray, shape (N, S)
        Time to peak strain after QRS onset (ms); NaN for an all-NaN curve.
    peak_strain : ndarray, shape (N, S)
        Signed peak of the smoothed curve (%).
    viable : ndarray of bool, shape (N, S)
        Peak magnitude at or above the scar threshold.
    latest_segment : ndarray of int, shape (N,)
        Latest viable segment (1-based), ``-1`` when no segment is viable.
    sd_ttp_ms : ndarray, shape (N,)
        SD of TTP over the 12 basal and mid segments (ms).
    maxmin_ttp_ms : ndarray, shape (N,)
        Max minus min TTP over the 12 basal and mid segments (ms).
    septal_lateral_ms : ndarray, shape (N,)
        Lateral minus septal mean TTP (ms); positive when the lateral wall is late.
    kind : str
        ``"radial"`` or ``"longitudinal"``.
    scar_threshold_pct : float
        Threshold used for viability (%).
    smooth_frames : int
        Moving-average window used (frames).
    """

    ttp_ms: np.ndarray
    peak_strain: np.ndarray
    viable: np.ndarray
    latest_segment: np.ndarray
    sd_ttp_ms: np.ndarray
    maxmin_ttp_ms: np.ndarray
    septal_lateral_ms: np.ndarray
    kind: str
    scar_threshold_pct: float
    smooth_frames: int

    def __len__(self) -> int:
        return self.ttp_ms.shape[0]


# ---------------------------------------------------------------------------------------
# numba kernels (module level, so that numba's on-disk cache finds them again)
# ---------------------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def smoothed_at(row, k, half):
    """The moving average of ``row`` at frame ``k`` over ``2*half + 1`` frames (NaN
    samples skipped, the window shrinking at the edges; NaN when it holds no sample)."""
    n_frames = row.shape[0]
    total = 0.0
    count = 0
    for j in range(max(0, k - half), min(n_frames - 1, k + half) + 1):
        v = row[j]
        if not np.isnan(v):
            total += v
            count += 1
    return total * (1.0 / count) if count > 0 else np.nan


@numba.njit(cache=True)
def peak_any(row, half, sign):
    # general case: any window, NaN samples skipped, windows shrink at the edges
    best = -np.inf
    best_frame = -1
    for k in range(row.shape[0]):
        smoothed = smoothed_at(row, k, half)
        if not np.isnan(smoothed):
            value = sign * smoothed
            if value > best:
                best = value
                best_frame = k
    return best_frame, sign * best  # the raw (signed) smoothed strain

@numba.njit(cache=True, inline="always")
def peak_three(row, maximize):
    # fast path for the default 3-frame window on a curve without NaN: the same
    # arithmetic as peak_any, so the same numbers; comparing raw values with > or <
    # equals comparing sign * value with >. Reports whether it met a NaN.
    n_frames = row.shape[0]
    third = 1.0 / 3.0
    a = row[0]
    b = row[1]
    best = (a + b) * 0.5
    best_frame = 0
    seen_nan = best != best
    for k in range(1, n_frames - 1):
        c = row[k + 1]
        value = ((a + b) + c) * third
        seen_nan |= value != value
        if (value > best) if maximize else (value < best):
            best = value
            best_frame = k
        a = b
        b = c
    value = (a + b) * 0.5
    seen_nan |= value != value
    if (value > best) if maximize else (value < best):
        best = value
        best_frame = n_frames - 1
    return best_frame, best, seen_nan

@numba.njit(cache=True, inline="always")
def peak_one(row, maximize):
    # fast path without smoothing on a curve without NaN
    best = row[0]
    best_frame = 0
    seen_nan = best != best
    for k in range(1, row.shape[0]):
        value = row[k]
        seen_nan |= value != value
        if (value > best) if maximize else (value < best):
            best = value
            best_frame = k
    return best_frame, best, seen_nan

@numba.njit(cache=True, inline="always")
def _nanmean_at(row, index):
    # mean of row[index] over the non-NaN entries (NaN when there are none)
    total = 0.0
    count = 0
    for s in index:
        if not np.isnan(row[s]):
            total += row[s]
            count += 1
    return total / count if count > 0 else np.nan


@numba.njit(cache=True, inline="always")
def peak_of_row(row, half, sign):
    """Frame and raw value of the peak of one smoothed curve (-1 and NaN for none).

    The fast paths for 3-frame windows and no smoothing fall back on the general
    loop when they meet a NaN.
    """
    n_frames = row.shape[0]
    seen_nan = True
    f, raw = -1, np.nan
    if half == 1 and n_frames >= 3:
        f, raw, seen_nan = peak_three(row, sign > 0)
    elif half == 0 and n_frames >= 1:
        f, raw, seen_nan = peak_one(row, sign > 0)
    if seen_nan:
        f, raw = peak_any(row, half, sign)
    return f, raw


class EngineRecord(NamedTuple):
    """The engine's settings as its kernels read them."""

    half: int                  # half-width of the moving average (frames)
    sign: float                # +1 radial (peaks are maxima), -1 longitudinal
    time_ms: np.ndarray        # (T,) frame times
    threshold: float           # scar threshold on the peak magnitude (%)
    candidate: np.ndarray      # (S,) bool: segments allowed as the target
    basal_mid: np.ndarray      # 0-based segment groups of the dyssynchrony indices
    septal: np.ndarray
    lateral: np.ndarray


class EngineOutputs(NamedTuple):
    """The arrays the engine's kernels fill (see :class:`EngineResult`)."""

    peak: np.ndarray           # (N, S)
    ttp: np.ndarray            # (N, S)
    viable: np.ndarray         # (N, S) bool
    latest: np.ndarray         # (N,) int64
    sd: np.ndarray             # (N,)
    maxmin: np.ndarray         # (N,)
    sept_lat: np.ndarray       # (N,)


# The per-curve routines take plain arrays: numba counts references to arrays taken out
# of a tuple at every access, which costs more than the work in these hot loops. The
# kernels take the records and unpack them once per call.
@numba.njit(cache=True, inline="always")
def record_segment(i, s, f, raw, sign, time_ms, threshold, candidate, best, best_ttp,
                   best_amp, peak_out, ttp_out, viable_out):
    """Store segment ``s`` of patient ``i`` from its peak frame ``f`` (-1: none) and raw
    smoothed value; return the running choice of the latest viable segment."""
    peak_out[i, s] = raw if f >= 0 else np.nan
    t = time_ms[f] if f >= 0 else np.nan
    amp = sign * raw if f >= 0 else np.nan
    ok = amp >= threshold
    ttp_out[i, s] = t
    viable_out[i, s] = ok
    if ok and candidate[s] and f >= 0 and later(t, amp, best, best_ttp, best_amp):
        return s, t, amp
    return best, best_ttp, best_amp


@numba.njit(cache=True, inline="always")
def finish_patient(i, best, basal_mid, septal, lateral, ttp_out, latest_out, sd_out,
                   maxmin_out, sept_lat_out):
    """The latest viable segment and the dyssynchrony indices of patient ``i``."""
    latest_out[i] = best + 1 if best >= 0 else -1
    total = 0.0
    count = 0
    lo = np.inf
    hi = -np.inf
    for s in basal_mid:
        t = ttp_out[i, s]
        if not np.isnan(t):
            total += t
            count += 1
            lo = min(lo, t)
            hi = max(hi, t)
    if count >= 2:
        mean = total / count
        ss = 0.0
        for s in basal_mid:
            t = ttp_out[i, s]
            if not np.isnan(t):
                ss += (t - mean) * (t - mean)
        sd_out[i] = np.sqrt(ss / (count - 1))
    else:
        sd_out[i] = np.nan
    maxmin_out[i] = hi - lo if count >= 1 else np.nan
    sept_lat_out[i] = _nanmean_at(ttp_out[i], lateral) - _nanmean_at(ttp_out[i], septal)


@numba.njit(cache=True, inline="always")
def measure_patient(strain, i, half, sign, time_ms, threshold, candidate, basal_mid, septal,
                    lateral, peak_out, ttp_out, viable_out, latest_out, sd_out, maxmin_out,
                    sept_lat_out, frames_out):
    """Measure patient ``i`` of ``strain`` (N, S, T) into row ``i`` of the outputs: the one
    per-patient engine row, shared by the engine and the markers. ``frames_out`` (N, S)
    gets each peak frame when it has rows (the markers need them)."""
    best = -1
    best_ttp = 0.0
    best_amp = 0.0
    keep_frames = frames_out.shape[0] > 0
    for s in range(strain.shape[1]):
        f, raw = peak_of_row(strain[i, s], half, sign)
        if keep_frames:
            frames_out[i, s] = f
        best, best_ttp, best_amp = record_segment(i, s, f, raw, sign, time_ms, threshold,
                                                  candidate, best, best_ttp, best_amp,
                                                  peak_out, ttp_out, viable_out)
    finish_patient(i, best, basal_mid, septal, lateral, ttp_out, latest_out, sd_out,
                   maxmin_out, sept_lat_out)


@numba.njit(parallel=True, cache=True)
def measure_kernel(rec, strain, out):
    """The engine on a batch (records unpacked once), parallel over patients."""
    half, sign, time_ms, threshold = rec.half, rec.sign, rec.time_ms, rec.threshold
    candidate, basal_mid, septal, lateral = (rec.candidate, rec.basal_mid, rec.septal,
                                             rec.lateral)
    peak, ttp, viable, latest = out.peak, out.ttp, out.viable, out.latest
    sd, maxmin, sept_lat = out.sd, out.maxmin, out.sept_lat
    no_frames = np.empty((0, strain.shape[1]), dtype=np.int64)
    for i in numba.prange(strain.shape[0]):
        measure_patient(strain, i, half, sign, time_ms, threshold, candidate, basal_mid,
                        septal, lateral, peak, ttp, viable, latest, sd, maxmin, sept_lat,
                        no_frames)


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------
def half_window_frames(smooth_ms: float, time_ms: np.ndarray) -> int:
    """Half-width (frames) of a moving average spanning about ``smooth_ms``.

    The window ``2*h + 1`` frames is the largest odd window not longer than
    ``smooth_ms`` plus one frame: ``h = floor(smooth_ms / 2 / dt)``, with ``dt``
    the median frame interval. At 60 fps the default 50 ms gives 3 frames.
    """
    if smooth_ms < 0:
        raise ValueError("smooth_ms must be >= 0")
    if len(time_ms) < 2:
        return 0
    dt = float(np.median(np.diff(time_ms)))
    return int(np.floor(smooth_ms / 2.0 / dt + 1e-9))


def prepare(strain, time_ms, kind, smooth_ms, scar_threshold_pct, model, candidates):
    """Checked, contiguous ``(N, S, T)`` strain and the kernels' :class:`EngineRecord`
    (raises ValueError on shapes, times or a kind the engine cannot measure)."""
    strain = np.asarray(strain)
    if strain.ndim == 2:
        strain = strain[None]
    if strain.ndim != 3:
        raise ValueError(f"strain must have shape (N, S, T) or (S, T), not {strain.shape}")
    if strain.dtype not in (np.float32, np.float64):
        strain = strain.astype(np.float64)
    strain = np.ascontiguousarray(strain)
    time_ms = np.asarray(time_ms, dtype=np.float64)
    if time_ms.shape != (strain.shape[2],):
        raise ValueError(f"time_ms has {time_ms.size} frames, strain has {strain.shape[2]}")
    if time_ms.size >= 2 and not np.all(np.diff(time_ms) > 0):
        raise ValueError("time_ms must be strictly increasing")
    if kind not in ("radial", "longitudinal"):
        raise ValueError(f"kind must be 'radial' or 'longitudinal', not {kind!r}")
    n_seg = strain.shape[1]
    if n_seg != N_SEGMENTS:
        raise ValueError(f"strain must have {N_SEGMENTS} segments on axis 1, not {n_seg}")
    candidate = None
    if candidates is not None:
        candidate = np.zeros(n_seg, dtype=bool)
        candidate[np.asarray(candidates, dtype=np.int64) - 1] = True
    return strain, engine_record(time_ms, kind, smooth_ms, scar_threshold_pct, candidate, model)


def engine_record(time_ms, kind: str = "radial", smooth_ms: float = DEFAULT_SMOOTH_MS,
                  scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
                  candidate=None, model: SegmentModel | None = None) -> EngineRecord:
    """The kernels' record for curves sampled at ``time_ms`` (all segments candidates
    unless ``candidate``, a bool mask, says otherwise)."""
    model = model or load_segments()
    time_ms = np.ascontiguousarray(time_ms, dtype=np.float64)
    if candidate is None:
        candidate = np.ones(N_SEGMENTS, dtype=np.bool_)
    return EngineRecord(half_window_frames(smooth_ms, time_ms),
                        1.0 if kind == "radial" else -1.0, time_ms, float(scar_threshold_pct),
                        np.ascontiguousarray(candidate, dtype=np.bool_),
                        *model.dyssynchrony_groups)


def _result(summary, kind, threshold, half, peak) -> EngineResult:
    ttp_ms, viable, latest, sd, maxmin, sept_lat = summary
    return EngineResult(ttp_ms=ttp_ms, peak_strain=peak, viable=viable, latest_segment=latest,
                        sd_ttp_ms=sd, maxmin_ttp_ms=maxmin, septal_lateral_ms=sept_lat,
                        kind=kind, scar_threshold_pct=float(threshold),
                        smooth_frames=2 * half + 1)


def engine_outputs(n: int, n_seg: int = N_SEGMENTS) -> EngineOutputs:
    """Empty output arrays for ``n`` patients."""
    return EngineOutputs(np.empty((n, n_seg)), np.empty((n, n_seg)),
                         np.empty((n, n_seg), dtype=np.bool_), np.empty(n, dtype=np.int64),
                         np.empty(n), np.empty(n), np.empty(n))


def result_from_outputs(out: EngineOutputs, kind: str, threshold: float,
                        half: int) -> EngineResult:
    """An :class:`EngineResult` from the arrays of :func:`engine_outputs`."""
    return _result((out.ttp, out.viable, out.latest, out.sd, out.maxmin, out.sept_lat),
                   kind, threshold, half, out.peak)


def measure(strain, time_ms, *, kind: str = "radial", smooth_ms: float = DEFAULT_SMOOTH_MS,
            scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
            candidates=None, model: SegmentModel | None = None) -> EngineResult:
    """Measure TTP, peak strain, viability, the latest viable segment and dyssynchrony.

    Parameters
    ----------
    strain : array_like, shape (N, 17, T) or (17, T)
        Segmental strain (%); NaN marks missing samples (a whole-NaN row is a
        segment with no curve, as the apex in a 16-segment export).
    time_ms : array_like, shape (T,)
        Frame times after QRS onset (ms), strictly increasing.
    kind : {"radial", "longitudinal"}
        Radial strain peaks positive, longitudinal negative.
    smooth_ms : float
        Width of the moving average (ms); 0 disables smoothing.
    scar_threshold_pct : float
        Peak magnitude (%) below which a segment is scar.
    candidates : sequence of int, optional
        Segment numbers allowed as the latest segment (default: all 17).
    model : SegmentModel, optional
        The segment model (default: the shipped AHA 17-segment model).

    Returns
    -------
    EngineResult
    """
    strain, rec = prepare(strain, time_ms, kind, smooth_ms, scar_threshold_pct, model,
                           candidates)
    outputs = engine_outputs(strain.shape[0], strain.shape[1])
    measure_kernel(rec, strain, outputs)
    return result_from_outputs(outputs, kind, scar_threshold_pct, rec.half)


def concat_results(results: list[EngineResult]) -> EngineResult:
    """One :class:`EngineResult` from the results of consecutive chunks of patients."""
    if len(results) == 1:
        return results[0]
    arrays = {f.name: np.concatenate([getattr(r, f.name) for r in results])
              for f in fields(results[0]) if isinstance(getattr(results[0], f.name), np.ndarray)}
    return replace(results[0], **arrays)
