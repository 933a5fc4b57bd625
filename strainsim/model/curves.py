"""Synthetic segmental strain curves from activation times.

Each segment contracts ``emd_ms`` after its electrical activation, reaches its
peak ``contraction_ms`` later along a raised-cosine upstroke, and relaxes along
a Gaussian tail. Radial strain peaks positive, longitudinal strain negative.
Scar segments contract weakly (a low amplitude). Speckle tracking adds
temporally smooth noise (an AR(1) process with a correlation time) and a linear
drift over the cycle, as real exports show.

One numba function makes one curve (:func:`synthesize_curve`); the batch
kernel and the per-block pipeline (:mod:`strainsim.model.block`, which measures each
curve as soon as it is made) both call it.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.curves import CurveParams, simulate_curves
>>> curves = simulate_curves(np.array([[50.0] * 17]), np.zeros((1, 17), bool),
...                          np.random.default_rng(0), CurveParams(fps=50, cycle_ms=800))
>>> curves.strain.shape, curves.time_ms[:3]
((1, 17, 41), array([ 0., 20., 40.]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from strainsim.params import check_declared, choice, quantity

__all__ = [
    "CurveParams",
    "Curves",
    "CurveRecord",
    "time_axis",
    "curve_record",
    "contraction_shape",
    "synthesize_curve",
    "curves_kernel",
    "simulate_curves",
]

STRAIN_KINDS = ("radial", "longitudinal")
FPS_RANGE = (10.0, 500.0)  # frames per second accepted everywhere (specs, options, params)


@dataclass(frozen=True)
class CurveParams:
    """Parameters of synthetic strain curves.

    Attributes
    ----------
    kind : {"radial", "longitudinal"}
        Radial strain peaks positive, longitudinal negative.
    fps : float
        Frame rate (frames per second).
    cycle_ms : float
        Cardiac cycle length covered by the curves (ms), from QRS onset.
    emd_ms : float
        Electromechanical delay: activation to onset of shortening (ms).
    contraction_ms : float
        Onset of shortening to peak strain (ms).
    relaxation_ms : float
        Time constant of the Gaussian relaxation after the peak (ms).
    viable_amplitude_pct, viable_amplitude_sd_pct : float
        Peak strain magnitude of viable segments, mean and SD across segments (%).
    scar_amplitude_pct, scar_amplitude_sd_pct : float
        Peak strain magnitude of scar segments (%).
    noise_sd_pct : float
        Standard deviation of the tracking noise (strain %).
    noise_corr_ms : float
        Correlation time of the tracking noise (ms).
    drift_sd_pct : float
        SD of the linear drift reached at the end of the cycle (strain %).
    """

    kind: str = choice(
        "radial", STRAIN_KINDS, doc="Radial strain peaks positive, longitudinal negative."
    )
    fps: float = quantity(
        60.0,
        unit="fps",
        low=FPS_RANGE[0],
        high=FPS_RANGE[1],
        doc="Frame rate of the echo.",
        source="clinical STE: 40-90 fps",
    )
    cycle_ms: float = quantity(
        800.0,
        unit="ms",
        low=300,
        high=3000,
        doc="Cardiac cycle covered by the curves, from QRS onset (20-200 beats/min).",
        source="stated",
    )
    emd_ms: float = quantity(
        60.0,
        unit="ms",
        low=0,
        high=200,
        doc="Electromechanical delay: activation to onset of shortening.",
        source="stated",
    )
    contraction_ms: float = quantity(
        280.0,
        unit="ms",
        low=0.5,
        high=4000,
        doc="Onset of shortening to peak strain.",
        source="stated",
    )
    relaxation_ms: float = quantity(
        180.0,
        unit="ms",
        low=0.01,
        high=1000000.0,
        doc="Time constant of the Gaussian relaxation after the peak.",
        source="stated",
    )
    viable_amplitude_pct: float = quantity(
        24.0,
        unit="%",
        low=0,
        high=100,
        doc="Mean peak strain magnitude of viable segments.",
        source="stated",
    )
    viable_amplitude_sd_pct: float = quantity(
        5.0,
        unit="%",
        low=0,
        high=50,
        doc="SD of the viable peak strain across segments.",
        source="stated",
    )
    scar_amplitude_pct: float = quantity(
        5.0,
        unit="%",
        low=0,
        high=100,
        doc="Mean peak strain magnitude of scar segments (below the viable one).",
        source="stated",
    )
    scar_amplitude_sd_pct: float = quantity(
        2.0,
        unit="%",
        low=0,
        high=50,
        doc="SD of the scar peak strain across segments.",
        source="stated",
    )
    noise_sd_pct: float = quantity(
        0.5,
        unit="%",
        low=0,
        high=50,
        doc="SD of the tracking noise (strain %).",
        source="docs/noise_calibration.py",
    )
    noise_corr_ms: float = quantity(
        40.0,
        unit="ms",
        low=1,
        high=1000,
        doc="Correlation time of the tracking noise.",
        source="stated",
    )
    drift_sd_pct: float = quantity(
        0.5,
        unit="%",
        low=0,
        high=50,
        doc="SD of the linear drift reached at the end of the cycle (strain %).",
        source="stated",
    )

    def __post_init__(self):
        check_declared(self)
        if self.cycle_ms * self.fps / 1000.0 < 4:
            raise ValueError("cycle_ms must cover at least 4 frames")
        if self.scar_amplitude_pct >= self.viable_amplitude_pct:
            raise ValueError("scar_amplitude_pct must be below viable_amplitude_pct")

    @property
    def sign(self) -> float:
        """+1 for radial strain, -1 for longitudinal strain."""
        return 1.0 if self.kind == "radial" else -1.0

    @property
    def n_frames(self) -> int:
        """Frames per cycle, including the frame at QRS onset."""
        return int(np.floor(self.cycle_ms * self.fps / 1000.0 + 1e-9)) + 1


@dataclass(frozen=True)
class Curves:
    """A batch of segmental strain curves.

    Attributes
    ----------
    strain : ndarray, shape (n, 17, T)
        Strain (%) per patient, segment and frame.
    time_ms : ndarray, shape (T,)
        Frame times after QRS onset (ms).
    kind : str
        ``"radial"`` or ``"longitudinal"``.
    true_ttp_ms : ndarray, shape (n, 17)
        Noise-free time to peak of each segment (ms).
    amplitude_pct : ndarray, shape (n, 17)
        Noise-free peak magnitude of each segment (%).
    """

    strain: np.ndarray
    time_ms: np.ndarray
    kind: str
    true_ttp_ms: np.ndarray
    amplitude_pct: np.ndarray

    @property
    def fps(self) -> float:
        """Frame rate (frames per second)."""
        return 1000.0 / float(self.time_ms[1] - self.time_ms[0])


def time_axis(params: CurveParams) -> np.ndarray:
    """Frame times (ms) from QRS onset for ``params.fps`` and ``params.cycle_ms``."""
    return np.arange(params.n_frames) * (1000.0 / params.fps)


class CurveRecord(NamedTuple):
    """:class:`CurveParams` as the curve kernels read them."""

    emd_ms: float
    viable_amplitude_pct: float
    viable_amplitude_sd_pct: float
    scar_amplitude_pct: float
    scar_amplitude_sd_pct: float
    drift_sd_pct: float
    dt_ms: float  # frame interval
    contraction_ms: float
    relaxation_ms: float
    sign: float  # +1 radial, -1 longitudinal
    noise_sd_pct: float
    phi: float  # AR(1) coefficient exp(-dt / noise_corr_ms)
    innovation_scale: float  # sqrt(1 - phi^2)


def curve_record(params: CurveParams) -> CurveRecord:
    """The kernels' record of ``params``."""
    dt = 1000.0 / params.fps
    phi = math.exp(-dt / params.noise_corr_ms)
    return CurveRecord(
        float(params.emd_ms),
        float(params.viable_amplitude_pct),
        float(params.viable_amplitude_sd_pct),
        float(params.scar_amplitude_pct),
        float(params.scar_amplitude_sd_pct),
        float(params.drift_sd_pct),
        dt,
        float(params.contraction_ms),
        float(params.relaxation_ms),
        params.sign,
        float(params.noise_sd_pct),
        phi,
        math.sqrt(1.0 - phi * phi),
    )


