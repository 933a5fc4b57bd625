"""Virtual randomized trials: both arms through the whole pipeline, then effect sizes.

Every seed block of patients goes through the one block simulator
(:func:`strainsim.model.block.simulate_block`: activation -> strain curves, or with
``fidelity = "speckle"`` B-mode frames tracked by block matching -> engine ->
placement -> outcomes); the image-guided arm aims its lead at the segment the
engine measured on the patient's own curves (no shortcut around the curves).
Each block is reduced to its statistics (:mod:`strainsim.model.summary`) and an
arm's summary is their merge, whether the arm ran in one process, in chunks, in
worker processes or on Dask, and whether its patients were kept.

Trials differ: each draws a centre effect both arms share and an effect of each
arm (``OutcomeParams.centre_sd_pct``, ``arm_sd_pct``;
:func:`strainsim.model.outcomes.arm_shifts`), the between-trial heterogeneity real
meta-analyses see. Each arm places its leads by its own strategy
(``PlacementParams.image_guided``, ``control``).

Reproducibility: a trial's seed has one child per arm (and one for the
trial-level draw), an arm's seed one child per block of :data:`SEED_BLOCK`
patients, and a block's seed three streams (:mod:`strainsim.seeding`); a
processing chunk is a whole number of seed blocks, so the numbers do not
depend on the chunk size, the thread count, or where a replicate runs.

Examples
--------
>>> from strainsim.studies.specs import TrialSpec
>>> from strainsim.studies.trials import simulate_trial
>>> result = simulate_trial(TrialSpec(name="demo", n_image_guided=40, n_control=40), seed=1)
>>> sorted(result.effects)
['lvedv', 'lvef', 'lvesv', 'nyha']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import cached_property

import numba
import numpy as np

from strainsim.measure.engine import EngineResult
from strainsim.model.block import block_results, simulate_block, simulate_block_levels
from strainsim.model.curves import time_axis
from strainsim.model.outcomes import NO_SHIFT, SHIFT_SDS, ArmShift, Outcomes, arm_shifts
from strainsim.model.pacing import PacedActivation
from strainsim.model.placement import Placement, centre_practice
from strainsim.model.population import Patients
from strainsim.model.summary import ArmSummary, merge
from strainsim.seeding import as_seed_sequence, block_streams, child, children
from strainsim.segments import load_segments
from strainsim.stats.effects import log_odds_ratio, mean_difference
from strainsim.stats.pooling import MetaResult, pool
from strainsim.studies.specs import TrialSpec

__all__ = [
    "SEED_BLOCK",
    "ArmResult",
    "ArmSummary",
    "TrialResult",
    "simulate_arm",
    "simulate_trial",
    "replicate_tables",
    "simulate_trial_levels",
    "simulate_arm_levels",
    "REPLICATE_COLUMNS",
    "virtual_meta_analysis",
    "trial_effect_sizes",
    "pool_trials",
    "OUTCOMES",
]

SEED_BLOCK = 256
OUTCOMES = ("nyha", "lvesv", "lvedv", "lvef")


@dataclass(frozen=True)
class ArmResult:
    """One simulated arm: its summary and, when kept, every patient's numbers.

    Attributes
    ----------
    arm : {"image-guided", "control"}
    summary : ArmSummary
    null_summary : ArmSummary or None
        With ``null_world``: the summary of the same patients, leads and outcome
        draws in a world where the lead's position has no effect.
    patients : Patients or None
        The rest are None unless the patients were kept.
    measured : EngineResult or None
        The engine's measurements on each patient's strain curves.
    placement : Placement or None
    outcomes : Outcomes or None
    scar_at_lead : ndarray of bool or None
    null_outcomes : Outcomes or None
    pacing : PacedActivation or None
        The activation under biventricular pacing from each patient's leads.
    """

    arm: str
    summary: ArmSummary
    null_summary: ArmSummary | None = None
    patients: Patients | None = None
    measured: EngineResult | None = None
    placement: Placement | None = None
    outcomes: Outcomes | None = None
    scar_at_lead: np.ndarray | None = None
    null_outcomes: Outcomes | None = None
    pacing: PacedActivation | None = None

    def __len__(self) -> int:
        return self.summary.n


@dataclass(frozen=True)
class TrialResult:
    """A simulated trial: arm summaries and per-outcome effect sizes.

    Attributes
    ----------
    spec : TrialSpec
    guided, control : ArmSummary
    effects : dict of str to EffectSizes
        ``nyha`` (log OR, image-guided vs control), ``lvesv``, ``lvedv`` (mean
        difference of % change), ``lvef`` (mean difference of EF change);
        computed from the arm summaries when first asked for.
    null_guided, null_control : ArmSummary or None
        With ``null_world``: the arms' summaries in the same world with the
        image-guided benefit switched off (same patients, leads and outcome draws;
        the lead's position has no effect; each trial keeps its shift, whose mean is
        zero).
    """

    spec: TrialSpec
    guided: ArmSummary
    control: ArmSummary
    null_guided: ArmSummary | None = None
    null_control: ArmSummary | None = None

    @cached_property
    def effects(self) -> dict:
        return trial_effects(self.guided, self.control, self.spec.name)


def _blocks(n: int, seed: np.random.SeedSequence):
    for k in range(-(-n // SEED_BLOCK)):
        yield min(SEED_BLOCK, n - k * SEED_BLOCK), child(seed, k)


def _concat(parts):
    """Concatenate block arrays (nested named tuples of arrays) field by field."""
    first = parts[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(parts) if len(parts) > 1 else first
    return type(first)(*(_concat([getattr(p, name) for p in parts]) for name in first._fields))


def _run_chunk(blocks, guided, spec, shift, null_world=False, keep=False,
               numba_threads=None, model=None):
    """A chunk of whole seed blocks through the block simulator (in a worker when mapped):
    the blocks' statistics, the null world's (or None) and, with ``keep``, their arrays."""
    if numba_threads is not None:
        numba.set_num_threads(numba_threads)
    model = model or load_segments()
    stats, null_stats, kept = [], [], []
    for n, seed in blocks:
        a = simulate_block(n, block_streams(seed), guided=guided, spec=spec, model=model,
                           shift=shift, null_world=null_world)
        stats.append(a.stats)
        if null_world:
            null_stats.append(a.null_stats)
        if keep:
            kept.append(a)
    return _concat(stats), _concat(null_stats) if null_world else None, kept


def simulate_arm(n: int, guided: bool, spec: TrialSpec, seed: np.random.SeedSequence, *,
                 model=None, block_size: int | None = None, shift: ArmShift = NO_SHIFT,
                 null_world: bool = False, keep_patients: bool = False, progress=None,
                 mapper=None) -> ArmResult:
    """Simulate one arm of ``n`` patients, seed block by seed block.

    Parameters
    ----------
    n : int
    guided : bool
        Image-guided (True) or control arm.
    spec : TrialSpec
    seed : numpy.random.SeedSequence
        One child per seed block of :data:`SEED_BLOCK` patients.
    model : SegmentModel, optional
        Used in this process (workers load the shipped model).
    block_size : int, optional
        Patients processed together (rounded up to whole seed blocks); bounds
        memory, never changes the numbers. Default 16,384.
    shift : ArmShift
        The arm's trial-level shifts of every patient's ESV and EDV changes (%).
    null_world : bool
        Also summarize the outcomes with the lead's position of no effect.
    keep_patients : bool
        Keep every patient's numbers (memory grows with ``n``).
    progress : callable, optional
        Called with the number of patients simulated so far, after each chunk.
    mapper : callable, optional
        Runs the chunks in worker processes or on Dask (:mod:`strainsim.studies.parallel`);
        the numbers do not change.
    """
    blocks = list(_blocks(n, seed))
    per_chunk = max(1, -(-(block_size or 16384) // SEED_BLOCK))
    chunks = [blocks[k:k + per_chunk] for k in range(0, len(blocks), per_chunk)]
    if mapper is None:
        model = model or load_segments()
        results = (_run_chunk(chunk, guided, spec, shift, null_world, keep_patients,
                              model=model) for chunk in chunks)
    else:
        results = mapper(_run_chunk, [(chunk, guided, spec, shift, null_world,
                                       keep_patients) for chunk in chunks])
    stats, null_stats, kept = [], [], []
    done = 0
    for chunk, (chunk_stats, chunk_null, chunk_kept) in zip(chunks, results, strict=True):
        stats.append(chunk_stats)
        if null_world:
            null_stats.append(chunk_null)
        kept.extend(chunk_kept)
        done += sum(size for size, _ in chunk)
        if progress is not None:
            progress(done)
    arm = "image-guided" if guided else "control"
    summary = merge(_concat(stats))
    null_summary = merge(_concat(null_stats)) if null_world else None
    if not keep_patients:
        return ArmResult(arm=arm, summary=summary, null_summary=null_summary)
    results = block_results(_concat(kept), spec, null_world=null_world, model=model)
    return ArmResult(arm=arm, summary=summary, null_summary=null_summary,
                     **results._asdict())


def _trial_setup(spec: TrialSpec, seed):
    """A trial's arm seeds, its arms' shifts (:func:`~strainsim.model.outcomes.arm_shifts`)
    and its centre's draw of implant practice (one standard normal after them,
    :func:`~strainsim.model.placement.centre_practice`)."""
    seed_guided, seed_control, seed_trial = children(as_seed_sequence(seed), 3)
    rng = np.random.default_rng(seed_trial)
    shifts = arm_shifts(spec.outcomes, rng)
    practice_z = float(rng.standard_normal())
    return seed_guided, seed_control, shifts, practice_z


def at_centre(spec: TrialSpec, practice_z: float) -> TrialSpec:
    """``spec`` with its centre's implant practice (:func:`centre_practice`)."""
    placement = centre_practice(spec.placement, practice_z)
    return spec if placement is spec.placement else replace(spec, placement=placement)


