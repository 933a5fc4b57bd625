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
