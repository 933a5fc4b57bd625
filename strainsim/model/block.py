"""A seed block through every stage in one kernel, and curves measured as they are made.

Nothing here models anything: this module strings the stage kernels together.

:func:`measure_simulated` makes each strain curve with
:func:`strainsim.model.curves.synthesize_curve` into a one-curve buffer and measures
it at once with the engine's own per-curve routines
(:func:`strainsim.measure.engine.peak_of_row`, ``record_segment``, ``finish_patient``),
so a block's curves are never stored; the numbers are those of
``measure(simulate_curves(...).strain, ...)`` because both call the same code
on the same draws.

:func:`simulate_block` runs a seed block's whole pipeline (pattern activation,
curve fidelity) in one call: :func:`strainsim.model.population.population_kernel`,
:func:`strainsim.model.activation.scar_kernel`, ``sites_kernel``, ``pattern_kernel``,
the curves measured as above, :func:`strainsim.model.placement.veins_kernel`,
``place_kernel``, the classification and
:func:`strainsim.model.outcomes.outcome_noise_kernel` and ``apply_outcomes_kernel``, in
the order the stage functions
call them and from the same three streams (:mod:`strainsim.seeding`). The
stage-by-stage path of :func:`strainsim.studies.trials.simulate_arm` calls the same
kernels through their thin Python wrappers.

The kernels' parameters travel as a few typed records (one per stage,
:class:`BlockConstants`) built in one place, :func:`block_constants`.

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
    peak_of_row,
    record_segment,
    result_from_outputs,
)
from strainsim.model.activation import (
    Activation,
    PatternRecord,
    ScarRecord,
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
    synthesize_curve,
    time_axis,
)
from strainsim.model.outcomes import (
    OutcomeArrays,
    OutcomeRecord,
    Outcomes,
    apply_outcomes_kernel,
    empty_outcomes,
    null_record,
    outcome_noise_kernel,
    outcome_record,
)
from strainsim.model.placement import (
    Placement,
    PlacementRecord,
    VeinRecord,
    classify_kernel,
    place_kernel,
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
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = ["measure_simulated", "simulate_block", "block_arrays", "block_supported",
           "block_constants", "BlockConstants", "BlockArrays"]


@numba.njit(cache=True)
def measure_curves_kernel(rng, curves, engine, activation_ms, scar, out):
    """Make every curve (:func:`~strainsim.model.curves.synthesize_curve`) and measure it at
    once with the engine's per-curve routines; fills ``out`` (:class:`EngineOutputs`)."""
    half, sign, time_ms, threshold = engine.half, engine.sign, engine.time_ms, engine.threshold
    candidate, basal_mid, septal, lateral = (engine.candidate, engine.basal_mid,
                                             engine.septal, engine.lateral)
    peak, ttp, viable, latest = out.peak, out.ttp, out.viable, out.latest
    n, n_seg = activation_ms.shape
    row = np.empty(time_ms.shape[0])
    for i in range(n):
        best = -1
        best_ttp = 0.0
        best_amp = 0.0
        for s in range(n_seg):
            synthesize_curve(rng, curves, activation_ms[i, s], scar[i, s], row)
            f, raw = peak_of_row(row, half, sign)
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
    measure_curves_kernel(rng, curve_record(params), engine, activation_ms, scar, out)
    return result_from_outputs(out, params.kind, scar_threshold_pct, engine.half)


# ---------------------------------------------------------------------------------------
# a whole seed block in one kernel
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


class BlockArrays(NamedTuple):
    """Every per-patient number of a block (what the stage functions return)."""

    age: np.ndarray              # (n,) years
    male: np.ndarray             # (n,) bool
    edv: np.ndarray              # (n,) baseline EDV (mL)
    esv: np.ndarray              # (n,) baseline ESV (mL)
    scar: np.ndarray             # (n, 17) bool
    ischemic: np.ndarray         # (n,) bool
    late: np.ndarray             # (n,) late-site angle (degrees)
    delay: np.ndarray            # (n,) septal-to-late delay (ms)
    activation_ms: np.ndarray    # (n, 17)
    true_latest: np.ndarray      # (n,) int64
    measured: EngineOutputs      # the engine on the patient's curves
    available: np.ndarray        # (n, n_veins) bool
    reachable: np.ndarray        # (n, 17) bool
    aim: np.ndarray              # (n,) int64, the arm's measured target
    lead: np.ndarray             # (n,) int64
    vs_measured: np.ndarray      # (n,) int8
    vs_true: np.ndarray          # (n,) int8
    scar_at_lead: np.ndarray     # (n,) bool
    outcome_noise: np.ndarray    # (3, n) the outcome draws
    outcomes: OutcomeArrays
    null_outcomes: OutcomeArrays  # filled only for a null world (see block_kernel)