def trial_effects(guided: ArmSummary, control: ArmSummary, label: str) -> dict:
    """Effect sizes (image-guided vs control) of the four meta-analysis outcomes."""
    return trial_effect_sizes([guided], [control], (label,))


def trial_effect_sizes(guided: list[ArmSummary], control: list[ArmSummary],
                       study: tuple) -> dict:
    """Effect sizes of the four outcomes, one study per pair of arm summaries.

    Elementwise numpy arithmetic, so each study's numbers are those it gets alone.
    """
    def column(arms, name):
        return np.array([getattr(arm, name) for arm in arms], dtype=float)

    effects = {"nyha": log_odds_ratio(column(guided, "nyha_improved"), column(guided, "n"),
                                      column(control, "nyha_improved"), column(control, "n"),
                                      study=study)}
    for key, mean, sd in (("lvesv", "esv_change_mean", "esv_change_sd"),
                          ("lvedv", "edv_change_mean", "edv_change_sd"),
                          ("lvef", "ef_change_mean", "ef_change_sd")):
        effects[key] = mean_difference(column(guided, mean), column(guided, sd),
                                       column(guided, "n"), column(control, mean),
                                       column(control, sd), column(control, "n"), study=study)
    return effects


def simulate_trial(spec: TrialSpec, seed: int | np.random.SeedSequence = 0, *,
                   keep_arms: bool = False, model=None, block_size: int | None = None,
                   progress=None, null_world: bool = False, mapper=None):
    """Simulate a two-arm trial.

    Parameters
    ----------
    spec : TrialSpec
    seed : int or numpy.random.SeedSequence
    keep_arms : bool
        Also return both arms' :class:`ArmResult` with every patient's numbers.
    block_size : int, optional
        Patients processed together (see :func:`simulate_arm`): bounds memory.
    progress : callable, optional
        Called with the number of patients simulated so far (both arms).
    null_world : bool
        Also summarize the same trial with the image-guided benefit switched off
        (:attr:`TrialResult.null_guided`, :attr:`TrialResult.null_control`).
    mapper : callable, optional
        Runs chunks in worker processes or on Dask; the numbers do not change.

    Returns
    -------
    TrialResult, or (TrialResult, ArmResult, ArmResult) with ``keep_arms``.
    """
    seed_guided, seed_control, shifts, practice_z = _trial_setup(spec, seed)
    arms_spec = at_centre(spec, practice_z)

    def control_progress(done):
        if progress is not None:
            progress(spec.n_image_guided + done)

    common = dict(model=model, block_size=block_size, null_world=null_world,
                  keep_patients=keep_arms, mapper=mapper)
    guided = simulate_arm(spec.n_image_guided, True, arms_spec, seed_guided,
                          shift=shifts[0], progress=progress, **common)
    control = simulate_arm(spec.n_control, False, arms_spec, seed_control,
                           shift=shifts[1], progress=control_progress, **common)
    result = TrialResult(spec=spec, guided=guided.summary, control=control.summary,
                         null_guided=guided.null_summary, null_control=control.null_summary)
    return (result, guided, control) if keep_arms else result


