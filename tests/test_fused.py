"""The fused kernels against their plain-numpy twins, number for number.

The block kernel strings together numba versions of every stage (scar, late
site, activation, curves, engine, veins, placement, outcomes) that consume the
NumPy generators in the order of the stage functions. Each is held here to the
stage function it stands for, and the whole block to the stage-by-stage path.
"""

from dataclasses import astuple, fields, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strainsim.activation import (
    ActivationParams,
    ScarParams,
    draw_scar,
    draw_scar_kernel,
    pattern_kernel,
    ring_terms,
    scar_constants,
    simulate_activation,
    vonmises,
)
from strainsim.cohort import PopulationParams, population_constants, population_kernel
from strainsim.curves import CurveParams, simulate_curves
from strainsim.engine import measure
from strainsim.fused import block_supported, measure_simulated, simulate_block
from strainsim.outcomes import (
    OutcomeParams,
    outcome_constants,
    outcomes_kernel,
    simulate_outcomes,
)
from strainsim.placement import (
    PlacementParams,
    classify,
    classify_one,
    draw_veins,
    draw_veins_kernel,
    empirical_masks,
    place_empirical,
    place_image_guided,
    place_kernel,
)
from strainsim.spec import TrialSpec
from strainsim.trial import mean_sd, simulate_arm

ENGINE_FIELDS = ("ttp_ms", "peak_strain", "viable", "latest_segment", "sd_ttp_ms",
                 "maxmin_ttp_ms", "septal_lateral_ms")


def assert_same(a, b, where=""):
    """Bit-identical arrays (NaN equal to NaN), recursing through dataclasses."""
    if hasattr(a, "__dataclass_fields__"):
        for f in fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    else:
        assert a == b, where


def next_draw(rng):
    """A generator's next uniform: equal only if both consumed the same draws."""
    return rng.random()


# ---------------------------------------------------------------------------------------
# the curve kernel: exact shapes only where the engine's peak can be
# ---------------------------------------------------------------------------------------
curve_params = st.builds(
    CurveParams,
    kind=st.sampled_from(["radial", "longitudinal"]),
    fps=st.sampled_from([12.0, 30.0, 60.0, 90.0, 250.0]),
    cycle_ms=st.floats(400.0, 1400.0),
    emd_ms=st.floats(0.0, 120.0),
    contraction_ms=st.one_of(st.floats(5.0, 900.0), st.sampled_from([0.5, 4000.0])),
    relaxation_ms=st.one_of(st.floats(5.0, 900.0), st.sampled_from([0.01, 1e6])),
    viable_amplitude_pct=st.floats(0.01, 40.0),
    viable_amplitude_sd_pct=st.floats(0.0, 20.0),
    scar_amplitude_pct=st.floats(0.0, 10.0),
    scar_amplitude_sd_pct=st.floats(0.0, 5.0),
    noise_sd_pct=st.one_of(st.just(0.0), st.floats(0.0, 3.0)),
    noise_corr_ms=st.floats(1.0, 200.0),
    drift_sd_pct=st.one_of(st.just(0.0), st.floats(0.0, 5.0)),
)


@given(curve_params, st.integers(1, 30), st.integers(0, 2**32 - 1), st.booleans(),
       st.sampled_from([0.0, 50.0, 100.0, 200.0]))
def test_fused_curves_equal_synthesis_then_engine(params, n, seed, wide_onsets, smooth_ms):
    rng = np.random.default_rng(seed)
    high = params.cycle_ms + 300.0 if wide_onsets else 400.0
    onset = rng.uniform(-300.0 if wide_onsets else 0.0, high, (n, 17))
    scar = rng.random((n, 17)) < 0.3
    fused = measure_simulated(onset, scar, np.random.default_rng(seed + 1), params,
                              smooth_ms=smooth_ms)
    curves = simulate_curves(onset, scar, np.random.default_rng(seed + 1), params)
    two_step = measure(curves.strain, curves.time_ms, kind=params.kind, smooth_ms=smooth_ms)
    for name in ENGINE_FIELDS:
        assert_same(getattr(fused, name), getattr(two_step, name), name)


