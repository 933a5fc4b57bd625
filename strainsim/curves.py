"""Synthetic segmental strain curves from activation times.

Each segment contracts ``emd_ms`` after its electrical activation, reaches its
peak ``contraction_ms`` later along a raised-cosine upstroke, and relaxes along
a Gaussian tail. Radial strain peaks positive, longitudinal strain negative.
Scar segments contract weakly (a low amplitude). Speckle tracking adds
temporally smooth noise (an AR(1) process with a correlation time) and a linear
drift over the cycle, as real exports show.

The synthesis loop is a numba kernel (:func:`synthesize`); :func:`synthesize_numpy`
is its plain-numpy twin, used by the tests and benchmarks.

Examples
--------
>>> import numpy as np
>>> from strainsim.curves import CurveParams, simulate_curves
>>> curves = simulate_curves(np.array([[50.0] * 17]), np.zeros((1, 17), bool),
...                          np.random.default_rng(0), CurveParams(fps=50, cycle_ms=800))
>>> curves.strain.shape, curves.time_ms[:3]
((1, 17, 41), array([ 0., 20., 40.]))
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = [
    "CurveParams",
    "Curves",
    "time_axis",
    "curve_draws",
    "simulate_curves",
    "synthesize",
    "synthesize_numpy",
]

STRAIN_KINDS = ("radial", "longitudinal")


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

    kind: str = "radial"
    fps: float = 60.0
    cycle_ms: float = 800.0
    emd_ms: float = 60.0
    contraction_ms: float = 280.0
    relaxation_ms: float = 180.0
    viable_amplitude_pct: float = 24.0
    viable_amplitude_sd_pct: float = 5.0
    scar_amplitude_pct: float = 5.0
    scar_amplitude_sd_pct: float = 2.0
    noise_sd_pct: float = 0.5
    noise_corr_ms: float = 40.0
    drift_sd_pct: float = 0.5

    def __post_init__(self):
        if self.kind not in STRAIN_KINDS:
            raise ValueError(f"kind must be one of {STRAIN_KINDS}, not {self.kind!r}")
        if not 1.0 <= self.fps <= 1000.0:
            raise ValueError("fps must be in [1, 1000]")
        if self.cycle_ms <= 0 or self.cycle_ms * self.fps / 1000.0 < 4:
            raise ValueError("cycle_ms must cover at least 4 frames")
        for name in ("emd_ms", "viable_amplitude_sd_pct", "scar_amplitude_sd_pct",
                     "noise_sd_pct", "drift_sd_pct"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("contraction_ms", "relaxation_ms", "noise_corr_ms",
                     "viable_amplitude_pct"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.scar_amplitude_pct < 0:
            raise ValueError("scar_amplitude_pct must be >= 0")

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


def curve_draws(rng: np.random.Generator, scar: np.ndarray, params: CurveParams):
    """All random draws for a batch, in a fixed order: amplitudes, drift, noise.

    Returns
    -------
    amplitude : ndarray, shape (n, 17)
        Peak magnitude (%), never negative.
    drift : ndarray, shape (n, 17)
        Drift at the end of the cycle (%).
    white : ndarray, shape (n, 17, T)
        Standard-normal innovations of the tracking noise.
    """
    n, s = scar.shape
    z_amp = rng.standard_normal((n, s))
    amplitude = np.where(scar,
                         params.scar_amplitude_pct + params.scar_amplitude_sd_pct * z_amp,
                         params.viable_amplitude_pct + params.viable_amplitude_sd_pct * z_amp)
    amplitude = np.maximum(amplitude, 0.0)
    drift = params.drift_sd_pct * rng.standard_normal((n, s))
    white = rng.standard_normal((n, s, params.n_frames))
    return amplitude, drift, white


def _kernel_constants(params: CurveParams):
    dt = 1000.0 / params.fps
    phi = float(np.exp(-dt / params.noise_corr_ms))
    return dt, phi, float(np.sqrt(1.0 - phi * phi))


def synthesize_numpy(onset_ms, amplitude, drift, white, dt_ms, contraction_ms, relaxation_ms,
                     sign, noise_sd, phi, innovation_scale):
    """Plain-numpy twin of :func:`synthesize` (same arguments, same numbers).

    Parameters
    ----------
    onset_ms : ndarray, shape (n, S)
        Onset of shortening of each segment (ms).
    amplitude, drift : ndarray, shape (n, S)
        Peak magnitude and end-of-cycle drift (%).
    white : ndarray, shape (n, S, T)
        Standard-normal innovations.
    dt_ms, contraction_ms, relaxation_ms, sign, noise_sd, phi, innovation_scale : float
        Frame interval, shape times, strain sign, noise SD, AR(1) coefficient and
        innovation scale ``sqrt(1 - phi**2)``.

    Returns
    -------
    ndarray, shape (n, S, T)
        Strain (%).
    """
    n_frames = white.shape[2]
    t = np.arange(n_frames) * dt_ms
    tau = t[None, None, :] - onset_ms[:, :, None]
    rise = 0.5 - 0.5 * np.cos(np.pi * tau / contraction_ms)
    late = (tau - contraction_ms) / relaxation_ms
    fall = np.exp(-(late * late))
    shape = np.where(tau <= 0.0, 0.0, np.where(tau < contraction_ms, rise, fall))
    noise = np.empty_like(white)
    noise[:, :, 0] = noise_sd * white[:, :, 0]
    for k in range(1, n_frames):
        noise[:, :, k] = phi * noise[:, :, k - 1] + noise_sd * innovation_scale * white[:, :, k]
    ramp = drift[:, :, None] * (np.arange(n_frames) / (n_frames - 1))[None, None, :]
    return sign * amplitude[:, :, None] * shape + noise + ramp


@numba.njit(cache=True, inline="always")
def contraction_shape(tau, contraction_ms, relaxation_ms):
    """Normalized strain shape ``tau`` ms after the onset of shortening (0 to 1)."""
    if tau <= 0.0:
        return 0.0
    if tau < contraction_ms:
        return 0.5 - 0.5 * np.cos(np.pi * tau / contraction_ms)
    late = (tau - contraction_ms) / relaxation_ms
    return np.exp(-(late * late))


@numba.njit(parallel=True, cache=True)
def _synthesis_kernel(onset_ms, amplitude, drift, white, dt_ms, contraction_ms, relaxation_ms,
           sign, noise_sd, phi, innovation_scale, out):
    n, n_seg, n_frames = white.shape
    for i in numba.prange(n):
        for s in range(n_seg):
            onset = onset_ms[i, s]
            amp = sign * amplitude[i, s]
            slope = drift[i, s]
            noise = noise_sd * white[i, s, 0]
            for k in range(n_frames):
                if k > 0:
                    noise = phi * noise + noise_sd * innovation_scale * white[i, s, k]
                shape = contraction_shape(k * dt_ms - onset, contraction_ms, relaxation_ms)
                out[i, s, k] = amp * shape + noise + slope * (k / (n_frames - 1))
    return out


def synthesize(onset_ms, amplitude, drift, white, dt_ms, contraction_ms, relaxation_ms,
               sign, noise_sd, phi, innovation_scale, out=None):
    """Synthesize strain curves (numba, parallel over patients).

    Same arguments and result as :func:`synthesize_numpy`; ``out`` may be a
    preallocated ``(n, S, T)`` float64 array.
    """
    if out is None:
        out = np.empty(white.shape, dtype=np.float64)
    return _synthesis_kernel(np.ascontiguousarray(onset_ms, np.float64),
                   np.ascontiguousarray(amplitude, np.float64),
                   np.ascontiguousarray(drift, np.float64),
                   np.ascontiguousarray(white, np.float64),
                   float(dt_ms), float(contraction_ms), float(relaxation_ms), float(sign),
                   float(noise_sd), float(phi), float(innovation_scale), out)


def simulate_curves(activation_ms: np.ndarray, scar: np.ndarray, rng: np.random.Generator,
                    params: CurveParams | None = None, *, backend: str = "numba") -> Curves:
    """Strain curves for a batch of patients.

    Parameters
    ----------
    activation_ms : ndarray, shape (n, 17)
        Activation time of each segment after QRS onset (ms).
    scar : ndarray of bool, shape (n, 17)
        Scar segments (low amplitude).
    rng : numpy.random.Generator
        Source of all random draws (see :func:`curve_draws` for their order).
    params : CurveParams, optional
    backend : {"numba", "numpy"}
        The kernel or its twin; both give the same numbers.

    Returns
    -------
    Curves
    """
    params = params or CurveParams()
    activation_ms = np.asarray(activation_ms, dtype=np.float64)
    scar = np.asarray(scar, dtype=bool)
    if activation_ms.ndim != 2 or activation_ms.shape != scar.shape:
        raise ValueError("activation_ms and scar must both have shape (n, n_segments)")
    amplitude, drift, white = curve_draws(rng, scar, params)
    dt, phi, innovation = _kernel_constants(params)
    onset = activation_ms + params.emd_ms
    args = (onset, amplitude, drift, white, dt, params.contraction_ms, params.relaxation_ms,
            params.sign, params.noise_sd_pct, phi, innovation)
    if backend == "numba":
        strain = synthesize(*args)
    elif backend == "numpy":
        strain = synthesize_numpy(*args)
    else:
        raise ValueError(f"backend must be 'numba' or 'numpy', not {backend!r}")
    return Curves(strain=strain, time_ms=time_axis(params), kind=params.kind,
                  true_ttp_ms=onset + params.contraction_ms,
                  amplitude_pct=amplitude)
