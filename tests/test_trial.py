"""Cohorts, placement, outcomes, virtual trials, the sweep, and their reproducibility."""

import numpy as np
import pytest
from conftest import placement_inputs

from strainsim.model.outcomes import OutcomeParams, simulate_outcomes
from strainsim.model.placement import PlacementParams, classify, draw_veins, place_leads
from strainsim.studies.specs import (
    TrialSpec,
    load_spec,
    shipped_specs,
)
from strainsim.studies.sweep import (
    concordance_sweep,
    five_trial_specs,
    published_targets,
    with_concordance,
)
from strainsim.studies.trials import simulate_trial, virtual_meta_analysis

SMALL = TrialSpec(name="small", n_image_guided=300, n_control=300)


# --- specs -----------------------------------------------------------------------------
def test_shipped_specs_load_and_match_the_published_totals():
    names = shipped_specs()
    assert {"target", "starter", "imagingcrt", "electrocrt", "lund"} <= set(names)
    for name in names:
        load_spec(name)
    specs = five_trial_specs()
    assert sum(s.n_image_guided for s in specs) == 426
    assert sum(s.n_control for s in specs) == 392


def test_forced_concordance_rate_is_met(model):
    rng = np.random.default_rng(0)
    n = 20000
    target = rng.integers(1, 17, n)
    _, reachable = draw_veins(n, rng, model)
    for c in (0.2, 0.45, 1.0):
        p = place_leads(True, *placement_inputs(target), reachable, rng, PlacementParams(concordance=c),
                        model)
        rate = np.mean(p.vs_measured == 0)
        assert rate == pytest.approx(c, abs=4 * np.sqrt(c * (1 - c) / n) + 1e-12)
        assert np.all(p.vs_measured >= 0)


def test_the_calibrated_five_trials_land_about_45_percent_concordant():
    trials, _ = virtual_meta_analysis(five_trial_specs(), 5)
    n = sum(t.guided.n for t in trials)
    guided = sum(t.guided.concordant_measured * t.guided.n for t in trials) / n
    control = (sum(t.control.concordant_measured * t.control.n for t in trials)
               / sum(t.control.n for t in trials))
    # the published 45 % (cohorts/published/targets.toml), within three binomial SEs of the
    # 426 image-guided patients
    assert abs(guided - 0.45) <= 3 * np.sqrt(0.45 * 0.55 / n)
    # unguided implanters who find the late site land on the measured target about as
    # often (Khan 2011: 54 %), but end remote from it more often: the image-guided arms
    # are concordant or adjacent more often, as the trials reported (90 % against 81 %)
    m = sum(t.control.n for t in trials)
    near_guided = sum((t.guided.concordant_measured + t.guided.adjacent_measured) * t.guided.n
                      for t in trials) / n
    near_control = sum((t.control.concordant_measured + t.control.adjacent_measured)
                       * t.control.n for t in trials) / m
    assert abs(control - guided) < 0.15
    assert near_control < near_guided - 0.05


def _first_branch(order, reachable_row, usual):
    # the first branch of ``order`` one of whose usual segments some available vein reaches
    return next((k for k in order if any(reachable_row[s - 1] for s in usual[k])), None)


@pytest.mark.parametrize("wall", ["posterolateral", "lateral", "anterior"])
def test_empirical_leads_sit_in_a_usual_segment_of_the_first_available_branch(model, wall):
    rng = np.random.default_rng(1)
    available, reachable = draw_veins(5000, rng, model)
    params = PlacementParams(empirical_anterior_share=float(wall == "anterior"),
                             empirical_lateral_share=float(wall == "lateral"),
                             empirical_late_share=0.0)
    lead = place_leads(False, *placement_inputs(np.full(5000, -1)), reachable, rng,
                       params, model).lead_segment
    usual = {v.key: set(v.usual) for v in model.veins}
    order = {"posterolateral": params.empirical_order,
             "lateral": params.empirical_order_lateral,
             "anterior": params.empirical_order_anterior}[wall]
    for i in range(0, 5000, 7):
        first = _first_branch(order, reachable[i], usual)
        if first is None:
            assert lead[i] == 12
        else:
            assert lead[i] in usual[first]


def test_empirical_implanters_aim_at_the_lateral_wall_in_the_declared_share(model):
    # patients whose two first branches (lateral-wall order, posterolateral order) share
    # no usual segment show which wall the implanter aimed at
    n = 40_000
    share = 0.64
    rng = np.random.default_rng(2)
    available, reachable = draw_veins(n, rng, model)
    params = PlacementParams(empirical_anterior_share=0.0, empirical_lateral_share=share,
                             empirical_late_share=0.0)
    lead = place_leads(False, *placement_inputs(np.full(n, -1)), reachable, rng,
                       params, model).lead_segment
    usual = {v.key: set(v.usual) for v in model.veins}
    lateral_hits = []
    for i in range(n):
        a = _first_branch(params.empirical_order_lateral, reachable[i], usual)
        b = _first_branch(params.empirical_order, reachable[i], usual)
        if a and b and not usual[a] & usual[b]:
            assert lead[i] in usual[a] | usual[b]
            lateral_hits.append(lead[i] in usual[a])
    m = len(lateral_hits)
    assert m > 5000
    assert abs(np.mean(lateral_hits) - share) <= 4 * np.sqrt(share * (1 - share) / m)