def simulate_arm_levels(n: int, guided: bool, specs: list[TrialSpec],
                        seed: np.random.SeedSequence, *, model=None, shift: ArmShift = NO_SHIFT,
                        null_world: bool = False) -> list[tuple]:
    """One arm at several what-if levels on common random numbers: each seed block's
    patients and curves once, its care once per spec
    (:func:`~strainsim.model.block.simulate_block_levels`).

    Returns
    -------
    list of (ArmSummary, ArmSummary or None), one per spec: level ``j`` is
    ``simulate_arm(n, guided, specs[j], seed, ...)``'s summary (and null summary).
    """
    model = model or load_segments()
    per_level = [([], []) for _ in specs]
    for size, block_seed in _blocks(n, seed):
        results = simulate_block_levels(size, block_seed, guided=guided, specs=specs,
                                        model=model, shift=shift,
                                        null_world=null_world)
        for (stats, nulls), (s, ns) in zip(per_level, results, strict=True):
            stats.append(s)
            nulls.append(ns)
    return [(merge(_concat(stats)), merge(_concat(nulls)) if null_world else None)
            for stats, nulls in per_level]


def simulate_trial_levels(specs: list[TrialSpec], seed: int | np.random.SeedSequence = 0, *,
                          model=None, null_world: bool = False,
                          control_spec: TrialSpec | None = None) -> list[TrialResult]:
    """One trial at several what-if levels (``specs``, which may differ only in placement,
    outcomes and pacing) on common random numbers: the same patients, curves, veins and
    trial shifts at every level. Level ``j`` is ``simulate_trial(specs[j], seed)``.

    A control arm whose spec is the same at every level (a level that changes only the
    image-guided arm, such as a forced concordance) is simulated once; ``control_spec``
    says which spec that is when the caller knows (the levels then must not change the
    control arm: a forced concordance does not).
    """
    first = specs[0]
    seed_guided, seed_control, shifts, practice_z = _trial_setup(first, seed)
    if any(arm_shifts_differ(first, s) for s in specs[1:]):
        raise ValueError("levels must share the trial's heterogeneity (outcomes."
                         + ", ".join(SHIFT_SDS) + ")")
    levels = [at_centre(s, practice_z) for s in specs]
    guided = simulate_arm_levels(first.n_image_guided, True, levels, seed_guided,
                                 model=model, shift=shifts[0], null_world=null_world)
    if control_spec is not None:   # one control arm for every level (no hashing)
        keys, control_specs = [0] * len(specs), [at_centre(control_spec, practice_z)]
    else:
        seen = [_control_key(s) for s in levels]
        control_specs = list(dict.fromkeys(seen))
        index = {spec: k for k, spec in enumerate(control_specs)}
        keys = [index[spec] for spec in seen]
    control_runs = simulate_arm_levels(first.n_control, False, control_specs, seed_control,
                                       model=model, shift=shifts[1], null_world=null_world)
    out = []
    for key, spec, (g, g_null) in zip(keys, specs, guided, strict=True):
        c, c_null = control_runs[key]
        out.append(TrialResult(spec=spec, guided=g, control=c, null_guided=g_null,
                               null_control=c_null))
    return out


