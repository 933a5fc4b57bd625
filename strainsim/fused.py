"""Fused kernels: curves measured without being stored, and whole seed blocks in one call.

For large cohorts most of the time went into drawing the tracking noise as a
``(n, 17, T)`` NumPy array, synthesizing the curves into another such array,
and reading it back in the engine. :func:`measure_simulated` does all three in
one numba kernel per block of patients: it draws from the *same* NumPy
``Generator`` in the *same* order as :func:`strainsim.curves.curve_draws`
(numba reproduces NumPy's generators bit for bit), synthesizes each curve into
a small buffer with the arithmetic of the curve kernel (exactly where the
engine's peak can be, bounded elsewhere; see the kernel's comments), and
records it with the engine's per-segment routines. The result is identical to
``measure(simulate_curves(...).strain, ...)``, which the tests check, with
memory proportional to one patient instead of the block.

:func:`simulate_block` goes further for the fast path of a trial (pattern
activation, curve fidelity): one kernel runs a seed block's patients,
activation, curves, engine, veins, placement and outcomes, each stage by the
numba twin that sits beside its numpy function (``draw_scar_kernel`` beside
:func:`strainsim.activation.draw_scar`, and so on), drawing from the block's
five generators in the stage functions' order. The tests hold it to the
stage-by-stage path.

Examples
--------
>>> import numpy as np
>>> from strainsim.curves import CurveParams, simulate_curves
>>> from strainsim.engine import measure
>>> from strainsim.fused import measure_simulated
>>> onset = np.random.default_rng(0).uniform(0, 150, (3, 17))
>>> scar = np.zeros((3, 17), bool)
>>> fused = measure_simulated(onset, scar, np.random.default_rng(1), CurveParams())
>>> curves = simulate_curves(onset, scar, np.random.default_rng(1), CurveParams())
>>> bool(np.array_equal(fused.ttp_ms, measure(curves.strain, curves.time_ms).ttp_ms))
True
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .activation import (
    Activation,
    draw_scar_kernel,
    pattern_kernel,
    ring_terms,
    scar_constants,
)
from .cohort import Patients, activation_for, population_constants, population_kernel
from .curves import CurveParams, _kernel_constants, contraction_shape, time_axis
from .engine import (
    DEFAULT_SCAR_THRESHOLD_PCT,
    DEFAULT_SMOOTH_MS,
    EngineResult,
    engine_outputs,
    finish_patient,
    half_window_frames,
    peak_of_row,
    record_segment,
    result_from_outputs,
)
from .outcomes import Outcomes, outcome_constants, outcomes_kernel
from .placement import (
    Placement,
    classify_one,
    draw_veins_kernel,
    empirical_masks,
    place_kernel,
)
from .segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = ["measure_simulated", "simulate_block", "block_arrays", "block_supported"]


@numba.njit(cache=True, inline="always")
def _mean_three(row, k):
    # the engine's 3-frame mean at frame k, as its fast path computes it (no NaN)
    if k == 0:
        return (row[0] + row[1]) * 0.5
    if k == row.shape[0] - 1:
        return (row[k - 1] + row[k]) * 0.5
    return ((row[k - 1] + row[k]) + row[k + 1]) * (1.0 / 3.0)


@numba.njit(cache=True)
def _shape_bounds(dt_ms, n_frames, contraction_ms, relaxation_ms):
    """Upper bounds on :func:`contraction_shape` per cell of a grid of ``dt_ms / 4``.

    The peak (``tau = contraction_ms``) is a node, so the shape is monotone
    between two nodes and the larger node bounds it. Each cell takes the largest
    of four nodes (its own two and one on each side, in case rounding puts a
    ``tau`` in the next cell), raised by a relative 1e-9 and an absolute 1e-12 for
    the last-bit errors of ``cos`` and ``exp``. A ``tau`` in cell ``j`` (``j =
    int((tau - start) * per_ms)``) has ``contraction_shape(tau) <= bound[j]``.
    """
    step = dt_ms / 4.0
    below = np.int64(np.ceil(contraction_ms / step)) + 2
    above = np.int64(np.ceil(max(n_frames * dt_ms - contraction_ms, 0.0) / step)) + 2
    nodes = np.empty(below + above + 1)
    for j in range(nodes.shape[0]):
        nodes[j] = contraction_shape(contraction_ms + (j - below) * step, contraction_ms,
                                     relaxation_ms)
    bound = np.ones(nodes.shape[0] - 1)
    for j in range(1, bound.shape[0] - 1):
        largest = max(max(nodes[j - 1], nodes[j]), max(nodes[j + 1], nodes[j + 2]))
        bound[j] = min(largest * (1.0 + 1e-9) + 1e-12, 1.0)
    return contraction_ms - below * step, 1.0 / step, bound


@numba.njit(cache=True, error_model="numpy")
def _simulate_and_measure(rng, onset_ms, scar, viable_mean, viable_sd, scar_mean, scar_sd,
                          drift_sd, n_frames, dt_ms, contraction_ms, relaxation_ms, sign,
                          noise_sd, phi, innovation_scale, half, time_ms, threshold,
                          candidate, basal_mid, septal, lateral, peak_out, ttp_out,
                          viable_out, latest_out, sd_out, maxmin_out, sept_lat_out):
    n, n_seg = onset_ms.shape
    # the draws of curve_draws, in its order: amplitudes, drift, then white noise
    amplitude = np.empty((n, n_seg))
    for i in range(n):
        for s in range(n_seg):
            z = rng.standard_normal()
            if scar[i, s]:
                a = scar_mean + scar_sd * z
            else:
                a = viable_mean + viable_sd * z
            amplitude[i, s] = max(a, 0.0)
    drift = np.empty((n, n_seg))
    for i in range(n):
        for s in range(n_seg):
            drift[i, s] = drift_sd * rng.standard_normal()
    ramp = np.empty(n_frames)  # the drift's ramp, k / (n_frames - 1), divided once
    for k in range(n_frames):
        ramp[k] = k / (n_frames - 1)
    # The engine needs exact samples only where the peak can be. With its default
    # 3-frame window, the shape (a cos or an exp per sample, most of the work) is
    # evaluated on the window at the noise-free peak; elsewhere a bound on it bounds
    # each sample from the peak's side. The exact window's mean is a floor under the
    # peak, and a window can reach the floor only if one of its samples does: those
    # windows are evaluated, and the first of the largest of their means is the
    # peak the engine finds on the exact curve (the other windows stay below the
    # floor). Draws and exact samples have the order and arithmetic of the curve
    # kernel, and the means the arithmetic of the engine's 3-frame path.
    bounded = half == 1 and n_frames >= 3
    grid_start, per_ms, bound = _shape_bounds(dt_ms, n_frames, contraction_ms,
                                              relaxation_ms)
    noise_row = np.empty(n_frames)
    exact = np.empty(n_frames, np.bool_)
    row = np.empty(n_frames)
    for i in range(n):
        best = -1
        best_ttp = 0.0
        best_amp = 0.0
        for s in range(n_seg):
            onset = onset_ms[i, s]
            amp = sign * amplitude[i, s]
            slope = drift[i, s]
            centre = min(max(np.int64((onset + contraction_ms) / dt_ms), 0), n_frames - 1)
            first, last = centre - 1, centre + 1
            if not bounded:  # other windows: every sample exact
                first, last = 0, n_frames - 1
            noise = noise_sd * rng.standard_normal()
            for k in range(n_frames):
                if k > 0:
                    noise = phi * noise + noise_sd * innovation_scale * rng.standard_normal()
                noise_row[k] = noise
                tau = k * dt_ms - onset
                if tau <= 0.0 or first <= k <= last:
                    shape = contraction_shape(tau, contraction_ms, relaxation_ms)
                    exact[k] = True
                else:
                    cell = np.int64((tau - grid_start) * per_ms)
                    shape = bound[cell] if 0 <= cell < bound.shape[0] else 1.0
                    exact[k] = False
                row[k] = amp * shape + noise + slope * ramp[k]
            if bounded:
                f, raw = _bounded_peak(row, exact, noise_row, centre, sign, amp, slope, ramp,
                                       onset, dt_ms, contraction_ms, relaxation_ms)
            else:
                f, raw = peak_of_row(row, half, sign)
            best, best_ttp, best_amp = record_segment(i, s, f, raw, sign, time_ms, threshold,
                                                      candidate, best, best_ttp, best_amp,
                                                      peak_out, ttp_out, viable_out)
        finish_patient(i, best, basal_mid, septal, lateral, ttp_out, latest_out, sd_out,
                       maxmin_out, sept_lat_out)


@numba.njit(cache=True, inline="always")
def _bounded_peak(row, exact, noise_row, centre, sign, amp, slope, ramp, onset, dt_ms,
                  contraction_ms, relaxation_ms):
    # the engine's 3-frame peak (first frame of the largest mean, raw value) of a row
    # whose window at `centre` is exact and whose other samples may be bounds
    n_frames = row.shape[0]
    floor = sign * _mean_three(row, centre)
    floor -= 1e-9 * (abs(floor) + 1.0)
    hot = floor - 1e-9 * (abs(floor) + 1.0)  # a mean >= floor has a sample >= hot
    best_frame = -1
    best_raw = 0.0
    best_goodness = -np.inf
    for j in range(n_frames):
        if sign * row[j] < hot:
            continue
        for k in range(max(j - 1, 0), min(j + 1, n_frames - 1) + 1):
            lo = max(k - 1, 0)
            hi = min(k + 1, n_frames - 1)
            if not (exact[lo] and exact[k] and exact[hi]):
                if sign * _mean_three(row, k) < floor:
                    continue  # below the floor even with bounds: not the peak
                for m in range(lo, hi + 1):
                    if not exact[m]:
                        shape = contraction_shape(m * dt_ms - onset, contraction_ms,
                                                  relaxation_ms)
                        row[m] = amp * shape + noise_row[m] + slope * ramp[m]
                        exact[m] = True
            raw = _mean_three(row, k)
            goodness = sign * raw
            if goodness > best_goodness or (goodness == best_goodness and k < best_frame):
                best_goodness = goodness
                best_frame = k
                best_raw = raw
    return best_frame, best_raw


def measure_simulated(onset_minus_emd_ms: np.ndarray, scar: np.ndarray,
                      rng: np.random.Generator, params: CurveParams, *,
                      smooth_ms: float = DEFAULT_SMOOTH_MS,
                      scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
                      model: SegmentModel | None = None) -> EngineResult:
    """Simulate strain curves and measure them in one pass (see the module docstring).

    Parameters
    ----------
    onset_minus_emd_ms : ndarray, shape (n, 17)
        Activation times (ms), as given to :func:`strainsim.curves.simulate_curves`.
    scar : ndarray of bool, shape (n, 17)
    rng : numpy.random.Generator
        Consumed exactly as :func:`strainsim.curves.simulate_curves` would.
    params : CurveParams
    smooth_ms, scar_threshold_pct, model
        As for :func:`strainsim.engine.measure` (all segments are candidates).

    Returns
    -------
    EngineResult
        Identical to measuring the simulated curves.
    """
    model = model or load_segments()
    activation_ms = np.ascontiguousarray(onset_minus_emd_ms, dtype=np.float64)
    scar = np.ascontiguousarray(scar, dtype=np.bool_)
    n, n_seg = activation_ms.shape
    time_ms = time_axis(params)
    dt, phi, innovation = _kernel_constants(params)
    half = half_window_frames(smooth_ms, time_ms)
    outputs = engine_outputs(n, n_seg)
    candidate = np.ones(n_seg, dtype=np.bool_)
    _simulate_and_measure(
        rng, activation_ms + params.emd_ms, scar, float(params.viable_amplitude_pct),
        float(params.viable_amplitude_sd_pct), float(params.scar_amplitude_pct),
        float(params.scar_amplitude_sd_pct), float(params.drift_sd_pct), params.n_frames,
        float(dt), float(params.contraction_ms), float(params.relaxation_ms),
        float(params.sign), float(params.noise_sd_pct), float(phi), float(innovation), half,
        time_ms, float(scar_threshold_pct), candidate, *model.dyssynchrony_groups, *outputs)
    return result_from_outputs(outputs, params.kind, scar_threshold_pct, half)


# ---------------------------------------------------------------------------------------
# a whole seed block in one kernel
# ---------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _block_kernel(rng_patients, rng_curves, rng_veins, rng_place, rng_outcomes, guided,
                  shift_pct, population, scar_scalars, culprit_cdf, members, adjacency,
                  activation_scalars, centre_rad, ring_term_ms, apical, curve_scalars,
                  n_frames, half, time_ms, candidate, basal_mid, septal, lateral,
                  prevalence, access, placement_scalars, masks, hops, outcome_scalars,
                  age, male, edv, esv, scar, ischemic, late, delay, activation_ms,
                  peak, ttp, viable, latest, sd, maxmin, sept_lat, true_latest, reachable,
                  lead, vs_measured, vs_true, scar_at_lead, esv_change, edv_change, esv_new,
                  edv_new, ef_change, nyha):
    n, n_seg = activation_ms.shape
    # patients (simulate_patients: demographics, volumes, scar, late site, delay, jitter)
    population_kernel(rng_patients, population, age, male, edv, esv)
    draw_scar_kernel(rng_patients, scar_scalars[0], culprit_cdf, scar_scalars[1],
                     scar_scalars[2], members, adjacency, scar, ischemic)
    pattern_kernel(rng_patients, activation_scalars[0], activation_scalars[1],
                   activation_scalars[2], activation_scalars[3], activation_scalars[4],
                   activation_scalars[5], activation_scalars[6], centre_rad, ring_term_ms,
                   apical, scar, late, delay, activation_ms)
    for i in range(n):  # Activation.true_latest_segment
        best = -1
        for s in range(n_seg):
            if not scar[i, s] and (best < 0 or activation_ms[i, s] > activation_ms[i, best]):
                best = s
        true_latest[i] = best + 1 if best >= 0 else -1
    # curves measured by the engine (measure_simulated)
    (emd, viable_mean, viable_sd, scar_mean, scar_sd, drift_sd, dt, contraction, relaxation,
     sign, noise_sd, phi, innovation, threshold) = (
        curve_scalars[0], curve_scalars[1], curve_scalars[2], curve_scalars[3],
        curve_scalars[4], curve_scalars[5], curve_scalars[6], curve_scalars[7],
        curve_scalars[8], curve_scalars[9], curve_scalars[10], curve_scalars[11],
        curve_scalars[12], curve_scalars[13])
    onset = np.empty((n, n_seg))
    for i in range(n):
        for s in range(n_seg):
            onset[i, s] = activation_ms[i, s] + emd
    _simulate_and_measure(rng_curves, onset, scar, viable_mean, viable_sd, scar_mean,
                          scar_sd, drift_sd, n_frames, dt, contraction, relaxation, sign,
                          noise_sd, phi, innovation, half, time_ms, threshold, candidate,
                          basal_mid, septal, lateral, peak, ttp, viable, latest, sd, maxmin,
                          sept_lat)
    # veins, placement, classification
    draw_veins_kernel(rng_veins, prevalence, access, reachable)
    place_kernel(rng_place, guided, latest, reachable, placement_scalars[0],
                 placement_scalars[1], placement_scalars[2], masks, adjacency, hops, lead)
    for i in range(n):
        vs_measured[i] = classify_one(lead[i], latest[i], hops)
        vs_true[i] = classify_one(lead[i], true_latest[i], hops)
        scar_at_lead[i] = scar[i, lead[i] - 1]
    # outcomes
    outcomes_kernel(rng_outcomes, outcome_scalars, edv, esv, vs_true, scar_at_lead, ischemic,
                    male, shift_pct, esv_change, edv_change, esv_new, edv_new, ef_change,
                    nyha)


_BLOCK_ENTRY = []


def _run_block_kernel(*args):
    # The dispatcher types every argument on every call, about 30 us for a block's five
    # generators. simulate_block always passes the same types (its constants and
    # outputs are built with fixed dtypes), so after the first call, which compiles or
    # loads the kernel, the compiled code is called directly.
    if _BLOCK_ENTRY:
        return _BLOCK_ENTRY[0](*args)
    result = _block_kernel(*args)
    if len(_block_kernel.signatures) == 1:
        _BLOCK_ENTRY.append(_block_kernel.overloads[_block_kernel.signatures[0]].entry_point)
    return result


def block_supported(spec) -> bool:
    """Whether :func:`simulate_block` covers ``spec`` (pattern activation, curve fidelity)."""
    return spec.fidelity == "curves" and spec.activation.model == "pattern"


class _BlockConstants(NamedTuple):
    """The block kernel's parameters, in its argument order."""

    population: np.ndarray
    scar: np.ndarray
    culprit_cdf: np.ndarray
    members: np.ndarray
    adjacency: np.ndarray
    activation: np.ndarray
    centre_rad: np.ndarray
    ring_term_ms: np.ndarray
    apical: np.ndarray
    curves: np.ndarray
    n_frames: int
    half: int
    time_ms: np.ndarray
    candidate: np.ndarray
    basal_mid: np.ndarray
    septal: np.ndarray
    lateral: np.ndarray
    prevalence: np.ndarray
    access: np.ndarray
    placement: np.ndarray
    masks: np.ndarray
    hops: np.ndarray
    outcomes: np.ndarray


