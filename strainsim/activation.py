"""Per-patient activation time per segment: the LBBB pattern, scar, and an eikonal option.

Two models give the time (ms from QRS onset) at which each AHA segment is
electrically activated:

``"pattern"`` (default, vectorized)
    Left bundle branch block as a wavefront that breaks through on the septum
    and travels around the anterior and inferior walls to a late site on the
    opposite side. Each patient draws the late site's angle (von Mises around
    the posterolateral wall), the septal-to-lateral delay, a base-to-apex
    gradient and per-segment jitter; scar segments conduct late.

``"eikonal"``
    The same breakthrough and late site, but the activation front is solved
    on a polar (bullseye) grid of the LV with scikit-image's
    :class:`skimage.graph.MCP_Geometric` (fast marching of a minimum-cost
    path). Scar pixels conduct slowly or not at all, so fronts detour around
    them. Pixel times are averaged per segment.

Examples
--------
>>> import numpy as np
>>> from strainsim.activation import ActivationParams, simulate_activation
>>> act = simulate_activation(4, np.random.default_rng(0), ActivationParams())
>>> act.activation_ms.shape
(4, 17)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from .segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = [
    "ActivationParams",
    "ScarParams",
    "Activation",
    "simulate_activation",
    "draw_scar",
    "pattern_activation",
    "eikonal_activation",
]

_TERRITORIES = ("LAD", "LCx", "RCA")


@dataclass(frozen=True)
class ScarParams:
    """How much scar patients have and where.

    Attributes
    ----------
    ischemic_fraction : float
        Fraction of patients with ischemic cardiomyopathy (0-1).
    ischemic_scar_segments_mean : float
        Mean number of scar segments in an ischemic patient (Poisson, at least 1).
    territory_weights : tuple of float
        Probabilities of the culprit artery (LAD, LCx, RCA).
    nonischemic_scar_probability : float
        Chance that a non-ischemic patient has one patchy scar segment.
    """

    ischemic_fraction: float = 0.53
    ischemic_scar_segments_mean: float = 3.0
    territory_weights: tuple[float, float, float] = (0.45, 0.30, 0.25)
    nonischemic_scar_probability: float = 0.10

    def __post_init__(self):
        if not 0.0 <= self.ischemic_fraction <= 1.0:
            raise ValueError("ischemic_fraction must be in [0, 1]")
        if self.ischemic_scar_segments_mean < 0:
            raise ValueError("ischemic_scar_segments_mean must be >= 0")
        w = np.asarray(self.territory_weights, float)
        if w.shape != (3,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError("territory_weights must be 3 probabilities summing to 1")
        if not 0.0 <= self.nonischemic_scar_probability <= 1.0:
            raise ValueError("nonischemic_scar_probability must be in [0, 1]")


@dataclass(frozen=True)
class ActivationParams:
    """Parameters of the LBBB activation model.

    Attributes
    ----------
    model : {"pattern", "eikonal"}
        Which activation model to use.
    onset_ms : float
        Time of septal breakthrough after QRS onset (ms).
    delay_mean_ms, delay_sd_ms : float
        Septal-to-late-site delay across patients (ms), truncated at 20 ms.
    late_angle_deg : float
        Mean bullseye angle of the latest site (degrees, 0 = lateral, 90 = anterior).
        The default 340 degrees lies on the inferolateral (posterolateral) wall.
    late_angle_kappa : float
        von Mises concentration of that angle across patients (larger = less spread).
    base_apex_ms : float
        Extra delay of the basal ring over the apical ring (ms).
    jitter_sd_ms : float
        Per-segment random jitter (ms).
    scar_delay_ms : float
        Extra activation delay of a scar segment in the pattern model (ms).
    velocity_mm_per_ms, velocity_sd : float
        Eikonal model: conduction velocity (mm/ms = m/s) and its between-patient SD.
    bullseye_radius_mm : float
        Eikonal model: physical radius of the bullseye disc (mm).
    scar_conduction : float
        Eikonal model: scar conduction as a fraction of normal; 0 blocks conduction.
    grid_size : int
        Eikonal model: pixels per side of the bullseye grid.
    scar : ScarParams
    """

    model: str = "pattern"
    onset_ms: float = 10.0
    delay_mean_ms: float = 130.0
    delay_sd_ms: float = 35.0
    late_angle_deg: float = 340.0
    late_angle_kappa: float = 1.0
    base_apex_ms: float = 20.0
    jitter_sd_ms: float = 12.0
    scar_delay_ms: float = 25.0
    velocity_mm_per_ms: float = 0.45
    velocity_sd: float = 0.08
    bullseye_radius_mm: float = 35.0
    scar_conduction: float = 0.25
    grid_size: int = 64
    scar: ScarParams = field(default_factory=ScarParams)

    def __post_init__(self):
        if self.model not in ("pattern", "eikonal"):
            raise ValueError(f"model must be 'pattern' or 'eikonal', not {self.model!r}")
        for name in ("delay_mean_ms", "delay_sd_ms", "jitter_sd_ms", "base_apex_ms",
                     "scar_delay_ms", "late_angle_kappa", "velocity_sd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.velocity_mm_per_ms <= 0 or self.bullseye_radius_mm <= 0:
            raise ValueError("velocity_mm_per_ms and bullseye_radius_mm must be > 0")
        if not 0.0 <= self.scar_conduction <= 1.0:
            raise ValueError("scar_conduction must be in [0, 1]")
        if self.grid_size < 16:
            raise ValueError("grid_size must be >= 16")


@dataclass(frozen=True)
class Activation:
    """Activation of a batch of patients.

    Attributes
    ----------
    activation_ms : ndarray, shape (n, 17)
        Electrical activation time of each segment after QRS onset (ms).
    scar : ndarray of bool, shape (n, 17)
        True where the segment is scar.
    ischemic : ndarray of bool, shape (n,)
        Ischemic cardiomyopathy.
    late_angle_deg : ndarray, shape (n,)
        Bullseye angle of the patient's latest site (degrees).
    delay_ms : ndarray, shape (n,)
        The patient's septal-to-late-site delay parameter (ms).
    """

    activation_ms: np.ndarray
    scar: np.ndarray
    ischemic: np.ndarray
    late_angle_deg: np.ndarray
    delay_ms: np.ndarray

    @property
    def true_latest_segment(self) -> np.ndarray:
        """Latest-activated non-scar segment (1-17) per patient; -1 when all are scar."""
        masked = np.where(self.scar, -np.inf, self.activation_ms)
        latest = np.argmax(masked, axis=1) + 1
        return np.where(np.all(self.scar, axis=1), -1, latest)


def draw_scar(n: int, rng: np.random.Generator, params: ScarParams,
              model: SegmentModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ischemic status and contiguous scar in one coronary territory.

    Ischemic patients get ``max(1, Poisson(mean))`` scar segments grown from a
    random seed segment of the culprit territory through neighbours in that
    territory (then beyond it if the territory is full). Non-ischemic patients
    get one patchy scar segment with a small probability.

    Returns
    -------
    scar : ndarray of bool, shape (n, 17)
    ischemic : ndarray of bool, shape (n,)
    """
    model = model or load_segments()
    territory = np.array([s.territory for s in model.segments])
    ischemic = rng.random(n) < params.ischemic_fraction
    culprit = rng.choice(3, size=n, p=np.asarray(params.territory_weights))
    n_scar = np.maximum(1, rng.poisson(params.ischemic_scar_segments_mean, size=n))
    patchy = rng.random(n) < params.nonischemic_scar_probability
    seed_u = rng.random(n)
    grow_u = rng.random((n, N_SEGMENTS))
    patchy_segment = rng.integers(1, 17, size=n)  # segments 1-16

    territories = np.array(_TERRITORIES)
    in_territory = territory[None, :] == territories[culprit][:, None]    # (n, 17)
    # the seed: member floor(u * count) of the culprit territory, in segment order
    counts = in_territory.sum(axis=1)
    rank = (seed_u * counts).astype(np.int64)
    seed_segment = np.argmax(np.cumsum(in_territory, axis=1) > rank[:, None], axis=1)
    scar = np.zeros((n, N_SEGMENTS), dtype=bool)
    rows = np.flatnonzero(ischemic)
    scar[rows, seed_segment[rows]] = True
    target_size = np.where(ischemic, np.minimum(n_scar, N_SEGMENTS), 0)
    adjacency = model.adjacency.astype(np.int64)
    while True:  # grow every unfinished scar by one segment per pass
        grow = np.flatnonzero(scar.sum(axis=1) < target_size)
        if grow.size == 0:
            break
        current = scar[grow]
        frontier = ((current.astype(np.int64) @ adjacency) > 0) & ~current
        preferred = frontier & in_territory[grow]
        pool = np.where(preferred.any(axis=1, keepdims=True), preferred, frontier)
        # the pool segment with the smallest pre-drawn uniform grows next
        choice = np.argmin(np.where(pool, grow_u[grow], np.inf), axis=1)
        scar[grow, choice] = True
    nonisch_patchy = ~ischemic & patchy
    scar[np.flatnonzero(nonisch_patchy), patchy_segment[nonisch_patchy] - 1] = True
    return scar, ischemic


