"""Activation under biventricular pacing: wavefronts from the RV and LV leads on the
segment graph, fused with the patient's own (LBBB) activation.

Each patient is paced at QRS onset from an RV site and from its LV lead's segment.
A paced wavefront spreads from segment to neighbouring segment (the AHA model's
edge-sharing neighbours) at the myocardial conduction velocity; crossing a
segment takes the time to travel the distance between neighbouring segment
centres on the bullseye, half in each segment, slowed ``1 / scar_conduction``
times in a scar segment. A lead on scar captures late (``scar_capture_delay_ms``).
Each segment activates at the earliest of its intrinsic time and the two paced
fronts (fusion), computed by Dijkstra's shortest paths on the 17-segment graph.

Per patient the stage gives the paced activation time of every segment, the total
activation time (the latest segment's activation, ms from QRS onset) intrinsic and
paced, its reduction, the residual dyssynchrony (SD of the paced activation over
the 12 basal and mid segments), and the share of the late-activated myocardium's
activation time that pacing removes: over the latest third (at least one) of the
viable basal and mid segments by intrinsic activation, (mean intrinsic - mean
paced) / mean intrinsic (``late_removed_fraction``, what remodelling follows,
:mod:`strainsim.model.outcomes`). In silico CRT studies found the reduction of
total activation time to track the acute haemodynamic response; here both are
computed, not assumed, so a lead near scar or close to the septum can advance the
late wall less than a lead on a less late but healthy segment.

The stage draws no random numbers: a new lead position changes the paced
activation and nothing else.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.pacing import PacingParams, paced_activation
>>> from strainsim.segments import load_segments
>>> intrinsic = np.full((1, 17), 60.0)
>>> intrinsic[0, [4, 5, 10, 11]] = 180.0            # a late lateral wall
>>> paced = paced_activation(intrinsic, np.zeros((1, 17), bool), np.array([11]),
...                          PacingParams(), load_segments())
>>> bool(paced.total_paced_ms[0] < paced.total_intrinsic_ms[0])
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from strainsim.params import check_declared, quantity
from strainsim.segments import N_SEGMENTS, SegmentModel

__all__ = ["PacingParams", "PacingRecord", "pacing_record", "paced_kernel", "rv_front_kernel",
           "PacedActivation", "paced_activation", "TOTALS"]


@dataclass(frozen=True)
class PacingParams:
    """Biventricular pacing on the segment graph.

    Attributes
    ----------
    rv_segment : int
        Segment the RV lead captures (14, apical septal: an RV apical lead).
    velocity_mm_per_ms : float
        Myocardial conduction velocity of a paced front (m/s = mm/ms).
    scar_conduction : float
        Conduction in scar as a fraction of normal.
    scar_capture_delay_ms : float
        Extra delay of capture when the LV lead sits on scar.
    bullseye_radius_mm : float
        Radius of the bullseye disc the segment centres are placed on (mm).
    """

    rv_segment: int = quantity(14, unit="segment", low=1, high=N_SEGMENTS, integer=True,
                               doc="Segment the RV lead captures (an RV apical lead).",
                               source="stated: RV apical pacing, the trials' usual RV site")
    velocity_mm_per_ms: float = quantity(
        0.5, unit="m/s", low=0.1, high=2.0,
        doc="Conduction velocity of a paced wavefront through working myocardium.",
        source="stated: cell-to-cell conduction in myocardium is 0.3-0.8 m/s")
    scar_conduction: float = quantity(
        0.25, unit="fraction", low=0.01, high=1.0,
        doc="Conduction in scar as a fraction of normal.",
        source="stated: the eikonal model's value (ActivationParams.scar_conduction)")
    rv_delay_ms: float = quantity(
        40.0, unit="ms", low=0.0, high=150.0,
        doc="Time from RV pacing to activation of the LV septal segment it faces.",
        source="stated: transseptal conduction after RV pacing")
    scar_capture_delay_ms: float = quantity(
        40.0, unit="ms", low=0.0, high=200.0,
        doc="Extra delay of LV capture from a lead on scar.",
        source="stated: high thresholds and slow exit from scar")
    bullseye_radius_mm: float = quantity(
        35.0, unit="mm", low=5.0, high=100.0,
        doc="Radius of the bullseye disc the segment centres sit on.",
        source="stated: the eikonal model's value (ActivationParams.bullseye_radius_mm)")

    def __post_init__(self):
        check_declared(self)


class PacingRecord(NamedTuple):
    """:class:`PacingParams` and the segment graph as the pacing kernel reads them."""

    rv: int                       # 0-based RV segment
    rv_delay_ms: float            # RV pacing to LV septal activation (ms)
    edge_ms: np.ndarray           # (17, 17) healthy crossing time between neighbours (ms)
    adjacency: np.ndarray         # (17, 17) bool
    neighbours: np.ndarray        # (17, max degree) int64: 0-based neighbours, -1 padded
    scar_factor: float            # slowing in scar (1 / scar_conduction)
    scar_capture_delay_ms: float
    basal_mid: np.ndarray         # 0-based basal and mid segments
    healthy_ms: np.ndarray        # (17, 17) a front from each segment at 0 ms, no scar
    rv_healthy_ms: np.ndarray     # (17,) the RV front (from rv_delay_ms), no scar


def _centres_mm(model: SegmentModel, radius_mm: float) -> np.ndarray:
    """Each segment's centre on the bullseye (mm); the apex at the centre."""
    out = np.empty((N_SEGMENTS, 2))
    for k, s in enumerate(model.segments):
        r = 0.5 * (s.radius_inner + s.radius_outer) * radius_mm
        a = math.radians(s.angle_centre)
        out[k] = (r * math.cos(a), r * math.sin(a))
    return out