@numba.njit(cache=True)
def contraction_shape(tau, contraction_ms, relaxation_ms):
    """Normalized strain shape ``tau`` ms after the onset of shortening (0 to 1).

    A raised-cosine upstroke ``(1 - cos(pi tau / contraction)) / 2`` to the peak
    at ``tau = contraction``, then a Gaussian relaxation
    ``exp(-((tau - contraction) / relaxation)^2)``.
    """
    if tau <= 0.0:
        return 0.0
    if tau < contraction_ms:
        return 0.5 - 0.5 * math.cos(math.pi * tau / contraction_ms)
    late = (tau - contraction_ms) / relaxation_ms
    return math.exp(-(late * late))


@numba.njit(cache=True)
def synthesize_curve(rng, rec, activation_ms, scar, row_out):
    """One segment's strain curve (%), written into ``row_out`` (one value per frame).

    Draws, in order: the peak magnitude (normal, scar or viable mean and SD, at
    least 0), the end-of-cycle drift (normal), then one standard normal per frame
    for the AR(1) tracking noise (stationary from the first frame). The shape is
    :func:`contraction_shape` evaluated frame by frame with rotation and
    Gaussian recurrences (a few multiplications per frame instead of a cos or
    an exp; they agree with it to about 1e-13).

    Returns
    -------
    float
        The noise-free peak magnitude (%).
    """
    n_frames = row_out.shape[0]
    z = rng.standard_normal()
    if scar:
        amplitude = max(rec.scar_amplitude_pct + rec.scar_amplitude_sd_pct * z, 0.0)
    else:
        amplitude = max(rec.viable_amplitude_pct + rec.viable_amplitude_sd_pct * z, 0.0)
    slope = rec.drift_sd_pct * rng.standard_normal() / (n_frames - 1)
    signed = rec.sign * amplitude
    onset = activation_ms + rec.emd_ms
    dt = rec.dt_ms
    contraction = rec.contraction_ms
    # frames of the upstroke (0 < tau < contraction) and of the relaxation
    first_up = max(np.int64(math.floor(onset / dt)) + 1, 0)
    first_down = max(np.int64(math.ceil((onset + contraction) / dt)), 0)
    if first_down < first_up:
        first_down = first_up
    # upstroke: cos(a + k d) by rotation
    step = math.pi * dt / contraction
    cos_step, sin_step = math.cos(step), math.sin(step)
    angle = math.pi * (first_up * dt - onset) / contraction
    c, sn = math.cos(angle), math.sin(angle)
    # relaxation: g_k = exp(-x_k^2), x_k = x_0 + k d; g_{k+1} = g_k r_k, r_{k+1} = r_k q
    d = dt / rec.relaxation_ms
    x0 = (first_down * dt - onset - contraction) / rec.relaxation_ms
    g = math.exp(-x0 * x0)
    ratio = math.exp(-2.0 * x0 * d - d * d)
    q = math.exp(-2.0 * d * d)
    noise = rec.noise_sd_pct * rng.standard_normal()
    innovation = rec.noise_sd_pct * rec.innovation_scale
    for k in range(n_frames):
        if k > 0:
            noise = rec.phi * noise + innovation * rng.standard_normal()
        if k < first_up:
            shape = 0.0
        elif k < first_down:
            shape = 0.5 - 0.5 * c
            c, sn = c * cos_step - sn * sin_step, sn * cos_step + c * sin_step
        else:
            shape = g
            g *= ratio
            ratio *= q
        row_out[k] = signed * shape + noise + slope * k
    return amplitude