_CONSTANTS: dict = {}


def _block_constants(spec, model: SegmentModel) -> _BlockConstants:
    """The kernel's parameter arrays for ``spec`` and ``model`` (cached: specs are frozen)."""
    key = (spec, id(model))
    hit = _CONSTANTS.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    population = spec.population
    act = activation_for(population, spec.activation)
    cdf, members = scar_constants(act.scar, model)
    curves = spec.curves
    time_ms = time_axis(curves)
    dt, phi, innovation = _kernel_constants(curves)
    placement = spec.placement
    concordance = -1.0 if placement.concordance is None else placement.concordance
    constants = _BlockConstants(
        population_constants(population),
        np.array([act.scar.ischemic_fraction, act.scar.ischemic_scar_segments_mean,
                  act.scar.nonischemic_scar_probability]),
        cdf, members, np.ascontiguousarray(model.adjacency),
        np.array([act.onset_ms, act.delay_mean_ms, act.delay_sd_ms,
                  float(np.radians(act.late_angle_deg)), act.late_angle_kappa,
                  act.jitter_sd_ms, act.scar_delay_ms]),
        np.radians([s.angle_centre for s in model.segments]), ring_terms(act, model),
        model.numbers(ring="apical") - 1,
        np.array([curves.emd_ms, curves.viable_amplitude_pct, curves.viable_amplitude_sd_pct,
                  curves.scar_amplitude_pct, curves.scar_amplitude_sd_pct, curves.drift_sd_pct,
                  dt, curves.contraction_ms, curves.relaxation_ms, curves.sign,
                  curves.noise_sd_pct, phi, innovation, spec.scar_threshold_pct],
                 dtype=np.float64),
        curves.n_frames, half_window_frames(spec.smooth_ms, time_ms), time_ms,
        np.ones(N_SEGMENTS, dtype=np.bool_), *model.dyssynchrony_groups,
        np.array([v.prevalence for v in model.veins], dtype=np.float64),
        np.ascontiguousarray(model.vein_access()),
        np.array([placement.aim_success, concordance, placement.adjacent_share]),
        empirical_masks(placement, model), np.ascontiguousarray(model.hops, dtype=np.int64),
        outcome_constants(spec.outcomes),
    )
    if len(_CONSTANTS) > 512:
        _CONSTANTS.clear()
    _CONSTANTS[key] = (model, constants)
    return constants