@pytest.mark.parametrize("anterior, lateral", [(0.0517, 0.73), (0.3, 0.5)])
def test_empirical_implanters_split_their_aims_over_three_walls(model, anterior, lateral):
    # the wall uniform picks anterior with the declared share, then lateral for the
    # declared share of the rest: read off patients whose three first branches (one per
    # order) share no usual segment, so the lead shows the wall aimed at
    n = 60_000
    rng = np.random.default_rng(3)
    available, reachable = draw_veins(n, rng, model)
    params = PlacementParams(empirical_anterior_share=anterior,
                             empirical_lateral_share=lateral, empirical_late_share=0.0)
    lead = place_leads(False, *placement_inputs(np.full(n, -1)), reachable, rng,
                       params, model).lead_segment
    usual = {v.key: set(v.usual) for v in model.veins}
    orders = (params.empirical_order_anterior, params.empirical_order_lateral,
              params.empirical_order)
    counts = np.zeros(3)
    for i in range(n):
        first = [_first_branch(o, reachable[i], usual) for o in orders]
        if None in first:
            continue
        sets = [usual[k] for k in first]
        if sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]:
            continue
        hit = [lead[i] in u for u in sets]
        assert sum(hit) == 1
        counts[hit.index(True)] += 1
    m = counts.sum()
    assert m > 5000
    expected = np.array([anterior, (1 - anterior) * lateral,
                         (1 - anterior) * (1 - lateral)])
    assert np.all(np.abs(counts / m - expected) <= 4 * np.sqrt(expected * (1 - expected) / m))


def test_classify_and_missing_reference(model):
    assert classify(np.array([5, 11, 3, 5]), np.array([5, 5, 5, -1]), model).tolist() == \
        [0, 1, 2, -1]


# --- outcomes --------------------------------------------------------------------------
def test_outcomes_keep_volumes_and_ef_consistent():
    rng = np.random.default_rng(2)
    n = 5000
    edv = rng.uniform(150, 300, n)
    esv = edv * rng.uniform(0.65, 0.85, n)
    share = rng.uniform(0.0, 0.7, n)
    out = simulate_outcomes(edv_ml=edv, esv_ml=esv, resync_fraction=share,
                            scar=np.zeros((n, 17), bool), scar_at_lead=rng.random(n) < 0.1,
                            ischemic=rng.random(n) < 0.5, male=rng.random(n) < 0.7,
                            nyha_class=rng.integers(1, 5, n).astype(np.int8), imaging_arm=False,
                            rng=rng, params=OutcomeParams())
    ef0 = 100 * (1 - esv / edv)
    ef1 = 100 * (1 - out.esv_ml / out.edv_ml)
    np.testing.assert_allclose(out.ef_change, ef1 - ef0, atol=1e-9)
    np.testing.assert_allclose(out.esv_ml, esv * (1 + out.esv_change_pct / 100), rtol=1e-9)
    assert np.all(out.esv_ml < out.edv_ml)
    thirds = np.digitize(share, [0.233, 0.467])
    means = [out.esv_change_pct[thirds == k].mean() for k in range(3)]
    assert means[0] > means[1] > means[2]          # more resynchronized, more remodelled
    improved = out.nyha_improved
    assert out.esv_change_pct[improved].mean() < out.esv_change_pct[~improved].mean()


def test_an_edv_shift_moves_the_edv_and_the_ef_but_not_the_esv():
    # the arm's EDV shift adds to every EDV change (where no floor or cap binds), leaves
    # the ESV and the NYHA class alone, and raises the EF through the volumes
    rng = np.random.default_rng(4)
    n = 2000
    edv = rng.uniform(150, 300, n)
    esv = edv * rng.uniform(0.65, 0.75, n)
    common = dict(edv_ml=edv, esv_ml=esv, resync_fraction=rng.uniform(0.0, 0.7, n),
                  scar=np.zeros((n, 17), bool), scar_at_lead=np.zeros(n, bool),
                  ischemic=np.zeros(n, bool), male=np.zeros(n, bool),
                  nyha_class=np.full(n, 3, np.int8), imaging_arm=False, params=OutcomeParams())
    base = simulate_outcomes(rng=np.random.default_rng(5), **common)
    moved = simulate_outcomes(rng=np.random.default_rng(5), shift=(0.0, 4.0), **common)
    free = (base.edv_change_pct > -60) & (base.esv_ml < 0.9 * base.edv_ml)
    assert free.mean() > 0.8                       # most patients: the check means something
    np.testing.assert_allclose(moved.edv_change_pct[free] - base.edv_change_pct[free], 4.0,
                               atol=1e-9)
    np.testing.assert_allclose(moved.esv_ml[free], base.esv_ml[free], rtol=1e-12)
    assert np.all(moved.ef_change[free] > base.ef_change[free])
    np.testing.assert_array_equal(moved.nyha_class_change, base.nyha_class_change)


