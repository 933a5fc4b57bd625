"""Per-patient activation time per segment: the LBBB pattern, scar, and an eikonal option.

Two models give the time (ms from QRS onset) at which each AHA segment is
electrically activated:

``"pattern"`` (default, numba kernels)
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

Every draw is made by a numba kernel from the block's ``patients`` stream
(:mod:`strainsim.seeding`), patient by patient: :func:`scar_kernel`, then
:func:`sites_kernel`, then :func:`pattern_kernel`. The Python functions are
thin wrappers around them, and the per-block pipeline (:mod:`strainsim.model.block`)
calls the same kernels.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.activation import ActivationParams, simulate_activation
>>> act = simulate_activation(4, np.random.default_rng(0), ActivationParams())
>>> act.activation_ms.shape
(4, 17)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from strainsim.measure.latest import latest_of
from strainsim.params import check_declared, choice, fixed, quantity
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = [
    "ActivationParams",
    "ScarParams",
    "Activation",
    "simulate_activation",
    "draw_scar",
    "pattern_activation",
    "eikonal_activation",
    "ScarRecord",
    "scar_record",
    "scar_kernel",
    "PatternRecord",
    "pattern_record",
    "vonmises",
    "sites_kernel",
    "pattern_row",
    "pattern_kernel",
    "true_latest_kernel",
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

    ischemic_fraction: float = quantity(0.53, unit="fraction", low=0, high=1, doc="Fraction of ischemic patients; in a trial it is the population's (see activation_for).", source="meta-analysis: 53 % ischemic")
    ischemic_scar_segments_mean: float = quantity(3.0, unit="segments", low=0, high=17, doc="Mean scar segments of an ischemic patient; in a trial the population's.", source="stated")
    territory_weights: tuple[float, float, float] = fixed((0.45, 0.30, 0.25), doc="Probabilities of the culprit artery (LAD, LCx, RCA).", source="stated: LAD most often culprit")
    nonischemic_scar_probability: float = quantity(0.10, unit="fraction", low=0, high=1, doc="Chance that a non-ischemic patient has one patchy scar segment.", source="stated")

    def __post_init__(self):
        check_declared(self)
        w = np.asarray(self.territory_weights, float)
        if w.shape != (3,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError("territory_weights must be 3 probabilities summing to 1")


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
        Mean bullseye angle of the latest site (degrees, 0 = lateral, 90 = anterior,
        negative angles towards the inferior wall, so -20 is 340). Fitted inside the
        box from the inferolateral (posterolateral) wall's centre, -30, to the
        anterolateral wall's, +30 (``strainsim calibrate``); the fitted 24.8 degrees
        lies on the anterolateral wall, where most unguided leads go.
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

    model: str = choice("pattern", ("pattern", "eikonal"), doc="Activation model: the LBBB pattern (compiled) or fast marching on a bullseye grid.")
    onset_ms: float = quantity(10.0, unit="ms", low=0, high=200, doc="Septal breakthrough after QRS onset.", source="stated")
    delay_mean_ms: float = quantity(130.0, unit="ms", low=0, high=400, doc="Mean septal-to-late-site delay.", source="Strik 2012 LBBB review")
    delay_sd_ms: float = quantity(35.0, unit="ms", low=0, high=200, doc="SD of that delay across patients.", source="stated")
    late_angle_deg: float = quantity(12.68, unit="degrees", low=-180, high=360, doc="Mean bullseye angle of the latest site (0 lateral, 90 anterior, negative towards inferior).", source="calibrated: strainsim calibrate, inside the lateral and posterolateral walls (Strik 2012)")
    late_angle_kappa: float = quantity(
        40.0, unit="1", low=0, high=100, doc="von Mises concentration of the late site.",
        source="fixed, not identified: the fit ran to the top of its box twice (20, then 40) "
        "and the chi-square is flat from 30 up (docs/calibration.md); at 40 the angle's SD "
        "is 9 degrees, a sixth of a segment's span")
    base_apex_ms: float = quantity(20.0, unit="ms", low=0, high=200, doc="Extra delay of the basal over the apical ring.", source="stated")
    jitter_sd_ms: float = quantity(12.0, unit="ms", low=0, high=200, doc="Per-segment random jitter.", source="stated")
    scar_delay_ms: float = quantity(25.0, unit="ms", low=0, high=200, doc="Extra activation delay of a scar segment (pattern model).", source="stated")
    velocity_mm_per_ms: float = quantity(0.45, unit="m/s", low=0.05, high=5, doc="Conduction velocity (eikonal model).", source="stated")
    velocity_sd: float = quantity(0.08, unit="m/s", low=0, high=2, doc="Between-patient SD of the velocity (eikonal model).", source="stated")
    bullseye_radius_mm: float = quantity(35.0, unit="mm", low=5, high=100, doc="Radius of the bullseye disc (eikonal model).", source="stated")
    scar_conduction: float = quantity(0.25, unit="fraction", low=0, high=1, doc="Scar conduction as a fraction of normal; 0 blocks (eikonal model).", source="stated")
    grid_size: int = quantity(64, unit="pixels", low=16, high=512, doc="Pixels per side of the bullseye grid (eikonal model).", source="stated", integer=True)
    scar: ScarParams = fixed(doc="Scar settings (ScarParams): in a trial, set in [population] and [activation].", factory=ScarParams)

    def __post_init__(self):
        check_declared(self)


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
        out = np.empty(self.scar.shape[0], dtype=np.int64)
        true_latest_kernel(np.ascontiguousarray(self.activation_ms, dtype=np.float64),
                           np.ascontiguousarray(self.scar, dtype=np.bool_), out)
        return out


@numba.njit(cache=True)
def true_latest_kernel(activation_ms, scar, out):
    """The latest-activated non-scar segment (1-17) of each patient by the one rule
    (:mod:`strainsim.measure.latest`; activation times tie only by accident, and then the
    lower segment wins); -1 when every segment is scar."""
    n, n_seg = activation_ms.shape
    no_ties = np.zeros(n_seg)
    allowed = np.empty(n_seg, np.bool_)
    for i in range(n):
        for s in range(n_seg):
            allowed[s] = not scar[i, s]
        out[i] = latest_of(activation_ms[i], no_ties, allowed)


# ---------------------------------------------------------------------------------------
# scar
# ---------------------------------------------------------------------------------------
class ScarRecord(NamedTuple):
    """:class:`ScarParams` and the segment model's geometry as the scar kernel reads them."""

    ischemic_fraction: float
    culprit_cdf: np.ndarray        # (3,) cumulative territory weights (LAD, LCx, RCA)
    scar_segments_mean: float
    patchy_probability: float
    members: np.ndarray            # (3, 17) bool: segments of each territory
    adjacency: np.ndarray          # (17, 17) bool: edge-sharing neighbours


