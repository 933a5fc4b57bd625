"""The block simulator: a seed block of patients through every stage, in order.

This is the one place where the pipeline's order is written::

    patients stream     population -> scar -> late site and delay -> activation
    measurement stream  strain curves (or speckle frames tracked) -> engine
    care stream         veins, placement and outcome draws (every draw of care)
    then                lead placement -> classification -> pacing -> outcomes
                        -> the block's statistics (:mod:`strainsim.model.summary`)

Nothing here models anything: every stage is its own module's kernel.
:func:`simulate_block` runs one seed block; trials, the sweep, calibration, the
cohort table and the explorer's patient all call it.

:func:`measure_simulated` makes each strain curve with
:func:`strainsim.model.curves.synthesize_curve` into a one-curve buffer and measures
it at once with the engine's own per-curve routines
(:func:`strainsim.measure.engine.peak_of_row`, ``record_segment``, ``finish_patient``),
so a block's curves are never stored; the numbers are those of
``measure(simulate_curves(...).strain, ...)`` because both call the same code
on the same draws.

The stages draw from the block's three streams (:mod:`strainsim.seeding`), so a
new frame rate leaves the patients alone and a new concordance leaves their
curves alone. :func:`block_kernel` runs the compiled stages in order, in one call
when every stage is compiled; the two stages that are not (the eikonal
activation model, speckle-tracking fidelity) take the place of their compiled
stage between two calls. The kernels' parameters travel as
typed records, one per stage, gathered in :class:`BlockConstants` and built in
one place, :func:`block_constants`.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.curves import CurveParams, simulate_curves
>>> from strainsim.measure.engine import measure
>>> from strainsim.model.block import measure_simulated
>>> onset = np.random.default_rng(0).uniform(0, 150, (3, 17))
>>> scar = np.zeros((3, 17), bool)
>>> fused = measure_simulated(onset, scar, np.random.default_rng(1), CurveParams())
>>> curves = simulate_curves(onset, scar, np.random.default_rng(1), CurveParams())
>>> bool(np.array_equal(fused.ttp_ms, measure(curves.strain, curves.time_ms).ttp_ms))
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numba
import numpy as np

from strainsim.measure.engine import (
    DEFAULT_SCAR_THRESHOLD_PCT,
    DEFAULT_SMOOTH_MS,
    EngineOutputs,
    EngineRecord,
    EngineResult,
    engine_outputs,
    engine_record,
    finish_patient,
    measure_kernel,
    peak_of_row,
    record_segment,
    result_from_outputs,
)
from strainsim.measure.speckle import track_curves
from strainsim.model.activation import (
    Activation,
    PatternRecord,
    ScarRecord,
    eikonal_activation,
    pattern_kernel,
    pattern_record,
    scar_kernel,
    scar_record,
    sites_kernel,
    true_latest_kernel,
)
from strainsim.model.curves import (
    CurveParams,
    CurveRecord,
    curve_record,
    curves_kernel,
    synthesize_curve,
    time_axis,
)
from strainsim.model.outcomes import (
    NO_SHIFT,
    ArmShift,
    OutcomeArrays,
    OutcomeInputs,
    OutcomeRecord,
    Outcomes,
    apply_outcomes_kernel,
    as_arm_shift,
    empty_outcomes,
    null_record,
    outcome_noise_kernel,
    outcome_record,
    resync_fraction_kernel,
)
from strainsim.model.pacing import TOTALS as PACING_TOTALS
from strainsim.model.pacing import (
    PacedActivation,
    PacingRecord,
    paced_kernel,
    pacing_record,
    rv_front_kernel,
)
from strainsim.model.placement import (
    PLACEMENT_UNIFORMS,
    Placement,
    PlacementInputs,
    PlacementRecord,
    VeinRecord,
    aims_by_imaging,
    classify_kernel,
    classify_measured_kernel,
    place_kernel,
    placement_draws_kernel,
    placement_record,
    scar_at_lead_kernel,
    vein_record,
    veins_kernel,
)
from strainsim.model.population import (
    Patients,
    PopulationRecord,
    activation_for,
    population_kernel,
    population_record,
)
from strainsim.model.summary import BLOCK_STATS, block_stats_kernel, lead_regions, septal_mask
from strainsim.seeding import block_streams
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = ["measure_simulated", "simulate_block", "simulate_block_levels", "block_results",
           "care_kernel", "BlockResults", "block_constants", "BlockConstants", "BlockArrays", "STAGES",
           "LEVEL_SECTIONS", "check_levels"]


@numba.njit(cache=True)
def measure_curves_kernel(rng, curves, engine, activation_ms, scar, out, strain_out):
    """Make every curve (:func:`~strainsim.model.curves.synthesize_curve`) and measure it at
    once with the engine's per-curve routines; fills ``out`` (:class:`EngineOutputs`) and,
    when it has rows, ``strain_out`` (n, 17, T) with the curves."""
    half, sign, time_ms, threshold = engine.half, engine.sign, engine.time_ms, engine.threshold
    candidate, basal_mid, septal, lateral = (engine.candidate, engine.basal_mid,
                                             engine.septal, engine.lateral)
    peak, ttp, viable, latest = out.peak, out.ttp, out.viable, out.latest
    n, n_seg = activation_ms.shape
    row = np.empty(time_ms.shape[0])
    keep = strain_out.shape[0] > 0
    for i in range(n):
        best = -1
        best_ttp = 0.0
        best_amp = 0.0
        for s in range(n_seg):
            curve = strain_out[i, s] if keep else row   # kept curves are made in place
            synthesize_curve(rng, curves, activation_ms[i, s], scar[i, s], curve)
            f, raw = peak_of_row(curve, half, sign)
            best, best_ttp, best_amp = record_segment(i, s, f, raw, sign, time_ms, threshold,
                                                      candidate, best, best_ttp, best_amp,
                                                      peak, ttp, viable)
        finish_patient(i, best, basal_mid, septal, lateral, ttp, latest, out.sd, out.maxmin,
                       out.sept_lat)


def measure_simulated(activation_ms: np.ndarray, scar: np.ndarray,
                      rng: np.random.Generator, params: CurveParams, *,
                      smooth_ms: float = DEFAULT_SMOOTH_MS,
                      scar_threshold_pct: float = DEFAULT_SCAR_THRESHOLD_PCT,
                      model: SegmentModel | None = None) -> EngineResult:
    """Simulate strain curves and measure them in one pass, without storing them.

    Parameters
    ----------
    activation_ms : ndarray, shape (n, 17)
        Activation times (ms), as given to :func:`strainsim.model.curves.simulate_curves`.
    scar : ndarray of bool, shape (n, 17)
    rng : numpy.random.Generator
        Consumed exactly as :func:`strainsim.model.curves.simulate_curves` consumes it.
    params : CurveParams
    smooth_ms, scar_threshold_pct, model
        As for :func:`strainsim.measure.engine.measure` (all segments are candidates).

    Returns
    -------
    EngineResult
        What :func:`strainsim.measure.engine.measure` finds on the simulated curves.
    """
    activation_ms = np.ascontiguousarray(activation_ms, dtype=np.float64)
    scar = np.ascontiguousarray(scar, dtype=np.bool_)
    engine = engine_record(time_axis(params), params.kind, smooth_ms, scar_threshold_pct,
                           model=model)
    out = engine_outputs(*activation_ms.shape)
    measure_curves_kernel(rng, curve_record(params), engine, activation_ms, scar, out,
                          np.empty((0, N_SEGMENTS, engine.time_ms.shape[0])))
    return result_from_outputs(out, params.kind, scar_threshold_pct, engine.half)


# ---------------------------------------------------------------------------------------
# the block simulator
# ---------------------------------------------------------------------------------------
class BlockConstants(NamedTuple):
    """Every stage's record for one trial spec (built by :func:`block_constants`)."""

    population: PopulationRecord
    scar: ScarRecord
    pattern: PatternRecord
    curves: CurveRecord
    engine: EngineRecord
    veins: VeinRecord
    placement: PlacementRecord
    outcomes: OutcomeRecord
    null_outcomes: OutcomeRecord   # the same world with the lead's position of no effect
    septal: np.ndarray             # (18,) bool by segment number: the septal segments
    pacing: PacingRecord
    regions: np.ndarray            # (18,) int8 by segment number: lead regions


