"""Per-block statistics of an arm, and the one way they are merged into its summary.

The block simulator's last step: each seed block's outcomes and lead classes are
reduced, in one compiled pass, to a record of named counts, sums and moments
(:data:`BLOCK_STATS`, filled by :func:`block_stats_kernel`, the block simulator's last
stage). An arm's
:class:`ArmSummary` is always :func:`merge` of its blocks' records in block
order: counts and sums added, means and sums of squared deviations combined by
Chan, Golub and LeVeque's pairwise update (Am. Stat. 1983;37:242-247). The
numbers therefore do not depend on how blocks were grouped into chunks, on
threads or on worker processes, and a trial, a sweep replicate, a streamed
cohort and a cohort kept in memory give the same summary.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.summary import BLOCK_STATS, merge
>>> one = np.zeros(1, BLOCK_STATS)
>>> one["n"], one["nyha_improved"], one["esv_mean"], one["esv_m2"] = 4, 3, -10.0, 12.0
>>> two = one.copy()
>>> two["esv_mean"] = -20.0
>>> summary = merge(np.concatenate([one, two]))
>>> summary.n, summary.nyha_improved, summary.esv_change_mean
(8, 6, -15.0)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np

from strainsim.segments import N_SEGMENTS, load_segments

__all__ = ["ArmSummary", "BLOCK_STATS", "block_stats_kernel", "merge", "merge_kernel",
           "septal_mask", "quartile_shares", "end_shares", "QLV_BIN_MS", "QLV_BINS",
           "RESPONDER_ESV_CHANGE_PCT", "LEAD_REGIONS", "lead_regions"]

RESPONDER_ESV_CHANGE_PCT = -15.0  # an LVESV responder: a reduction of at least 15 %
QLV_BIN_MS = 2.0   # the Q-LV histogram's bin width (ms) ...
QLV_BINS = 160     # ... and bins from 0 ms; longer Q-LVs count in the last

_COUNTS = ("n", "nyha_improved", "esv_responders",
           "measured_none", "measured_concordant", "measured_adjacent", "measured_remote",
           "true_none", "true_concordant", "true_adjacent", "true_remote",
           "septal_latest", "lead_on_scar", "nyha_change_sum",
           "responders_concordant", "responders_discordant",
           "lead_anterior", "lead_lateral", "lead_posterior", "leads")
_SUMS = ("esv_concordant_sum", "esv_discordant_sum", "ef_concordant_sum",
         "ef_discordant_sum", "reduction_sum", "resync_sum", "qlv_sum",
         "esv_mean", "esv_m2", "edv_mean", "edv_m2", "ef_mean", "ef_m2")

_HISTOGRAMS = ("qlv_leads", "qlv_responders", "qlv_nyha_improved")

BLOCK_STATS = np.dtype([(name, np.int64) for name in _COUNTS]
                       + [(name, np.float64) for name in _SUMS]
                       + [(name, np.int64, (QLV_BINS,)) for name in _HISTOGRAMS])
"""One block's statistics: counts of patients (NYHA improved, LVESV responders, lead
classes against the measured target and the true latest segment, ``none`` where there
is no target; septal true latest segments; leads on scar), the LVESV change summed over
concordant and over discordant leads (and the LVEF change), the LVESV responders among
each, the NYHA class changes
summed, the mean and sum of squared deviations (``m2``) of the LVESV, LVEDV (% change)
and LVEF (points) changes, and the total activation time's reduction by pacing summed
(ms, and as a share of the intrinsic time); the leads (``leads``), the non-apical ones by
region (:data:`LEAD_REGIONS`) and the intrinsic activation time at the lead summed
(``qlv_sum``, ms: the Q-LV an electrogram there would show); and the leads and the LVESV
responders and the patients whose NYHA class improved among them by Q-LV, in bins of
:data:`QLV_BIN_MS` (``qlv_leads``, ``qlv_responders``, ``qlv_nyha_improved``: the Q-LV
quartiles' responders and tertiles' NYHA improvement of :class:`ArmSummary`)."""

# how registries and trials group non-apical LV lead positions by fluoroscopy (Behon
# 2020, physiology.toml; TARGET, trials.toml), read on the basal and mid walls: "posterior" is the wall the AHA's
# 17-segment model renamed inferolateral, with the inferior wall below it; the apical
# ring and the apex are not counted
LEAD_REGIONS = {"anterior": ("anterior", "anteroseptal"),
                "lateral": ("anterolateral",),
                "posterior": ("inferolateral", "inferior", "inferoseptal")}


@dataclass(frozen=True)
class ArmSummary:
    """Arm-level summaries, as a trial would report them.

    Attributes
    ----------
    n : int
    nyha_improved : int
        Patients better by at least one NYHA class.
    esv_responders : int
        Patients with an LVESV reduction of at least 15 %.
    esv_change_mean, esv_change_sd, edv_change_mean, edv_change_sd : float
        Percent volume changes (sample SDs).
    ef_change_mean, ef_change_sd : float
        Percentage points.
    concordant_measured, adjacent_measured, remote_measured : float
        Classes of the leads against the arm's measured target (among patients
        with one): the STE target measured at baseline, or in a multimodality
        image-guided arm the target imaging chose.
    concordant_true, adjacent_true, remote_true : float
        The same against the true latest non-scar segment.
    septal_latest : float
        Share of patients whose true latest non-scar segment is septal.
    lead_on_scar : float
        Share of leads on a scar segment.
    esv_change_concordant_mean, esv_change_discordant_mean : float
        Mean LVESV change (%) of the patients whose lead is concordant with the
        measured target, and of those whose lead is not (NaN without any).
    activation_time_reduction_mean_ms : float
        Mean shortening of the total activation time by biventricular pacing (ms).
    nyha_class_change_mean : float
        Mean NYHA class change (6 months minus baseline; negative is better).
    ef_change_concordant_mean, ef_change_discordant_mean : float
        Mean LVEF change (points) of concordant and of discordant leads (NaN without).
    resync_fraction_mean : float
        Mean share of the late-activated myocardium's activation time removed by pacing
        (what remodelling follows).
    lead_anterior_share, lead_lateral_share, lead_posterior_share : float
        Shares of the non-apical leads in each region (:data:`LEAD_REGIONS`).
    qlv_mean_ms : float
        Mean intrinsic activation time at the lead (ms from QRS onset).
    esv_responders_lowest_qlv_quartile, esv_responders_highest_qlv_quartile : float
        Share of LVESV responders among the quarter of the leads with the shortest and
        with the longest Q-LV (:func:`quartile_shares`).
    nyha_improved_lowest_qlv_tertile, nyha_improved_highest_qlv_tertile : float
        Share of patients whose NYHA class improved among the third of the leads with the
        shortest and with the longest Q-LV (:func:`end_shares`).
    esv_responders_concordant_fraction, esv_responders_discordant_fraction : float
        Share of LVESV responders among the patients whose lead is concordant with the
        measured target, and among those whose lead is not (NaN without any).
    """

    n: int
    nyha_improved: int
    esv_responders: int
    esv_change_mean: float
    esv_change_sd: float
    edv_change_mean: float
    edv_change_sd: float
    ef_change_mean: float
    ef_change_sd: float
    concordant_measured: float
    adjacent_measured: float
    remote_measured: float
    concordant_true: float
    adjacent_true: float
    remote_true: float
    septal_latest: float
    lead_on_scar: float
    esv_change_concordant_mean: float
    esv_change_discordant_mean: float
    activation_time_reduction_mean_ms: float
    nyha_class_change_mean: float
    ef_change_concordant_mean: float
    ef_change_discordant_mean: float
    resync_fraction_mean: float
    lead_anterior_share: float
    lead_lateral_share: float
    lead_posterior_share: float
    qlv_mean_ms: float
    esv_responders_lowest_qlv_quartile: float
    esv_responders_highest_qlv_quartile: float
    nyha_improved_lowest_qlv_tertile: float
    nyha_improved_highest_qlv_tertile: float
    esv_responders_concordant_fraction: float
    esv_responders_discordant_fraction: float

    @property
    def concordant_or_adjacent_measured(self) -> float:
        """Leads concordant with or adjacent to the measured STE target."""
        return self.concordant_measured + self.adjacent_measured


@numba.njit(cache=True, inline="always")
def _mean_m2(x):
    # mean and sum of squared deviations by two passes in index order (NaN for none)
    n = x.shape[0]
    if n == 0:
        return np.nan, np.nan
    total = 0.0
    for i in range(n):
        total += x[i]
    mean = total / n
    m2 = 0.0
    for i in range(n):
        d = x[i] - mean
        m2 += d * d
    return mean, m2


@numba.njit(cache=True)
def block_stats_kernel(o, a, septal, regions, out):
    """Fill the one record ``out[0]`` (:data:`BLOCK_STATS`) from a block's outcomes ``o``
    (:class:`~strainsim.model.outcomes.OutcomeArrays`) and lead classes (``a``, the
    block's arrays); ``septal`` and ``regions`` (:func:`lead_regions`) by segment
    number."""
    nyha, esv_change, edv_change, ef_change = (o.nyha_improved, o.esv_change_pct,
                                                o.edv_change_pct, o.ef_change)
    vs_measured, vs_true, true_latest, on_scar = (a.vs_measured, a.vs_true, a.true_latest,
                                                  a.scar_at_lead)
    totals = a.pacing_totals
    r = out[0]
    n = nyha.shape[0]
    r.n = n
    r.nyha_improved = 0
    r.esv_responders = 0
    r.measured_none = r.measured_concordant = r.measured_adjacent = r.measured_remote = 0
    r.true_none = r.true_concordant = r.true_adjacent = r.true_remote = 0
    r.septal_latest = 0
    r.lead_on_scar = 0
    r.esv_concordant_sum = 0.0
    r.esv_discordant_sum = 0.0
    r.reduction_sum = 0.0
    r.resync_sum = 0.0
    r.ef_concordant_sum = 0.0
    r.ef_discordant_sum = 0.0
    r.nyha_change_sum = 0
    r.responders_concordant = r.responders_discordant = 0
    r.lead_anterior = r.lead_lateral = r.lead_posterior = r.leads = 0
    r.qlv_sum = 0.0
    for k in range(QLV_BINS):
        r.qlv_leads[k] = 0
        r.qlv_responders[k] = 0
        r.qlv_nyha_improved[k] = 0
    nyha_change, resync, lead, activation = o.nyha_class_change, a.resync, a.lead, \
        a.activation_ms
    for i in range(n):
        responder = esv_change[i] <= RESPONDER_ESV_CHANGE_PCT
        if lead[i] > 0:
            r.leads += 1
            qlv = activation[i, lead[i] - 1]
            r.qlv_sum += qlv
            k = min(max(int(qlv / QLV_BIN_MS), 0), QLV_BINS - 1)
            r.qlv_leads[k] += 1
            r.qlv_responders[k] += responder
            r.qlv_nyha_improved[k] += nyha[i]
            region = regions[lead[i]]
            if region == 1:
                r.lead_anterior += 1
            elif region == 2:
                r.lead_lateral += 1
            elif region == 3:
                r.lead_posterior += 1
        r.reduction_sum += totals[i, 0] - totals[i, 1]
        r.resync_sum += resync[i]
        r.nyha_change_sum += nyha_change[i]
        r.nyha_improved += nyha[i]
        r.esv_responders += responder
        c = vs_measured[i]
        if c < 0:
            r.measured_none += 1
        elif c == 0:
            r.measured_concordant += 1
            r.responders_concordant += responder
            r.esv_concordant_sum += esv_change[i]
            r.ef_concordant_sum += ef_change[i]
        else:
            r.responders_discordant += responder
            r.esv_discordant_sum += esv_change[i]
            r.ef_discordant_sum += ef_change[i]
            if c == 1:
                r.measured_adjacent += 1
            else:
                r.measured_remote += 1
        c = vs_true[i]
        if c < 0:
            r.true_none += 1
        elif c == 0:
            r.true_concordant += 1
        elif c == 1:
            r.true_adjacent += 1
        else:
            r.true_remote += 1
        r.septal_latest += true_latest[i] > 0 and septal[true_latest[i]]
        r.lead_on_scar += on_scar[i]
    r.esv_mean, r.esv_m2 = _mean_m2(esv_change)
    r.edv_mean, r.edv_m2 = _mean_m2(edv_change)
    r.ef_mean, r.ef_m2 = _mean_m2(ef_change)


@functools.cache
def lead_regions() -> np.ndarray:
    """int8 array indexed by segment number (0-17): 1 anterior, 2 lateral, 3 posterior
    (:data:`LEAD_REGIONS`), 0 for the apical ring, the apex and index 0."""
    codes = np.zeros(N_SEGMENTS + 1, dtype=np.int8)
    model = load_segments()
    for code, walls in enumerate(LEAD_REGIONS.values(), start=1):
        for s in model.segments:
            if s.wall in walls and s.ring in ("basal", "mid"):
                codes[s.number] = code
    return codes


@functools.cache
def septal_mask() -> np.ndarray:
    """Bool array indexed by segment number (0-17): the septal segments."""
    mask = np.zeros(N_SEGMENTS + 1, dtype=np.bool_)
    mask[load_segments().numbers(wall=("anteroseptal", "inferoseptal", "septal"))] = True
    return mask


@numba.njit(cache=True, inline="always")
def _pairwise(n_b, mean_b, m2_b):
    # mean and sample SD of one outcome over the blocks (their n, means and M2), merged
    # in block order by Chan, Golub and LeVeque's update
    n_a, mean_a, m2_a = 0, 0.0, 0.0
    for b in range(n_b.shape[0]):
        n = n_b[b]
        if n == 0:
            continue
        total = n_a + n
        delta = mean_b[b] - mean_a
        mean_a = mean_a + delta * n / total
        m2_a = m2_a + m2_b[b] + delta * delta * n_a * n / total
        n_a = total
    if n_a == 0:
        return np.nan, np.nan
    return mean_a, (math.sqrt(m2_a / (n_a - 1)) if n_a > 1 else np.nan)


@numba.njit(cache=True, inline="always")
def _ratio(total, count):
    return total / count if count else np.nan


@numba.njit(cache=True, inline="always")
def _shares(a, b, c):
    evaluable = a + b + c
    if evaluable == 0:
        return np.nan, np.nan, np.nan
    return a / evaluable, b / evaluable, c / evaluable


@numba.njit(cache=True)
def _tail_share(leads, hits, share, step):
    # hits over the ``share`` leads at one end of the histogram (``step`` +1 from the
    # shortest Q-LV, -1 from the longest), the bin the share ends in counted in proportion
    taken = found = 0.0
    k = 0 if step > 0 else leads.shape[0] - 1
    while 0 <= k < leads.shape[0] and taken < share:
        if leads[k]:
            part = min(1.0, (share - taken) / leads[k])
            taken += part * leads[k]
            found += part * hits[k]
        k += step
    return found / share


@numba.njit(cache=True)
def end_shares(leads, hits, fraction):
    """Share of hits (LVESV responders, NYHA improved) among the ``fraction`` (0-1) of
    the leads with the shortest and among those with the longest Q-LV, from the leads
    (``leads``) and hits (``hits``) per Q-LV bin (:data:`QLV_BIN_MS`): the bin where
    such a share of the leads ends is counted in proportion (its hits taken as spread
    evenly over its leads). NaN without leads."""
    total = 0
    for k in range(leads.shape[0]):
        total += leads[k]
    if total == 0:
        return np.nan, np.nan
    share = total * fraction
    return (_tail_share(leads, hits, share, 1), _tail_share(leads, hits, share, -1))


@numba.njit(cache=True)
def quartile_shares(leads, responders):
    """Share of LVESV responders in the lowest and in the highest Q-LV quartile
    (:func:`end_shares` of a quarter of the leads)."""
    return end_shares(leads, responders, 0.25)


@numba.njit(cache=True)
def merge_kernel(stats):
    """The fields of :class:`ArmSummary`, in order, from the blocks' records ``stats``
    (:data:`BLOCK_STATS`, block order): counts and sums added in block order, the
    outcome moments by :func:`_pairwise`."""
    n = nyha = responders = 0
    m_none = m_conc = m_adj = m_rem = t_none = t_conc = t_adj = t_rem = 0
    septal = on_scar = nyha_change = anterior = lateral = posterior = leads = 0
    responders_conc = responders_disc = 0
    esv_conc = esv_disc = ef_conc = ef_disc = reduction = resync = qlv = 0.0
    qlv_leads = np.zeros(QLV_BINS, np.int64)
    qlv_responders = np.zeros(QLV_BINS, np.int64)
    qlv_nyha = np.zeros(QLV_BINS, np.int64)
    for b in range(stats.shape[0]):
        r = stats[b]
        for k in range(QLV_BINS):
            qlv_leads[k] += r.qlv_leads[k]
            qlv_responders[k] += r.qlv_responders[k]
            qlv_nyha[k] += r.qlv_nyha_improved[k]
        n += r.n
        nyha += r.nyha_improved
        responders += r.esv_responders
        m_none += r.measured_none
        m_conc += r.measured_concordant
        m_adj += r.measured_adjacent
        m_rem += r.measured_remote
        t_none += r.true_none
        t_conc += r.true_concordant
        t_adj += r.true_adjacent
        t_rem += r.true_remote
        septal += r.septal_latest
        on_scar += r.lead_on_scar
        nyha_change += r.nyha_change_sum
        responders_conc += r.responders_concordant
        responders_disc += r.responders_discordant
        anterior += r.lead_anterior
        lateral += r.lead_lateral
        posterior += r.lead_posterior
        leads += r.leads
        esv_conc += r.esv_concordant_sum
        esv_disc += r.esv_discordant_sum
        ef_conc += r.ef_concordant_sum
        ef_disc += r.ef_discordant_sum
        reduction += r.reduction_sum
        resync += r.resync_sum
        qlv += r.qlv_sum
    esv_mean, esv_sd = _pairwise(stats.n, stats.esv_mean, stats.esv_m2)
    edv_mean, edv_sd = _pairwise(stats.n, stats.edv_mean, stats.edv_m2)
    ef_mean, ef_sd = _pairwise(stats.n, stats.ef_mean, stats.ef_m2)
    cm, am, rm = _shares(m_conc, m_adj, m_rem)
    ct, at, rt = _shares(t_conc, t_adj, t_rem)
    discordant = m_adj + m_rem
    non_apical = anterior + lateral + posterior
    lowest, highest = quartile_shares(qlv_leads, qlv_responders)
    nyha_lowest, nyha_highest = end_shares(qlv_leads, qlv_nyha, 1.0 / 3.0)
    return (n, nyha, responders, esv_mean, esv_sd, edv_mean, edv_sd, ef_mean, ef_sd,
            cm, am, rm, ct, at, rt, _ratio(septal, n), _ratio(on_scar, n),
            _ratio(esv_conc, m_conc), _ratio(esv_disc, discordant), _ratio(reduction, n),
            _ratio(nyha_change, n), _ratio(ef_conc, m_conc), _ratio(ef_disc, discordant),
            _ratio(resync, n), _ratio(anterior, non_apical), _ratio(lateral, non_apical),
            _ratio(posterior, non_apical), _ratio(qlv, leads), lowest, highest,
            nyha_lowest, nyha_highest, _ratio(responders_conc, m_conc),
            _ratio(responders_disc, discordant))


def merge(stats: np.ndarray) -> ArmSummary:
    """An arm's summary from its blocks' statistics (:data:`BLOCK_STATS`, block order;
    :func:`merge_kernel`)."""
    fields = merge_kernel(np.ascontiguousarray(np.asarray(stats, dtype=BLOCK_STATS)
                                               .reshape(-1)))
    return ArmSummary(int(fields[0]), int(fields[1]), int(fields[2]),
                      *(float(x) for x in fields[3:]))
