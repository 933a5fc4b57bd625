"""Speckle tracking on synthetic B-mode images.

For each segment, a patch of myocardial wall is imaged frame by frame:

Image formation
    Fully developed speckle: many random point scatterers per resolution cell,
    each contributing a pulse-echo response with a Gaussian envelope and the
    round-trip phase ``exp(-i 4 pi z / wavelength)``. The complex echo is the
    sum of the scatterers' weights splatted on the pixel grid and blurred by the
    point-spread function; complex Gaussian noise sets the SNR; the envelope is
    log-compressed to a dynamic range, as a scanner displays it.
Deformation
    The scatterers move with the segment's true strain curve: radial strain
    thickens the wall along depth (axis 0), longitudinal strain shortens it
    along the beam-lateral direction (axis 1), about the patch centre. A small
    share of scatterers is replaced every frame (out-of-plane motion).
Tracking
    Block matching by normalized cross-correlation
    (:func:`skimage.feature.match_template`) with Gaussian sub-pixel
    refinement, against the frame a few frames back, for a row of kernels
    along the strain direction; the segment's Lagrangian strain is the
    least-squares slope of the kernels' positions against their starting
    positions, minus one. Frame-to-frame tracking accumulates drift, so the
    curve is drift-compensated (linearly brought back to zero at the end of
    the cycle), as commercial software does.

The tracked curves go to :func:`strainsim.measure.engine.measure` like any export.

Examples
--------
>>> import numpy as np
>>> from strainsim.measure.speckle import SpeckleParams, track_segment
>>> time_ms = np.arange(25) * 1000 / 60
>>> true = 20 * np.sin(np.pi * np.arange(25) / 24)          # % radial strain
>>> tracked = track_segment(true, "radial", SpeckleParams(), np.random.default_rng(0))
>>> bool(np.max(np.abs(tracked - true)) < 3.0)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strainsim.params import quantity

__all__ = [
    "SpeckleParams",
    "WallPhantom",
    "make_phantom",
    "render_frame",
    "render_frames",
    "track_frames",
    "reference_lag_frames",
    "track_segment",
    "track_curves",
    "noise_statistics",
]


@dataclass(frozen=True)
class SpeckleParams:
    """Imaging and tracking settings.

    Only ``snr_db`` is read from spec files (``[measurement] snr_db``, declared with
    its range); the rest are the phantom's and the tracker's constants, fixed at the
    values that docs/speckle.md measures against ground truth.

    Attributes
    ----------
    pixel_mm : float
        Pixel size (mm), the same along depth and laterally.
    wall_thickness_mm, wall_length_mm : float
        Size of the imaged wall patch at rest (mm).
    margin_mm : float
        Space around the wall in the image (mm).
    scatterers_per_mm2 : float
        Scatterer density (fully developed speckle needs several per resolution cell).
    wavelength_mm : float
        Ultrasound wavelength (0.3 mm is about 5 MHz).
    psf_axial_mm, psf_lateral_mm : float
        Gaussian envelope SDs of the point-spread function (mm).
    snr_db : float
        Signal-to-noise ratio of the echo (dB).
    dynamic_range_db : float
        Log-compression range (dB).
    decorrelation : float
        Share of scatterers replaced every frame (out-of-plane motion).
    kernel_mm : float
        Side of the square tracking kernel (mm).
    n_kernels : int
        Kernels along the strain direction.
    max_speed_mm_per_frame : float
        Largest tissue motion per frame the search covers (mm), at 60 fps;
        scaled with the frame interval.
    reference_lag_ms : float
        Time between a kernel's template frame and the frame it is searched in
        (rounded to whole frames, at least one). Longer lags accumulate fewer
        sub-pixel errors; shorter ones see less deformation and decorrelation.
    """

    pixel_mm: float = 0.1
    wall_thickness_mm: float = 10.0
    wall_length_mm: float = 10.0
    margin_mm: float = 3.0
    scatterers_per_mm2: float = 25.0
    wavelength_mm: float = 0.3
    psf_axial_mm: float = 0.15
    psf_lateral_mm: float = 0.35
    snr_db: float = quantity(20.0, unit="dB", low=-10, high=80,
                             doc="Signal-to-noise ratio of the echo (speckle fidelity).")
    dynamic_range_db: float = 50.0
    decorrelation: float = 0.01
    kernel_mm: float = 2.4
    n_kernels: int = 4
    max_speed_mm_per_frame: float = 0.6
    reference_lag_ms: float = 60.0

    def __post_init__(self):
        for name in ("pixel_mm", "wall_thickness_mm", "wall_length_mm", "scatterers_per_mm2",
                     "wavelength_mm", "psf_axial_mm", "psf_lateral_mm", "dynamic_range_db",
                     "kernel_mm"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if not 0.0 <= self.decorrelation < 1.0:
            raise ValueError("decorrelation must be in [0, 1)")
        if self.reference_lag_ms < 0:
            raise ValueError("reference_lag_ms must be >= 0")
        if self.n_kernels < 2 or self.max_speed_mm_per_frame <= 0:
            raise ValueError("n_kernels must be >= 2 and max_speed_mm_per_frame > 0")
        if self.kernel_mm * self.n_kernels > 1.6 * max(self.wall_thickness_mm,
                                                       self.wall_length_mm):
            raise ValueError("the kernels do not fit in the wall")


@dataclass(frozen=True)
class WallPhantom:
    """Scatterers of one wall patch at rest.

    Attributes
    ----------
    z_mm, x_mm : ndarray
        Rest positions (depth, lateral) in mm, image coordinates.
    amplitude : ndarray
        Scattering amplitudes.
    shape : (int, int)
        Image size in pixels.
    centre_mm : (float, float)
        Centre of the wall (depth, lateral) in mm.
    """

    z_mm: np.ndarray
    x_mm: np.ndarray
    amplitude: np.ndarray
    shape: tuple[int, int]
    centre_mm: tuple[float, float]


def make_phantom(params: SpeckleParams, rng: np.random.Generator) -> WallPhantom:
    """Random scatterers filling the wall patch."""
    height = params.wall_thickness_mm + 2 * params.margin_mm
    width = params.wall_length_mm + 2 * params.margin_mm
    shape = (int(round(height / params.pixel_mm)), int(round(width / params.pixel_mm)))
    n = int(params.scatterers_per_mm2 * params.wall_thickness_mm * params.wall_length_mm)
    z = params.margin_mm + params.wall_thickness_mm * rng.random(n)
    x = params.margin_mm + params.wall_length_mm * rng.random(n)
    amplitude = rng.standard_normal(n)
    return WallPhantom(z_mm=z, x_mm=x, amplitude=amplitude, shape=shape,
                       centre_mm=(height / 2, width / 2))


def _deform(phantom: WallPhantom, strain_fraction: float, kind: str):
    zc, xc = phantom.centre_mm
    if kind == "radial":
        return zc + (phantom.z_mm - zc) * (1.0 + strain_fraction), phantom.x_mm
    return phantom.z_mm, xc + (phantom.x_mm - xc) * (1.0 + strain_fraction)


def render_frame(z_mm, x_mm, amplitude, shape, params: SpeckleParams,
                 rng: np.random.Generator) -> np.ndarray:
    """One log-compressed B-mode frame (values in [0, 1]) of scatterers at (z, x)."""
    from scipy.ndimage import gaussian_filter

    rows = z_mm / params.pixel_mm
    cols = x_mm / params.pixel_mm
    weight = amplitude * np.exp(-1j * 4.0 * np.pi * z_mm / params.wavelength_mm)
    r0 = np.floor(rows).astype(np.int64)
    c0 = np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    grid = np.zeros(shape, dtype=np.complex128)
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (1, 0, fr * (1 - fc)),
                      (0, 1, (1 - fr) * fc), (1, 1, fr * fc)):
        r, c = r0 + dr, c0 + dc
        ok = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
        np.add.at(grid, (r[ok], c[ok]), weight[ok] * w[ok])
    sigma = (params.psf_axial_mm / params.pixel_mm, params.psf_lateral_mm / params.pixel_mm)
    echo = gaussian_filter(grid.real, sigma) + 1j * gaussian_filter(grid.imag, sigma)
    signal_power = np.mean(np.abs(echo) ** 2)
    noise_sd = np.sqrt(signal_power / 10 ** (params.snr_db / 10) / 2)
    echo += noise_sd * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    envelope = np.abs(echo)
    db = 20 * np.log10(envelope / envelope.max() + 1e-12)
    return np.clip(1.0 + db / params.dynamic_range_db, 0.0, 1.0)


def render_frames(strain_pct: np.ndarray, kind: str, params: SpeckleParams,
                  rng: np.random.Generator) -> tuple[np.ndarray, WallPhantom]:
    """Frames of one wall patch deformed by a strain curve (%), shape (T, H, W)."""
    phantom = make_phantom(params, rng)
    amplitude = phantom.amplitude.copy()
    frames = np.empty((strain_pct.size, *phantom.shape))
    for k, strain in enumerate(strain_pct):
        if k > 0 and params.decorrelation > 0:
            replace = rng.random(amplitude.size) < params.decorrelation
            amplitude[replace] = rng.standard_normal(int(replace.sum()))
        z, x = _deform(phantom, strain / 100.0, kind)
        frames[k] = render_frame(z, x, amplitude, phantom.shape, params, rng)
    return frames, phantom


def _kernel_starts(phantom: WallPhantom, kind: str, params: SpeckleParams) -> np.ndarray:
    """Rest positions (row, col) in pixels of the kernel centres, along the strain axis."""
    zc, xc = (c / params.pixel_mm for c in phantom.centre_mm)
    extent = (params.wall_thickness_mm if kind == "radial" else params.wall_length_mm)
    half = (extent - params.kernel_mm) / 2 / params.pixel_mm
    offsets = np.linspace(-half, half, params.n_kernels)
    if kind == "radial":
        return np.stack([zc + offsets, np.full_like(offsets, xc)], axis=1)
    return np.stack([np.full_like(offsets, zc), xc + offsets], axis=1)


def _peak_offset(left: float, mid: float, right: float) -> float:
    """Sub-pixel offset of a correlation peak from three samples.

    A Gaussian through the three points (a parabola through their logarithms),
    which locks less to whole pixels than a plain parabola on speckle; falls
    back on the parabola when a sample is not positive.
    """
    if min(left, mid, right) > 0:
        left, mid, right = np.log(left), np.log(mid), np.log(right)
    denom = left - 2.0 * mid + right
    return float(0.5 * (left - right) / denom) if denom < 0 else 0.0


def reference_lag_frames(params: SpeckleParams, frame_ms: float) -> int:
    """The reference lag in whole frames (at least 1)."""
    return max(1, int(round(params.reference_lag_ms / frame_ms)))


def track_frames(frames: np.ndarray, starts: np.ndarray, params: SpeckleParams,
                 frame_ms: float = 1000.0 / 60) -> np.ndarray:
    """Frame-to-frame block matching of kernels -> positions (T, n_kernels, 2) in pixels.

    Each kernel (a square template around its current position in frame k-1)
    is searched in frame k by normalized cross-correlation
    (:func:`skimage.feature.match_template`) over +-``search`` pixels; the peak
    is refined to sub-pixel precision by a Gaussian through its neighbours
    along each axis. With a reference lag of m > 1 frames the template comes
    from frame k-m, so a position carries the error of k/m matches instead of k.
    """
    from skimage.feature import match_template

    size = max(8, int(round(params.kernel_mm / params.pixel_mm)))
    lag = reference_lag_frames(params, frame_ms)
    motion_mm = lag * params.max_speed_mm_per_frame * frame_ms / (1000.0 / 60)
    search = max(3, int(np.ceil(motion_mm / params.pixel_mm)) + 1)
    height, width = frames.shape[1:]
    positions = np.empty((frames.shape[0], *starts.shape))
    positions[0] = starts
    half = size // 2
    for k in range(1, frames.shape[0]):
        ref = max(0, k - lag)
        for j in range(starts.shape[0]):
            r = int(round(positions[ref, j, 0]))
            c = int(round(positions[ref, j, 1]))
            r = min(max(r, half + search), height - (size - half) - search)
            c = min(max(c, half + search), width - (size - half) - search)
            template = frames[ref, r - half:r - half + size, c - half:c - half + size]
            window = frames[k, r - half - search:r - half + size + search,
                            c - half - search:c - half + size + search]
            ncc = match_template(window, template)
            i, jj = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
            di = _peak_offset(ncc[i - 1, jj], ncc[i, jj], ncc[i + 1, jj]) \
                if 0 < i < ncc.shape[0] - 1 else 0.0
            dj = _peak_offset(ncc[i, jj - 1], ncc[i, jj], ncc[i, jj + 1]) \
                if 0 < jj < ncc.shape[1] - 1 else 0.0
            # the material under the kernel moved by the template's displacement
            positions[k, j, 0] = positions[ref, j, 0] + (i + di - search)
            positions[k, j, 1] = positions[ref, j, 1] + (jj + dj - search)
    return positions


def _strain_from_positions(positions: np.ndarray, kind: str) -> np.ndarray:
    axis = 0 if kind == "radial" else 1
    rest = positions[0, :, axis]
    centred = rest - rest.mean()
    now = positions[:, :, axis]
    slope = ((now - now.mean(axis=1, keepdims=True)) @ centred) / np.dot(centred, centred)
    return 100.0 * (slope - 1.0)


def _drift_compensate(strain_pct: np.ndarray) -> np.ndarray:
    t = np.arange(strain_pct.size) / max(strain_pct.size - 1, 1)
    return strain_pct - strain_pct[-1] * t


def track_segment(true_strain_pct: np.ndarray, kind: str, params: SpeckleParams,
                  rng: np.random.Generator, *, frame_ms: float = 1000.0 / 60,
                  drift_compensation: bool = True) -> np.ndarray:
    """Render one segment's frames from its true strain curve (%) and track them.

    ``frame_ms`` is the frame interval (ms), which sets the reference lag in frames.

    Returns
    -------
    ndarray, shape (T,)
        Tracked strain (%).
    """
    if kind not in ("radial", "longitudinal"):
        raise ValueError(f"kind must be 'radial' or 'longitudinal', not {kind!r}")
    frames, phantom = render_frames(np.asarray(true_strain_pct, float), kind, params, rng)
    positions = track_frames(frames, _kernel_starts(phantom, kind, params), params, frame_ms)
    strain = _strain_from_positions(positions, kind)
    return _drift_compensate(strain) if drift_compensation else strain


def track_curves(true_strain_pct: np.ndarray, kind: str, params: SpeckleParams,
                 rng: np.random.Generator, progress=None,
                 frame_ms: float = 1000.0 / 60) -> np.ndarray:
    """Speckle-tracked curves for a batch, shape (N, S, T), from the true curves.

    Segments are rendered and tracked one after another from ``rng`` (patient by
    patient, segment by segment), so the result depends only on the generator's
    seed. ``progress`` is called with the number of patients done.
    """
    true = np.asarray(true_strain_pct, float)
    out = np.empty_like(true)
    for i in range(true.shape[0]):
        for s in range(true.shape[1]):
            out[i, s] = track_segment(true[i, s], kind, params, rng, frame_ms=frame_ms)
        if progress is not None:
            progress(i + 1)
    return out


def noise_statistics(tracked: np.ndarray, true: np.ndarray, dt_ms: float) -> dict:
    """Statistics of tracking error (tracked - true), for calibrating the fast curve model.

    Returns
    -------
    dict
        ``sd_pct`` (SD of the error), ``corr_ms`` (its lag-1 correlation time,
        ``-dt / ln(rho)``), ``end_sd_pct`` (SD of the error at the end of the cycle).
    """
    err = np.asarray(tracked) - np.asarray(true)
    centred = err - err.mean(axis=-1, keepdims=True)
    power = float(np.sum(centred**2))
    rho = float(np.sum(centred[..., 1:] * centred[..., :-1]) / power) if power > 0 else 0.0
    corr = -dt_ms / np.log(rho) if 0 < rho < 1 else float("nan")
    return {"sd_pct": float(err.std()), "corr_ms": float(corr),
            "end_sd_pct": float(err[..., -1].std()), "lag1": rho}
