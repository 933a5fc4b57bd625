"""LV lead placement: vein access, image-guided and empirical strategies, concordance.

Coronary veins
    Each patient has each coronary-sinus branch with the prevalence given in the
    segment model; a segment is reachable when an available branch reaches it.
Image-guided strategy
    Aim at the latest viable segment measured by the engine. When it is
    reachable the lead lands there with probability ``aim_success`` and
    otherwise in a reachable neighbour (lead instability, phrenic capture,
    high thresholds); when it is not reachable the lead goes to the nearest
    reachable segment. With ``concordance`` set, the anatomy is bypassed:
    the lead lands on the target with exactly that probability and otherwise
    on an adjacent (share ``adjacent_share``) or remote segment; this is the
    knob the concordance sweep turns.
Empirical strategy
    A lateral or posterolateral branch as usual: the first available branch in
    ``empirical_order`` and one of its usual segments.
Classification
    Concordant = lead in the reference segment, adjacent = one hop away,
    remote = further (codes 0, 1, 2; -1 when there is no reference).

Examples
--------
>>> import numpy as np
>>> from strainsim.placement import classify
>>> classify(np.array([5, 11, 2]), np.array([5, 5, 5])).tolist()
[0, 1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = [
    "PlacementParams",
    "Placement",
    "draw_veins",
    "classify",
    "place_image_guided",
    "place_empirical",
    "CONCORDANT",
    "ADJACENT",
    "REMOTE",
]

CONCORDANT, ADJACENT, REMOTE = 0, 1, 2


@dataclass(frozen=True)
class PlacementParams:
    """How leads are placed.

    Attributes
    ----------
    aim_success : float
        Image-guided, anatomical model: chance that a lead aimed at a reachable
        target stays there (0-1). The default gives about 45 % concordance
        with the measured target, as in the trials.
    concordance : float or None
        If set (0-1), the image-guided lead lands on the measured target with
        exactly this probability, whatever the veins.
    adjacent_share : float
        With ``concordance`` set: share of the non-concordant leads that land
        adjacent to the target (the rest are remote).
    empirical_order : tuple of str
        Branches an empirical implanter tries, in order.
    """

    aim_success: float = 0.5
    concordance: float | None = None
    adjacent_share: float = 0.9
    empirical_order: tuple[str, ...] = ("posterolateral", "lateral", "anterolateral",
                                        "middle_cardiac", "anterior_interventricular")

    def __post_init__(self):
        if not 0.0 <= self.aim_success <= 1.0:
            raise ValueError("aim_success must be in [0, 1]")
        if self.concordance is not None and not 0.0 <= self.concordance <= 1.0:
            raise ValueError("concordance must be in [0, 1]")
        if not 0.0 <= self.adjacent_share <= 1.0:
            raise ValueError("adjacent_share must be in [0, 1]")


@dataclass(frozen=True)
class Placement:
    """Where the leads went.

    Attributes
    ----------
    lead_segment : ndarray of int, shape (n,)
        Segment (1-17) of the LV lead.
    target_segment : ndarray of int, shape (n,)
        The measured latest viable segment (-1 if none).
    vs_measured, vs_true : ndarray of int8, shape (n,)
        Class of the lead against the measured and the true latest segment
        (0 concordant, 1 adjacent, 2 remote, -1 no reference).
    reachable : ndarray of bool, shape (n, 17)
        Segments an available vein reaches.
    """

    lead_segment: np.ndarray
    target_segment: np.ndarray
    vs_measured: np.ndarray
    vs_true: np.ndarray
    reachable: np.ndarray


def draw_veins(n: int, rng: np.random.Generator, model: SegmentModel | None = None):
    """Available branches (n, n_veins) and reachable segments (n, 17)."""
    model = model or load_segments()
    prevalence = np.array([v.prevalence for v in model.veins])
    available = rng.random((n, prevalence.size)) < prevalence
    reachable = (available.astype(np.int64) @ model.vein_access().astype(np.int64)) > 0
    return available, reachable


def classify(lead: np.ndarray, reference: np.ndarray,
             model: SegmentModel | None = None) -> np.ndarray:
    """Concordant (0) / adjacent (1) / remote (2) by hops; -1 without a reference."""
    model = model or load_segments()
    lead = np.asarray(lead)
    reference = np.asarray(reference)
    ok = (reference > 0) & (lead > 0)
    hops = model.hops[np.maximum(lead, 1) - 1, np.maximum(reference, 1) - 1]
    return np.where(ok, np.minimum(hops, REMOTE), -1).astype(np.int8)


def _pick(mask: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, the segment (1-based) at position floor(u * count) among True columns."""
    counts = mask.sum(axis=1)
    rank = np.minimum((u * counts).astype(np.int64), np.maximum(counts - 1, 0))
    csum = np.cumsum(mask, axis=1)
    chosen = np.argmax(csum > rank[:, None], axis=1) + 1
    return np.where(counts > 0, chosen, -1)


