"""The per-block pipeline is the stage functions strung together, nothing more.

Every stage is one numba kernel; the stage functions are thin wrappers around
those kernels and :mod:`strainsim.model.block` calls the same kernels in the same
order from the same streams. These tests check that composition: a block
through one kernel gives what the stage functions give, curves measured as
they are made give what the engine finds on the stored curves, and the trial
summaries taken straight from the kernel's arrays equal those of the arms.
"""

from dataclasses import astuple, fields, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strainsim.measure.engine import measure
from strainsim.model.activation import ActivationParams
from strainsim.model.block import block_supported, measure_simulated, simulate_block
from strainsim.model.curves import CurveParams, simulate_curves
from strainsim.model.placement import PlacementParams
from strainsim.model.population import PopulationParams
from strainsim.studies.specs import TrialSpec
from strainsim.studies.trials import mean_sd, simulate_arm


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


@st.composite
def curve_params(draw):
    viable = draw(st.floats(0.01, 40.0))
    return CurveParams(
        kind=draw(st.sampled_from(["radial", "longitudinal"])),
        fps=draw(st.sampled_from([12.0, 30.0, 60.0, 90.0, 250.0])),
        cycle_ms=draw(st.floats(400.0, 1400.0)),
        emd_ms=draw(st.floats(0.0, 120.0)),
        contraction_ms=draw(st.one_of(st.floats(5.0, 900.0), st.sampled_from([0.5, 4000.0]))),
        relaxation_ms=draw(st.one_of(st.floats(5.0, 900.0), st.sampled_from([0.01, 1e6]))),
        viable_amplitude_pct=viable,
        viable_amplitude_sd_pct=draw(st.floats(0.0, 20.0)),
        scar_amplitude_pct=draw(st.floats(0.0, 10.0).map(lambda a: min(a, viable / 2))),
        scar_amplitude_sd_pct=draw(st.floats(0.0, 5.0)),
        noise_sd_pct=draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0))),
        noise_corr_ms=draw(st.floats(1.0, 200.0)),
        drift_sd_pct=draw(st.one_of(st.just(0.0), st.floats(0.0, 5.0))),
    )


@given(curve_params(), st.integers(1, 30), st.integers(0, 2**32 - 1), st.booleans(),
       st.sampled_from([0.0, 50.0, 100.0, 200.0]))
def test_curves_measured_as_made_equal_the_engine_on_stored_curves(params, n, seed,
                                                                   wide_onsets, smooth_ms):
    rng = np.random.default_rng(seed)
    high = params.cycle_ms + 300.0 if wide_onsets else 400.0
    activation = rng.uniform(-300.0 if wide_onsets else 0.0, high, (n, 17))
    scar = rng.random((n, 17)) < 0.3
    fused = measure_simulated(activation, scar, np.random.default_rng(seed + 1), params,
                              smooth_ms=smooth_ms)
    curves = simulate_curves(activation, scar, np.random.default_rng(seed + 1), params)
    stored = measure(curves.strain, curves.time_ms, kind=params.kind, smooth_ms=smooth_ms)
    assert_same(fused, stored, "engine")


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
def test_a_block_in_one_kernel_is_the_stage_functions_in_turn(model, spec, seed, guided,
                                                               shift):
    """Arms of 2-300 patients (one or two seed blocks) through the block kernel and
    through the stage functions."""
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
    streams = [np.random.default_rng(s) for s in range(3)]
    with pytest.raises(ValueError, match="pattern activation"):
        simulate_block(3, streams, True, spec, model)
    with pytest.raises(ValueError, match="backend"):
        simulate_arm(3, True, spec, np.random.SeedSequence(0), model, backend="gpu")


@given(specs, st.integers(0, 2**32 - 1))
def test_trial_summaries_from_the_kernel_equal_those_of_the_arms(spec, seed):
    """simulate_trial summarizes the kernel's arrays directly; keep_arms builds the
    per-patient results first. The summaries are the same."""
    from strainsim.studies.trials import simulate_trial

    lean = simulate_trial(spec, seed)
    full, _, _ = simulate_trial(spec, seed, keep_arms=True)
    for a, b in ((lean.guided, full.guided), (lean.control, full.control)):
        assert np.array_equal(np.array(astuple(a), float), np.array(astuple(b), float),
                              equal_nan=True)


@given(st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_mean_sd_agrees_with_numpy_to_rounding(n, seed):
    x = np.random.default_rng(seed).standard_normal(n) * 30.0 + 7.0
    mean, sd = mean_sd(x)
    if n == 0:
        assert np.isnan(mean) and np.isnan(sd)
        return
    assert mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-12)
    if n > 1:
        assert sd == pytest.approx(x.std(ddof=1), rel=1e-12)
    else:
        assert np.isnan(sd)