# ---------------------------------------------------------------------------------------
# stage kernels against their stage functions
# ---------------------------------------------------------------------------------------
@given(st.integers(1, 300), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0),
       st.floats(0.0, 20.0), st.floats(0.0, 1.0),
       st.sampled_from([(0.45, 0.30, 0.25), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.2, 0.5, 0.3)]))
def test_scar_kernel_is_draw_scar(model, n, seed, ischemic, mean, patchy, weights):
    params = ScarParams(ischemic_fraction=ischemic, ischemic_scar_segments_mean=mean,
                        territory_weights=weights, nonischemic_scar_probability=patchy)
    rng_ref, rng_k = np.random.default_rng(seed), np.random.default_rng(seed)
    scar_ref, ischemic_ref = draw_scar(n, rng_ref, params, model)
    cdf, members = scar_constants(params, model)
    scar, isch = np.empty((n, 17), bool), np.empty(n, bool)
    draw_scar_kernel(rng_k, params.ischemic_fraction, cdf, params.ischemic_scar_segments_mean,
                     params.nonischemic_scar_probability, members, model.adjacency, scar, isch)
    assert_same(scar, scar_ref, "scar")
    assert_same(isch, ischemic_ref, "ischemic")
    assert next_draw(rng_k) == next_draw(rng_ref)


@pytest.mark.parametrize("kappa", [0.0, 1e-9, 1e-6, 0.3, 1.0, 4.0, 250.0, 1e7])
@pytest.mark.parametrize("mu", [0.0, np.radians(340.0), -2.5, 3.1])
def test_vonmises_kernel_is_numpys(mu, kappa):
    n = 3000
    rng_k = np.random.default_rng(11)
    drawn = np.array([vonmises(rng_k, mu, kappa) for _ in range(n)])
    rng_ref = np.random.default_rng(11)
    assert_same(drawn, rng_ref.vonmises(mu, kappa, size=n))
    assert next_draw(rng_k) == next_draw(rng_ref)


@given(st.integers(1, 200), st.integers(0, 2**32 - 1), st.floats(0.0, 50.0),
       st.floats(0.0, 360.0), st.floats(0.0, 5.0), st.floats(0.0, 40.0))
def test_pattern_kernel_is_simulate_activation(model, n, seed, onset, angle, kappa, jitter):
    params = ActivationParams(onset_ms=onset, late_angle_deg=angle, late_angle_kappa=kappa,
                              jitter_sd_ms=jitter)
    ref = simulate_activation(n, np.random.default_rng(seed), params, model)
    rng = np.random.default_rng(seed)
    scar, _ = draw_scar(n, rng, params.scar, model)  # the draws before the pattern's
    ring = ring_terms(params, model)
    late, delay, times = np.empty(n), np.empty(n), np.empty((n, 17))
    pattern_kernel(rng, params.onset_ms, params.delay_mean_ms, params.delay_sd_ms,
                   float(np.radians(params.late_angle_deg)), params.late_angle_kappa,
                   params.jitter_sd_ms, params.scar_delay_ms,
                   np.radians([s.angle_centre for s in model.segments]), ring,
                   model.numbers(ring="apical") - 1, scar, late, delay, times)
    assert_same(late, ref.late_angle_deg, "late angle")
    assert_same(delay, ref.delay_ms, "delay")
    assert_same(times, ref.activation_ms, "activation")