class BlockArrays(NamedTuple):
    """Every per-patient number of a block."""

    age: np.ndarray              # (n,) years
    male: np.ndarray             # (n,) bool
    edv: np.ndarray              # (n,) baseline EDV (mL)
    esv: np.ndarray              # (n,) baseline ESV (mL)
    nyha: np.ndarray             # (n,) int8 baseline NYHA class
    scar: np.ndarray             # (n, 17) bool
    ischemic: np.ndarray         # (n,) bool
    late: np.ndarray             # (n,) late-site angle (degrees)
    delay: np.ndarray            # (n,) septal-to-late delay (ms)
    activation_ms: np.ndarray    # (n, 17)
    true_latest: np.ndarray      # (n,) int64
    measured: EngineOutputs      # the engine on the patient's curves
    strain: np.ndarray           # (n, 17, T) the curves measured, kept only when asked for
    true_strain: np.ndarray      # (n, 17, T) speckle fidelity: the deformation imaged (kept)
    available: np.ndarray        # (n, n_veins) bool
    reachable: np.ndarray        # (n, 17) bool
    uniforms: np.ndarray         # (n, 5) the placement uniforms
    qlv_error: np.ndarray        # (n, 17) the Q-LV errors (standard normal)
    amplitude: np.ndarray        # (n, 17) measured peak strain magnitude (%)
    aim: np.ndarray              # (n,) int64, the arm's measured target
    lead: np.ndarray             # (n,) int64
    vs_measured: np.ndarray      # (n,) int8
    vs_true: np.ndarray          # (n,) int8
    scar_at_lead: np.ndarray     # (n,) bool
    rv_ms: np.ndarray            # (n, 17) arrival of the RV lead's front (ms)
    paced_ms: np.ndarray         # (n, 17) activation under biventricular pacing (ms)
    pacing_totals: np.ndarray    # (n, 4) total activation intrinsic, paced; paced SD (ms);
    #                              late-activated share removed (pacing.paced_kernel)
    resync: np.ndarray           # (n,) share of the late-activated activation time removed
    outcome_noise: np.ndarray    # (n, 3) the outcome draws
    outcomes: OutcomeArrays
    null_outcomes: OutcomeArrays  # filled only for a null world (see block_kernel)
    stats: np.ndarray            # (1,) BLOCK_STATS: the block's statistics
    null_stats: np.ndarray       # (1,) BLOCK_STATS: the null world's (with null_world)