@numba.njit(cache=True)
def block_kernel(patients_rng, measurement_rng, care_rng, guided, shift_pct, null_world, k,
                 a):
    """One seed block through every stage: ``k`` a :class:`BlockConstants`, ``a`` the
    :class:`BlockArrays` to fill. With ``null_world`` the same patients, leads and
    outcome draws also give ``a.null_outcomes`` in a world where the lead's position
    has no effect; the trial keeps its shift, a between-trial difference of mean zero."""
    # patients stream: who the patient is
    population_kernel(patients_rng, k.population, a.age, a.male, a.edv, a.esv)
    scar_kernel(patients_rng, k.scar, a.scar, a.ischemic)
    sites_kernel(patients_rng, k.pattern, a.late, a.delay)
    pattern_kernel(patients_rng, k.pattern, a.scar, a.late, a.delay, a.activation_ms)
    true_latest_kernel(a.activation_ms, a.scar, a.true_latest)
    # measurement stream: the strain curves, measured by the engine
    measure_curves_kernel(measurement_rng, k.curves, k.engine, a.activation_ms, a.scar,
                          a.measured)
    # care stream: veins, leads, outcomes
    veins_kernel(care_rng, k.veins, a.available, a.reachable)
    place_kernel(care_rng, k.placement, guided, a.measured.latest, a.measured.ttp,
                 a.measured.viable, a.scar, a.activation_ms, a.reachable, a.aim, a.lead)
    classify_kernel(a.lead, a.aim, k.placement.hops, a.vs_measured)
    classify_kernel(a.lead, a.true_latest, k.placement.hops, a.vs_true)
    scar_at_lead_kernel(a.lead, a.scar, a.scar_at_lead)
    outcome_noise_kernel(care_rng, a.outcome_noise)
    apply_outcomes_kernel(k.outcomes, shift_pct, a.edv, a.esv, a.vs_true, a.delay, a.scar,
                          a.scar_at_lead, a.ischemic, a.male, a.outcome_noise, a.outcomes)
    if null_world:
        apply_outcomes_kernel(k.null_outcomes, shift_pct, a.edv, a.esv, a.vs_true, a.delay,
                              a.scar, a.scar_at_lead, a.ischemic, a.male, a.outcome_noise,
                              a.null_outcomes)


def block_supported(spec) -> bool:
    """Whether :func:`simulate_block` covers ``spec`` (pattern activation, curve fidelity)."""
    return spec.fidelity == "curves" and spec.activation.model == "pattern"


_CONSTANTS: dict = {}


def block_constants(spec, model: SegmentModel) -> BlockConstants:
    """Every stage's kernel record for ``spec`` on ``model`` (cached: specs are frozen)."""
    key = (spec, id(model))
    hit = _CONSTANTS.get(key)
    if hit is not None and hit[0] is model:
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
    )
    if len(_CONSTANTS) > 512:
        _CONSTANTS.clear()
    _CONSTANTS[key] = (model, constants)
    return constants


def _empty_arrays(n: int, n_veins: int) -> BlockArrays:
    def floats(*shape):
        return np.empty(shape)

    def flags(*shape):
        return np.empty(shape, dtype=np.bool_)

    return BlockArrays(
        age=floats(n), male=flags(n), edv=floats(n), esv=floats(n),
        scar=flags(n, N_SEGMENTS), ischemic=flags(n), late=floats(n), delay=floats(n),
        activation_ms=floats(n, N_SEGMENTS), true_latest=np.empty(n, dtype=np.int64),
        measured=engine_outputs(n), available=flags(n, n_veins),
        reachable=flags(n, N_SEGMENTS), aim=np.empty(n, dtype=np.int64),
        lead=np.empty(n, dtype=np.int64),
        vs_measured=np.empty(n, dtype=np.int8), vs_true=np.empty(n, dtype=np.int8),
        scar_at_lead=flags(n), outcome_noise=floats(3, n), outcomes=empty_outcomes(n),
        null_outcomes=empty_outcomes(n))


def block_arrays(n: int, streams, guided: bool, spec, model: SegmentModel | None = None,
                 shift_pct: float = 0.0, null_world: bool = False) -> BlockArrays:
    """:func:`simulate_block`'s numbers as a :class:`BlockArrays` (no result objects).

    ``streams``: the block's ``patients``, ``measurement`` and ``care`` generators;
    ``null_world``: also fill ``null_outcomes`` (see :func:`block_kernel`).
    """
    if not block_supported(spec):
        raise ValueError("simulate_block needs the pattern activation model and "
                         "curve fidelity")
    model = model or load_segments()
    constants = block_constants(spec, model)
    arrays = _empty_arrays(n, constants.veins.prevalence.shape[0])
    block_kernel(*streams, bool(guided), float(shift_pct), bool(null_world), constants, arrays)
    return arrays


def simulate_block(n: int, streams, guided: bool, spec, model: SegmentModel | None = None,
                   shift_pct: float = 0.0, null_world: bool = False):
    """One seed block through the whole pipeline in one kernel.

    Parameters
    ----------
    n : int
        Patients in the block.
    streams : sequence of 3 numpy.random.Generator
        The block's ``patients``, ``measurement`` and ``care`` streams.
    guided : bool
        Image-guided (True) or control arm.
    spec : TrialSpec
        Must satisfy :func:`block_supported`.
    model : SegmentModel, optional
    shift_pct : float
        The arm's trial-level shift of the ESV change (%).
    null_world : bool
        Also give the outcomes with the lead's position of no effect.

    Returns
    -------
    patients, measured, placement, outcomes, scar_at_lead, null_outcomes
        What the stage functions return for the same generators (see
        :func:`strainsim.studies.trials.simulate_arm`); ``null_outcomes`` is None without
        ``null_world``.
    """
    a = block_arrays(n, streams, guided, spec, model, shift_pct, null_world)
    patients = Patients(age=a.age, male=a.male, edv_ml=a.edv, esv_ml=a.esv,
                        activation=Activation(activation_ms=a.activation_ms, scar=a.scar,
                                              ischemic=a.ischemic, late_angle_deg=a.late,
                                              delay_ms=a.delay))
    half = block_constants(spec, model or load_segments()).engine.half
    measured = result_from_outputs(a.measured, spec.curves.kind, spec.scar_threshold_pct, half)
    placement = Placement(lead_segment=a.lead, target_segment=a.aim,
                          vs_measured=a.vs_measured, vs_true=a.vs_true, reachable=a.reachable)
    outcomes = Outcomes(**a.outcomes._asdict())
    null = Outcomes(**a.null_outcomes._asdict()) if null_world else None
    return patients, measured, placement, outcomes, a.scar_at_lead, null