@given(st.integers(1, 200), st.integers(0, 2**32 - 1))
def test_population_kernel_draws_as_simulate_patients(n, seed):
    population = PopulationParams(ef_sd_pct=15.0)  # reaches both clipping bounds
    rng_ref = np.random.default_rng(seed)
    age_ref = population.age_mean + population.age_sd * rng_ref.standard_normal(n)
    male_ref = rng_ref.random(n) < population.male_fraction
    edv_ref = np.maximum(80.0, population.edv_mean_ml
                         + population.edv_sd_ml * rng_ref.standard_normal(n))
    ef = np.clip(population.ef_mean_pct + population.ef_sd_pct * rng_ref.standard_normal(n),
                 10.0, 35.0)
    age, edv, esv, male = np.empty(n), np.empty(n), np.empty(n), np.empty(n, bool)
    rng = np.random.default_rng(seed)
    population_kernel(rng, population_constants(population), age, male, edv, esv)
    assert_same(age, age_ref)
    assert_same(male, male_ref)
    assert_same(edv, edv_ref)
    assert_same(esv, edv_ref * (1.0 - ef / 100.0))
    assert next_draw(rng) == next_draw(rng_ref)


@given(st.integers(1, 200), st.integers(0, 2**32 - 1),
       st.one_of(st.none(), st.floats(0.0, 1.0)), st.floats(0.0, 1.0), st.floats(0.0, 1.0),
       st.booleans())
def test_placement_kernels_are_the_placement_functions(model, n, seed, concordance, aim,
                                                       adjacent, guided):
    params = PlacementParams(aim_success=aim, concordance=concordance,
                             adjacent_share=adjacent)
    rng_ref, rng_k = np.random.default_rng(seed), np.random.default_rng(seed)
    _, reachable_ref = draw_veins(n, rng_ref, model)
    reachable = np.empty((n, 17), bool)
    draw_veins_kernel(rng_k, np.array([v.prevalence for v in model.veins]),
                      model.vein_access(), reachable)
    assert_same(reachable, reachable_ref, "reachable")
    target = np.random.default_rng(seed + 1).integers(-1, 18, n)
    target[target == 0] = -1
    truth = np.random.default_rng(seed + 2).integers(1, 18, n)
    if guided:
        ref = place_image_guided(target, truth, reachable, rng_ref, params, model)
    else:
        ref = place_empirical(reachable, rng_ref, params, model, target=target,
                              true_latest=truth)
    lead = np.empty(n, np.int64)
    place_kernel(rng_k, guided, target, reachable, params.aim_success,
                 -1.0 if concordance is None else concordance, params.adjacent_share,
                 empirical_masks(params, model), model.adjacency, model.hops, lead)
    assert_same(lead, ref.lead_segment, "lead")
    hops = np.asarray(model.hops, dtype=np.int64)
    classes = [classify_one(a, b, hops) for a, b in zip(lead, target, strict=True)]
    assert_same(np.array(classes, np.int8), ref.vs_measured, "vs measured")
    assert next_draw(rng_k) == next_draw(rng_ref)


def test_classify_one_is_classify(model):
    leads, refs = np.meshgrid(np.arange(-1, 18), np.arange(-1, 18))
    expected = classify(leads.ravel(), refs.ravel(), model)
    hops = np.asarray(model.hops, dtype=np.int64)
    got = [classify_one(a, b, hops) for a, b in zip(leads.ravel(), refs.ravel(), strict=True)]
    assert np.array_equal(expected, got)


@given(st.integers(1, 300), st.integers(0, 2**32 - 1), st.floats(-10.0, 10.0),
       st.floats(0.0, 1.5))