def _control_key(spec: TrialSpec) -> TrialSpec:
    """The spec as the control arm sees it: the forced image-guided concordance does not
    reach the control arm."""
    return replace(spec, placement=replace(spec.placement, concordance=None))


def arm_shifts_differ(a: TrialSpec, b: TrialSpec) -> bool:
    """Whether two specs draw different trial shifts from the same seed."""
    return any(getattr(a.outcomes, f) != getattr(b.outcomes, f) for f in SHIFT_SDS)


def pool_trials(trials: list[TrialResult], method: str = "REML",
                test: str = "knha") -> dict[str, MetaResult]:
    """Pool the four outcomes across trials, as the meta-analysis did."""
    effects = trial_effect_sizes([t.guided for t in trials], [t.control for t in trials],
                                 tuple(t.spec.name for t in trials))
    return {key: pool(effects[key], method=method, test=test) for key in OUTCOMES}


def _trial_job(spec, seed, numba_threads=None):
    if numba_threads is not None:
        import numba

        numba.set_num_threads(numba_threads)
    return simulate_trial(spec, seed)


def virtual_meta_analysis(specs: list[TrialSpec], seed: int | np.random.SeedSequence = 0,
                          method: str = "REML", test: str = "knha", model=None, mapper=None):
    """Simulate one trial per spec and pool them.

    ``mapper`` (see :mod:`strainsim.studies.parallel`) runs the trials elsewhere; the
    numbers are the same.

    Returns
    -------
    trials : list of TrialResult
    pooled : dict of str to MetaResult
        Keys ``nyha``, ``lvesv``, ``lvedv``, ``lvef``.
    """
    seeds = children(as_seed_sequence(seed), len(specs))
    if mapper is None:
        trials = [simulate_trial(spec, s, model=model)
                  for spec, s in zip(specs, seeds, strict=True)]
    else:
        trials = list(mapper(_trial_job, list(zip(specs, seeds, strict=True))))
    return trials, pool_trials(trials, method=method, test=test)


