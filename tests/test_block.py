"""The block simulator is the stage kernels strung together, nothing more.

Every stage is one numba kernel with a thin Python function around it, and
:func:`strainsim.model.block.simulate_block` calls the same kernels in order from
the same streams. These tests check that composition (a block equals its stage
functions called in turn, written out here), that curves measured as they are
made give what the engine finds on the stored curves, that the stages that are
not compiled (eikonal activation, speckle fidelity) take their place in the same
block, and that an arm's summary, always the merge of its blocks' statistics, does
not depend on how the blocks were grouped.
"""

from dataclasses import astuple, fields, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strainsim.measure.engine import measure
from strainsim.model.activation import ActivationParams
from strainsim.model.block import block_results, measure_simulated, simulate_block
from strainsim.model.curves import CurveParams, simulate_curves, time_axis
from strainsim.model.outcomes import simulate_outcomes
from strainsim.model.pacing import paced_activation
from strainsim.model.placement import (
    STRATEGIES,
    PlacementParams,
    aims_by_imaging,
    draw_veins,
    place_leads,
    placement_record,
    scar_at_lead,
)
from strainsim.model.population import PopulationParams, simulate_patients
from strainsim.model.summary import BLOCK_STATS, merge
from strainsim.seeding import block_streams
from strainsim.studies.specs import TrialSpec


def assert_same(a, b, where=""):
    """Bit-identical arrays (NaN equal to NaN), recursing through dataclasses."""
    if hasattr(a, "__dataclass_fields__"):
        for f in fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif hasattr(a, "_fields"):
        for name in a._fields:
            assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
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
    lambda kind, fps, smooth, concordance, ischemic, scar_mean, aim, n, strategy: TrialSpec(
        name="t", n_image_guided=n, n_control=n,
        population=PopulationParams(ischemic_fraction=ischemic,
                                    ischemic_scar_segments_mean=scar_mean),
        curves=CurveParams(kind=kind, fps=fps),
        placement=PlacementParams(aim_success=aim, concordance=concordance,
                                  image_guided=strategy),
        smooth_ms=smooth),
    st.sampled_from(["radial", "longitudinal"]), st.sampled_from([30.0, 60.0, 90.0]),
    st.sampled_from([0.0, 50.0, 120.0]), st.one_of(st.none(), st.floats(0.0, 1.0)),
    st.floats(0.0, 1.0), st.floats(0.0, 8.0), st.floats(0.0, 1.0), st.integers(2, 300),
    st.sampled_from(STRATEGIES))


def stage_by_stage(n, streams, guided, spec, model, shift):
    """The stage functions called in turn on a block's three streams."""
    patients_rng, measurement_rng, care_rng = streams
    patients = simulate_patients(n, patients_rng, spec.population, spec.activation, model)
    act = patients.activation
    measured = measure_simulated(act.activation_ms, act.scar, measurement_rng, spec.curves,
                                 smooth_ms=spec.smooth_ms,
                                 scar_threshold_pct=spec.scar_threshold_pct, model=model)
    _, reachable = draw_veins(n, care_rng, model)
    placement = place_leads(guided, measured, act, reachable, care_rng, spec.placement, model)
    on_scar = scar_at_lead(placement.lead_segment, act.scar)
    paced = paced_activation(act.activation_ms, act.scar, placement.lead_segment,
                             spec.pacing, model)
    outcomes = simulate_outcomes(edv_ml=patients.edv_ml, esv_ml=patients.esv_ml,
                                 resync_fraction=paced.late_removed_fraction,
                                 scar=act.scar, scar_at_lead=on_scar, ischemic=act.ischemic,
                                 male=patients.male, nyha_class=patients.nyha_class,
                                 imaging_arm=aims_by_imaging(
                                     placement_record(spec.placement, model), guided),
                                 rng=care_rng, params=spec.outcomes,
                                 shift=shift)
    return patients, measured, placement, outcomes, on_scar


@given(specs, st.integers(0, 2**32 - 1), st.booleans(),
       st.tuples(st.floats(-10.0, 10.0), st.floats(-10.0, 10.0)))