# the pipeline's stages, in order: block_kernel runs a range of them
PATIENTS, ACTIVATION, MEASUREMENT, CARE_DRAWS, CARE, STATISTICS = range(6)
STAGES = ("patients", "activation", "measurement", "care draws", "care", "statistics")


class BlockRun(NamedTuple):
    """How the block kernel runs: which stages (``first`` to ``stop``, exclusive), the
    arm (``guided``), its trial shifts (:class:`~strainsim.model.outcomes.ArmShift`),
    whether to fill the null world, a scar to use instead of the drawn one (no rows: the
    drawn scar), and whether the care stage works out the RV lead's front (False: a
    level that shares the previous level's pacing keeps it)."""

    first: int
    stop: int
    guided: bool
    shift: ArmShift
    null_world: bool
    given_scar: np.ndarray        # (n, 17) bool, or (0, 17)
    rv_front: bool = True         # False: keep the RV front of the previous level (same pacing)


@numba.njit(cache=True)
def block_kernel(patients_rng, measurement_rng, care_rng, k, run, a):
    """The pipeline's compiled stages from ``run.first`` to ``run.stop``, in order.

    patients (``patients`` stream)
        demographics and volumes, scar (or ``inputs.given_scar`` when it has rows:
        drawn all the same, then replaced), late site and delay;
    activation
        the LBBB pattern's activation times and the true latest viable segment;
    measurement (``measurement`` stream)
        every strain curve made and measured by the engine as it is made;
    care draws (``care`` stream)
        every draw of care: the veins, the placement draws
        (:func:`~strainsim.model.placement.placement_draws_kernel`) and the outcome
        draws, whatever the strategy;
    care and statistics
        :func:`care_kernel`, which draws nothing.
    """
    first, stop = run.first, run.stop
    if first <= PATIENTS < stop:
        population_kernel(patients_rng, k.population, a.age, a.male, a.edv, a.esv, a.nyha)
        scar_kernel(patients_rng, k.scar, a.scar, a.ischemic)
        if run.given_scar.shape[0] > 0:
            a.scar[:, :] = run.given_scar
        sites_kernel(patients_rng, k.pattern, a.late, a.delay)
    if first <= ACTIVATION < stop:
        pattern_kernel(patients_rng, k.pattern, a.scar, a.late, a.delay, a.activation_ms)
        true_latest_kernel(a.activation_ms, a.scar, a.true_latest)
    if first <= MEASUREMENT < stop:
        measure_curves_kernel(measurement_rng, k.curves, k.engine, a.activation_ms, a.scar,
                              a.measured, a.strain)
    if first <= CARE_DRAWS < stop:
        veins_kernel(care_rng, k.veins, a.available, a.reachable)
        placement_draws_kernel(care_rng, a.uniforms, a.qlv_error)
        outcome_noise_kernel(care_rng, a.outcome_noise)
    if stop > CARE:
        care_kernel(k, run, a, a.stats, a.null_stats)