# --- trials and reproducibility ---------------------------------------------------------
def _arrays(result):
    return np.array([[getattr(arm, f) for f in ("n", "nyha_improved", "esv_change_mean",
                                                 "edv_change_sd", "ef_change_mean",
                                                 "concordant_measured")]
                     for arm in (result.guided, result.control)])


def test_same_seed_same_trial_whatever_block_size_or_threads():
    import numba

    base = _arrays(simulate_trial(SMALL, 11))
    np.testing.assert_array_equal(base, _arrays(simulate_trial(SMALL, 11, block_size=256)))
    np.testing.assert_array_equal(base, _arrays(simulate_trial(SMALL, 11, block_size=100000)))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = _arrays(simulate_trial(SMALL, 11))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(base, one_thread)
    assert not np.array_equal(base, _arrays(simulate_trial(SMALL, 12)))


def test_trial_effects_are_computed_from_the_arm_summaries():
    result = simulate_trial(SMALL, 3)
    g, c = result.guided, result.control
    assert result.effects["lvesv"].yi[0] == pytest.approx(g.esv_change_mean - c.esv_change_mean)
    a, b = g.nyha_improved, g.n - g.nyha_improved
    cc, d = c.nyha_improved, c.n - c.nyha_improved
    assert result.effects["nyha"].yi[0] == pytest.approx(np.log(a * d / (b * cc)))


def test_calibration_lands_inside_the_published_intervals():
    """Averaged over replicates, the five virtual trials pooled like the published review."""
    specs = five_trial_specs()
    estimates = {k: [] for k in ("nyha", "lvesv", "lvedv", "lvef")}
    for r in range(24):
        _, pooled = virtual_meta_analysis(specs, seed=1000 + r, method="DL", test="z")
        for key, res in pooled.items():
            estimates[key].append(np.exp(res.estimate) if key == "nyha" else res.estimate)
    targets = published_targets()
    for key, values in estimates.items():
        est, low, high = targets[key]
        assert low <= np.mean(values) <= high, (key, np.mean(values))
    # and the symptom benefit goes the published way (the echo outcomes' mean
    # differences sit near zero in this world: validate reports that misfit)
    assert np.mean(estimates["nyha"]) > 1


@pytest.mark.slow
def test_sweep_effect_grows_with_concordance_and_mappers_agree():
    from strainsim.studies.parallel import make_mapper

    specs = [TrialSpec(name="a", n_image_guided=120, n_control=120),
             TrialSpec(name="b", n_image_guided=100, n_control=90)]
    local = concordance_sweep(specs, levels=(0.2, 1.0), replicates=6, seed=4)
    low, high = local.summary
    assert high.mean_estimate["lvesv"] < low.mean_estimate["lvesv"]
    assert high.mean_estimate["nyha"] > low.mean_estimate["nyha"]
    with make_mapper(2) as mapper:
        procs = concordance_sweep(specs, levels=(0.2, 1.0), replicates=6, seed=4, mapper=mapper)
    np.testing.assert_array_equal(local.replicates, procs.replicates)


@pytest.mark.slow
def test_dask_local_cluster_gives_bit_identical_numbers():
    pytest.importorskip("dask.distributed")
    from strainsim.studies.parallel import make_mapper

    specs = [TrialSpec(name="a", n_image_guided=80, n_control=80)]
    local = concordance_sweep(specs, levels=(0.45,), replicates=4, seed=9)
    with make_mapper(2, "local-cluster") as mapper:
        remote = concordance_sweep(specs, levels=(0.45,), replicates=4, seed=9, mapper=mapper)
    np.testing.assert_array_equal(local.replicates, remote.replicates)


def test_with_concordance_changes_only_the_placement():
    specs = with_concordance(five_trial_specs(), 0.8)
    assert all(s.placement.concordance == 0.8 for s in specs)
    assert [s.n_total for s in specs] == [s.n_total for s in five_trial_specs()]


def test_summaries_do_not_depend_on_block_size():
    """One way to summarize: the blocks' statistics merged in block order, so any
    grouping of blocks into chunks gives the same numbers, bit for bit."""
    from dataclasses import astuple

    spec = TrialSpec(name="s", n_image_guided=700, n_control=600)
    runs = [simulate_trial(spec, 21, block_size=size) for size in (None, 256, 100_000)]
    for arm in ("guided", "control"):
        rows = np.array([astuple(getattr(r, arm)) for r in runs], float)
        assert np.array_equal(rows[0], rows[1], equal_nan=True)
        assert np.array_equal(rows[0], rows[2], equal_nan=True)