def arm_table(trials: list[TrialResult]) -> tuple[list[str], list[list]]:
    """Header and rows of ``trials.csv``: one row per trial and arm with its strategy and
    every :class:`ArmSummary` field (floats to six significant digits, NaN empty)."""
    measures = [f.name for f in fields(ArmSummary)]
    rows = []
    for t in trials:
        for arm, strategy, summary in (
                ("image-guided", t.spec.placement.image_guided, t.guided),
                ("control", t.spec.placement.control, t.control)):
            rows.append([t.spec.name, arm, strategy] + [
                _six(v) if isinstance(v := getattr(summary, k), float) else v
                for k in measures])
    return ["trial", "arm", "strategy", *measures], rows


def _six(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def study_tables(trials: list[TrialResult]) -> dict[str, tuple[list[str], list[list]]]:
    """One study table per outcome, in the layouts ``strainsim meta`` and ``tsa`` read:
    ``nyha`` as counts, ``lvesv``, ``lvedv``, ``lvef`` as means and SDs."""
    tables = {"nyha": (["study", "events_t", "n_t", "events_c", "n_c"],
                       [[t.spec.name, t.guided.nyha_improved, t.guided.n,
                         t.control.nyha_improved, t.control.n] for t in trials])}
    for key, mean, sd in (("lvesv", "esv_change_mean", "esv_change_sd"),
                          ("lvedv", "edv_change_mean", "edv_change_sd"),
                          ("lvef", "ef_change_mean", "ef_change_sd")):
        tables[key] = (["study", "mean_t", "sd_t", "n_t", "mean_c", "sd_c", "n_c"],
                       [[t.spec.name, f"{getattr(t.guided, mean):.6f}",
                         f"{getattr(t.guided, sd):.6f}", t.guided.n,
                         f"{getattr(t.control, mean):.6f}", f"{getattr(t.control, sd):.6f}",
                         t.control.n] for t in trials])
    return tables


@dataclass(frozen=True)
class SimulatedPatient:
    """One patient through the block simulator, curves kept.

    Attributes
    ----------
    arrays : BlockArrays
        Every number of the one-patient block (``arrays.strain[0]`` its curves).
    results : BlockResults
        The same as result objects.
    time_ms : ndarray
        Frame times of the curves (ms).
    """

    arrays: object
    results: object
    time_ms: np.ndarray


def simulate_patient(seed: int, spec: TrialSpec, *, guided: bool = True,
                     scar: np.ndarray | None = None, model=None) -> SimulatedPatient:
    """One patient of ``spec`` through the block simulator (its seed block's three streams
    from ``seed``), with the curves the engine measured.

    ``scar`` (17 bools) replaces the drawn scar (the draws still happen, so the rest
    of the patient is that of the seed). The same seed under another placement
    strategy is the same patient, with the same curves and veins.
    """
    model = model or load_segments()
    a = simulate_block(1, block_streams(as_seed_sequence(seed)), guided=guided, spec=spec,
                       model=model, keep_curves=True,
                       scar=None if scar is None else np.asarray(scar, bool).reshape(1, -1))
    return SimulatedPatient(arrays=a, results=block_results(a, spec, model=model),
                            time_ms=time_axis(spec.curves))


# replicates.csv: column -> how it is read off an arm summary
REPLICATE_COLUMNS = {
    "n": lambda a: a.n,
    "nyha_improved_fraction": lambda a: a.nyha_improved / a.n,
    "nyha_class_change_mean": lambda a: a.nyha_class_change_mean,
    "lvesv_change_mean_pct": lambda a: a.esv_change_mean,
    "lvesv_responder_fraction": lambda a: a.esv_responders / a.n,
    "lvedv_change_mean_pct": lambda a: a.edv_change_mean,
    "lvef_change_mean": lambda a: a.ef_change_mean,
    "lvef_change_sd": lambda a: a.ef_change_sd,
    "concordant_fraction": lambda a: a.concordant_measured,
    "concordant_or_adjacent_fraction": lambda a: a.concordant_or_adjacent_measured,
    "lvesv_change_concordant_mean_pct": lambda a: a.esv_change_concordant_mean,
    "lvesv_change_discordant_mean_pct": lambda a: a.esv_change_discordant_mean,
    "lvef_change_concordant_mean": lambda a: a.ef_change_concordant_mean,
    "lvef_change_discordant_mean": lambda a: a.ef_change_discordant_mean,
    "lead_on_scar_fraction": lambda a: a.lead_on_scar,
    "activation_time_reduction_mean_ms": lambda a: a.activation_time_reduction_mean_ms,
    "resync_fraction_mean": lambda a: a.resync_fraction_mean,
}
POOLED_COLUMNS = ("replicate", "outcome", "estimate", "ci_low", "ci_high", "tau2", "i2")


def replicate_tables(specs: list[TrialSpec], replicates: int, seed=0, method: str = "REML",
                     test: str = "knha", progress=None, mapper=None):
    """``replicates`` virtual meta-analyses as data: ``replicates.csv`` (one row per
    replicate, trial and arm) and ``pooled.csv`` (one row per replicate and outcome; nyha
    as an odds ratio).

    Replicate ``r`` is :func:`virtual_meta_analysis` with child ``r`` of ``seed``.

    Returns
    -------
    (header, rows), (header, rows)
    """
    arm_rows, pooled_rows = [], []
    for r, rep_seed in enumerate(children(as_seed_sequence(seed), replicates)):
        trials, pooled = virtual_meta_analysis(specs, rep_seed, method=method, test=test,
                                               mapper=mapper)
        for t in trials:
            for arm, strategy, summary in (
                    ("image-guided", t.spec.placement.image_guided, t.guided),
                    ("control", t.spec.placement.control, t.control)):
                arm_rows.append([r, t.spec.name, arm, strategy] + [
                    _six(float(v)) if isinstance(v := get(summary), float) else v
                    for get in REPLICATE_COLUMNS.values()])
        for key in OUTCOMES:
            res = pooled[key]
            pooled_rows.append([r, key, *(_six(v) for v in res.reported()),
                                _six(float(res.tau2)), _six(float(res.i2))])
        if progress is not None:
            progress(r + 1)
    header = ["replicate", "trial", "arm", "strategy", *REPLICATE_COLUMNS]
    return (header, arm_rows), (list(POOLED_COLUMNS), pooled_rows)