def _nearest(target: np.ndarray, allowed: np.ndarray, u: np.ndarray, model) -> np.ndarray:
    """Allowed segment nearest to the target (by hops), ties broken by ``u``."""
    hops = model.hops[np.maximum(target, 1) - 1].astype(float)  # (n, 17)
    hops = np.where(allowed, hops, np.inf)
    best = hops.min(axis=1, keepdims=True)
    return _pick(np.isfinite(best) & (hops == best), u)


def place_image_guided(target: np.ndarray, true_latest: np.ndarray, reachable: np.ndarray,
                       rng: np.random.Generator, params: PlacementParams,
                       model: SegmentModel | None = None,
                       fallback: np.ndarray | None = None) -> Placement:
    """Image-guided leads aimed at the measured target.

    Parameters
    ----------
    target : ndarray of int, shape (n,)
        Measured latest viable segment (-1: none; the lead then goes where the
        empirical strategy, ``fallback``, would put it).
    true_latest : ndarray of int, shape (n,)
        True latest non-scar segment, for classification.
    reachable : ndarray of bool, shape (n, 17)
    rng : numpy.random.Generator
        Draws, in order: the aim, the choice among neighbours, the non-concordant class.
    params : PlacementParams
    fallback : ndarray of int, optional
        Lead segments for patients without a target (default: the nearest
        reachable lateral-wall segment rule of :func:`place_empirical`).
    """
    model = model or load_segments()
    n = target.shape[0]
    u_aim, u_pick, u_class = rng.random(n), rng.random(n), rng.random(n)
    has_target = target > 0
    t = np.maximum(target, 1) - 1
    adjacency = model.adjacency[t]                     # (n, 17) neighbours of the target
    not_target = np.ones((n, N_SEGMENTS), bool)
    not_target[np.arange(n), t] = False
    if params.concordance is None:
        target_ok = reachable[np.arange(n), t]
        hit = target_ok & (u_aim < params.aim_success)
        near = _nearest(target, reachable & not_target, u_pick, model)
        near_any = _nearest(target, reachable, u_pick, model)
        lead = np.where(hit, target, np.where(target_ok, near, near_any))
        # no vein at all: the lead goes to a neighbour of the target regardless
        lead = np.where(lead > 0, lead, _pick(adjacency, u_pick))
    else:
        hit = u_aim < params.concordance
        adjacent = u_class < params.adjacent_share
        remote_mask = (model.hops[t] >= 2)
        adj_reach = adjacency & reachable
        remote_reach = remote_mask & reachable
        adj_lead = np.where(adj_reach.any(axis=1), _pick(adj_reach, u_pick),
                            _pick(adjacency, u_pick))
        remote_lead = np.where(remote_reach.any(axis=1), _pick(remote_reach, u_pick),
                               _pick(remote_mask, u_pick))
        lead = np.where(hit, target, np.where(adjacent, adj_lead, remote_lead))
    if fallback is None:
        fallback = place_empirical(reachable, None, params, model, u=u_pick)
    lead = np.where(has_target, lead, fallback)
    return Placement(lead_segment=lead.astype(np.int64), target_segment=target,
                     vs_measured=classify(lead, target, model),
                     vs_true=classify(lead, true_latest, model), reachable=reachable)


def place_empirical(reachable: np.ndarray, rng: np.random.Generator | None,
                    params: PlacementParams,
                    model: SegmentModel | None = None, *, u: np.ndarray | None = None,
                    target: np.ndarray | None = None,
                    true_latest: np.ndarray | None = None):
    """Empirical leads: the first available branch of ``empirical_order``, a usual segment.

    The choice among the branch's usual segments uses ``u`` (uniforms, one per
    patient) or, without it, one draw per patient from ``rng``. Returns the
    lead segments, or a :class:`Placement` when ``target`` and ``true_latest``
    are given.
    """
    model = model or load_segments()
    n = reachable.shape[0]
    if u is None:
        if rng is None:
            raise ValueError("place_empirical needs rng or u")
        u = rng.random(n)
    keys = [v.key for v in model.veins]
    lead = np.full(n, -1, dtype=np.int64)
    for key in params.empirical_order:
        vein = model.veins[keys.index(key)]
        usual = np.zeros(N_SEGMENTS, bool)
        usual[np.asarray(vein.usual, dtype=np.int64) - 1] = True
        options = reachable & usual[None, :]
        todo = (lead < 0) & options.any(axis=1)
        lead[todo] = _pick(options[todo], u[todo])
    # no usable branch at all: a mid anterolateral position (surgical epicardial lead)
    lead[lead < 0] = 12
    if target is None or true_latest is None:
        return lead
    return Placement(lead_segment=lead, target_segment=target,
                     vs_measured=classify(lead, target, model),
                     vs_true=classify(lead, true_latest, model), reachable=reachable)


