"""Teaching experiments: the concordance sweep, power and sample size.

The sweep asks what the five-trial meta-analysis would have shown had the
image-guided arms achieved a given concordance rate. For every level it runs
many replicates of the whole virtual meta-analysis (every patient through the
full pipeline) and reports the mean pooled effect, the mean CI width, the power
(share of replicates whose pooled CI excludes no effect) and the number of
patients a meta-analysis would need for 80 % power.

Every replicate also runs the same world with the image-guided benefit switched
off (same patients, measurements, leads and outcome draws; the lead's position
has no effect, and trials still differ by their shift, of mean zero), which
gives the pooling method's false-positive rate.

Replicate ``r`` of level ``j`` always uses the seed ``SeedSequence(seed)``
-> child ``j`` -> child ``r``, so results are identical whether replicates
run one after another, in worker processes or on a Dask cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from strainsim.model.placement import PlacementParams
from strainsim.seeding import child
from strainsim.stats.pooling import pool_many
from strainsim.studies.specs import TrialSpec, load_spec
from strainsim.studies.trials import (
    OUTCOMES,
    simulate_trial_levels,
    trial_effect_sizes,
)

__all__ = [
    "FIVE_TRIALS",
    "DEFAULT_LEVELS",
    "SweepLevel",
    "SweepResult",
    "five_trial_specs",
    "with_concordance",
    "run_replicates",
    "concordance_sweep",
    "run_level_replicates",
    "LevelRuns",
    "pool_runs",
    "true_effects",
    "level_statistics",
    "compare_methods",
    "summarize_sweep",
    "published_targets",
    "share_mcse",
    "replicates_for_mcse",
    "DEFAULT_MCSE",
    "DEFAULT_REPLICATES",
]

FIVE_TRIALS = ("target", "starter", "imagingcrt", "electrocrt", "lund")
DEFAULT_LEVELS = (0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_FIELDS = ("estimate", "se", "ci_low", "ci_high", "p", "tau2")


def published_targets() -> dict[str, tuple[float, float, float]]:
    """The published pooled results: outcome -> (estimate, CI low, CI high).

    Read from ``cohorts/published/meta_analysis.toml`` (OR on the ratio scale).
    """
    from strainsim.resources import data_path, read_toml

    raw = read_toml(data_path("cohorts", "published/meta_analysis.toml"))["pooled"]
    return {key: (float(v["estimate"]), float(v["ci"][0]), float(v["ci"][1]))
            for key, v in raw.items()}


def five_trial_specs() -> list[TrialSpec]:
    """The five trials of the published meta-analysis (818 patients, 426/392), as shipped
    specs: TARGET, STARTER, ImagingCRT, ElectroCRT and Lund."""
    return [load_spec(name) for name in FIVE_TRIALS]


def with_concordance(specs: list[TrialSpec], concordance: float | None) -> list[TrialSpec]:
    """The same specs with the image-guided concordance forced to ``concordance``."""
    return [replace(s, placement=replace(s.placement, concordance=concordance))
            for s in specs]


def run_replicates(specs: list[TrialSpec], seeds: list[np.random.SeedSequence],
                   method: str = "REML", test: str = "knha",
                   numba_threads: int | None = None) -> np.ndarray:
    """Virtual meta-analyses of ``specs`` as they are, one per seed, in two worlds,
    pooled (:func:`run_level_replicates` at the specs' own concordance, then
    :func:`pool_runs`).

    Returns
    -------
    ndarray, shape (replicates, 2, 4 outcomes, 6 fields)
    """
    runs = run_level_replicates(specs, seeds, (None,), numba_threads)
    return pool_runs(runs, method, test)[0]


class LevelRuns(NamedTuple):
    """Every trial's effect sizes of a set of replicates at every level.

    yi, vi : ndarray, shape (levels, replicates, 2 worlds, 4 outcomes, trials)
        Effect sizes (:func:`~strainsim.studies.trials.trial_effect_sizes`) and their
        variances; world 0 as simulated, world 1 with the image-guided benefit off.
    concordance : ndarray, shape (levels, replicates)
        The image-guided arms' concordance with their measured targets, patient-weighted
        over the trials.
    """

    yi: np.ndarray
    vi: np.ndarray
    concordance: np.ndarray


def run_level_replicates(specs: list[TrialSpec], seeds: list[np.random.SeedSequence],
                         levels=(None,), numba_threads: int | None = None) -> LevelRuns:
    """Virtual meta-analyses, one per seed, in two worlds, at every concordance level.

    Each replicate simulates one trial per spec (:func:`virtual_meta_analysis`'s
    seeds) with its null world, at each of ``levels`` (a forced image-guided
    concordance, or None for the specs' own world) on common random numbers
    (:func:`~strainsim.studies.trials.simulate_trial_levels`: a replicate's patients,
    curves, veins and trial shifts are drawn once and shared by its levels). The trials'
    effect sizes are returned unpooled, so any method can pool them
    (:func:`pool_runs`).
    """
    if numba_threads is not None:
        import numba

        numba.set_num_threads(numba_threads)
    level_specs = [with_concordance(specs, x) if x is not None else list(specs)
                   for x in levels]
    by_level = [[] for _ in level_specs]
    for seed in seeds:
        for t, spec_levels in enumerate(zip(*level_specs, strict=True)):
            # a forced concordance reaches the image-guided arm only: the control arm
            # is the spec's own, once
            results = simulate_trial_levels(list(spec_levels), child(seed, t),
                                            null_world=True, control_spec=specs[t])
            for j, result in enumerate(results):
                by_level[j].append(result)
    shape = (len(level_specs), len(seeds), 2, len(OUTCOMES), len(specs))
    yi, vi = np.empty(shape), np.empty(shape)
    concordance = np.empty((len(level_specs), len(seeds)))
    rows = (len(seeds), len(specs))
    for j, trials in enumerate(by_level):
        labels = tuple(t.spec.name for t in trials)
        rate = np.array([t.guided.concordant_measured for t in trials]).reshape(rows)
        n = np.array([t.guided.n for t in trials], float).reshape(rows)
        concordance[j] = (rate * n).sum(axis=1) / n.sum(axis=1)
        for world, (guided, control) in enumerate((
                ([t.guided for t in trials], [t.control for t in trials]),
                ([t.null_guided for t in trials], [t.null_control for t in trials]))):
            effects = trial_effect_sizes(guided, control, labels)
            for k, key in enumerate(OUTCOMES):
                yi[j, :, world, k] = effects[key].yi.reshape(rows)
                vi[j, :, world, k] = effects[key].vi.reshape(rows)
    return LevelRuns(yi, vi, concordance)


def pool_runs(runs: LevelRuns, method: str = "REML", test: str = "knha") -> np.ndarray:
    """Pool every replicate of :func:`run_level_replicates` (one
    :func:`~strainsim.stats.pooling.pool_many` call per level, world and outcome).

    Returns
    -------
    ndarray, shape (levels, replicates, 2, 4 outcomes, 6 fields :data:`_FIELDS`)
    """
    n_levels, n_reps = runs.yi.shape[:2]
    out = np.empty((n_levels, n_reps, 2, len(OUTCOMES), len(_FIELDS)))
    for j in range(n_levels):
        for world in range(2):
            for k in range(len(OUTCOMES)):
                pooled = pool_many(runs.yi[j, :, world, k], runs.vi[j, :, world, k],
                                   method, test)
                for f, name in enumerate(_FIELDS):
                    out[j, :, world, k, f] = getattr(pooled, name)
    return out


def concat_runs(parts: list[LevelRuns]) -> LevelRuns:
    """Runs of consecutive replicate batches as one (replicates in order)."""
    return LevelRuns(*(np.concatenate([getattr(p, f) for p in parts], axis=1)
                       for f in LevelRuns._fields))


def true_effects(runs: LevelRuns) -> np.ndarray:
    """The world's true mean effect per level and outcome (levels, 4): the mean of every
    trial's effect size over the replicates (each trial's estimate is unbiased for its
    trial's effect, and trials differ around the world's mean by shifts of mean zero)."""
    return runs.yi[:, :, 0].mean(axis=(1, 3))


# the direction of benefit of each outcome: a larger NYHA odds ratio and LVEF change, a
# smaller (more negative) LVESV and LVEDV change
BENEFIT_SIGN = {"nyha": 1.0, "lvesv": -1.0, "lvedv": -1.0, "lvef": 1.0}


@dataclass(frozen=True)
class SweepLevel:
    """Summary of one concordance level, with Monte Carlo standard errors.

    Attributes
    ----------
    concordance : float
    mean_estimate, mean_ci_width : dict of str to float
        Per outcome (``nyha`` on the odds-ratio scale for the estimate, log scale
        for the CI width).
    power_benefit, power_harm : dict of str to float
        Share of the replicates whose pooled CI lies wholly on the side of benefit
        (:data:`BENEFIT_SIGN`), and wholly on the side of harm.
    patients_for_80 : dict of str to dict
        Per outcome: ``patients``, the total a meta-analysis of copies of the trial mix
        needs for 80 % power to show benefit, found by simulation
        (:func:`simulated_sample_size`), its Monte Carlo interval ``low`` and ``high``,
        and ``t``, the analytic shortcut (:func:`t_sample_size`).
    false_positive : dict of str to float
        Share of the same replicates, with the image-guided benefit switched off,
        whose pooled CI excludes no effect (either side: the test's type I error).
    mcse : dict of str to dict
        Per outcome, the Monte Carlo standard error of ``estimate``, ``power_benefit``,
        ``power_harm`` and ``false_positive`` (the simulation-study convention:
        ``sqrt(p (1 - p) / R)`` for a share of R replicates, the replicates' SD over
        ``sqrt(R)`` for a mean; for the NYHA odds ratio by the delta method).
    coverage : dict of str to float
        Per outcome, the share of pooled CIs that contain the world's true mean effect
        (:func:`true_effects`).
    world : {"calibrated", "what-if"}
        The calibrated world as it is (its own concordance, ``concordance`` the mean
        achieved), or a forced concordance.
    """

    concordance: float
    mean_estimate: dict
    mean_ci_width: dict
    power_benefit: dict
    power_harm: dict
    patients_for_80: dict
    false_positive: dict
    mcse: dict
    world: str = "what-if"
    coverage: dict | None = None


@dataclass(frozen=True)
class SweepResult:
    """The concordance sweep.

    Attributes
    ----------
    levels : tuple of float
    replicates : ndarray, shape (n_levels, n_replicates, 4, 6)
        Pooled estimate, SE, CI, p and tau^2 of every replicate (outcomes in
        :data:`strainsim.studies.trials.OUTCOMES` order).
    null_replicates : ndarray, shape (n_levels, n_replicates, 4, 6)
        The same replicates with the image-guided benefit switched off.
    n_patients : int
        Patients per virtual meta-analysis.
    n_trials : int
        Trials per virtual meta-analysis.
    seed : int
    method, test : str
        Pooling method and test.
    summary : tuple of SweepLevel
        The forced levels.
    calibrated : SweepLevel or None
        The calibrated world on the same replicates, at its own concordance.
    calibrated_replicates, calibrated_null : ndarray, shape (n_replicates, 4, 6)
    runs : LevelRuns or None
        Every trial's effect sizes (the calibrated world first), to pool otherwise
        (:func:`compare_methods`).
    """

    levels: tuple
    replicates: np.ndarray
    null_replicates: np.ndarray
    n_patients: int
    n_trials: int
    seed: int
    method: str
    test: str
    summary: tuple
    calibrated: SweepLevel | None = None
    calibrated_replicates: np.ndarray | None = None
    calibrated_null: np.ndarray | None = None
    runs: LevelRuns | None = None

    def slope_on_concordance(self) -> dict:
        """Per outcome, the slope of the pooled estimate on the forced concordance (per
        unit, 0 to 1; nyha on the log odds-ratio scale): each replicate's least-squares
        slope across the levels (common random numbers make it a within-replicate
        contrast), averaged, with its Monte Carlo standard error. Empty with one level."""
        x = np.asarray(self.levels, float)
        if x.size < 2 or np.ptp(x) == 0:
            return {}
        centred = x - x.mean()
        out = {}
        for k, key in enumerate(OUTCOMES):
            est = self.replicates[:, :, k, 0]              # (levels, replicates)
            slopes = centred @ (est - est.mean(axis=0)) / (centred @ centred)
            r = slopes.size
            out[key] = {"slope": float(slopes.mean()),
                        "slope_mcse": float(slopes.std(ddof=1) / np.sqrt(r)) if r > 1
                        else float("nan")}
        return out

    def table(self) -> list[dict]:
        """One JSON-ready row per level, the calibrated world first (``world``)."""
        rows = []
        for level in ((self.calibrated,) if self.calibrated else ()) + tuple(self.summary):
            row = {"world": level.world, "concordance": level.concordance}
            for key in OUTCOMES:
                error = level.mcse[key]
                row[f"{key}_estimate"] = level.mean_estimate[key]
                row[f"{key}_estimate_mcse"] = error["estimate"]
                row[f"{key}_ci_width"] = level.mean_ci_width[key]
                row[f"{key}_power_benefit"] = level.power_benefit[key]
                row[f"{key}_power_benefit_mcse"] = error["power_benefit"]
                row[f"{key}_power_harm"] = level.power_harm[key]
                row[f"{key}_power_harm_mcse"] = error["power_harm"]
                need = level.patients_for_80[key]
                row[f"{key}_patients_for_80"] = need["patients"]
                row[f"{key}_patients_for_80_low"] = need["low"]
                row[f"{key}_patients_for_80_high"] = need["high"]
                row[f"{key}_patients_for_80_t"] = need["t"]
                row[f"{key}_false_positive"] = level.false_positive[key]
                row[f"{key}_false_positive_mcse"] = error["false_positive"]
                if level.coverage is not None:
                    row[f"{key}_coverage"] = level.coverage[key]
                    row[f"{key}_coverage_mcse"] = error["coverage"]
            rows.append(row)
        return rows


POWER_GOAL = 0.80
MIN_GROUPS = 20   # simulated meta-analyses at least, to read a power off


def _benefit(pooled_low, pooled_high, sign: float) -> np.ndarray:
    return pooled_low > 0 if sign > 0 else pooled_high < 0


def simulated_sample_size(yi: np.ndarray, vi: np.ndarray, n_patients: int, sign: float,
                          method: str = "REML", test: str = "knha") -> dict:
    """Total patients for 80 % power to show benefit, found by simulation.

    A meta-analysis of ``m`` times the trial mix is ``m`` independent replicates'
    trials pooled together (each replicate is the same five designs, drawn anew), so
    the ``R`` replicates give ``R // m`` simulated meta-analyses of ``m * k`` trials,
    pooled with the same method and test. ``m`` is doubled until the power reaches
    80 %, then bisected to neighbouring integers; the answer interpolates linearly
    between them, and its Monte Carlo interval is where the power's 95 % interval
    (binomial, at that size) crosses 80 % on the same line. Beyond ``R // 20`` copies
    (fewer than :data:`MIN_GROUPS` meta-analyses) the search stops: the answer is NaN
    and ``low`` says how far it looked.

    Parameters
    ----------
    yi, vi : ndarray, shape (R, k)
        Every replicate's trial effect sizes and variances.
    n_patients : int
        Patients of one replicate (the meta-analysis at ``m = 1``).
    sign : float
        +1 when benefit is a positive effect, -1 when negative.

    Returns
    -------
    dict with ``patients``, ``low``, ``high`` and ``power_at_1`` (the power at
    ``n_patients``: the sweep's own).
    """
    replicates, k = yi.shape
    cache: dict = {}

    def power(m: int) -> float:
        if m not in cache:
            groups = replicates // m
            pooled = pool_many(yi[:groups * m].reshape(groups, m * k),
                               vi[:groups * m].reshape(groups, m * k), method, test)
            cache[m] = float(_benefit(pooled.ci_low, pooled.ci_high, sign).mean())
        return cache[m]

    top = max(1, replicates // MIN_GROUPS)
    first = power(1)
    if first >= POWER_GOAL:
        return {"patients": float(n_patients), "low": float("nan"),
                "high": float(n_patients), "power_at_1": first}
    lo, hi = 1, None
    m = 1
    while m < top:
        m = min(2 * m, top)
        if power(m) >= POWER_GOAL:
            hi = m
            break
        lo = m
    if hi is None:
        return {"patients": float("nan"), "low": float(n_patients * top),
                "high": float("nan"), "power_at_1": first}
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power(mid) >= POWER_GOAL:
            hi = mid
        else:
            lo = mid
    p_lo, p_hi = power(lo), power(hi)
    slope = (p_hi - p_lo) / (hi - lo)
    if slope <= 0:
        return {"patients": float(n_patients * hi), "low": float("nan"),
                "high": float("nan"), "power_at_1": first}
    found = lo + (POWER_GOAL - p_lo) / slope
    half = 1.96 * share_mcse(POWER_GOAL, max(1, replicates // max(1, round(found))))
    return {"patients": float(n_patients * found),
            "low": float(n_patients * max(found - half / slope, 1.0)),
            "high": float(n_patients * (found + half / slope)), "power_at_1": first}


def t_sample_size(effect: float, within_var: float, tau2: float, k: int, n_patients: int,
                  sign: float, test: str = "knha") -> float:
    """The analytic shortcut: total patients for 80 % power when the meta-analysis grows
    by copies of its ``k`` trials, the pooled estimate's variance ``(within + tau^2) /
    trials`` and the test Hartung-Knapp's t on ``trials - 1`` degrees of freedom (its
    power from the noncentral t; a normal test for ``test = "z"``). NaN when the mean
    effect is not on the side of benefit."""
    from scipy.optimize import brentq
    from scipy.stats import nct, norm, t

    if not effect * sign > 0 or not all(map(math.isfinite, (effect, within_var, tau2))):
        return float("nan")   # no benefit to detect, or no heterogeneity estimate (k = 1)

    def shortfall(m: float) -> float:
        trials = m * k
        ncp = abs(effect) / math.sqrt((within_var + tau2) / trials)
        if test == "z":
            return float(norm.sf(norm.isf(0.025) - ncp)) - POWER_GOAL
        df = trials - 1
        return float(nct.sf(t.isf(0.025, df), df, ncp)) - POWER_GOAL

    # Hartung-Knapp needs two trials at least: the search starts where there are two
    start = 1.0 if test == "z" else max(1.0, 2.0 / k)
    if shortfall(start) >= 0:
        return float(n_patients * start)
    top = start
    while shortfall(top) < 0:
        top *= 2
        if top > 1e7:
            return float("inf")
    return float(n_patients * brentq(shortfall, max(start, top / 2), top))


def _sample_sizes(runs, data, truth, j, k, key, n_patients, method, test) -> dict:
    """Level ``j``'s sample size for outcome ``k``: by simulation and by the shortcut."""
    sign = BENEFIT_SIGN[key]
    out = simulated_sample_size(runs.yi[j, :, 0, k], runs.vi[j, :, 0, k], n_patients, sign,
                                method, test)
    out["t"] = t_sample_size(float(truth[j, k]), float(np.mean(runs.vi[j, :, 0, k])),
                             float(np.mean(data[j, :, 0, k, 5])), runs.yi.shape[-1],
                             n_patients, sign, test)
    return out


def level_statistics(runs: LevelRuns, n_patients: int, method: str = "REML",
                     test: str = "knha", numba_threads: int | None = None) -> tuple:
    """What the sweep reads off ``runs`` (usually one level's): every replicate pooled
    (:func:`pool_runs`), the true effects (:func:`true_effects`) and each outcome's
    sample sizes, by simulation and by the shortcut, per level (a job a mapper runs).

    Returns
    -------
    (data, truth, sizes): :func:`pool_runs`'s array, :func:`true_effects`'s, and one
    dict per level of the sample sizes by outcome.
    """
    if numba_threads is not None:
        import numba

        numba.set_num_threads(numba_threads)
    data = pool_runs(runs, method, test)
    truth = true_effects(runs)
    sizes = [{key: _sample_sizes(runs, data, truth, j, k, key, n_patients, method, test)
              for k, key in enumerate(OUTCOMES)} for j in range(runs.yi.shape[0])]
    return data, truth, sizes


def _significant(data):
    return (data[:, :, 2] > 0) | (data[:, :, 3] < 0)


def share_mcse(p: float, replicates: int) -> float:
    """Monte Carlo standard error of a share ``p`` of ``replicates`` replicates."""
    return float(np.sqrt(p * (1.0 - p) / replicates))


def replicates_for_mcse(mcse: float, p: float = 0.5) -> int:
    """Replicates that keep the Monte Carlo SE of a share ``p`` at most ``mcse`` (both
    fractions; ``p = 0.5``, the default, is the worst case, so the bound holds for every
    share): the inverse of :func:`share_mcse`.

    >>> replicates_for_mcse(0.015)
    1112
    """
    if not 0.0 < mcse < 1.0 or not 0.0 <= p <= 1.0:
        raise ValueError("mcse must be in (0, 1) and p in [0, 1]")
    return max(1, math.ceil(p * (1.0 - p) / mcse**2 - 1e-9))


# the default sweep: the Monte Carlo SE of every power, false-positive rate and
# coverage at most 1.5 points
DEFAULT_MCSE = 0.015
DEFAULT_REPLICATES = replicates_for_mcse(DEFAULT_MCSE)


def summarize_sweep(levels, replicates: np.ndarray, n_patients: int,
                    null_replicates: np.ndarray, world: str = "what-if",
                    truth: np.ndarray | None = None, sizes=None) -> tuple:
    """Per-level means, CI widths, directional power, patients needed for 80 % power
    and the false-positive rate of the null world, each share and mean with its Monte
    Carlo standard error; with ``truth`` (levels, 4: the world's true effects, log
    odds ratio for nyha) the share of pooled CIs that cover it."""
    out = []
    for j, level in enumerate(levels):
        data = replicates[j]
        r = data.shape[0]
        est = data[:, :, 0]
        low, high = data[:, :, 2], data[:, :, 3]
        null_significant = _significant(null_replicates[j])
        mean_est, width, benefit, harm, need, false_pos, mcse = {}, {}, {}, {}, {}, {}, {}
        coverage = {}
        for k, key in enumerate(OUTCOMES):
            m = float(est[:, k].mean())
            spread = float(est[:, k].std(ddof=1) / np.sqrt(r)) if r > 1 else float("nan")
            mean_est[key] = float(np.exp(m)) if key == "nyha" else m
            width[key] = float((high[:, k] - low[:, k]).mean())
            upper_side = low[:, k] > 0     # the whole interval above no effect
            lower_side = high[:, k] < 0
            good, bad = ((upper_side, lower_side) if BENEFIT_SIGN[key] > 0
                         else (lower_side, upper_side))
            benefit[key] = float(good.mean())
            harm[key] = float(bad.mean())
            false_pos[key] = float(null_significant[:, k].mean())
            need[key] = sizes[j][key] if sizes is not None else {
                "patients": float("nan"), "low": float("nan"), "high": float("nan"),
                "t": float("nan")}
            coverage[key] = (float(np.mean((low[:, k] <= truth[j, k])
                                           & (truth[j, k] <= high[:, k])))
                             if truth is not None else float("nan"))
            mcse[key] = {"estimate": mean_est[key] * spread if key == "nyha" else spread,
                         "power_benefit": share_mcse(benefit[key], r),
                         "power_harm": share_mcse(harm[key], r),
                         "false_positive": share_mcse(false_pos[key], r),
                         "coverage": share_mcse(coverage[key], r)}
        out.append(SweepLevel(concordance=float(level), mean_estimate=mean_est,
                              mean_ci_width=width, power_benefit=benefit, power_harm=harm,
                              patients_for_80=need, false_positive=false_pos, mcse=mcse,
                              world=world, coverage=coverage))
    return tuple(out)


def concordance_sweep(specs: list[TrialSpec] | None = None, levels=DEFAULT_LEVELS,
                      replicates: int = 100, seed: int = 0, method: str = "REML",
                      test: str = "knha", mapper=None, progress=None) -> SweepResult:
    """Run the concordance sweep.

    Parameters
    ----------
    specs : list of TrialSpec, optional
        Trials of one virtual meta-analysis (default: :func:`five_trial_specs`).
    levels : sequence of float
        Image-guided concordance rates (0-1).
    replicates : int
        Virtual meta-analyses per level.
    seed : int
    method, test : str
        Pooling method and test (default REML with Hartung-Knapp, see the tutorial).
    mapper : callable, optional
        ``mapper(function, list_of_argument_tuples) -> iterable of results`` in
        order; default: run here, one after another. See
        :func:`strainsim.studies.parallel.make_mapper` for processes and Dask.
    progress : callable, optional
        Called with the number of finished replicates after each one.

    Returns
    -------
    SweepResult
    """
    specs = specs if specs is not None else five_trial_specs()
    if replicates < 1:
        raise ValueError("replicates must be >= 1")
    levels = tuple(float(x) for x in levels)
    for x in levels:
        PlacementParams(concordance=x)  # validates the range
    # jobs of a few replicates each: small enough to balance the workers, big enough
    # that sending them costs nothing next to running them
    batch = max(1, min(25, replicates // 8))
    root = np.random.SeedSequence(seed)

    every = (None,) + levels   # the calibrated world first, on the same replicates

    def jobs():  # made as the workers ask for them: memory stays bounded
        for k in range(0, replicates, batch):
            seeds = [child(root, r) for r in range(k, min(k + batch, replicates))]
            yield specs, seeds, every

    if mapper is None:
        def mapper(fn, arglist):
            return (fn(*args) for args in arglist)
    parts, done = [], 0
    for runs in mapper(run_level_replicates, jobs()):
        parts.append(runs)
        done += runs.yi.shape[1]
        if progress is not None:
            progress(done * len(levels))
    runs = concat_runs(parts)
    n_patients = sum(s.n_total for s in specs)
    # each level's pooling and sample-size searches are a job of their own, on the workers
    per_level = list(mapper(level_statistics, [
        (LevelRuns(*(field[j:j + 1] for field in runs)), n_patients, method, test)
        for j in range(len(every))]))
    data = np.concatenate([level[0] for level in per_level])
    truth = np.concatenate([level[1] for level in per_level])
    sizes = [size for level in per_level for size in level[2]]
    real, null = data[1:, :, 0], data[1:, :, 1]
    own = float(runs.concordance[0].mean())
    calibrated = summarize_sweep((own,), data[:1, :, 0], n_patients, data[:1, :, 1],
                                 world="calibrated", truth=truth[:1], sizes=sizes[:1])[0]
    return SweepResult(levels=levels, replicates=real, null_replicates=null,
                       n_patients=n_patients, n_trials=len(specs), seed=seed, method=method,
                       test=test,
                       summary=summarize_sweep(levels, real, n_patients, null,
                                               truth=truth[1:], sizes=sizes[1:]),
                       calibrated=calibrated, calibrated_replicates=data[0, :, 0],
                       calibrated_null=data[0, :, 1], runs=runs)


COMPARED = tuple((m, t) for m in ("FE", "DL", "REML") for t in ("z", "knha"))


def compare_methods(result: SweepResult, level: int = 0) -> list[dict]:
    """Each pooling method and test (:data:`COMPARED`) on the sweep's replicates of one
    world (``level`` 0: the calibrated world; ``j`` > 0 the ``j``-th forced level): per
    outcome, the share of CIs covering the true effect, the power to show benefit, the
    false-positive rate of the no-benefit world and the mean CI width, each share with
    its Monte Carlo standard error. The same trials pooled six ways, as in the methods
    literature's comparisons at small k.
    """
    if result.runs is None:
        raise ValueError("the sweep kept no trial effects to pool again")
    truth = true_effects(result.runs)[level]
    r = result.runs.yi.shape[1]
    rows = []
    for method, test in COMPARED:
        pooled = pool_runs(LevelRuns(result.runs.yi[level:level + 1],
                                     result.runs.vi[level:level + 1],
                                     result.runs.concordance[level:level + 1]),
                           method, test)[0]
        real, null = pooled[:, 0], pooled[:, 1]
        null_significant = _significant(null)
        row = {"method": method, "test": test}
        for k, key in enumerate(OUTCOMES):
            low, high = real[:, k, 2], real[:, k, 3]
            good = (low > 0) if BENEFIT_SIGN[key] > 0 else (high < 0)
            cover = float(np.mean((low <= truth[k]) & (truth[k] <= high)))
            power = float(good.mean())
            false_pos = float(null_significant[:, k].mean())
            row.update({f"{key}_coverage": cover, f"{key}_coverage_mcse": share_mcse(cover, r),
                        f"{key}_power_benefit": power,
                        f"{key}_power_benefit_mcse": share_mcse(power, r),
                        f"{key}_false_positive": false_pos,
                        f"{key}_false_positive_mcse": share_mcse(false_pos, r),
                        f"{key}_ci_width": float(np.mean(high - low))})
        rows.append(row)
    return rows