@numba.njit(cache=True)
def care_kernel(k, run, a, stats_out, null_stats_out):
    """The care and statistics stages of :func:`block_kernel` (those of them in
    ``run``'s range), from the care draws already made: a level of a what-if runs
    only this, on the draws its block made once.

    care
        the arm's lead placement, its classification against the measured target and
        the truth, scar at the lead, the activation under biventricular pacing from
        the RV site and the lead (:mod:`strainsim.model.pacing`; the RV front only
        when ``run.rv_front``), the share of the late-activated activation time it removes,
        outcomes from it; with ``run.null_world`` the same patients, leads and
        outcome draws also give ``a.null_outcomes`` in a world where the lead's
        position has no effect (the trial keeps its shift, a between-trial
        difference of mean zero);
    statistics
        the block's statistics (:mod:`strainsim.model.summary`) into ``stats_out`` (and
        ``null_stats_out``), one-record arrays (``a.stats`` and ``a.null_stats`` for
        :func:`block_kernel`; a level's own record for a what-if).
    """
    first, stop = run.first, run.stop
    if first <= CARE < stop:
        peak, amplitude, sign = a.measured.peak, a.amplitude, k.engine.sign
        for i in range(peak.shape[0]):   # peak magnitude: the latest rule's tie-break
            for s in range(peak.shape[1]):
                amplitude[i, s] = sign * peak[i, s]
        placement_in = PlacementInputs(
            target=a.measured.latest, ttp=a.measured.ttp, amplitude=a.amplitude,
            viable=a.measured.viable, scar=a.scar, activation_ms=a.activation_ms,
            reachable=a.reachable, uniforms=a.uniforms, qlv_error=a.qlv_error)
        outcome_in = OutcomeInputs(
            edv_ml=a.edv, esv_ml=a.esv, resync_fraction=a.resync, scar=a.scar,
            scar_at_lead=a.scar_at_lead, ischemic=a.ischemic, male=a.male,
            nyha_class=a.nyha, noise=a.outcome_noise)
        place_kernel(k.placement, run.guided, placement_in, a.aim, a.lead)
        classify_measured_kernel(k.placement, a.lead, a.aim, a.measured.ttp,
                                 a.measured.viable, a.vs_measured)
        classify_kernel(a.lead, a.true_latest, k.placement.class_hops, a.vs_true)
        scar_at_lead_kernel(a.lead, a.scar, a.scar_at_lead)
        if run.rv_front:
            rv_front_kernel(k.pacing, a.scar, a.rv_ms)
        paced_kernel(k.pacing, a.activation_ms, a.scar, a.lead, a.rv_ms, a.paced_ms,
                     a.pacing_totals)
        resync_fraction_kernel(a.pacing_totals, a.resync)
        imaging = aims_by_imaging(k.placement, run.guided)
        apply_outcomes_kernel(k.outcomes, run.shift, imaging, outcome_in, a.outcomes)
        if run.null_world:
            apply_outcomes_kernel(k.null_outcomes, run.shift, imaging, outcome_in,
                                  a.null_outcomes)
    if first <= STATISTICS < stop:
        block_stats_kernel(a.outcomes, a, k.septal, k.regions, stats_out)
        if run.null_world:
            block_stats_kernel(a.null_outcomes, a, k.septal, k.regions, null_stats_out)


_CONSTANTS: dict = {}
_BY_IDENTITY: dict = {}   # the same spec object asked again: no hashing of its fields