def pacing_record(params: PacingParams, model: SegmentModel) -> PacingRecord:
    """The kernel's record of ``params`` on ``model``, with the fronts of a heart
    without scar worked out once (the kernel looks them up for patients without scar:
    the same numbers as :func:`_front` on them, which made them)."""
    centres = _centres_mm(model, params.bullseye_radius_mm)
    distance = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    adjacency = np.ascontiguousarray(model.adjacency, dtype=np.bool_)
    edge_ms = np.where(adjacency, distance / params.velocity_mm_per_ms, np.inf)
    degree = int(adjacency.sum(axis=1).max())
    neighbours = np.full((N_SEGMENTS, degree), -1, dtype=np.int64)
    for s in range(N_SEGMENTS):
        found = np.flatnonzero(adjacency[s])
        neighbours[s, :found.size] = found
    rv = int(params.rv_segment) - 1
    healthy = np.empty((N_SEGMENTS, N_SEGMENTS))
    rv_healthy = np.empty(N_SEGMENTS)
    rec = PacingRecord(rv, float(params.rv_delay_ms), np.ascontiguousarray(edge_ms),
                       adjacency, neighbours, 1.0 / params.scar_conduction,
                       float(params.scar_capture_delay_ms),
                       np.ascontiguousarray(model.dyssynchrony_groups[0], dtype=np.int64),
                       healthy, rv_healthy)
    no_scar = np.zeros(N_SEGMENTS, dtype=np.bool_)
    done = np.empty(N_SEGMENTS, dtype=np.bool_)
    for source in range(N_SEGMENTS):
        _front(rec, no_scar, source, 0.0, healthy[source], done)
    _front(rec, no_scar, rv, rec.rv_delay_ms, rv_healthy, done)
    return rec


@numba.njit(cache=True)
def _front(rec, scar_row, source, start_ms, times, done):
    """Arrival times of a front started at ``source`` at ``start_ms`` (Dijkstra on the
    segment graph; half of an edge's crossing in each segment, slowed in scar)."""
    n = times.shape[0]
    edge, neighbours, factor = rec.edge_ms, rec.neighbours, rec.scar_factor
    for s in range(n):
        times[s] = np.inf
        done[s] = False
    times[source] = start_ms
    for _ in range(n):
        best, u = np.inf, -1
        for s in range(n):
            if not done[s] and times[s] < best:
                best, u = times[s], s
        if u < 0:
            break
        done[u] = True
        slow_u = factor if scar_row[u] else 1.0
        for k in range(neighbours.shape[1]):
            v = neighbours[u, k]
            if v >= 0 and not done[v]:
                slow_v = factor if scar_row[v] else 1.0
                t = times[u] + 0.5 * edge[u, v] * (slow_u + slow_v)
                if t < times[v]:
                    times[v] = t


@numba.njit(cache=True)
def rv_front_kernel(rec, scar, rv_out):
    """Arrival times (ms) of the RV lead's front at every segment of every patient
    (``rv_out``, (n, 17)): the table of a heart without scar, else :func:`_front`."""
    n, n_seg = scar.shape
    done = np.empty(n_seg, np.bool_)
    for i in range(n):
        if _scarred(scar[i]):
            _front(rec, scar[i], rec.rv, rec.rv_delay_ms, rv_out[i], done)
        else:
            rv_out[i, :] = rec.rv_healthy_ms


@numba.njit(cache=True, inline="always")
def _scarred(scar_row):
    for s in range(scar_row.shape[0]):
        if scar_row[s]:
            return True
    return False