def test_a_block_is_its_stage_functions_in_turn(model, spec, seed, guided, shift):
    n = spec.n_image_guided
    block = simulate_block(n, block_streams(np.random.SeedSequence(seed)), guided=guided,
                           spec=spec, model=model, shift=shift)
    results = block_results(block, spec, model=model)
    stages = stage_by_stage(n, block_streams(np.random.SeedSequence(seed)), guided, spec,
                            model, shift)
    for name, a, b in zip(("patients", "measured", "placement", "outcomes", "scar_at_lead"),
                          results, stages, strict=False):
        assert_same(a, b, name)


@pytest.mark.parametrize("change", [
    {"activation": ActivationParams(model="eikonal", grid_size=32)},
    pytest.param({"fidelity": "speckle"}, marks=pytest.mark.slow)])
def test_the_stages_that_are_not_compiled_take_their_place_in_the_block(model, change):
    spec = replace(TrialSpec(name="t", n_image_guided=3, n_control=3), **change)
    n = 1 if spec.fidelity == "speckle" else 3   # speckle tracking takes seconds a patient
    run = [simulate_block(n, block_streams(np.random.SeedSequence(4)), guided=True,
                          spec=spec, model=model, keep_curves=True) for _ in range(2)]
    assert_same(block_results(run[0], spec), block_results(run[1], spec), "reproducible")
    a = run[0]
    assert np.all(a.reachable[np.arange(n), a.lead - 1])       # leads only where a vein is
    assert a.strain.shape[0] == n and np.isfinite(a.strain).all()
    # what the engine measured is what it finds on the kept curves
    again = measure(a.strain, time_axis(spec.curves), kind=spec.curves.kind)
    np.testing.assert_array_equal(again.ttp_ms, a.measured.ttp)