def _late_angles(n: int, rng: np.random.Generator, params: ActivationParams) -> np.ndarray:
    mu = np.radians(params.late_angle_deg)
    return np.degrees(rng.vonmises(mu, params.late_angle_kappa, size=n)) % 360.0


def _delays(n: int, rng: np.random.Generator, params: ActivationParams) -> np.ndarray:
    return np.maximum(20.0, params.delay_mean_ms + params.delay_sd_ms * rng.standard_normal(n))


def ring_terms(params: ActivationParams, model: SegmentModel) -> np.ndarray:
    """Base-to-apex term of each segment (ms): basal ``+base_apex/2``, mid 0, apical
    and apex ``-base_apex/2``."""
    half = {"basal": 0.5, "mid": 0.0, "apical": -0.5, "apex": -0.5}
    return np.array([half[s.ring] for s in model.segments]) * params.base_apex_ms


def pattern_activation(late_angle_deg: np.ndarray, delay_ms: np.ndarray, scar: np.ndarray,
                       jitter: np.ndarray, params: ActivationParams,
                       model: SegmentModel | None = None) -> np.ndarray:
    """LBBB activation times from a patient's late site, delay, scar and jitter draws.

    The time of segment ``s`` is ``onset + delay * (1 + cos(theta_s - phi)) / 2``
    plus a ring term (basal ``+base_apex/2``, apical ``-base_apex/2``), the scar
    delay, and ``jitter_sd * jitter``; ``theta_s`` is the segment's bullseye
    angle and ``phi`` the late site. The apex takes the mean of the apical ring.

    Parameters
    ----------
    late_angle_deg, delay_ms : ndarray, shape (n,)
    scar : ndarray of bool, shape (n, 17)
    jitter : ndarray, shape (n, 17)
        Standard-normal draws.

    Returns
    -------
    ndarray, shape (n, 17)
        Activation times (ms), never before QRS onset.
    """
    model = model or load_segments()
    centre = np.radians([s.angle_centre for s in model.segments])
    ring_term = ring_terms(params, model)
    phase = centre[None, :] - np.radians(late_angle_deg)[:, None]
    times = (params.onset_ms + delay_ms[:, None] * (1.0 + np.cos(phase)) / 2.0
             + ring_term[None, :] + params.jitter_sd_ms * jitter
             + params.scar_delay_ms * scar)
    apex = N_SEGMENTS - 1
    apical = model.numbers(ring="apical") - 1
    times[:, apex] = times[:, apical].mean(axis=1) + params.jitter_sd_ms * jitter[:, apex]
    return np.maximum(times, 0.0)