@numba.njit(cache=True)
def paced_kernel(rec, activation_ms, scar, lead, rv_ms, paced_out, total_out):
    """Paced activation of every patient: ``paced_out`` (n, 17) the earliest of the
    intrinsic time, the RV front ``rv_ms`` (:func:`rv_front_kernel`) and the LV front;
    ``total_out`` (n, 4) the intrinsic and paced total activation time, the paced
    basal-mid SD and the late-activated share removed (:func:`_late_removed`)."""
    n, n_seg = activation_ms.shape
    lv_front = np.empty(n_seg)
    done = np.empty(n_seg, np.bool_)
    basal_mid = rec.basal_mid
    order = np.empty(basal_mid.shape[0], np.int64)
    for i in range(n):
        has_lv = lead[i] > 0
        lv_times = lv_front
        if has_lv:
            lv = lead[i] - 1
            if _scarred(scar[i]):
                _front(rec, scar[i], lv, rec.scar_capture_delay_ms if scar[i, lv] else 0.0,
                       lv_front, done)
            else:
                lv_times = rec.healthy_ms[lv]
        intrinsic_total = 0.0
        paced_total = 0.0
        for s in range(n_seg):
            t = min(activation_ms[i, s], rv_ms[i, s])
            if has_lv:
                t = min(t, lv_times[s])
            paced_out[i, s] = t
            intrinsic_total = max(intrinsic_total, activation_ms[i, s])
            paced_total = max(paced_total, t)
        mean = 0.0
        for s in basal_mid:
            mean += paced_out[i, s]
        mean /= basal_mid.shape[0]
        ss = 0.0
        for s in basal_mid:
            ss += (paced_out[i, s] - mean) ** 2
        total_out[i, 0] = intrinsic_total
        total_out[i, 1] = paced_total
        total_out[i, 2] = math.sqrt(ss / (basal_mid.shape[0] - 1))
        total_out[i, 3] = _late_removed(activation_ms[i], paced_out[i], scar[i], basal_mid,
                                        order)


@numba.njit(cache=True)
def _late_removed(intrinsic_row, paced_row, scar_row, basal_mid, order):
    # the share of the late-activated myocardium's activation time pacing removes: the
    # latest third (at least one) of the viable basal and mid segments by intrinsic
    # activation (equal times: the lower segment first), (mean intrinsic - mean paced) /
    # mean intrinsic; 0 when none is viable. ``order`` is scratch of len(basal_mid).
    count = 0
    for s in basal_mid:
        if scar_row[s]:
            continue
        j = count   # insertion, latest first
        while j > 0 and intrinsic_row[order[j - 1]] < intrinsic_row[s]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = s
        count += 1
    before = 0.0
    after = 0.0
    for j in range(max(1, count // 3) if count > 0 else 0):
        before += intrinsic_row[order[j]]
        after += paced_row[order[j]]
    return (before - after) / before if before > 0.0 else 0.0


# the columns of the pacing kernel's totals (paced_kernel's ``total_out``), by the name
# :class:`PacedActivation` gives each
TOTALS = ("total_intrinsic_ms", "total_paced_ms", "residual_sd_ms", "late_removed_fraction")


@dataclass(frozen=True)
class PacedActivation:
    """Activation under biventricular pacing.

    Attributes
    ----------
    paced_ms : ndarray, shape (n, 17)
        Activation time of each segment under pacing (ms from QRS onset).
    total_intrinsic_ms, total_paced_ms : ndarray, shape (n,)
        Total activation time without and with pacing (ms).
    residual_sd_ms : ndarray, shape (n,)
        SD of the paced activation over the 12 basal and mid segments (ms).
    late_removed_fraction : ndarray, shape (n,)
        Share of the late-activated myocardium's activation time removed by pacing
        (the latest third of the viable basal and mid segments; 0-1).
    """

    paced_ms: np.ndarray
    total_intrinsic_ms: np.ndarray
    total_paced_ms: np.ndarray
    residual_sd_ms: np.ndarray
    late_removed_fraction: np.ndarray

    @property
    def reduction_ms(self) -> np.ndarray:
        """Shortening of the total activation time by pacing (ms)."""
        return self.total_intrinsic_ms - self.total_paced_ms

    @classmethod
    def from_totals(cls, paced_ms: np.ndarray, totals: np.ndarray) -> PacedActivation:
        """From the kernel's outputs: ``paced_ms`` (n, 17) and ``totals`` (n, 4), whose
        columns are :data:`TOTALS` (each copied into a contiguous array)."""
        return cls(paced_ms, **{name: np.ascontiguousarray(totals[:, k])
                                for k, name in enumerate(TOTALS)})


def paced_activation(activation_ms, scar, lead, params: PacingParams,
                     model: SegmentModel) -> PacedActivation:
    """Paced activation of patients with intrinsic ``activation_ms`` (n, 17), ``scar``
    (n, 17) and LV leads ``lead`` (n,; segment numbers, -1 for none) (see
    :func:`paced_kernel`)."""
    activation_ms = np.ascontiguousarray(activation_ms, dtype=np.float64)
    n = activation_ms.shape[0]
    paced = np.empty_like(activation_ms)
    total = np.empty((n, len(TOTALS)))
    rv_ms = np.empty_like(activation_ms)
    rec = pacing_record(params, model)
    scar = np.ascontiguousarray(scar, dtype=np.bool_)
    rv_front_kernel(rec, scar, rv_ms)
    paced_kernel(rec, activation_ms, scar, np.ascontiguousarray(lead, dtype=np.int64), rv_ms,
                 paced, total)
    return PacedActivation.from_totals(paced, total)