def scar_record(params: ScarParams, model: SegmentModel) -> ScarRecord:
    """The kernel's record of ``params`` on ``model``."""
    cdf = np.cumsum(np.asarray(params.territory_weights, dtype=np.float64))
    territory = np.array([s.territory for s in model.segments])
    members = territory[None, :] == np.array(_TERRITORIES)[:, None]
    return ScarRecord(float(params.ischemic_fraction), cdf / cdf[-1],
                      float(params.ischemic_scar_segments_mean),
                      float(params.nonischemic_scar_probability), members,
                      np.ascontiguousarray(model.adjacency, dtype=np.bool_))


@numba.njit(cache=True)
def scar_kernel(rng, rec, scar_out, ischemic_out):
    """Ischemic status and contiguous scar, patient by patient.

    Each patient draws, in order: ischemic (uniform), the culprit territory
    (inverse CDF of one uniform), the scar size ``max(1, Poisson(mean))``, a
    patchy-scar uniform, the seed segment's uniform, one growth uniform per
    segment and the patchy segment (1-16). An ischemic patient's scar starts at
    a uniformly chosen segment of the culprit territory and grows one segment
    at a time into the neighbour with the smallest growth uniform, inside the
    territory while it has free neighbours there, then beyond. A non-ischemic
    patient has one patchy scar segment with the patchy probability.
    """
    n, n_seg = scar_out.shape
    # arrays taken out of the record once (numba counts references at every access)
    cdf, members, adjacency = rec.culprit_cdf, rec.members, rec.adjacency
    grow_u = np.empty(n_seg)
    frontier = np.empty(n_seg, np.bool_)  # not scar, next to scar
    for i in range(n):
        ischemic = rng.random() < rec.ischemic_fraction
        u = rng.random()
        culprit = 0
        while culprit < cdf.shape[0] - 1 and cdf[culprit] <= u:
            culprit += 1
        target = min(max(1, rng.poisson(rec.scar_segments_mean)), n_seg)
        patchy = rng.random() < rec.patchy_probability
        seed_u = rng.random()
        for s in range(n_seg):
            grow_u[s] = rng.random()
        patchy_segment = rng.integers(1, 17)

        ischemic_out[i] = ischemic
        scar_out[i, :] = False
        if not ischemic:
            if patchy:
                scar_out[i, patchy_segment - 1] = True
            continue
        member = members[culprit]
        rank = np.int64(seed_u * np.sum(member))
        choice = 0
        seen = 0
        for s in range(n_seg):
            seen += member[s]
            if seen > rank:
                choice = s
                break
        frontier[:] = False
        size = 0
        while True:
            scar_out[i, choice] = True
            size += 1
            frontier[choice] = False
            for t in range(n_seg):
                if adjacency[choice, t] and not scar_out[i, t]:
                    frontier[t] = True
            if size >= target:
                break
            in_territory = False
            for s in range(n_seg):
                in_territory |= frontier[s] and member[s]
            best = np.inf
            for s in range(n_seg):
                if frontier[s] and (member[s] or not in_territory) and grow_u[s] < best:
                    best = grow_u[s]
                    choice = s


