"""Curve synthesis fused with the engine: strain curves measured without being stored.

For large cohorts most of the time went into drawing the tracking noise as a
``(n, 17, T)`` NumPy array, synthesizing the curves into another such array,
and reading it back in the engine. :func:`measure_simulated` does all three in
one numba kernel per block of patients: it draws from the *same* NumPy
``Generator`` in the *same* order as :func:`strainsim.curves.curve_draws`
(numba reproduces NumPy's generators bit for bit), synthesizes each curve into
a small buffer with the arithmetic of the curve kernel, and measures it with
the engine's per-patient routine. The result is identical to
``measure(simulate_curves(...).strain, ...)``, which the tests check, with
memory proportional to one patient instead of the block.

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

import numba
import numpy as np

from .curves import CurveParams, _kernel_constants, contraction_shape, time_axis
from .engine import (
    DEFAULT_SCAR_THRESHOLD_PCT,
    DEFAULT_SMOOTH_MS,
    EngineResult,
    engine_outputs,
    half_window_frames,
    measure_patient,
    result_from_outputs,
)
from .segments import SegmentModel, load_segments

__all__ = ["measure_simulated"]


@numba.njit(cache=True)
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
    buffer = np.empty((1, n_seg, n_frames))
    for i in range(n):
        for s in range(n_seg):
            # the arithmetic of strainsim.curves._synthesis_kernel
            onset = onset_ms[i, s]
            amp = sign * amplitude[i, s]
            slope = drift[i, s]
            noise = noise_sd * rng.standard_normal()
            for k in range(n_frames):
                if k > 0:
                    noise = phi * noise + noise_sd * innovation_scale * rng.standard_normal()
                shape = contraction_shape(k * dt_ms - onset, contraction_ms, relaxation_ms)
                buffer[0, s, k] = amp * shape + noise + slope * (k / (n_frames - 1))
        measure_patient(buffer, 0, i, half, sign, time_ms, threshold, candidate, basal_mid,
                        septal, lateral, peak_out, ttp_out, viable_out, latest_out, sd_out,
                        maxmin_out, sept_lat_out)


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