# ---------------------------------------------------------------------------------------
# numba kernels: the functions above, patient by patient, with the same draws and numbers
# (they are the kernels' plain-numpy twins); strainsim.fused strings them together.
# ---------------------------------------------------------------------------------------
def empirical_masks(params: PlacementParams, model: SegmentModel) -> np.ndarray:
    """Usual segments of each branch in ``params.empirical_order``: bool (n_branches, 17)."""
    keys = [v.key for v in model.veins]
    masks = np.zeros((len(params.empirical_order), N_SEGMENTS), dtype=bool)
    for row, key in enumerate(params.empirical_order):
        masks[row, np.asarray(model.veins[keys.index(key)].usual, dtype=np.int64) - 1] = True
    return masks


@numba.njit(cache=True)
def draw_veins_kernel(rng, prevalence, access, reachable_out):
    """Kernel twin of :func:`draw_veins`: fills ``reachable_out`` (n, 17)."""
    n, n_seg = reachable_out.shape
    n_veins = prevalence.shape[0]
    available = np.empty((n, n_veins), np.bool_)
    for i in range(n):
        for v in range(n_veins):
            available[i, v] = rng.random() < prevalence[v]
    for i in range(n):
        for s in range(n_seg):
            hit = False
            for v in range(n_veins):
                if available[i, v] and access[v, s]:
                    hit = True
                    break
            reachable_out[i, s] = hit


@numba.njit(cache=True, inline="always")
def _pick_row(mask, u):
    # segment (1-based) at position floor(u * count) among the True entries; -1 if none
    count = 0
    for s in range(mask.shape[0]):
        count += mask[s]
    if count == 0:
        return -1
    rank = min(np.int64(u * count), count - 1)
    seen = 0
    for s in range(mask.shape[0]):
        seen += mask[s]
        if seen > rank:
            return s + 1
    return -1


@numba.njit(cache=True)
def _nearest_row(hops_row, allowed, u, ties):
    # allowed segment nearest by hops (ties broken by u), like _nearest
    best = np.inf
    for s in range(allowed.shape[0]):
        if allowed[s] and hops_row[s] < best:
            best = hops_row[s]
    for s in range(allowed.shape[0]):
        ties[s] = allowed[s] and hops_row[s] == best
    return _pick_row(ties, u)


@numba.njit(cache=True, inline="always")
def classify_one(lead, reference, hops):
    """Kernel twin of :func:`classify` for one lead."""
    if reference > 0 and lead > 0:
        return min(hops[lead - 1, reference - 1], REMOTE)
    return -1


@numba.njit(cache=True)
def _empirical_row(reachable_row, masks, u):
    lead = -1
    options = np.empty(reachable_row.shape[0], np.bool_)
    for b in range(masks.shape[0]):
        for s in range(reachable_row.shape[0]):
            options[s] = reachable_row[s] and masks[b, s]
        lead = _pick_row(options, u)
        if lead > 0:
            return lead
    return 12  # no usable branch: a mid anterolateral (surgical epicardial) lead


@numba.njit(cache=True)
def place_kernel(rng, guided, target, reachable, aim_success, concordance, adjacent_share,
                 masks, adjacency, hops, lead_out):
    """Kernel twin of :func:`place_image_guided` (``guided``) and :func:`place_empirical`.

    ``concordance`` < 0 stands for None (the anatomical image-guided model).
    Fills ``lead_out`` (n,).
    """
    n, n_seg = reachable.shape
    if not guided:
        for i in range(n):
            lead_out[i] = _empirical_row(reachable[i], masks, rng.random())
        return
    u_aim = np.empty(n)
    u_pick = np.empty(n)
    u_class = np.empty(n)
    for i in range(n):
        u_aim[i] = rng.random()
    for i in range(n):
        u_pick[i] = rng.random()
    for i in range(n):
        u_class[i] = rng.random()
    allowed = np.empty(n_seg, np.bool_)
    ties = np.empty(n_seg, np.bool_)
    hops_row = np.empty(n_seg)
    for i in range(n):
        if target[i] <= 0:  # no target: where the empirical strategy would go
            lead_out[i] = _empirical_row(reachable[i], masks, u_pick[i])
            continue
        t = target[i] - 1
        if concordance < 0.0:
            target_ok = reachable[i, t]
            if target_ok and u_aim[i] < aim_success:
                lead = target[i]
            else:
                for s in range(n_seg):
                    hops_row[s] = hops[t, s]
                    allowed[s] = reachable[i, s] and (s != t or not target_ok)
                lead = _nearest_row(hops_row, allowed, u_pick[i], ties)
            if lead <= 0:  # no vein at all: a neighbour of the target regardless
                lead = _pick_row(adjacency[t], u_pick[i])
        elif u_aim[i] < concordance:
            lead = target[i]
        else:
            adjacent = u_class[i] < adjacent_share
            any_reach = False
            for s in range(n_seg):
                near = adjacency[t, s] if adjacent else hops[t, s] >= 2
                allowed[s] = near and reachable[i, s]
                ties[s] = near
                any_reach |= allowed[s]
            lead = _pick_row(allowed if any_reach else ties, u_pick[i])
        lead_out[i] = lead