def test_outcomes_kernel_is_simulate_outcomes(n, seed, shift, edv_fraction):
    params = OutcomeParams(edv_fraction=edv_fraction, noise_sd_pct=40.0)  # hits the clips
    data = np.random.default_rng(seed + 1)
    edv = data.uniform(100, 350, n)
    esv = edv * data.uniform(0.6, 0.9, n)
    position = data.integers(-1, 3, n)
    scar, ischemic, male = (data.random(n) < 0.3 for _ in range(3))
    ref = simulate_outcomes(edv, esv, position, scar, ischemic, male,
                            np.random.default_rng(seed), params, shift)
    out = [np.empty(n) for _ in range(5)] + [np.empty(n, bool)]
    outcomes_kernel(np.random.default_rng(seed), outcome_constants(params), edv, esv,
                    position, scar, ischemic, male, shift, *out)
    for got, name in zip(out, ("esv_change_pct", "edv_change_pct", "esv_ml", "edv_ml",
                               "ef_change", "nyha_improved"), strict=True):
        assert_same(got, getattr(ref, name), name)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 15, 16, 17, 127, 128, 129, 130, 255, 256,
                               257, 1000, 4099])
def test_mean_sd_is_numpys(n):
    x = np.random.default_rng(n).standard_normal(n) * 30.0 + 7.0
    mean, sd = mean_sd(x)
    assert mean == x.mean()
    if n > 1:
        assert sd == x.std(ddof=1)
    else:
        assert np.isnan(sd)


# ---------------------------------------------------------------------------------------
# a whole block, and whole arms
# ---------------------------------------------------------------------------------------
specs = st.builds(
    lambda kind, fps, smooth, concordance, ischemic, scar_mean, aim, n: TrialSpec(
        name="t", n_image_guided=n, n_control=n,
        population=PopulationParams(ischemic_fraction=ischemic,
                                    ischemic_scar_segments_mean=scar_mean),
        curves=CurveParams(kind=kind, fps=fps),
        placement=PlacementParams(aim_success=aim, concordance=concordance),
        smooth_ms=smooth),
    st.sampled_from(["radial", "longitudinal"]), st.sampled_from([30.0, 60.0, 90.0]),
    st.sampled_from([0.0, 50.0, 120.0]), st.one_of(st.none(), st.floats(0.0, 1.0)),
    st.floats(0.0, 1.0), st.floats(0.0, 8.0), st.floats(0.0, 1.0), st.integers(2, 300))


@given(specs, st.integers(0, 2**32 - 1), st.booleans(), st.floats(-10.0, 10.0))
def test_arm_kernel_equals_the_stage_functions(model, spec, seed, guided, shift):
    """Blocks through one kernel == blocks through the stage functions (arms of 2-300,
    so one or two seed blocks)."""
    assert block_supported(spec)
    kernel = simulate_arm(spec.n_image_guided, guided, spec, np.random.SeedSequence(seed),
                          model, shift_pct=shift)
    stages = simulate_arm(spec.n_image_guided, guided, spec, np.random.SeedSequence(seed),
                          model, shift_pct=shift, backend="stages")
    assert_same(kernel, stages, "arm")


def test_block_refuses_what_it_does_not_cover(model):
    spec = TrialSpec(name="t", n_image_guided=3, n_control=3,
                     activation=ActivationParams(model="eikonal"))
    assert not block_supported(spec)
    assert not block_supported(replace(TrialSpec(name="t", n_image_guided=3, n_control=3),
                                       fidelity="speckle"))
    rngs = [np.random.default_rng(s) for s in range(5)]
    with pytest.raises(ValueError, match="pattern activation"):
        simulate_block(3, rngs, True, spec, model)
    with pytest.raises(ValueError, match="backend"):
        simulate_arm(3, True, spec, np.random.SeedSequence(0), model, backend="gpu")


@given(specs, st.integers(0, 2**32 - 1))
def test_trial_summaries_from_the_kernel_equal_those_of_the_arms(spec, seed):
    """simulate_trial summarizes the kernel's arrays directly; keep_arms builds the
    per-patient results first. The summaries are the same."""
    from strainsim.trial import simulate_trial

    lean = simulate_trial(spec, seed)
    full, _, _ = simulate_trial(spec, seed, keep_arms=True)
    for a, b in ((lean.guided, full.guided), (lean.control, full.control)):
        assert np.array_equal(np.array(astuple(a), float), np.array(astuple(b), float),
                              equal_nan=True)