def draw_scar(n: int, rng: np.random.Generator, params: ScarParams,
              model: SegmentModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ischemic status and contiguous scar in one coronary territory (see
    :func:`scar_kernel`).

    Returns
    -------
    scar : ndarray of bool, shape (n, 17)
    ischemic : ndarray of bool, shape (n,)
    """
    model = model or load_segments()
    scar = np.empty((n, N_SEGMENTS), dtype=np.bool_)
    ischemic = np.empty(n, dtype=np.bool_)
    scar_kernel(rng, scar_record(params, model), scar, ischemic)
    return scar, ischemic


# ---------------------------------------------------------------------------------------
# the LBBB pattern
# ---------------------------------------------------------------------------------------
class PatternRecord(NamedTuple):
    """:class:`ActivationParams` and the segment geometry as the pattern kernels read them."""

    onset_ms: float
    delay_mean_ms: float
    delay_sd_ms: float
    late_angle_rad: float
    late_angle_kappa: float
    jitter_sd_ms: float
    scar_delay_ms: float
    centre_rad: np.ndarray      # (17,) bullseye angle of each segment's centre
    ring_term_ms: np.ndarray    # (17,) base-to-apex term
    apical: np.ndarray          # (4,) 0-based apical ring segments


def ring_terms(params: ActivationParams, model: SegmentModel) -> np.ndarray:
    """Base-to-apex term of each segment (ms): basal ``+base_apex/2``, mid 0, apical
    and apex ``-base_apex/2``."""
    half = {"basal": 0.5, "mid": 0.0, "apical": -0.5, "apex": -0.5}
    return np.array([half[s.ring] for s in model.segments]) * params.base_apex_ms


def pattern_record(params: ActivationParams, model: SegmentModel) -> PatternRecord:
    """The kernels' record of ``params`` on ``model``."""
    return PatternRecord(
        float(params.onset_ms), float(params.delay_mean_ms), float(params.delay_sd_ms),
        math.radians(params.late_angle_deg), float(params.late_angle_kappa),
        float(params.jitter_sd_ms), float(params.scar_delay_ms),
        np.radians([s.angle_centre for s in model.segments]), ring_terms(params, model),
        np.ascontiguousarray(model.numbers(ring="apical") - 1, dtype=np.int64))


@numba.njit(cache=True)
def vonmises(rng, mu, kappa):
    """One draw of the von Mises distribution (radians, in ``[-pi, pi)``).

    Best and Fisher's rejection sampler (Appl. Statist. 1979;28:152-157):
    a wrapped Cauchy envelope with ``rho = (tau - sqrt(2 tau)) / (2 kappa)``,
    ``tau = 1 + sqrt(1 + 4 kappa^2)``. ``kappa = 0`` is the uniform circle.
    """
    if kappa < 1e-8:
        angle = mu + math.pi * (2.0 * rng.random() - 1.0)
    else:
        tau = 1.0 + math.sqrt(1.0 + 4.0 * kappa * kappa)
        rho = (tau - math.sqrt(2.0 * tau)) / (2.0 * kappa)
        r = (1.0 + rho * rho) / (2.0 * rho)
        while True:
            z = math.cos(math.pi * rng.random())
            f = (1.0 + r * z) / (r + z)
            c = kappa * (r - f)
            u = rng.random()
            if c * (2.0 - c) > u or math.log(c / u) + 1.0 >= c:
                break
        angle = mu + (math.acos(min(max(f, -1.0), 1.0)) if rng.random() < 0.5
                      else -math.acos(min(max(f, -1.0), 1.0)))
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@numba.njit(cache=True)
def sites_kernel(rng, rec, late_out, delay_out):
    """Each patient's late site (von Mises angle, degrees in [0, 360)) and septal-to-late
    delay (normal, at least 20 ms), drawn in that order patient by patient."""
    for i in range(late_out.shape[0]):
        late_out[i] = math.degrees(vonmises(rng, rec.late_angle_rad, rec.late_angle_kappa)) % 360.0
        delay_out[i] = max(20.0, rec.delay_mean_ms + rec.delay_sd_ms * rng.standard_normal())


@numba.njit(cache=True)
def pattern_row(rec, late_angle_deg, delay_ms, scar_row, jitter_row, times_out):
    """One patient's LBBB activation times (ms) from its late site, delay, scar and jitter.

    Segment ``s``: ``onset + delay * (1 + cos(theta_s - phi)) / 2`` + ring term +
    ``scar_delay`` on scar + ``jitter_sd * jitter_s``, never before QRS onset;
    the apex takes the mean of the apical ring plus its own jitter.
    """
    n_seg = times_out.shape[0]
    centre_rad, ring_term_ms, apical = rec.centre_rad, rec.ring_term_ms, rec.apical
    late_rad = math.radians(late_angle_deg)
    for s in range(n_seg):
        times_out[s] = (rec.onset_ms
                        + delay_ms * (1.0 + math.cos(centre_rad[s] - late_rad)) / 2.0
                        + ring_term_ms[s] + rec.jitter_sd_ms * jitter_row[s]
                        + (rec.scar_delay_ms if scar_row[s] else 0.0))
    apex = n_seg - 1
    total = 0.0
    for k in range(apical.shape[0]):
        total += times_out[apical[k]]
    times_out[apex] = total / apical.shape[0] + rec.jitter_sd_ms * jitter_row[apex]
    for s in range(n_seg):
        times_out[s] = max(times_out[s], 0.0)


@numba.njit(cache=True)
def pattern_kernel(rng, rec, scar, late, delay, times_out):
    """Activation times of every patient: 17 standard-normal jitters each, then
    :func:`pattern_row`."""
    n, n_seg = times_out.shape
    jitter = np.empty(n_seg)
    for i in range(n):
        for s in range(n_seg):
            jitter[s] = rng.standard_normal()
        pattern_row(rec, late[i], delay[i], scar[i], jitter, times_out[i])


def pattern_activation(late_angle_deg: np.ndarray, delay_ms: np.ndarray, scar: np.ndarray,
                       jitter: np.ndarray, params: ActivationParams,
                       model: SegmentModel | None = None) -> np.ndarray:
    """LBBB activation times (ms) from given draws (see :func:`pattern_row`).

    Parameters
    ----------
    late_angle_deg, delay_ms : ndarray, shape (n,)
    scar : ndarray of bool, shape (n, 17)
    jitter : ndarray, shape (n, 17)
        Standard-normal draws.

    Returns
    -------
    ndarray, shape (n, 17)
    """
    model = model or load_segments()
    rec = pattern_record(params, model)
    late = np.asarray(late_angle_deg, dtype=np.float64)
    delay = np.asarray(delay_ms, dtype=np.float64)
    scar = np.ascontiguousarray(scar, dtype=np.bool_)
    jitter = np.ascontiguousarray(jitter, dtype=np.float64)
    out = np.empty(scar.shape)
    for i in range(scar.shape[0]):
        pattern_row(rec, float(late[i]), float(delay[i]), scar[i], jitter[i], out[i])
    return out


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

    Draws from ``rng``: scar and ischemic status (:func:`scar_kernel`), late
    sites and delays (:func:`sites_kernel`), then the per-segment jitter
    (pattern model, :func:`pattern_kernel`) or each patient's conduction
    velocity (eikonal model).

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
        scar = np.ascontiguousarray(scar, dtype=np.bool_)
        if scar.shape != (n, N_SEGMENTS):
            raise ValueError(f"scar must have shape ({n}, {N_SEGMENTS})")
    late, delay = np.empty(n), np.empty(n)
    rec = pattern_record(params, model)
    sites_kernel(rng, rec, late, delay)
    if params.model == "pattern":
        times = np.empty((n, N_SEGMENTS))
        pattern_kernel(rng, rec, scar, late, delay, times)
    else:
        velocity = np.maximum(0.1, params.velocity_mm_per_ms
                              + params.velocity_sd * rng.standard_normal(n))
        times = eikonal_activation(late, velocity, scar, params, model)
        # the eikonal model's delay is what the front produced, septum to latest segment
        delay = times.max(axis=1) - times.min(axis=1)
    return Activation(activation_ms=times, scar=scar, ischemic=ischemic,
                      late_angle_deg=late, delay_ms=delay)