def block_constants(spec, model: SegmentModel) -> BlockConstants:
    """Every stage's kernel record for ``spec`` on ``model`` (cached: specs are frozen)."""
    fast = _BY_IDENTITY.get((id(spec), id(model)))
    if fast is not None and fast[0] is spec and fast[1] is model:
        return fast[2]
    key = (spec, id(model))
    hit = _CONSTANTS.get(key)
    if hit is not None and hit[0] is model:
        _remember(spec, model, hit[1])
        return hit[1]
    activation = activation_for(spec.population, spec.activation)
    constants = BlockConstants(
        population_record(spec.population),
        scar_record(activation.scar, model),
        pattern_record(activation, model),
        curve_record(spec.curves),
        engine_record(time_axis(spec.curves), spec.curves.kind, spec.smooth_ms,
                      spec.scar_threshold_pct, model=model),
        vein_record(model),
        placement_record(spec.placement, model),
        outcome_record(spec.outcomes),
        null_record(spec.outcomes),
        septal_mask(),
        pacing_record(spec.pacing, model),
        lead_regions(),
    )
    if len(_CONSTANTS) > 512:
        _CONSTANTS.clear()
    _CONSTANTS[key] = (model, constants)
    _remember(spec, model, constants)
    return constants


def _remember(spec, model, constants) -> None:
    # the objects are kept with their records, so an id is never reused while cached
    if len(_BY_IDENTITY) > 512:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[(id(spec), id(model))] = (spec, model, constants)


def _empty_arrays(n: int, n_veins: int, n_frames: int, keep_curves: bool,
                  speckle: bool) -> BlockArrays:
    def floats(*shape):
        return np.empty(shape)

    def flags(*shape):
        return np.empty(shape, dtype=np.bool_)

    return BlockArrays(
        age=floats(n), male=flags(n), edv=floats(n), esv=floats(n),
        nyha=np.empty(n, dtype=np.int8),
        scar=flags(n, N_SEGMENTS), ischemic=flags(n), late=floats(n), delay=floats(n),
        activation_ms=floats(n, N_SEGMENTS), true_latest=np.empty(n, dtype=np.int64),
        measured=engine_outputs(n), strain=floats(n if keep_curves else 0, N_SEGMENTS, n_frames),
        true_strain=floats(n if keep_curves and speckle else 0, N_SEGMENTS, n_frames),
        available=flags(n, n_veins), reachable=flags(n, N_SEGMENTS),
        uniforms=floats(n, PLACEMENT_UNIFORMS), qlv_error=floats(n, N_SEGMENTS),
        amplitude=floats(n, N_SEGMENTS),
        aim=np.empty(n, dtype=np.int64), lead=np.empty(n, dtype=np.int64),
        vs_measured=np.empty(n, dtype=np.int8), vs_true=np.empty(n, dtype=np.int8),
        scar_at_lead=flags(n), rv_ms=floats(n, N_SEGMENTS), paced_ms=floats(n, N_SEGMENTS),
        pacing_totals=floats(n, len(PACING_TOTALS)),
        resync=floats(n),
        outcome_noise=floats(n, 3), outcomes=empty_outcomes(n),
        null_outcomes=empty_outcomes(n), stats=np.zeros(1, BLOCK_STATS),
        null_stats=np.zeros(1, BLOCK_STATS))


def _eikonal_stage(rng, spec, model, a: BlockArrays) -> None:
    """The eikonal activation model in place of the pattern kernel (same stream)."""
    params = activation_for(spec.population, spec.activation)
    velocity = np.maximum(0.1, params.velocity_mm_per_ms
                          + params.velocity_sd * rng.standard_normal(a.age.shape[0]))
    a.activation_ms[:] = eikonal_activation(a.late, velocity, a.scar, params, model)
    # the eikonal model's delay is what the front produced, septum to latest segment
    a.delay[:] = a.activation_ms.max(axis=1) - a.activation_ms.min(axis=1)
    true_latest_kernel(a.activation_ms, a.scar, a.true_latest)