def eikonal_activation(late_angle_deg: np.ndarray, velocity_mm_per_ms: np.ndarray,
                       scar: np.ndarray, params: ActivationParams,
                       model: SegmentModel | None = None) -> np.ndarray:
    """Activation times by fast marching on a bullseye grid (scikit-image MCP_Geometric).

    The front starts on the septum opposite the late site (a 60-degree arc of the
    mid and basal rings) at ``params.onset_ms`` and travels at the patient's
    conduction velocity; scar pixels conduct at ``params.scar_conduction`` times
    that speed (0 = blocked; blocked pixels take the time of the nearest
    conducting pixel). Each segment gets the mean time of its pixels.

    Parameters
    ----------
    late_angle_deg, velocity_mm_per_ms : ndarray, shape (n,)
    scar : ndarray of bool, shape (n, 17)

    Returns
    -------
    ndarray, shape (n, 17)
        Activation times (ms).
    """
    from scipy import ndimage
    from skimage.graph import MCP_Geometric

    model = model or load_segments()
    size = params.grid_size
    labels = model.label_grid(size)
    inside = labels > 0
    coords = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    radius = np.hypot(coords[None, :], coords[:, None])
    angle = np.degrees(np.arctan2(-coords[:, None], coords[None, :])) % 360.0
    pixel_mm = 2.0 * params.bullseye_radius_mm / size
    flat_labels = labels.ravel()
    counts = np.bincount(flat_labels, minlength=N_SEGMENTS + 1)[1:]

    out = np.empty(scar.shape, dtype=float)
    for i in range(scar.shape[0]):
        slowness = np.full((size, size), np.inf)
        slowness[inside] = 1.0 / velocity_mm_per_ms[i]
        scar_pixels = np.isin(labels, np.flatnonzero(scar[i]) + 1)
        if params.scar_conduction > 0:
            slowness[scar_pixels] /= params.scar_conduction
        else:
            slowness[scar_pixels] = np.inf
        early = (late_angle_deg[i] + 180.0) % 360.0
        off = np.abs((angle - early + 180.0) % 360.0 - 180.0)
        starts_mask = (off <= 30.0) & (radius >= 0.45) & (radius < 0.95) & np.isfinite(slowness)
        if not starts_mask.any():  # the whole septal arc is blocked scar: start at its edge
            starts_mask = (off <= 60.0) & np.isfinite(slowness)
        mcp = MCP_Geometric(slowness, sampling=(pixel_mm, pixel_mm))
        times, _ = mcp.find_costs(np.argwhere(starts_mask))
        reached = np.isfinite(times) & inside
        if not reached[inside].all():
            idx = ndimage.distance_transform_edt(~reached, return_distances=False,
                                                 return_indices=True)
            times = times[idx[0], idx[1]]
        sums = np.bincount(flat_labels, weights=np.where(inside, times, 0.0).ravel(),
                           minlength=N_SEGMENTS + 1)[1:]
        out[i] = params.onset_ms + sums / counts
    return out


