"""LV lead placement: vein access, four placement strategies, concordance.

Coronary veins
    Each patient has each coronary-sinus branch with the prevalence given in the
    segment model; a segment is reachable when an available branch reaches it.
Strategies (named per arm in the spec, :data:`STRATEGIES`)
    ``empirical``
        Standard care by vein anatomy: the implanter aims at the anterior wall (share
        ``empirical_anterior_share``: the first available branch of
        ``empirical_order_anterior``, the anterior interventricular vein first), else at
        the lateral wall (share ``empirical_lateral_share`` of the rest: the first
        available branch of ``empirical_order_lateral``, anterolateral first) or the
        posterolateral one (the first of ``empirical_order``, posterolateral first), and
        the lead goes to one of that branch's usual segments. In a share
        ``empirical_late_share`` of implants the implanter finds the late site
        instead: the lead ends on the segment activated latest among those a vein
        reaches and the lead captures (not scar).
    ``ste``
        Aim at the latest viable segment measured by speckle-tracking strain (the
        engine's target). When a vein reaches it the lead stays there with
        probability ``aim_success``. A failed aim (no vein there, lead instability,
        phrenic capture, high thresholds) ends in the nearest reachable segment,
        the latest of them by the strain map when several are equally near (share
        ``miss_nearest_share``), or where an empirical implanter would have put the
        lead. The implanter learns the veins only at implant. A study whose echo
        analysed fewer segments (``target_region``, TARGET's basal and mid short-axis
        views) takes its target among those.
    ``multimodality``
        STE timing, scar imaging (SPECT, PET or MR) that excludes scar segments and
        a CT venogram that shows before implant which segments a vein reaches: the
        aim is the latest viable, scar-free, reachable segment by strain, then as
        for ``ste``.
    ``electrical``
        Q-LV (QRS onset to the local LV electrogram) measured at every reachable
        site, each with its own error (``qlv_error_sd_ms``); the lead stays at the
        longest. Q-LV follows electrical activation, which scar delays, so this
        strategy knows nothing of scar and can pace it.
    With ``concordance`` set the image-guided arm's anatomy is bypassed: the lead
    lands on the arm's measured target with exactly that probability and
    otherwise where a missed aim lands (the nearest reachable other segment,
    share ``miss_nearest_share``, or the empirical position, never the target);
    this is the knob the concordance sweep turns.
Classification
    Concordant = lead in the reference segment, adjacent = one hop away,
    remote = further (codes 0, 1, 2; -1 when there is no reference). Every arm is
    classified against its measured target (the STE target measured at baseline;
    in a ``multimodality`` image-guided arm, the target imaging chose) and
    against the true latest non-scar segment.

Veins and leads are drawn by numba kernels from the block's ``care`` stream
(:mod:`strainsim.seeding`): per patient five uniforms and one normal per segment
(the Q-LV errors), whatever the strategy, all drawn before any lead is placed
(:func:`placement_draws_kernel`), so placement itself draws nothing. :func:`draw_veins`,
:func:`place_leads` and :func:`classify` are thin wrappers around the kernels,
and the per-block pipeline (:mod:`strainsim.model.block`) calls the same kernels.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.placement import classify
>>> classify(np.array([5, 11, 2]), np.array([5, 5, 5])).tolist()
[0, 1, 2]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numba
import numpy as np

from strainsim.measure.latest import latest_of
from strainsim.params import check_declared, choice, fixed, quantity
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = [
    "PlacementParams",
    "Placement",
    "draw_veins",
    "classify",
    "concordance_hops",
    "centre_practice",
    "CONCORDANCE_DEFINITIONS",
    "CONCORDANCE_TIES",
    "classify_measured_kernel",
    "place_leads",
    "VeinRecord",
    "vein_record",
    "usual_masks",
    "veins_kernel",
    "PlacementRecord",
    "PlacementInputs",
    "placement_record",
    "place_kernel",
    "late_site",
    "arm_strategy",
    "aims_by_imaging",
    "placement_draws_kernel",
    "PLACEMENT_UNIFORMS",
    "classify_one",
    "classify_kernel",
    "scar_at_lead",
    "scar_at_lead_kernel",
    "CONCORDANT",
    "ADJACENT",
    "REMOTE",
    "STRATEGIES",
]

CONCORDANT, ADJACENT, REMOTE = 0, 1, 2
STRATEGIES = ("empirical", "ste", "multimodality", "electrical")
CONCORDANCE_DEFINITIONS = ("segments", "touching", "walls")   # how a study scores a lead
CONCORDANCE_TIES = ("one", "either")   # segments measured equally late: one target, or each
# the segments a study's echo analysis picks its measured target from, by ring
TARGET_REGIONS = {"all": ("basal", "mid", "apical", "apex"), "basal-mid": ("basal", "mid")}
EMPIRICAL, STE, MULTIMODALITY, ELECTRICAL = range(4)


@dataclass(frozen=True)
class PlacementParams:
    """How leads are placed.

    Attributes
    ----------
    image_guided, control : str
        The placement strategy of each arm (:data:`STRATEGIES`).
    aim_success : float
        ``ste`` and ``multimodality``: chance that a lead aimed at a reachable
        segment stays there (0-1). Calibrated (``strainsim calibrate``) to the
        45 % concordance of the image-guided arms.
    miss_nearest_share : float
        ``ste`` and ``multimodality``: share of failed aims that end in the nearest
        reachable segment; the others end in the empirical position. Calibrated.
    qlv_error_sd_ms : float
        ``electrical``: SD of each Q-LV measurement (ms).
    concordance : float or None
        If set (0-1), the image-guided lead lands on the measured target with
        exactly this probability, whatever the veins.
    empirical_order : tuple of str
        Branches an empirical implanter aiming posterolaterally tries, in order.
    empirical_order_lateral : tuple of str
        Branches an empirical implanter aiming at the lateral wall tries, in order.
    empirical_order_anterior : tuple of str
        Branches an empirical implanter aiming at the anterior wall tries, in order.
    empirical_anterior_share : float
        Share of empirical implants aimed at the anterior wall (0-1), from the Behon
        registry (physiology.toml).
    empirical_lateral_share : float
        Share of the other empirical implants aimed at the lateral wall rather than
        the posterolateral one (0-1). Calibrated to where TARGET's leads sat, by wall
        and arm (trials.toml).
    empirical_late_share : float
        Share of empirical implants in which the implanter finds the late site: the
        lead ends on the segment activated latest among those a vein reaches and the
        lead captures (not scar), 0-1. Read from the patient's own late uniform, so an
        implant aimed by strain whose aim fell back to the empirical position (in the
        calibrated world or at a forced concordance) finds it with the same share.
    centre_lateral_sd : float
        Between-centre SD of the log-odds that an empirical implant is aimed at the
        lateral wall: each trial's centre draws its own share around
        ``empirical_lateral_share`` (:func:`centre_practice`).
    concordance_definition : {"segments", "touching", "walls"}
        How the study scores concordance (:func:`concordance_hops`).
    target_region : {"all", "basal-mid"}
        The segments the study's echo analysis picks the measured target from
        (:data:`TARGET_REGIONS`): all 17, or the 12 basal and mid ones of short-axis
        views (TARGET).
    concordance_ties : {"one", "either"}
        Segments measured equally late: the engine's rule picks one target (``one``),
        or each of them is a target (``either``, TARGET's rule): a lead on any of them
        is concordant, and an implanter aiming by strain takes one a vein reaches.
    """

    image_guided: str = choice("ste", STRATEGIES, doc="Placement strategy of the image-guided arm.")
    control: str = choice("empirical", STRATEGIES, doc="Placement strategy of the control arm.")
    aim_success: float = quantity(
        0.1704,
        unit="fraction",
        low=0,
        high=1,
        doc="Chance that a lead aimed at a reachable segment stays there.",
        source="calibrated: strainsim calibrate",
    )
    miss_nearest_share: float = quantity(
        0.3247,
        unit="fraction",
        low=0,
        high=1,
        doc="Share of failed aims ending in the nearest reachable segment.",
        source="calibrated: strainsim calibrate",
    )
    qlv_error_sd_ms: float = quantity(
        15.0,
        unit="ms",
        low=0,
        high=200,
        doc="SD of one Q-LV measurement (electrical strategy).",
        source="stated",
    )
    concordance: float | None = quantity(
        None,
        unit="fraction",
        low=0,
        high=1,
        doc="If set, the image-guided lead lands on its target with exactly this probability (a what-if).",
        source="stated",
        optional=True,
    )
    empirical_order: tuple[str, ...] = fixed(
        (
            "posterolateral",
            "lateral",
            "anterolateral",
            "middle_cardiac",
            "anterior_interventricular",
        ),
        doc="Branches an empirical implanter aiming posterolaterally tries, in order.",
        source="Dong 2012 (physiology.toml): leads prioritized into the posterolateral, "
        "anterolateral, middle cardiac and anterior interventricular veins",
    )
    empirical_order_lateral: tuple[str, ...] = fixed(
        (
            "anterolateral",
            "lateral",
            "posterolateral",
            "middle_cardiac",
            "anterior_interventricular",
        ),
        doc="Branches an empirical implanter aiming at the lateral wall tries, in order.",
        source="stated: Dong 2012's order with the lateral-wall branches first, for the "
        "lateral positions that dominate a registry of unguided leads (Behon 2020, "
        "physiology.toml)",
    )
    empirical_order_anterior: tuple[str, ...] = fixed(
        (
            "anterior_interventricular",
            "anterolateral",
            "lateral",
            "posterolateral",
            "middle_cardiac",
        ),
        doc="Branches an empirical implanter aiming at the anterior wall tries, in order.",
        source="stated: the anterior interventricular vein, the last of Dong 2012's branches "
        "(physiology.toml), first, then the others from the anterior wall round",
    )
    empirical_anterior_share: float = quantity(
        0.0517,
        unit="fraction",
        low=0,
        high=1,
        doc="Share of empirical implants aimed at the anterior wall (anterior "
        "interventricular vein first).",
        source="Behon 2020 (physiology.toml): 108 of 2087 non-apical leads placed without "
        "imaging were anterior",
    )
    empirical_lateral_share: float = quantity(
        0.1962,
        unit="fraction",
        low=0,
        high=1,
        doc="Share of the empirical implants not aimed at the anterior wall that are aimed "
        "at the lateral wall (anterolateral branch first) rather than the posterolateral.",
        source="calibrated: strainsim calibrate (TARGET's lead positions by wall among the targets)",
    )
    empirical_late_share: float = quantity(
        0.6366,
        unit="fraction",
        low=0,
        high=1,
        doc="Share of empirical implants in which the implanter finds the late site: the "
        "lead ends on the segment activated latest among those a vein reaches and the "
        "lead captures (not scar); the others follow the branch orders.",
        source="calibrated: strainsim calibrate, to how often unguided leads pace the "
        "latest segment (Khan 2011: 71 of 131; Ypenburg 2008: 63 % on the latest wall; "
        "trials.toml); how implanters find the late site (the electrogram at the lead, "
        "the paced QRS, thresholds) is not in the sources reachable here",
    )
    centre_lateral_sd: float = quantity(
        0.47,
        unit="log-odds",
        low=0,
        high=5,
        doc="Between-centre SD of the log-odds that an empirical implant is aimed at the "
        "lateral wall.",
        source="two series of unguided leads: Behon 2020 (1336 of 2087 lateral, "
        "physiology.toml) and TARGET's control arm (47 % of 104, trials.toml); method of "
        "moments on the log-odds (docs/calibration.md)",
    )
    concordance_definition: str = choice(
        "segments", CONCORDANCE_DEFINITIONS,
        doc="How a study scores a lead against its target: 'segments' (the same or a "
        "neighbouring one of the 17 segments: concordant, adjacent), 'touching' (corner "
        "contacts count as neighbours) or 'walls' (the same or a neighbouring one of six "
        "walls, any ring).",
        source="the study's report: Ypenburg scored walls; TARGET's 'within 1 segment' read "
        "as any touching segment (docs/calibration.md)")
    target_region: str = choice(
        "all", tuple(TARGET_REGIONS),
        doc="Segments the measured target is picked from: 'all' 17, or 'basal-mid' (the 12 "
        "basal and mid segments of short-axis views).",
        source="the study's echo protocol: TARGET took the latest of the basal and mid "
        "short-axis views (trials.toml)")
    concordance_ties: str = choice(
        "one", CONCORDANCE_TIES,
        doc="Segments measured equally late (the same time to peak, at the frame rate): "
        "'one' target, the engine's rule picks it; 'either': each is a target, a lead "
        "on any of them is concordant and an implanter aiming by strain takes one a "
        "vein reaches.",
        source="the study's report: TARGET counted a lead at either of two equally "
        "delayed segments as concordant (trials.toml); the others do not say")

    def __post_init__(self):
        check_declared(self)


@dataclass(frozen=True)
class Placement:
    """Where the leads went.

    Attributes
    ----------
    lead_segment : ndarray of int, shape (n,)
        Segment (1-17) of the LV lead.
    target_segment : ndarray of int, shape (n,)
        The arm's measured target (-1 if none): the latest viable segment by STE,
        or in a ``multimodality`` image-guided arm the latest viable, scar-free,
        reachable one.
    vs_measured, vs_true : ndarray of int8, shape (n,)
        Class of the lead against the measured target and the true latest segment
        (0 concordant, 1 adjacent, 2 remote, -1 no reference).
    reachable : ndarray of bool, shape (n, 17)
        Segments an available vein reaches.
    """

    lead_segment: np.ndarray
    target_segment: np.ndarray
    vs_measured: np.ndarray
    vs_true: np.ndarray
    reachable: np.ndarray


# ---------------------------------------------------------------------------------------
# coronary veins
# ---------------------------------------------------------------------------------------
class VeinRecord(NamedTuple):
    """The segment model's veins as the vein kernel reads them."""

    prevalence: np.ndarray  # (n_veins,) chance that a patient has each branch
    access: np.ndarray  # (n_veins, 17) bool: segments each branch reaches


def vein_record(model: SegmentModel) -> VeinRecord:
    """The kernel's record of ``model``'s veins."""
    return VeinRecord(
        np.array([v.prevalence for v in model.veins], dtype=np.float64),
        np.ascontiguousarray(model.vein_access(), dtype=np.bool_),
    )


@numba.njit(cache=True)
def veins_kernel(rng, rec, available_out, reachable_out):
    """Each patient's branches (one uniform per branch, in model order) and the
    segments they reach."""
    n, n_seg = reachable_out.shape
    prevalence, access = rec.prevalence, rec.access
    n_veins = prevalence.shape[0]
    for i in range(n):
        for v in range(n_veins):
            available_out[i, v] = rng.random() < prevalence[v]
        for s in range(n_seg):
            hit = False
            for v in range(n_veins):
                hit |= available_out[i, v] and access[v, s]
            reachable_out[i, s] = hit


def draw_veins(n: int, rng: np.random.Generator, model: SegmentModel | None = None):
    """Available branches (n, n_veins) and reachable segments (n, 17) (:func:`veins_kernel`)."""
    model = model or load_segments()
    rec = vein_record(model)
    available = np.empty((n, rec.prevalence.shape[0]), dtype=np.bool_)
    reachable = np.empty((n, N_SEGMENTS), dtype=np.bool_)
    veins_kernel(rng, rec, available, reachable)
    return available, reachable


# ---------------------------------------------------------------------------------------
# lead placement and classification
# ---------------------------------------------------------------------------------------
class PlacementRecord(NamedTuple):
    """:class:`PlacementParams` and the segment geometry as the placement kernel reads them."""

    strategy_guided: int  # index in STRATEGIES
    strategy_control: int
    aim_success: float
    miss_nearest_share: float
    qlv_error_sd_ms: float
    concordance: float  # < 0: None (the arm's own strategy)
    empirical_anterior_share: float
    empirical_lateral_share: float
    empirical_late_share: float
    empirical_masks: np.ndarray  # (branches, 17) bool: usual segments, posterolateral order
    lateral_masks: np.ndarray  # (branches, 17) bool: usual segments, lateral-wall order
    anterior_masks: np.ndarray  # (branches, 17) bool: usual segments, anterior-wall order
    adjacency: np.ndarray  # (17, 17) bool
    hops: np.ndarray  # (17, 17) int64
    class_hops: np.ndarray  # (17, 17) int64: the study's concordance distance
    target_segments: np.ndarray  # (17,) bool: segments the measured target is picked from
    every_segment: bool  # target_segments all True: the engine's target as it is
    either_tie: bool  # equally late segments are each a target (concordance_ties "either")


def concordance_hops(definition: str, model: SegmentModel) -> np.ndarray:
    """The distance a study scores concordance by: segment hops (``"segments"``), hops
    with corner contacts as neighbours (``"touching"``,
    :meth:`strainsim.segments.SegmentModel.touch_hops`) or walls (``"walls"``,
    :meth:`strainsim.segments.SegmentModel.wall_hops`)."""
    if definition not in CONCORDANCE_DEFINITIONS:
        raise ValueError(f"concordance_definition must be one of "
                         f"{', '.join(CONCORDANCE_DEFINITIONS)}, not {definition!r}")
    hops = {"segments": lambda: model.hops, "touching": model.touch_hops,
            "walls": model.wall_hops}[definition]()
    return np.ascontiguousarray(hops, dtype=np.int64)


def centre_practice(params: PlacementParams, z: float) -> PlacementParams:
    """The placement of one trial's centre: ``empirical_lateral_share`` moved by ``z``
    standard normal units of ``centre_lateral_sd`` on the log-odds scale (unchanged when
    that SD is 0 or the share is 0 or 1)."""
    share, sd = params.empirical_lateral_share, params.centre_lateral_sd
    if sd <= 0.0 or not 0.0 < share < 1.0:
        return params
    logit = math.log(share / (1.0 - share)) + sd * float(z)
    return replace(params, empirical_lateral_share=1.0 / (1.0 + math.exp(-logit)))


def usual_masks(order: tuple[str, ...], model: SegmentModel) -> np.ndarray:
    """Each branch's usual segments (branches in ``order``, 17) as a boolean mask."""
    keys = [v.key for v in model.veins]
    masks = np.zeros((len(order), N_SEGMENTS), dtype=np.bool_)
    for row, key in enumerate(order):
        masks[row, np.asarray(model.veins[keys.index(key)].usual, dtype=np.int64) - 1] = True
    return masks


def placement_record(params: PlacementParams, model: SegmentModel) -> PlacementRecord:
    """The kernel's record of ``params`` on ``model``."""
    rings = TARGET_REGIONS[params.target_region]
    target_segments = np.array([s.ring in rings for s in model.segments], dtype=np.bool_)
    return PlacementRecord(
        strategy_guided=STRATEGIES.index(params.image_guided),
        strategy_control=STRATEGIES.index(params.control),
        aim_success=float(params.aim_success),
        miss_nearest_share=float(params.miss_nearest_share),
        qlv_error_sd_ms=float(params.qlv_error_sd_ms),
        concordance=-1.0 if params.concordance is None else float(params.concordance),
        empirical_anterior_share=float(params.empirical_anterior_share),
        empirical_lateral_share=float(params.empirical_lateral_share),
        empirical_late_share=float(params.empirical_late_share),
        empirical_masks=usual_masks(params.empirical_order, model),
        lateral_masks=usual_masks(params.empirical_order_lateral, model),
        anterior_masks=usual_masks(params.empirical_order_anterior, model),
        adjacency=np.ascontiguousarray(model.adjacency, dtype=np.bool_),
        hops=np.ascontiguousarray(model.hops, dtype=np.int64),
        class_hops=concordance_hops(params.concordance_definition, model),
        target_segments=target_segments,
        every_segment=bool(target_segments.all()),
        either_tie=params.concordance_ties == "either",
    )


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


@numba.njit(cache=True, inline="always")
def _empirical_masks(rec, u_wall):
    # the branch order of the wall an empirical implanter aims at, from the patient's
    # wall uniform: anterior below empirical_anterior_share, then lateral for the share
    # empirical_lateral_share of the rest, else posterolateral
    anterior = rec.empirical_anterior_share
    if u_wall < anterior:
        return rec.anterior_masks
    if u_wall < anterior + (1.0 - anterior) * rec.empirical_lateral_share:
        return rec.lateral_masks
    return rec.empirical_masks


@numba.njit(cache=True)
def _empirical_row(masks, reachable_row, u, options):
    # the first branch of the empirical order that reaches one of its usual segments
    for b in range(masks.shape[0]):
        for s in range(reachable_row.shape[0]):
            options[s] = reachable_row[s] and masks[b, s]
        lead = _pick_row(options, u)
        if lead > 0:
            return lead
    return 12  # no usable branch: a mid anterolateral (surgical epicardial) lead


@numba.njit(cache=True)
def _nearest_other(hops, adjacency, t, exclude_target, reachable_row, strain_map, u_pick,
                   allowed, ties):
    # the nearest reachable segment to segment index t (other than t itself when
    # exclude_target); among equally near ones the latest viable by the strain map
    # (`strain_map`: ttp, amplitude, viable rows; the one rule), else by u_pick; a
    # neighbour of t when no vein reaches anything
    ttp_row, amplitude_row, viable_row = strain_map
    n_seg = reachable_row.shape[0]
    best = np.int64(1 << 30)
    for s in range(n_seg):
        allowed[s] = reachable_row[s] and (s != t or not exclude_target)
        if allowed[s] and hops[t, s] < best:
            best = hops[t, s]
    for s in range(n_seg):
        ties[s] = allowed[s] and hops[t, s] == best
    for s in range(n_seg):
        allowed[s] = ties[s] and viable_row[s]
    lead = latest_of(ttp_row, amplitude_row, allowed)
    if lead <= 0:
        lead = _pick_row(ties, u_pick)
    if lead <= 0:
        lead = _pick_row(adjacency[t], u_pick)
    return lead


@numba.njit(cache=True)
def _aimed_row(rec, hops, adjacency, target, reachable_row, strain_map, u_aim, u_pick, u_miss,
               allowed, ties):
    # aim at `target`: kept with probability aim_success when a vein reaches it; a miss
    # ends (u_miss < miss_nearest_share) in the nearest reachable segment other than a
    # reachable target (the latest of them by the strain map), else in the empirical
    # position (-1 returned)
    t = target - 1
    target_ok = reachable_row[t]
    if target_ok and u_aim < rec.aim_success:
        return target
    if u_miss >= rec.miss_nearest_share:
        return -1
    return _nearest_other(hops, adjacency, t, target_ok, reachable_row, strain_map, u_pick,
                          allowed, ties)


@numba.njit(cache=True)
def _forced_row(rec, masks, hops, adjacency, target, reachable_row, strain_map, u_aim, u_pick,
                u_miss, finds_late, activation_row, scar_row, no_ties, allowed, ties):
    # concordance forced: the target with probability `concordance`; a miss lands where a
    # missed aim lands (nearest reachable other segment, or the empirical position: the
    # late site when the implanter finds it (`finds_late`, :func:`late_site`), else the
    # branch orders; when that is the target, the nearest other segment)
    t = target - 1
    if u_aim < rec.concordance:
        return target
    if u_miss < rec.miss_nearest_share:
        return _nearest_other(hops, adjacency, t, True, reachable_row, strain_map, u_pick,
                              allowed, ties)
    lead = late_site(activation_row, scar_row, reachable_row, allowed, no_ties) \
        if finds_late else -1
    if lead <= 0:
        lead = _empirical_row(masks, reachable_row, u_pick, allowed)
    if lead == target:
        lead = _nearest_other(hops, adjacency, t, True, reachable_row, strain_map, u_pick,
                              allowed, ties)
    return lead


@numba.njit(cache=True)
def _multimodality_target(ttp_row, amplitude_row, viable_row, scar_row, reachable_row,
                          target_segments, allowed):
    # the latest viable, scar-free, reachable segment by strain TTP among the study's
    # target segments (1-17; ties by the one rule: the larger peak magnitude, then the
    # lower segment); -1 if none
    for s in range(ttp_row.shape[0]):
        allowed[s] = (viable_row[s] and not scar_row[s] and reachable_row[s]
                      and target_segments[s])
    return latest_of(ttp_row, amplitude_row, allowed)


@numba.njit(cache=True)
def _region_target(ttp_row, amplitude_row, viable_row, target_segments, allowed):
    # the latest viable segment by strain TTP among the study's target segments (the
    # engine's rule on fewer segments); -1 if none
    for s in range(ttp_row.shape[0]):
        allowed[s] = viable_row[s] and target_segments[s]
    return latest_of(ttp_row, amplitude_row, allowed)


@numba.njit(cache=True, inline="always")
def _tied(rec, ttp_row, viable_row, aim, s):
    # whether segment index s is a target: the aim (1-based) or, with either_tie, a
    # segment of the study's region measured viable and exactly as late
    return s == aim - 1 or (rec.either_tie and rec.target_segments[s] and viable_row[s]
                            and ttp_row[s] == ttp_row[aim - 1])


@numba.njit(cache=True)
def _reachable_tie(rec, ttp_row, amplitude_row, viable_row, reachable_row, aim, allowed):
    # an aim no vein reaches: a tied target a vein reaches instead (the one rule among
    # them), else the aim itself
    for s in range(ttp_row.shape[0]):
        allowed[s] = reachable_row[s] and _tied(rec, ttp_row, viable_row, aim, s)
    other = latest_of(ttp_row, amplitude_row, allowed)
    return other if other > 0 else aim


@numba.njit(cache=True)
def _electrical_row(sd_ms, activation_row, error_row, reachable_row, qlv, no_ties):
    # the longest measured Q-LV among reachable sites (each site's error: error_row, a
    # standard normal per segment); -1 if no vein reaches anything
    for s in range(activation_row.shape[0]):
        qlv[s] = activation_row[s] + sd_ms * error_row[s]
    return latest_of(qlv, no_ties, reachable_row)


# the uniforms each patient draws for placement, whatever the strategy: aim, pick, miss,
# the wall an empirical implanter aims at, and whether an implant that falls back to the
# empirical position finds the late site
PLACEMENT_UNIFORMS = 5


@numba.njit(cache=True)
def placement_draws_kernel(rng, uniforms_out, qlv_error_out):
    """Every draw of lead placement, patient by patient, whatever the strategy: five
    uniforms (``uniforms_out`` (n, 5): aim, pick, miss, the empirical implanter's wall,
    late: whether an implant on the empirical path finds the late site)
    and one standard normal per segment (``qlv_error_out`` (n, 17): the Q-LV errors the
    ``electrical`` strategy reads). Both arms and every level read the same draws."""
    for i in range(uniforms_out.shape[0]):
        for j in range(uniforms_out.shape[1]):
            uniforms_out[i, j] = rng.random()
        for s in range(qlv_error_out.shape[1]):
            qlv_error_out[i, s] = rng.standard_normal()


class PlacementInputs(NamedTuple):
    """What lead placement reads of the engine's measurement and of the patients."""

    target: np.ndarray          # (n,) int64: the measured STE target (-1: none)
    ttp: np.ndarray             # (n, 17) the engine's TTP (ms)
    amplitude: np.ndarray       # (n, 17) peak strain magnitude (%), the rule's tie-break
    viable: np.ndarray          # (n, 17) bool
    scar: np.ndarray            # (n, 17) bool: what scar imaging shows
    activation_ms: np.ndarray   # (n, 17) electrical activation (what Q-LV measures)
    reachable: np.ndarray       # (n, 17) bool: segments a vein reaches
    uniforms: np.ndarray        # (n, 5) the placement uniforms (placement_draws_kernel)
    qlv_error: np.ndarray       # (n, 17) the Q-LV errors, standard normal


@numba.njit(cache=True)
def arm_strategy(rec, guided):
    """The index in :data:`STRATEGIES` of an arm's placement strategy: the image-guided
    arm's (``guided``) or the control arm's, from a :class:`PlacementRecord`."""
    return rec.strategy_guided if guided else rec.strategy_control


@numba.njit(cache=True)
def aims_by_imaging(rec, guided):
    """Whether an arm's leads are aimed by imaging (``ste`` or ``multimodality``): the
    arms in which patients and assessors know that imaging chose the site, where the
    NYHA channel outside the volumes applies
    (:attr:`~strainsim.model.outcomes.OutcomeParams.nyha_unblinded_logodds`). An arm
    labelled image-guided that aims by the Q-LV (``electrical``) or empirically does
    not."""
    strategy = arm_strategy(rec, guided)
    return strategy == STE or strategy == MULTIMODALITY


@numba.njit(cache=True)
def late_site(activation_row, scar_row, reachable_row, allowed, no_ties):
    """Where an implanter who finds the late site puts the lead: the latest activated
    segment (1-17) among those a vein reaches and the lead captures (not scar), by the
    one rule (:func:`~strainsim.measure.latest.latest_of`, no tie-break values); -1 if
    none. ``allowed`` is scratch of 17."""
    for s in range(activation_row.shape[0]):
        allowed[s] = reachable_row[s] and not scar_row[s]
    return latest_of(activation_row, no_ties, allowed)


@numba.njit(cache=True)
def place_kernel(rec, guided, inputs, aim_out, lead_out):
    """Each patient's target (``aim_out``) and lead segment (``lead_out``, 1-17), patient
    by patient, by the arm's strategy.

    From the patient's placement draws (:func:`placement_draws_kernel`: five uniforms,
    aim, pick, miss, the wall an empirical implanter aims at and late, and the Q-LV errors
    ``electrical`` reads), so both arms and every concordance level share them.
    ``target`` is the measured STE target (-1: none), ``ttp``/``amplitude``/``viable``
    the engine's per-segment results (the amplitude is the peak strain magnitude, the
    rule's tie-break), ``scar`` what
    scar imaging shows, ``activation_ms`` the electrical activation Q-LV measures.
    A study whose echo analysed fewer segments (``target_region``) takes the latest
    viable of those instead of the engine's target. The arm's target is the STE
    target, except in a ``multimodality`` image-guided
    arm, whose target is the latest viable, scar-free, reachable segment (the STE
    target when there is none). Forced concordance (image-guided arm only): the
    target with probability ``concordance``, else where a missed aim lands, never on
    the target. A strategy without a target (no viable segment measured), and a
    missed aim not sent to the nearest reachable segment, fall back to
    ``empirical``: where the late uniform is below ``empirical_late_share`` the
    implanter finds the late site (the latest activated reachable segment that is
    not scar, :func:`late_site`), else the branch orders decide. The late uniform is
    the patient's own, so a fallback finds the late site with the share whatever
    made the aim fail, in the calibrated world and at every forced level alike.
    """
    # arrays taken out of the records once (numba counts references at every access)
    target, ttp, amplitude, viable = inputs.target, inputs.ttp, inputs.amplitude, inputs.viable
    scar, activation_ms, reachable = inputs.scar, inputs.activation_ms, inputs.reachable
    uniforms, qlv_error = inputs.uniforms, inputs.qlv_error
    n, n_seg = reachable.shape
    hops, adjacency, target_segments = rec.hops, rec.adjacency, rec.target_segments
    strategy = arm_strategy(rec, guided)
    forced = guided and rec.concordance >= 0.0
    sd_ms = rec.qlv_error_sd_ms
    allowed = np.empty(n_seg, np.bool_)
    ties = np.empty(n_seg, np.bool_)
    qlv = np.empty(n_seg)
    no_ties = np.zeros(n_seg)
    for i in range(n):
        u_aim, u_pick, u_miss = uniforms[i, 0], uniforms[i, 1], uniforms[i, 2]
        finds_late = uniforms[i, 4] < rec.empirical_late_share
        masks = _empirical_masks(rec, uniforms[i, 3])
        aim = target[i]
        if not rec.every_segment:   # the study's echo analysed fewer segments
            aim = _region_target(ttp[i], amplitude[i], viable[i], target_segments, allowed)
        if guided and strategy == MULTIMODALITY:  # scar and vein imaging move the aim
            multimodality = _multimodality_target(
                ttp[i], amplitude[i], viable[i], scar[i], reachable[i], target_segments,
                allowed
            )
            if multimodality > 0:
                aim = multimodality
        if rec.either_tie and aim > 0 and not reachable[i, aim - 1]:
            aim = _reachable_tie(rec, ttp[i], amplitude[i], viable[i], reachable[i], aim,
                                 allowed)
        aim_out[i] = aim
        lead = -1
        strain_map = (ttp[i], amplitude[i], viable[i])
        if forced:
            if aim > 0:
                lead = _forced_row(rec, masks, hops, adjacency, aim, reachable[i], strain_map,
                                   u_aim, u_pick, u_miss, finds_late, activation_ms[i],
                                   scar[i], no_ties, allowed, ties)
        elif strategy == STE or strategy == MULTIMODALITY:
            if aim > 0:
                lead = _aimed_row(rec, hops, adjacency, aim, reachable[i], strain_map, u_aim,
                                  u_pick, u_miss, allowed, ties)
        elif strategy == ELECTRICAL:
            lead = _electrical_row(sd_ms, activation_ms[i], qlv_error[i], reachable[i], qlv,
                                  no_ties)
        if lead <= 0 and finds_late:   # the implanter finds the late site
            lead = late_site(activation_ms[i], scar[i], reachable[i], allowed, no_ties)
        if lead <= 0:
            lead = _empirical_row(masks, reachable[i], u_pick, allowed)
        lead_out[i] = lead


@numba.njit(cache=True, inline="always")
def classify_one(lead, reference, hops):
    """Concordant (0) / adjacent (1) / remote (2) by hops; -1 without a reference."""
    if reference > 0 and lead > 0:
        return min(hops[lead - 1, reference - 1], REMOTE)
    return -1


@numba.njit(cache=True)
def classify_kernel(lead, reference, hops, out):
    """:func:`classify_one` for every patient."""
    for i in range(lead.shape[0]):
        out[i] = classify_one(lead[i], reference[i], hops)


@numba.njit(cache=True)
def classify_measured_kernel(rec, lead, aim, ttp, viable, out):
    """Each lead's class against the arm's measured target ``aim`` by the study's
    distance (``rec.class_hops``): with ``concordance_ties`` "either", the nearest of
    the segments measured as late as the target (:class:`PlacementRecord`, the
    engine's ``ttp`` and ``viable``)."""
    hops = rec.class_hops
    for i in range(lead.shape[0]):
        c = classify_one(lead[i], aim[i], hops)
        if rec.either_tie and c > 0:
            for s in range(ttp.shape[1]):
                if _tied(rec, ttp[i], viable[i], aim[i], s):
                    c = min(c, hops[lead[i] - 1, s])
        out[i] = c


@numba.njit(cache=True)
def scar_at_lead_kernel(lead, scar, out):
    """Whether each patient's lead sits on scar (``lead`` 1-17)."""
    for i in range(lead.shape[0]):
        out[i] = scar[i, lead[i] - 1]


def scar_at_lead(lead: np.ndarray, scar: np.ndarray) -> np.ndarray:
    """Whether each patient's lead (1-17) sits on one of its scar segments."""
    lead = np.ascontiguousarray(lead, dtype=np.int64)
    out = np.empty(lead.shape[0], dtype=np.bool_)
    scar_at_lead_kernel(lead, np.ascontiguousarray(scar, dtype=np.bool_), out)
    return out


def classify(
    lead: np.ndarray, reference: np.ndarray, model: SegmentModel | None = None,
    definition: str = "segments",
) -> np.ndarray:
    """Concordant (0) / adjacent (1) / remote (2) by the study's ``definition``
    (:func:`concordance_hops`); -1 without a reference."""
    model = model or load_segments()
    lead = np.ascontiguousarray(lead, dtype=np.int64)
    reference = np.ascontiguousarray(reference, dtype=np.int64)
    if lead.shape != reference.shape or lead.ndim != 1:
        raise ValueError("lead and reference must be 1-d arrays of the same length")
    out = np.empty(lead.shape, dtype=np.int8)
    classify_kernel(lead, reference, concordance_hops(definition, model), out)
    return out


def _magnitude(peak_strain, kind: str) -> np.ndarray:
    """Peak strain magnitude (%): the rule's tie-break (longitudinal strain peaks negative)."""
    sign = 1.0 if kind == "radial" else -1.0
    return np.ascontiguousarray(sign * np.asarray(peak_strain, dtype=np.float64))


def place_leads(
    guided: bool,
    measured,
    activation,
    reachable: np.ndarray,
    rng: np.random.Generator,
    params: PlacementParams,
    model: SegmentModel | None = None,
) -> Placement:
    """Place every patient's lead by its arm's strategy (:func:`place_kernel`) and classify it.

    Parameters
    ----------
    guided : bool
        The image-guided arm (``params.image_guided``) or the control arm
        (``params.control``).
    measured : EngineResult
        The engine on the patients' baseline strain curves (the STE target).
    activation : Activation
        True activation times and scar (scar imaging, Q-LV and the true latest
        segment).
    reachable : ndarray of bool, shape (n, 17)
    rng : numpy.random.Generator
        The block's ``care`` stream, after the veins.
    params : PlacementParams
    model : SegmentModel, optional
    """
    model = model or load_segments()
    target = np.ascontiguousarray(measured.latest_segment, dtype=np.int64)
    reachable = np.ascontiguousarray(reachable, dtype=np.bool_)
    lead = np.empty(target.shape[0], dtype=np.int64)
    aim = np.empty(target.shape[0], dtype=np.int64)
    inputs = PlacementInputs(
        target=target,
        ttp=np.ascontiguousarray(measured.ttp_ms, dtype=np.float64),
        amplitude=_magnitude(measured.peak_strain, measured.kind),
        viable=np.ascontiguousarray(measured.viable, dtype=np.bool_),
        scar=np.ascontiguousarray(activation.scar, dtype=np.bool_),
        activation_ms=np.ascontiguousarray(activation.activation_ms, dtype=np.float64),
        reachable=reachable,
        uniforms=np.empty((target.shape[0], PLACEMENT_UNIFORMS)),
        qlv_error=np.empty((target.shape[0], N_SEGMENTS)),
    )
    placement_draws_kernel(rng, inputs.uniforms, inputs.qlv_error)
    rec = placement_record(params, model)
    place_kernel(rec, bool(guided), inputs, aim, lead)
    vs_measured = np.empty(lead.shape, dtype=np.int8)
    classify_measured_kernel(rec, lead, aim, inputs.ttp, inputs.viable, vs_measured)
    return Placement(
        lead_segment=lead,
        target_segment=aim,
        vs_measured=vs_measured,
        vs_true=classify(lead, activation.true_latest_segment, model,
                         params.concordance_definition),
        reachable=reachable,
    )
