"""The simulation model by its properties: distributions against analytic values,
invariants, and which streams a change of parameters leaves alone.

Seeds are fixed, so each statistical check is one deterministic draw; the
tolerances are about four standard errors (or p > 1e-4), so a correct sampler
passes and a wrong mean, spread, weight or coefficient fails.
"""

from dataclasses import replace

import numba
import numpy as np
import pytest
from conftest import placement_inputs
from scipy import special, stats

from strainsim.model.activation import ActivationParams, ScarParams, draw_scar, vonmises
from strainsim.model.curves import CurveParams, contraction_shape, simulate_curves
from strainsim.model.placement import PlacementParams, draw_veins, place_leads
from strainsim.model.population import PopulationParams, simulate_patients
from strainsim.studies.specs import TrialSpec
from strainsim.studies.trials import simulate_arm


@numba.njit(cache=True)
def _vonmises_many(rng, mu, kappa, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = vonmises(rng, mu, kappa)
    return out


def _within(sample_mean, expected, sd, n, k=4.0):
    return abs(sample_mean - expected) <= k * sd / np.sqrt(n) + 1e-12


@pytest.mark.parametrize("mu, kappa", [(0.3, 0.5), (-2.0, 1.0), (5.934, 4.0), (1.0, 40.0)])
def test_vonmises_direction_concentration_and_shape(mu, kappa):
    n = 40_000
    x = _vonmises_many(np.random.default_rng(11), mu, kappa, n)
    assert np.all((x >= -np.pi) & (x < np.pi))
    c, s = np.cos(x).mean(), np.sin(x).mean()
    resultant = np.hypot(c, s)
    expected = special.i1e(kappa) / special.i0e(kappa)   # E cos(x - mu) = I1/I0
    # the SD of cos(x - mu) bounds the error of the resultant length
    spread = np.sqrt(max(0.5 * (1 + special.iv(2, kappa) / special.iv(0, kappa))
                         - expected ** 2, 1e-12))
    assert _within(resultant, expected, spread, n)
    direction = np.arctan2(s, c)
    assert abs((direction - mu + np.pi) % (2 * np.pi) - np.pi) < 4 / (np.sqrt(n) * expected)
    centred = (x - mu + np.pi) % (2 * np.pi) - np.pi
    assert stats.kstest(centred, stats.vonmises(kappa).cdf).pvalue > 1e-4


def test_vonmises_without_concentration_is_uniform():
    x = _vonmises_many(np.random.default_rng(3), 1.0, 0.0, 20_000)
    assert stats.kstest(x, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-4


@pytest.mark.parametrize("mean", [0.5, 3.0, 8.0])
def test_scar_size_is_a_poisson_count_at_least_one(model, mean):
    n = 20_000
    scar, ischemic = draw_scar(n, np.random.default_rng(5),
                               ScarParams(ischemic_fraction=1.0, ischemic_scar_segments_mean=mean),
                               model)
    assert ischemic.all()
    size = scar.sum(axis=1)
    k = np.arange(200)
    pmf = stats.poisson(mean).pmf(k)
    size_k = np.minimum(np.maximum(k, 1), 17)
    expected = np.sum(size_k * pmf)
    sd = np.sqrt(np.sum((size_k - expected) ** 2 * pmf))
    assert _within(size.mean(), expected, sd, n)
    assert size.min() >= 1


def test_culprit_territories_follow_their_weights(model):
    weights = (0.5, 0.3, 0.2)
    n = 20_000
    scar, _ = draw_scar(n, np.random.default_rng(6),
                        ScarParams(ischemic_fraction=1.0, ischemic_scar_segments_mean=0.0,
                                   territory_weights=weights), model)
    assert np.all(scar.sum(axis=1) == 1)  # Poisson(0): one segment, in the culprit territory
    territory = np.array([s.territory for s in model.segments])[np.argmax(scar, axis=1)]
    counts = [np.sum(territory == t) for t in ("LAD", "LCx", "RCA")]
    assert stats.chisquare(counts, np.array(weights) * n).pvalue > 1e-4


def test_seed_segment_is_uniform_in_the_territory(model):
    n = 30_000
    scar, _ = draw_scar(n, np.random.default_rng(8),
                        ScarParams(ischemic_fraction=1.0, ischemic_scar_segments_mean=0.0,
                                   territory_weights=(1.0, 0.0, 0.0)), model)
    lad = [s.number - 1 for s in model.segments if s.territory == "LAD"]
    counts = scar[:, lad].sum(axis=0)
    assert counts.sum() == n
    assert stats.chisquare(counts).pvalue > 1e-4


def test_bernoulli_fractions_of_the_population(model):
    n = 20_000
    population = PopulationParams(male_fraction=0.7, ischemic_fraction=0.4, age_mean=66.0,
                                  age_sd=8.0)
    patients = simulate_patients(n, np.random.default_rng(9), population, model=model)
    for flags, p in ((patients.male, 0.7), (patients.activation.ischemic, 0.4)):
        assert _within(flags.mean(), p, np.sqrt(p * (1 - p)), n)
    assert _within(patients.age.mean(), 66.0, 8.0, n)
    assert patients.age.std() == pytest.approx(8.0, rel=0.03)
    # volumes: EDV >= 80 mL, EF within 10-35 % and ESV consistent with it
    assert patients.edv_ml.min() >= 80.0
    assert np.all((patients.ef_pct >= 10 - 1e-9) & (patients.ef_pct <= 35 + 1e-9))


def test_vein_prevalences(model):
    n = 20_000
    available, reachable = draw_veins(n, np.random.default_rng(10), model)
    for v, vein in enumerate(model.veins):
        p = vein.prevalence
        assert _within(available[:, v].mean(), p, np.sqrt(p * (1 - p)), n)
    # a segment is reachable exactly when an available branch reaches it
    np.testing.assert_array_equal(reachable, (available.astype(int) @ model.vein_access()) > 0)


def test_late_site_angles_are_von_mises_around_the_mean(model):
    params = ActivationParams(late_angle_deg=300.0, late_angle_kappa=2.0)
    act = simulate_patients(20_000, np.random.default_rng(12), PopulationParams(), params,
                            model).activation
    x = np.radians(act.late_angle_deg)
    assert np.all((act.late_angle_deg >= 0) & (act.late_angle_deg < 360))
    centred = (x - np.radians(300.0) + np.pi) % (2 * np.pi) - np.pi
    assert stats.kstest(centred, stats.vonmises(2.0).cdf).pvalue > 1e-4
    assert np.all(act.delay_ms >= 20.0)


# --- invariants --------------------------------------------------------------------------
def test_leads_go_only_where_a_vein_reaches(model):
    n = 5000
    rng = np.random.default_rng(13)
    _, reachable = draw_veins(n, rng, model)
    target = rng.integers(1, 18, n)
    target[::50] = -1
    anyreach = reachable.any(axis=1)
    for guided in (True, False):
        p = place_leads(guided, *placement_inputs(target), reachable, rng, PlacementParams(), model)
        lead = p.lead_segment
        ok = reachable[np.arange(n), lead - 1]
        # a lead sits where a vein reaches whenever one reaches anything: aimed leads
        # and, without a target, the empirical fallback
        assert np.all(ok[anyreach])
        if not guided:
            usual = np.zeros((len(PlacementParams().empirical_order), 17), bool)
            keys = [v.key for v in model.veins]
            for row, key in enumerate(PlacementParams().empirical_order):
                usual[row, np.array(model.veins[keys.index(key)].usual) - 1] = True
            has_branch = (reachable[:, None, :] & usual[None]).any(axis=(1, 2))
            assert np.all(ok[has_branch])
            assert np.all(lead[~has_branch] == 12)


def test_forced_concordance_is_met_and_misses_land_where_missed_aims_land(model):
    n = 20_000
    rng = np.random.default_rng(14)
    target = rng.integers(1, 17, n)
    _, reachable = draw_veins(n, rng, model)
    hops = model.hops
    for c in (0.2, 0.45, 1.0):
        for share in (0.0, 1.0):
            p = place_leads(True, *placement_inputs(target), reachable,
                            np.random.default_rng(15),
                            PlacementParams(concordance=c, miss_nearest_share=share), model)
            assert _within(np.mean(p.vs_measured == 0), c, np.sqrt(c * (1 - c)), n)
            miss = np.flatnonzero(p.lead_segment != target)
            assert np.all(p.vs_measured[miss] > 0)   # a miss is never on the target
            if share == 1.0:  # the nearest reachable segment other than the target
                for i in miss[:500]:
                    others = np.flatnonzero(reachable[i]) + 1
                    others = others[others != target[i]]
                    if others.size:
                        assert hops[target[i] - 1, p.lead_segment[i] - 1] == \
                            hops[target[i] - 1, others - 1].min()
            else:  # the empirical position, which is what the control arm gets
                empirical = place_leads(False, *placement_inputs(target), reachable,
                                        np.random.default_rng(15), PlacementParams(),
                                        model).lead_segment
                moved = empirical[miss] != target[miss]
                np.testing.assert_array_equal(p.lead_segment[miss][moved],
                                              empirical[miss][moved])


def test_an_implanter_who_finds_the_late_site_takes_the_latest_reachable_viable_segment(model):
    n = 4000
    rng = np.random.default_rng(31)
    _, reachable = draw_veins(n, rng, model)
    activation = rng.uniform(0.0, 150.0, (n, 17))
    scar = rng.random((n, 17)) < 0.1
    inputs = placement_inputs(rng.integers(1, 18, n), activation_ms=activation, scar=scar)

    def leads(guided, **change):
        params = replace(PlacementParams(), **change)
        return place_leads(guided, *inputs, reachable, np.random.default_rng(32), params,
                           model).lead_segment

    never = leads(False, empirical_late_share=0.0)
    every = leads(False, empirical_late_share=1.0)
    allowed = reachable & ~scar
    has = allowed.any(axis=1)
    latest = np.where(allowed, activation, -np.inf).argmax(axis=1) + 1
    np.testing.assert_array_equal(every[has], latest[has])
    np.testing.assert_array_equal(every[~has], never[~has])   # nowhere to go: as before
    # a share between: that share of the patients (by their aim uniform), the rest where
    # the branch orders put them
    some = leads(False, empirical_late_share=0.3)
    could = (latest != never) & has
    moved = (some == latest) & could
    assert _within(moved.sum() / could.sum(), 0.3, np.sqrt(0.21), could.sum())
    assert np.all((some == never) | (some == latest))
    # an arm aiming by strain finds it only where its aim fell back to the branch orders;
    # the electrical strategy, which never falls back when a vein reaches a segment, not
    for strategy in ("ste", "multimodality", "electrical"):
        own = leads(True, image_guided=strategy, empirical_late_share=0.0)
        found = leads(True, image_guided=strategy, empirical_late_share=1.0)
        assert np.all((found == own) | (found == latest))
        if strategy == "electrical":
            np.testing.assert_array_equal(found[has], own[has])
        else:
            assert np.any(found != own)
            assert np.mean(found != own) < np.mean(every != never)


def test_a_missed_aim_takes_the_latest_of_the_equally_near_segments_by_the_map(model):
    # target 6 unreachable; its neighbours 1, 5 and 12 reachable and equally near: the
    # implanter with a strain map takes the one the map shows latest, whatever u_pick
    n = 400
    rng = np.random.default_rng(21)
    target = np.full(n, 6)
    reachable = np.zeros((n, 17), bool)
    reachable[:, [0, 4, 11]] = True
    ttp = np.zeros((n, 17))
    latest = rng.choice([1, 5, 12], n)
    ttp[np.arange(n), latest - 1] = 400.0
    ttp[:, 5] = 500.0                       # the target itself, not reachable
    params = PlacementParams(aim_success=1.0, miss_nearest_share=1.0)
    p = place_leads(True, *placement_inputs(target, ttp_ms=ttp), reachable, rng, params,
                    model)
    np.testing.assert_array_equal(p.lead_segment, latest)
    # a neighbour that the map shows as scar (not viable) is passed over
    viable = np.ones((n, 17), bool)
    viable[np.arange(n), latest - 1] = False
    p = place_leads(True, *placement_inputs(target, ttp_ms=ttp, viable=viable), reachable,
                    rng, params, model)
    assert np.all(p.lead_segment != latest)
    assert np.all(np.isin(p.lead_segment, [1, 5, 12]))


def test_a_basal_mid_study_never_targets_the_apical_ring_or_the_apex(model):
    n = 2000
    rng = np.random.default_rng(22)
    ttp = rng.uniform(200, 500, (n, 17))
    engine_target = ttp.argmax(axis=1) + 1
    _, reachable = draw_veins(n, rng, model)
    basal_mid = np.array([s.ring in ("basal", "mid") for s in model.segments])
    for region in ("all", "basal-mid"):
        params = PlacementParams(target_region=region)
        p = place_leads(True, *placement_inputs(engine_target, ttp_ms=ttp), reachable,
                        np.random.default_rng(23), params, model)
        if region == "all":   # the engine's target as it is
            np.testing.assert_array_equal(p.target_segment, engine_target)
        else:                 # the latest of the 12 basal and mid segments
            expected = np.where(basal_mid, ttp, -np.inf).argmax(axis=1) + 1
            np.testing.assert_array_equal(p.target_segment, expected)
            assert basal_mid[p.target_segment - 1].all()
    with pytest.raises(ValueError, match="target_region"):
        PlacementParams(target_region="apical")


def test_noise_free_curve_is_the_contraction_shape():
    params = CurveParams(noise_sd_pct=0.0, drift_sd_pct=0.0, fps=250.0)
    act = np.random.default_rng(15).uniform(0, 300, (20, 17))
    c = simulate_curves(act, np.zeros((20, 17), bool), np.random.default_rng(16), params)
    shape = np.vectorize(lambda tau: contraction_shape(tau, params.contraction_ms,
                                                       params.relaxation_ms))
    expected = c.amplitude_pct[..., None] * shape(c.time_ms[None, None, :]
                                                  - (act + params.emd_ms)[..., None])
    np.testing.assert_allclose(c.strain, expected, rtol=0, atol=1e-11)


# --- streams: what a change of parameters leaves alone ---------------------------------
def _arm(spec, seed=3):
    return simulate_arm(spec.n_image_guided, True, spec, np.random.SeedSequence(seed),
                        keep_patients=True)


def test_a_new_frame_rate_changes_the_measurement_not_the_patients_or_their_care():
    spec = TrialSpec(name="s", n_image_guided=300, n_control=2, curves=CurveParams(fps=60.0),
                     placement=PlacementParams(concordance=0.5))
    a = _arm(spec)
    b = _arm(replace(spec, curves=CurveParams(fps=30.0)))
    np.testing.assert_array_equal(a.patients.activation.activation_ms,
                                  b.patients.activation.activation_ms)
    np.testing.assert_array_equal(a.placement.reachable, b.placement.reachable)
    assert not np.array_equal(a.measured.ttp_ms, b.measured.ttp_ms)


def test_a_new_concordance_changes_the_leads_not_the_patients_or_their_curves():
    spec = TrialSpec(name="s", n_image_guided=300, n_control=2,
                     placement=PlacementParams(concordance=0.3))
    a = _arm(spec)
    b = _arm(replace(spec, placement=PlacementParams(concordance=0.9)))
    np.testing.assert_array_equal(a.patients.activation.activation_ms,
                                  b.patients.activation.activation_ms)
    np.testing.assert_array_equal(a.measured.ttp_ms, b.measured.ttp_ms)
    np.testing.assert_array_equal(a.placement.reachable, b.placement.reachable)
    assert np.mean(b.placement.vs_measured == 0) > np.mean(a.placement.vs_measured == 0)


def test_a_centre_moves_its_implanters_lateral_share_on_the_log_odds_scale():
    from strainsim.model.placement import PlacementParams, centre_practice

    p = PlacementParams(empirical_lateral_share=0.6, centre_lateral_sd=0.5)
    assert centre_practice(p, 0.0).empirical_lateral_share == pytest.approx(0.6)
    up, down = centre_practice(p, 1.0), centre_practice(p, -1.0)
    logit = np.log(0.6 / 0.4)
    assert np.log(up.empirical_lateral_share / (1 - up.empirical_lateral_share)) == \
        pytest.approx(logit + 0.5)
    assert down.empirical_lateral_share < 0.6 < up.empirical_lateral_share
    assert centre_practice(replace(p, centre_lateral_sd=0.0), 2.0).empirical_lateral_share == 0.6
    assert centre_practice(replace(p, empirical_lateral_share=1.0), 2.0).empirical_lateral_share == 1.0


def test_the_centres_spread_is_the_two_unguided_series_method_of_moments():
    """The shipped between-centre SD is what the sourced counts give: the registry's
    lateral leads and TARGET's control arm, on the log-odds scale."""
    from strainsim.model.placement import PlacementParams
    from strainsim.resources import data_path, read_toml

    physiology = read_toml(data_path("cohorts", "published/physiology.toml"))
    behon = next(s for s in physiology["study"] if "Behon" in s["citation"])
    target = next(t for t in read_toml(data_path("cohorts", "published/trials.toml"))["trial"]
                  if t["name"] == "TARGET")
    p1, n1 = behon["lead_lateral"] / behon["n_non_apical"], behon["n_non_apical"]
    p2, n2 = target["lead_wall_lateral"][1], target["analysed_control"]

    def logit(p):
        return np.log(p / (1 - p))

    tau2 = ((logit(p1) - logit(p2)) ** 2 - 1 / (n1 * p1 * (1 - p1))
            - 1 / (n2 * p2 * (1 - p2))) / 2
    assert PlacementParams().centre_lateral_sd == pytest.approx(np.sqrt(tau2), abs=0.005)


def test_the_anterior_share_of_empirical_implants_is_the_registrys():
    from strainsim.model.placement import PlacementParams
    from strainsim.resources import data_path, read_toml

    physiology = read_toml(data_path("cohorts", "published/physiology.toml"))
    behon = next(s for s in physiology["study"] if "Behon" in s["citation"])
    assert behon["lead_anterior"] + behon["lead_lateral"] + behon["lead_posterior"] == \
        behon["n_non_apical"]
    assert PlacementParams().empirical_anterior_share == pytest.approx(
        behon["lead_anterior"] / behon["n_non_apical"], abs=5e-5)


def test_equally_late_segments_are_each_a_target_when_the_study_says_so(model):
    from strainsim.model.placement import classify_measured_kernel, placement_record

    # segments 6, 12 and 16 measured equally late, 7 as late but not viable; the
    # engine's target is 6; TARGET's views are the basal and mid ones
    ttp = np.full((1, 17), 300.0)
    ttp[0, [5, 11, 15, 6]] = 450.0
    viable = np.ones((1, 17), bool)
    viable[0, 6] = False
    hops = model.hops

    def classes(ties, region, leads):
        rec = placement_record(PlacementParams(concordance_ties=ties, target_region=region),
                               model)
        lead = np.asarray(leads, dtype=np.int64)
        out = np.empty(lead.shape, np.int8)
        classify_measured_kernel(rec, lead, np.full(lead.shape, 6), np.repeat(ttp, len(lead), 0),
                                 np.repeat(viable, len(lead), 0), out)
        return out.tolist()

    leads = [6, 12, 16, 7, 11]
    one = [min(hops[s - 1, 5], 2) for s in leads]
    assert classes("one", "basal-mid", leads) == one
    # 12 is a target too; 16 is outside the views and 7 not viable, so they are not, and
    # a lead is as near as its nearest target
    either = [min(hops[s - 1, 5], hops[s - 1, 11], 2) for s in leads]
    assert classes("either", "basal-mid", leads) == either
    assert either[1] == 0 and either[2] > 0 and either[3] > 0
    assert classes("either", "all", leads)[2] == 0   # with every segment analysed, 16 is one


def test_an_implanter_with_equally_late_targets_takes_one_a_vein_reaches(model):
    # the engine's target 6 and segment 12 equally late; a vein reaches 12 (and 5) only
    n = 200
    ttp = np.full((n, 17), 300.0)
    ttp[:, [5, 11]] = 450.0
    inputs = placement_inputs(np.full(n, 6), ttp_ms=ttp)
    reachable = np.zeros((n, 17), bool)
    reachable[:, [4, 11]] = True
    params = PlacementParams(image_guided="ste", aim_success=1.0, target_region="basal-mid")
    rng = np.random.default_rng

    one = place_leads(True, *inputs, reachable, rng(3), params, model)
    either = place_leads(True, *inputs, reachable, rng(3),
                         replace(params, concordance_ties="either"), model)
    assert np.all(either.target_segment == 12) and np.all(either.lead_segment == 12)
    assert np.all(either.vs_measured == 0)
    assert np.all(one.target_segment == 6) and not np.any(one.lead_segment == 6)
    assert np.all(one.vs_measured > 0)
    # an aim a vein reaches stays as it is
    reachable[:, 5] = True
    kept = place_leads(True, *inputs, reachable, rng(3),
                       replace(params, concordance_ties="either"), model)
    assert np.all(kept.target_segment == 6) and np.all(kept.lead_segment == 6)