def _speckle_stage(rng, spec, k: BlockConstants, a: BlockArrays) -> None:
    """Speckle-tracking fidelity: the true deformation imaged and tracked, then the
    engine (tracking makes the noise)."""
    truth = replace(spec.curves, noise_sd_pct=0.0, drift_sd_pct=0.0)
    strain = np.empty((a.age.shape[0], N_SEGMENTS, k.engine.time_ms.shape[0]))
    true_amplitude = np.empty((a.age.shape[0], N_SEGMENTS))
    curves_kernel(rng, curve_record(truth), a.activation_ms, a.scar, strain, true_amplitude)
    tracked = track_curves(strain, spec.curves.kind, spec.speckle, rng,
                           frame_ms=1000.0 / spec.curves.fps)
    measure_kernel(k.engine, np.ascontiguousarray(tracked, dtype=np.float64), a.measured)
    if a.strain.shape[0]:
        a.strain[:] = tracked
        a.true_strain[:] = strain


def simulate_block(n: int, streams, *, guided: bool, spec, model: SegmentModel | None = None,
                   shift: ArmShift = NO_SHIFT, null_world: bool = False,
                   keep_curves: bool = False, scar: np.ndarray | None = None) -> BlockArrays:
    """One seed block of patients through the whole pipeline.

    Parameters
    ----------
    n : int
        Patients in the block.
    streams : sequence of 3 numpy.random.Generator
        The block's ``patients``, ``measurement`` and ``care`` streams
        (:func:`strainsim.seeding.block_streams`).
    guided : bool
        Image-guided arm (its strategy is ``spec.placement.image_guided``) or control.
    spec : TrialSpec
        Anything with a trial spec's ``population``, ``activation``, ``curves``,
        ``placement``, ``outcomes``, ``smooth_ms``, ``scar_threshold_pct``,
        ``fidelity`` and ``speckle``.
    model : SegmentModel, optional
    shift : ArmShift
        The arm's trial-level shifts of the ESV and EDV changes (%).
    null_world : bool
        Also fill ``null_outcomes``: the outcomes with the lead's position of no effect.
    keep_curves : bool
        Also keep the strain curves the engine measured (``strain``, (n, 17, T)).
    scar : ndarray of bool, shape (n, 17), optional
        Use this scar instead of the drawn one (the draws still happen, so everything
        else is the seed's).

    Returns
    -------
    BlockArrays
    """
    model = model or load_segments()
    k = block_constants(spec, model)
    a = _empty_arrays(n, k.veins.prevalence.shape[0], k.engine.time_ms.shape[0], keep_curves,
                      spec.fidelity == "speckle")
    given = (np.empty((0, N_SEGMENTS), np.bool_) if scar is None
             else np.ascontiguousarray(scar, dtype=np.bool_))
    if given.shape[0] not in (0, n) or given.shape[1] != N_SEGMENTS:
        raise ValueError(f"scar must have shape ({n}, {N_SEGMENTS})")
    # the stages that are not compiled take the place of their compiled version
    python_stages = {}
    if spec.activation.model != "pattern":
        python_stages[ACTIVATION] = lambda: _eikonal_stage(streams[0], spec, model, a)
    if spec.fidelity == "speckle":
        python_stages[MEASUREMENT] = lambda: _speckle_stage(streams[1], spec, k, a)
    _run_stages(streams, k, a, python_stages, PATIENTS, len(STAGES),
                BlockRun(first=PATIENTS, stop=len(STAGES), guided=bool(guided),
                         shift=as_arm_shift(shift), null_world=bool(null_world),
                         given_scar=given))
    return a


def _run_stages(streams, k, a, python_stages, first, last, run):
    """Stages ``first`` to ``last`` (exclusive) in order: the compiled ones in as few
    block-kernel calls as the Python stages between them allow."""
    stage = first
    while stage < last:
        stop = min([s for s in python_stages if s >= stage] + [last])
        if stop > stage:
            block_kernel(*streams, k, run._replace(first=stage, stop=stop), a)
        if stop in python_stages and stop < last:
            python_stages[stop]()
            stop += 1
        stage = stop


# what a level of a what-if may change: the rest of the spec makes the patients and
# their curves, which the levels share (common random numbers)
LEVEL_SECTIONS = ("placement", "outcomes", "pacing")


_CHECKED_LEVELS: dict = {}


def check_levels(specs) -> None:
    """ValueError unless ``specs`` differ only in :data:`LEVEL_SECTIONS` (remembered: a
    sweep asks about the same levels for every block)."""
    key = tuple(id(s) for s in specs)
    hit = _CHECKED_LEVELS.get(key)
    if hit is not None and all(a is b for a, b in zip(hit, specs, strict=True)):
        return
    first = specs[0]
    for spec in specs[1:]:
        if replace(spec, **{s: getattr(first, s) for s in LEVEL_SECTIONS}) != first:
            raise ValueError("levels may differ only in " + ", ".join(LEVEL_SECTIONS))
    if len(_CHECKED_LEVELS) > 256:
        _CHECKED_LEVELS.clear()
    _CHECKED_LEVELS[key] = tuple(specs)   # kept alive with their ids