def simulate_activation(n: int, rng: np.random.Generator,
                        params: ActivationParams | None = None,
                        model: SegmentModel | None = None,
                        scar: np.ndarray | None = None) -> Activation:
    """Simulate ``n`` LBBB patients' activation and scar.

    Draws, in a fixed order from ``rng``: scar and ischemic status, late-site
    angle, delay, then the per-segment jitter (pattern model) or the
    conduction velocity (eikonal model).

    Parameters
    ----------
    n : int
        Number of patients.
    rng : numpy.random.Generator
    params : ActivationParams, optional
    model : SegmentModel, optional
    scar : ndarray of bool, shape (n, 17), optional
        Use this scar instead of the drawn one (the draws still happen, so the
        other random quantities are those of the same seed).

    Returns
    -------
    Activation
    """
    params = params or ActivationParams()
    model = model or load_segments()
    drawn_scar, ischemic = draw_scar(n, rng, params.scar, model)
    if scar is None:
        scar = drawn_scar
    else:
        scar = np.asarray(scar, dtype=bool)
        if scar.shape != (n, N_SEGMENTS):
            raise ValueError(f"scar must have shape ({n}, {N_SEGMENTS})")
    late = _late_angles(n, rng, params)
    delay = _delays(n, rng, params)
    if params.model == "pattern":
        jitter = rng.standard_normal((n, N_SEGMENTS))
        times = pattern_activation(late, delay, scar, jitter, params, model)
    else:
        velocity = np.maximum(0.1, params.velocity_mm_per_ms
                              + params.velocity_sd * rng.standard_normal(n))
        times = eikonal_activation(late, velocity, scar, params, model)
        # the eikonal model's delay is what the front produced, septum to latest segment
        delay = times.max(axis=1) - times.min(axis=1)
    return Activation(activation_ms=times, scar=scar, ischemic=ischemic,
                      late_angle_deg=late, delay_ms=delay)