@given(specs, st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_an_arm_summary_does_not_depend_on_chunks_or_kept_patients(spec, seed, chunk_blocks):
    from strainsim.studies.trials import simulate_arm

    seed = np.random.SeedSequence(seed)
    n = spec.n_image_guided
    lean = simulate_arm(n, True, spec, seed, block_size=chunk_blocks * 256)
    full = simulate_arm(n, True, spec, seed, keep_patients=True)
    assert lean.summary == full.summary or np.array_equal(
        np.array(astuple(lean.summary), float), np.array(astuple(full.summary), float),
        equal_nan=True)
    # and the merged moments are those of the patients, to rounding: n <= 300 values of
    # at most ~100 %, so a relative error of a few ulps of the sums
    o = full.outcomes
    assert lean.summary.esv_change_mean == pytest.approx(o.esv_change_pct.mean(), rel=1e-12,
                                                          abs=1e-12)
    if n > 1:
        assert lean.summary.ef_change_sd == pytest.approx(o.ef_change.std(ddof=1), rel=1e-10)
    assert lean.summary.nyha_improved == int(o.nyha_improved.sum())


@given(st.lists(st.integers(0, 40), min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_merging_block_moments_is_the_moments_of_all_values(sizes, seed):
    """Chan's pairwise merge of (n, mean, M2) in block order equals the two-pass moments
    of the concatenation to rounding (1e-12 relative for values of order 10-100)."""
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal(n) * 30.0 + 7.0 for n in sizes]
    stats = []
    for x in parts:
        one = np.zeros(1, BLOCK_STATS)
        one["n"] = x.size
        if x.size:
            one["esv_mean"] = x.mean()
            one["esv_m2"] = ((x - x.mean()) ** 2).sum()
        stats.append(one)
    summary = merge(np.concatenate(stats))
    everything = np.concatenate(parts)
    assert summary.n == everything.size
    if everything.size == 0:
        assert np.isnan(summary.esv_change_mean)
        return
    assert summary.esv_change_mean == pytest.approx(everything.mean(), rel=1e-12, abs=1e-12)
    if everything.size > 1:
        assert summary.esv_change_sd == pytest.approx(everything.std(ddof=1), rel=1e-12)
    else:
        assert np.isnan(summary.esv_change_sd)


def _one_lead_per_bin(rng, n, rate):
    # a Q-LV histogram of ``n`` leads in distinct bins (in Q-LV order), each a hit with
    # probability ``rate``: the leads and hits per bin, and each lead's hit
    from strainsim.model.summary import QLV_BINS

    bins = np.sort(rng.choice(QLV_BINS, n, replace=False))
    hit = rng.random(n) < rate
    leads = np.zeros(QLV_BINS, np.int64)
    hits = np.zeros(QLV_BINS, np.int64)
    leads[bins] = 1
    hits[bins] = hit
    return leads, hits, hit


@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_quartile_shares_are_exact_when_each_lead_has_its_own_bin(quarters, seed):
    from strainsim.model.summary import QLV_BINS, quartile_shares

    n = 4 * min(quarters, QLV_BINS // 4)
    leads, responders, responder = _one_lead_per_bin(np.random.default_rng(seed), n, 0.5)
    low, high = quartile_shares(leads, responders)
    assert low == pytest.approx(responder[:n // 4].mean(), abs=1e-12)
    assert high == pytest.approx(responder[-(n // 4):].mean(), abs=1e-12)
    # the histogram read from the other end swaps them
    assert quartile_shares(leads[::-1].copy(), responders[::-1].copy()) == pytest.approx(
        (high, low), abs=1e-12)
    assert all(np.isnan(quartile_shares(np.zeros(QLV_BINS, np.int64),
                                        np.zeros(QLV_BINS, np.int64))))


@pytest.fixture(scope="module")
def arm_with_leads_qlv():
    # a 2000-patient empirical arm, its patients with a lead, and the Q-LV at each lead
    from strainsim.studies.trials import simulate_arm

    spec = TrialSpec(name="q", n_image_guided=2, n_control=2000)
    arm = simulate_arm(2000, False, spec, np.random.SeedSequence(4), keep_patients=True)
    lead = arm.placement.lead_segment
    kept = lead > 0
    qlv = arm.patients.activation.activation_ms[np.flatnonzero(kept), lead[kept] - 1]
    return arm, kept, qlv


def _shared_bin_share(qlv, count):
    # within what sharing the bins the ``count`` leads at each end finish in can move a
    # share: a bin's leads over ``count``
    from strainsim.model.summary import QLV_BIN_MS

    return max(np.sum(np.floor(qlv / QLV_BIN_MS) == np.floor(np.sort(qlv)[k] / QLV_BIN_MS))
               for k in (count, -count)) / count


def test_an_arm_summarys_qlv_quartiles_are_its_patients(arm_with_leads_qlv):
    arm, kept, qlv = arm_with_leads_qlv
    responder = arm.outcomes.esv_change_pct[kept] <= -15.0
    order = np.argsort(qlv, kind="stable")
    quarter = kept.sum() // 4
    edge = _shared_bin_share(qlv, quarter)
    s = arm.summary
    assert abs(s.esv_responders_lowest_qlv_quartile
               - responder[order[:quarter]].mean()) <= edge + 1e-12
    assert abs(s.esv_responders_highest_qlv_quartile
               - responder[order[-quarter:]].mean()) <= edge + 1e-12
    # the remodelling the model grades by the delay the lead captures shows here
    assert s.esv_responders_highest_qlv_quartile > s.esv_responders_lowest_qlv_quartile


def test_end_shares_read_any_fraction_of_the_leads_from_either_end():
    from strainsim.model.summary import QLV_BINS, end_shares, quartile_shares

    leads, hits, hit = _one_lead_per_bin(np.random.default_rng(8), 120, 0.4)
    low, high = end_shares(leads, hits, 1.0 / 3.0)
    assert low == pytest.approx(hit[:40].mean(), abs=1e-12)
    assert high == pytest.approx(hit[-40:].mean(), abs=1e-12)
    assert end_shares(leads, hits, 0.25) == quartile_shares(leads, hits)
    # every lead in one bin: any share of it holds the bin's rate
    one = np.zeros(QLV_BINS, np.int64)
    one[60] = 9
    got = np.zeros(QLV_BINS, np.int64)
    got[60] = 3
    assert end_shares(one, got, 1.0 / 3.0) == pytest.approx((1 / 3, 1 / 3))


def test_an_arm_summarys_qlv_tertiles_count_its_nyha_improvement(arm_with_leads_qlv):
    arm, kept, qlv = arm_with_leads_qlv
    improved = arm.outcomes.nyha_improved[kept]
    order = np.argsort(qlv, kind="stable")
    third = kept.sum() // 3
    edge = _shared_bin_share(qlv, third)
    s = arm.summary
    assert abs(s.nyha_improved_lowest_qlv_tertile
               - improved[order[:third]].mean()) <= edge + 2 / third
    assert abs(s.nyha_improved_highest_qlv_tertile
               - improved[order[-third:]].mean()) <= edge + 2 / third


def test_an_arm_summarys_responders_by_concordance_are_its_patients(arm_with_leads_qlv):
    arm, _, _ = arm_with_leads_qlv
    responder = arm.outcomes.esv_change_pct <= -15.0
    cls = arm.placement.vs_measured
    s = arm.summary
    assert s.esv_responders_concordant_fraction == pytest.approx(
        responder[cls == 0].mean(), abs=1e-12)
    assert s.esv_responders_discordant_fraction == pytest.approx(
        responder[cls > 0].mean(), abs=1e-12)


# --- common random numbers across what-if levels ----------------------------------------
def test_each_level_is_the_block_it_replaces():
    from strainsim.model.block import simulate_block_levels
    from strainsim.studies.sweep import with_concordance

    base = TrialSpec(name="x", n_image_guided=40, n_control=40)
    specs = [with_concordance([base], level)[0] for level in (0.2, 0.7, 1.0)]
    seed = np.random.SeedSequence(11)
    levels = simulate_block_levels(40, seed, guided=True, specs=specs, null_world=True)
    for spec, (stats, null) in zip(specs, levels, strict=True):
        alone = simulate_block(40, block_streams(seed), guided=True, spec=spec,
                               null_world=True)
        assert_same(stats, alone.stats)
        assert_same(null, alone.null_stats)
    assert not np.array_equal(levels[0][0]["measured_concordant"],
                              levels[2][0]["measured_concordant"])


def test_levels_may_change_only_what_follows_the_measurement():
    from strainsim.model.block import simulate_block_levels

    base = TrialSpec(name="x", n_image_guided=8, n_control=8)
    other = replace(base, population=replace(base.population, age_mean=50.0))
    with pytest.raises(ValueError, match="levels may differ only in placement"):
        simulate_block_levels(8, np.random.SeedSequence(0), guided=True,
                              specs=[base, other])


def test_a_trial_at_several_levels_is_each_trial_alone():
    from strainsim.studies.sweep import with_concordance
    from strainsim.studies.trials import simulate_trial, simulate_trial_levels

    base = TrialSpec(name="x", n_image_guided=70, n_control=60)
    specs = [with_concordance([base], level)[0] for level in (0.3, 0.9)]
    results = simulate_trial_levels(specs, 5, null_world=True)
    for spec, result in zip(specs, results, strict=True):
        alone = simulate_trial(spec, 5, null_world=True)
        assert result.guided == alone.guided and result.control == alone.control
        assert result.null_guided == alone.null_guided
    assert results[0].control == results[1].control      # the control arm is shared


@pytest.mark.parametrize("guided", [True, False])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_nyha_channel_outside_the_volumes_follows_the_arms_strategy(strategy, guided):
    # an arm takes the unblinded channel when imaging aimed its leads, whatever its label
    n = 300
    spec = TrialSpec(name="t", n_image_guided=n, n_control=n,
                     placement=PlacementParams(image_guided=strategy, control=strategy))

    def nyha_change(unblinded_logodds):
        outcomes = replace(spec.outcomes, nyha_unblinded_logodds=unblinded_logodds)
        arrays = simulate_block(n, block_streams(np.random.SeedSequence(3)), guided=guided,
                                spec=replace(spec, outcomes=outcomes))
        return arrays.outcomes.nyha_class_change

    moved = not np.array_equal(nyha_change(0.0), nyha_change(3.0))
    assert moved == (strategy in ("ste", "multimodality"))