def block_arrays(n: int, rngs, guided: bool, spec, model: SegmentModel | None = None,
                 shift_pct: float = 0.0) -> dict:
    """:func:`simulate_block`'s numbers as a dict of arrays (no result objects).

    Keys: ``age, male, edv, esv, scar, ischemic, late, delay, activation_ms, peak, ttp,
    viable, latest, sd, maxmin, sept_lat, true_latest, reachable, lead, vs_measured,
    vs_true, scar_at_lead, esv_change, edv_change, esv_new, edv_new, ef_change, nyha``.
    """
    if not block_supported(spec):
        raise ValueError("simulate_block needs the pattern activation model and "
                         "curve fidelity")
    model = model or load_segments()
    constants = _block_constants(spec, model)
    floats = np.empty((13, n))
    flags = np.empty((4, n), dtype=np.bool_)
    ints = np.empty((3, n), dtype=np.int64)
    classes = np.empty((2, n), dtype=np.int8)
    out = dict(zip(_FLOAT_KEYS, floats, strict=True))
    out.update(zip(_FLAG_KEYS, flags, strict=True))
    out.update(zip(_INT_KEYS, ints, strict=True))
    out.update(zip(("vs_measured", "vs_true"), classes, strict=True))
    for key in ("scar", "reachable", "viable"):
        out[key] = np.empty((n, N_SEGMENTS), dtype=np.bool_)
    for key in ("activation_ms", "peak", "ttp"):
        out[key] = np.empty((n, N_SEGMENTS))
    _run_block_kernel(*rngs, bool(guided), float(shift_pct), *constants,
                      *(out[key] for key in _KERNEL_OUTPUTS))
    return out