# ---------------------------------------------------------------------------------------
# numba kernels of the pattern model's draws and times. They consume a NumPy Generator in
# the order of draw_scar / simulate_activation above (their plain-numpy twins) and give
# the same numbers; strainsim.fused strings them together per seed block.
# ---------------------------------------------------------------------------------------
def scar_constants(params: ScarParams, model: SegmentModel):
    """Arrays the scar kernel needs: the culprit CDF and territory membership (3, 17).

    The CDF is built as ``Generator.choice`` builds it (cumulative sum, then
    divided by its last entry), so the kernel's culprits are ``choice``'s.
    """
    cdf = np.asarray(params.territory_weights, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    territory = np.array([s.territory for s in model.segments])
    members = territory[None, :] == np.array(_TERRITORIES)[:, None]
    return cdf, members


@numba.njit(cache=True)
def draw_scar_kernel(rng, ischemic_fraction, culprit_cdf, scar_segments_mean,
                     patchy_probability, members, adjacency, scar_out, ischemic_out):
    """Kernel twin of :func:`draw_scar`: fills ``scar_out`` (n, 17) and ``ischemic_out`` (n,)."""
    n, n_seg = scar_out.shape
    culprit = np.empty(n, np.int64)
    n_scar = np.empty(n, np.int64)
    patchy = np.empty(n, np.bool_)
    seed_u = np.empty(n)
    grow_u = np.empty((n, n_seg))
    patchy_segment = np.empty(n, np.int64)
    for i in range(n):
        ischemic_out[i] = rng.random() < ischemic_fraction
    for i in range(n):  # Generator.choice(3, p=...): count of CDF entries <= u
        u = rng.random()
        c = 0
        for k in range(culprit_cdf.shape[0]):
            if culprit_cdf[k] <= u:
                c += 1
        culprit[i] = c
    for i in range(n):
        n_scar[i] = max(1, rng.poisson(scar_segments_mean))
    for i in range(n):
        patchy[i] = rng.random() < patchy_probability
    for i in range(n):
        seed_u[i] = rng.random()
    for i in range(n):
        for s in range(n_seg):
            grow_u[i, s] = rng.random()
    for i in range(n):
        patchy_segment[i] = rng.integers(1, 17)

    frontier = np.empty(n_seg, np.bool_)  # not scar, next to scar
    for i in range(n):
        for s in range(n_seg):
            scar_out[i, s] = False
        member = members[culprit[i]]
        if ischemic_out[i]:
            count = 0
            for s in range(n_seg):
                count += member[s]
            rank = np.int64(seed_u[i] * count)
            seed = 0
            seen = 0
            for s in range(n_seg):
                seen += member[s]
                if seen > rank:
                    seed = s
                    break
            size = 0
            target = min(n_scar[i], n_seg)
            frontier[:] = False
            choice = seed
            while True:
                if not scar_out[i, choice]:
                    size += 1
                scar_out[i, choice] = True
                frontier[choice] = False
                for t in range(n_seg):
                    if adjacency[choice, t] and not scar_out[i, t]:
                        frontier[t] = True
                if size >= target:
                    break
                # grow by the frontier segment with the smallest draw, in the culprit
                # territory while it has one there
                any_preferred = False
                for s in range(n_seg):
                    any_preferred |= frontier[s] and member[s]
                choice = 0
                best = np.inf
                for s in range(n_seg):
                    ok = frontier[s] and (member[s] or not any_preferred)
                    if ok and grow_u[i, s] < best:
                        best = grow_u[i, s]
                        choice = s
        elif patchy[i]:
            scar_out[i, patchy_segment[i] - 1] = True


@numba.njit(cache=True)
def vonmises(rng, mu, kappa):
    """One von Mises draw, as ``Generator.vonmises`` makes it (Best and Fisher's method)."""
    if kappa < 1e-8:
        return math.pi * (2.0 * rng.random() - 1.0)
    if kappa < 1e-5:
        s = 1.0 / kappa + kappa
    elif kappa <= 1e6:
        r = 1.0 + math.sqrt(1.0 + 4.0 * kappa * kappa)
        rho = (r - math.sqrt(2.0 * r)) / (2.0 * kappa)
        s = (1.0 + rho * rho) / (2.0 * rho)
    else:  # a wrapped normal for very large kappa
        x = mu + math.sqrt(1.0 / kappa) * rng.standard_normal()
        if x < -math.pi:
            x += 2.0 * math.pi
        if x > math.pi:
            x -= 2.0 * math.pi
        return x
    while True:
        u = rng.random()
        z = math.cos(math.pi * u)
        w = (1.0 + s * z) / (s + z)
        y = kappa * (s - w)
        v = rng.random()
        if y * (2.0 - y) - v >= 0.0 or math.log(y / v) + 1.0 - y >= 0.0:
            break
    x = math.acos(w)
    if rng.random() < 0.5:
        x = -x
    x += mu
    wrapped = (abs(x) + math.pi) % (2.0 * math.pi) - math.pi
    return -wrapped if x < 0.0 else wrapped


@numba.njit(cache=True)
def pattern_kernel(rng, onset_ms, delay_mean_ms, delay_sd_ms, late_angle_rad, kappa,
                   jitter_sd_ms, scar_delay_ms, centre_rad, ring_term_ms, apical, scar,
                   late_out, delay_out, times_out):
    """Kernel twin of the pattern branch of :func:`simulate_activation` after the scar.

    Draws the late-site angles, the delays and the jitter, and fills
    ``late_out`` (degrees), ``delay_out`` and ``times_out`` (n, 17) (ms).
    """
    n, n_seg = times_out.shape
    for i in range(n):
        late_out[i] = (vonmises(rng, late_angle_rad, kappa) * (180.0 / np.pi)) % 360.0
    for i in range(n):
        delay_out[i] = max(20.0, delay_mean_ms + delay_sd_ms * rng.standard_normal())
    apex = n_seg - 1
    for i in range(n):
        late_rad = late_out[i] * (np.pi / 180.0)
        for s in range(n_seg):
            jitter = rng.standard_normal()
            times = (onset_ms + delay_out[i] * (1.0 + math.cos(centre_rad[s] - late_rad)) / 2.0
                     + ring_term_ms[s] + jitter_sd_ms * jitter
                     + scar_delay_ms * (1.0 if scar[i, s] else 0.0))
            if s == apex:  # the apex: mean of the apical ring (numpy sums 4 in order)
                total = times_out[i, apical[0]]
                for k in range(1, apical.shape[0]):
                    total += times_out[i, apical[k]]
                times = total / apical.shape[0] + jitter_sd_ms * jitter
            times_out[i, s] = times
        for s in range(n_seg):
            times_out[i, s] = max(times_out[i, s], 0.0)