def simulate_block_levels(n: int, block_seed, *, guided: bool, specs, model=None,
                          shift: ArmShift = NO_SHIFT, null_world: bool = False) -> list:
    """One seed block's patients, activation, curves and measurement once, then its care
    and statistics once per spec: common random numbers across what-if levels.

    ``specs`` may differ only in :data:`LEVEL_SECTIONS` (placement, outcomes, pacing);
    the block's care draws (veins, placement, outcomes) are made once too, so every
    level reads the same draws (:func:`care_kernel`) and only what the level changes
    differs. Level ``j`` gives exactly the statistics of
    ``simulate_block(n, block_streams(block_seed), spec=specs[j], ...)``.

    Returns
    -------
    list of (stats, null_stats or None), one per spec (:data:`BLOCK_STATS` records)
    """
    first = specs[0]
    check_levels(specs)
    model = model or load_segments()
    streams = block_streams(block_seed)
    k = block_constants(first, model)
    a = _empty_arrays(n, k.veins.prevalence.shape[0], k.engine.time_ms.shape[0], False,
                      first.fidelity == "speckle")
    python_stages = {}
    if first.activation.model != "pattern":
        python_stages[ACTIVATION] = lambda: _eikonal_stage(streams[0], first, model, a)
    if first.fidelity == "speckle":
        python_stages[MEASUREMENT] = lambda: _speckle_stage(streams[1], first, k, a)
    run = BlockRun(first=PATIENTS, stop=CARE, guided=bool(guided), shift=as_arm_shift(shift),
                   null_world=bool(null_world), given_scar=np.empty((0, N_SEGMENTS), np.bool_))
    _run_stages(streams, k, a, python_stages, PATIENTS, CARE, run)
    stats = np.zeros(len(specs), BLOCK_STATS)
    null_stats = np.zeros(len(specs), BLOCK_STATS)
    levels = run._replace(first=CARE, stop=len(STAGES))
    keep = levels._replace(rv_front=False)
    out = []
    previous = None
    for j, spec in enumerate(specs):
        # the RV front depends on the scar and the pacing only: kept while pacing stays
        same_pacing = previous is not None and (spec.pacing is previous.pacing
                                                or spec.pacing == previous.pacing)
        care_kernel(block_constants(spec, model), keep if same_pacing else levels, a,
                    stats[j:j + 1], null_stats[j:j + 1])
        out.append((stats[j:j + 1], null_stats[j:j + 1] if null_world else None))
        previous = spec
    return out


class BlockResults(NamedTuple):
    """A block's per-patient numbers as the stage functions' result objects."""

    patients: Patients
    measured: EngineResult
    placement: Placement
    outcomes: Outcomes
    scar_at_lead: np.ndarray
    null_outcomes: Outcomes | None
    pacing: PacedActivation


def block_results(a: BlockArrays, spec, *, null_world: bool = False,
                  model: SegmentModel | None = None) -> BlockResults:
    """:func:`simulate_block`'s arrays as result objects (for tables and figures)."""
    half = block_constants(spec, model or load_segments()).engine.half
    patients = Patients(age=a.age, male=a.male, edv_ml=a.edv, esv_ml=a.esv, nyha_class=a.nyha,
                        activation=Activation(activation_ms=a.activation_ms, scar=a.scar,
                                              ischemic=a.ischemic, late_angle_deg=a.late,
                                              delay_ms=a.delay))
    measured = result_from_outputs(a.measured, spec.curves.kind, spec.scar_threshold_pct, half)
    placement = Placement(lead_segment=a.lead, target_segment=a.aim,
                          vs_measured=a.vs_measured, vs_true=a.vs_true, reachable=a.reachable)
    null = Outcomes(**a.null_outcomes._asdict()) if null_world else None
    pacing = PacedActivation.from_totals(a.paced_ms, a.pacing_totals)
    return BlockResults(patients, measured, placement, Outcomes(**a.outcomes._asdict()),
                        a.scar_at_lead, null, pacing)