@numba.njit(cache=True)
def curves_kernel(rng, rec, activation_ms, scar, strain_out, amplitude_out):
    """Curves of every patient and segment, in that order (see :func:`synthesize_curve`)."""
    n, n_seg = activation_ms.shape
    for i in range(n):
        for s in range(n_seg):
            amplitude_out[i, s] = synthesize_curve(
                rng, rec, activation_ms[i, s], scar[i, s], strain_out[i, s]
            )


def simulate_curves(
    activation_ms: np.ndarray,
    scar: np.ndarray,
    rng: np.random.Generator,
    params: CurveParams | None = None,
) -> Curves:
    """Strain curves for a batch of patients.

    Parameters
    ----------
    activation_ms : ndarray, shape (n, 17)
        Activation time of each segment after QRS onset (ms).
    scar : ndarray of bool, shape (n, 17)
        Scar segments (low amplitude).
    rng : numpy.random.Generator
        The block's ``measurement`` stream (see :func:`synthesize_curve` for the draws).
    params : CurveParams, optional

    Returns
    -------
    Curves
    """
    params = params or CurveParams()
    activation_ms = np.ascontiguousarray(activation_ms, dtype=np.float64)
    scar = np.ascontiguousarray(scar, dtype=np.bool_)
    if activation_ms.ndim != 2 or activation_ms.shape != scar.shape:
        raise ValueError("activation_ms and scar must both have shape (n, n_segments)")
    n, n_seg = activation_ms.shape
    strain = np.empty((n, n_seg, params.n_frames))
    amplitude = np.empty((n, n_seg))
    curves_kernel(rng, curve_record(params), activation_ms, scar, strain, amplitude)
    return Curves(
        strain=strain,
        time_ms=time_axis(params),
        kind=params.kind,
        true_ttp_ms=activation_ms + params.emd_ms + params.contraction_ms,
        amplitude_pct=amplitude,
    )