_FLOAT_KEYS = ("age", "edv", "esv", "late", "delay", "sd", "maxmin", "sept_lat", "esv_change",
               "edv_change", "esv_new", "edv_new", "ef_change")
_FLAG_KEYS = ("male", "ischemic", "scar_at_lead", "nyha")
_INT_KEYS = ("latest", "true_latest", "lead")
_KERNEL_OUTPUTS = ("age", "male", "edv", "esv", "scar", "ischemic", "late", "delay",
                   "activation_ms", "peak", "ttp", "viable", "latest", "sd", "maxmin",
                   "sept_lat", "true_latest", "reachable", "lead", "vs_measured", "vs_true",
                   "scar_at_lead", "esv_change", "edv_change", "esv_new", "edv_new",
                   "ef_change", "nyha")


def simulate_block(n: int, rngs, guided: bool, spec, model: SegmentModel | None = None,
                   shift_pct: float = 0.0):
    """One seed block through the whole pipeline in one kernel.

    Parameters
    ----------
    n : int
        Patients in the block.
    rngs : sequence of 5 numpy.random.Generator
        The block's generators: patients, curves, veins, placement, outcomes.
    guided : bool
        Image-guided (True) or control arm.
    spec : TrialSpec
        Must satisfy :func:`block_supported`.
    model : SegmentModel, optional
    shift_pct : float
        Trial-level shift of the image-guided ESV change (%).

    Returns
    -------
    patients, measured, placement, outcomes, scar_at_lead
        What the stage functions return for the same generators (see
        :func:`strainsim.trial.simulate_arm`).
    """
    a = block_arrays(n, rngs, guided, spec, model, shift_pct)
    patients = Patients(age=a["age"], male=a["male"], edv_ml=a["edv"], esv_ml=a["esv"],
                        activation=Activation(activation_ms=a["activation_ms"],
                                              scar=a["scar"], ischemic=a["ischemic"],
                                              late_angle_deg=a["late"], delay_ms=a["delay"]))
    half = _block_constants(spec, model or load_segments()).half
    measured = result_from_outputs(
        (a["peak"], a["ttp"], a["viable"], a["latest"], a["sd"], a["maxmin"], a["sept_lat"]),
        spec.curves.kind, spec.scar_threshold_pct, half)
    placement = Placement(lead_segment=a["lead"], target_segment=a["latest"],
                          vs_measured=a["vs_measured"], vs_true=a["vs_true"],
                          reachable=a["reachable"])
    outcomes = Outcomes(esv_change_pct=a["esv_change"], edv_change_pct=a["edv_change"],
                        esv_ml=a["esv_new"], edv_ml=a["edv_new"], ef_change=a["ef_change"],
                        nyha_improved=a["nyha"])
    return patients, measured, placement, outcomes, a["scar_at_lead"]
