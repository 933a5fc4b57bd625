"""The world's fit and its out-of-sample checks: contrasts, the chi-square, independent
seeds, replicates as data, the sensitivity analysis and their bad input."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

from strainsim.studies.calibration import (
    HETEROGENEITY,
    Evaluation,
    Targets,
    chi2_mcse,
    covariance,
    evaluate,
    goodness_of_fit,
    heterogeneity_variance,
    load_targets,
    posterior_predictive,
    purpose_seed,
)
from strainsim.studies.sweep import five_trial_specs


def test_calibration_and_validation_seeds_are_independent():
    cal, val = purpose_seed(0, "calibration"), purpose_seed(0, "validation")
    assert cal.spawn_key != val.spawn_key
    a = np.random.default_rng(cal).random(4)
    b = np.random.default_rng(val).random(4)
    assert not np.allclose(a, b)
    assert purpose_seed(0, "validation").spawn_key == val.spawn_key   # and reproducible


def test_the_covariance_adds_the_simulations_variance_and_keeps_unrelated_targets_apart():
    names = ("TARGET NYHA improved, image-guided minus control",
             "TARGET NYHA improved, control",
             "STARTER concordant or adjacent, image-guided",
             "concordant, image-guided arms",
             "Ypenburg: concordant unguided leads")
    by_name = {t.name: t for t in load_targets().targets}
    targets = tuple(by_name[n] for n in names)
    rng = np.random.default_rng(0)
    common = rng.standard_normal(400)
    # every column moves with the common draw: only the covariance's rule keeps some apart
    samples = np.column_stack([common + 0.1 * rng.standard_normal(400),
                               -common + 0.1 * rng.standard_normal(400),
                               common + 0.1 * rng.standard_normal(400),
                               common + 0.1 * rng.standard_normal(400),
                               common + 0.1 * rng.standard_normal(400)]) * 0.05 + 0.5
    cov = covariance(targets, samples)
    se = np.array([t.se for t in targets])
    s = np.cov(samples, rowvar=False)
    np.testing.assert_allclose(np.diag(cov), se ** 2 + np.diag(s) / 400)
    assert cov[0, 1] < 0                       # the same trial: correlated, as simulated
    assert cov[0, 3] > s[0, 3] / 400 and cov[2, 3] > s[2, 3] / 400   # a trial and all trials
    for i, j in ((0, 2), (0, 4), (3, 4)):      # two trials; a study and anything else
        assert cov[i, j] == pytest.approx(s[i, j] / 400)   # only the MC part
    np.linalg.cholesky(cov)                    # positive definite


def test_the_simulations_variance_counts_the_replicates_the_means_come_from():
    # the correlations from many replicates, the variance of means made of fewer
    by_name = {t.name: t for t in load_targets().targets}
    targets = (by_name["TARGET NYHA improved, control"],
               by_name["STARTER concordant or adjacent, image-guided"])
    samples = np.random.default_rng(5).normal(0.5, 0.05, size=(200, 2))
    s = np.cov(samples, rowvar=False)
    se = np.array([t.se for t in targets])
    np.testing.assert_allclose(np.diag(covariance(targets, samples, mean_replicates=40)),
                               se ** 2 + np.diag(s) / 40)
    np.testing.assert_allclose(np.diag(covariance(targets, samples)), se ** 2 + np.diag(s) / 200)


def test_targets_share_patients_within_a_trial_and_with_the_meta_analysis():
    by_name = {t.name: t for t in load_targets().targets}
    target = by_name["TARGET LVESV responders, image-guided minus control"]
    pooled = by_name["pooled LVESV change MD (%)"]
    everyone = by_name["concordant, image-guided arms"]
    starter = by_name["STARTER concordant or adjacent, image-guided"]
    study = by_name["Ypenburg: concordant unguided leads"]
    assert study.study and not target.study and not everyone.study
    assert target.shares_patients(pooled) and pooled.shares_patients(everyone)
    assert target.shares_patients(everyone) and everyone.shares_patients(starter)
    assert not target.shares_patients(starter)
    assert not study.shares_patients(pooled) and not everyone.shares_patients(study)
    assert study.shares_patients(study)


def test_the_covariance_stays_positive_definite_when_zeroed_correlations_break_it():
    # three targets: a and b each almost the same as c, but a and b kept apart (two
    # trials): the correlations as estimated cannot stand without more shrinkage
    by_name = {t.name: t for t in load_targets().targets}
    targets = (by_name["TARGET NYHA improved, control"],
               by_name["STARTER concordant or adjacent, image-guided"],
               by_name["concordant, image-guided arms"])
    rng = np.random.default_rng(3)
    common = rng.standard_normal(2000)
    samples = np.column_stack([common, common, common]) + 0.01 * rng.standard_normal((2000, 3))
    cov = covariance(targets, samples)
    np.linalg.cholesky(cov)
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    # shrunk from about 1 to below 1/sqrt(2), the most [[1, 0, r], [0, 1, r], [r, r, 1]]
    # allows (the simulation's own, correlated, variance of the mean adds a little)
    assert 0.5 < corr[0, 2] < 0.8


def test_the_chi_square_of_a_true_world_follows_its_distribution():
    """Published values drawn from a world's own sampling distribution give a chi-square
    on ``df`` degrees of freedom: its mean is df and it is rejected about 5 % of the time."""
    targets = load_targets()
    fitted = tuple(t for t in targets.targets if t.fit)[:6]
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.2, 0.8, len(fitted))
    se = np.array([t.se for t in fitted])
    stats = []
    for _ in range(400):
        samples = truth + se * rng.standard_normal((60, len(fitted)))
        published = truth + se * rng.standard_normal(len(fitted))
        world = Targets(tuple(replace(t, value=float(v), statistic="arm", outcome=None,
                                      trial=f"t{k}") for k, (t, v) in
                              enumerate(zip(fitted, published, strict=True))), (), "x")
        *_, chi2, df = goodness_of_fit(world.targets, samples, 0)
        stats.append(chi2)
    stats = np.array(stats)
    assert df == len(fitted)
    assert stats.mean() == pytest.approx(df, rel=0.12)
    assert np.mean(chi2_dist.sf(stats, df) < 0.05) == pytest.approx(0.05, abs=0.035)


def test_the_chi_square_counts_the_trials_own_variation_when_the_world_has_it():
    """A world whose trials differ (each trial's statistic = truth + a trial draw of SD
    tau + patient error of SD se): the published values are one such trial each. With the
    between-trial variance the chi-square keeps its distribution; without it, it is
    inflated and rejects too often."""
    targets = load_targets()
    fitted = tuple(t for t in targets.targets if t.fit and t.between_trials)[:6]
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.2, 0.8, len(fitted))
    se = np.array([t.se for t in fitted])
    tau = 1.5 * se
    with_h, without_h = [], []
    for _ in range(400):
        calm = truth + se * rng.standard_normal((60, len(fitted)))   # no trial draws
        samples = calm + tau * rng.standard_normal((60, len(fitted)))
        published = truth + tau * rng.standard_normal(len(fitted)) + se * rng.standard_normal(
            len(fitted))
        world = tuple(replace(t, value=float(v), statistic="arm", outcome=None, trial=f"t{k}")
                      for k, (t, v) in enumerate(zip(fitted, published, strict=True)))
        h = heterogeneity_variance(world, samples, calm)
        *_, chi2, df = goodness_of_fit(world, samples, 0, h)
        with_h.append(chi2)
        without_h.append(goodness_of_fit(world, samples, 0)[-2])
    with_h, without_h = np.array(with_h), np.array(without_h)
    assert with_h.mean() == pytest.approx(df, rel=0.15)
    assert np.mean(chi2_dist.sf(with_h, df) < 0.05) == pytest.approx(0.05, abs=0.035)
    assert without_h.mean() > 2.5 * df and np.mean(chi2_dist.sf(without_h, df) < 0.05) > 0.4


def test_pooled_targets_and_published_intervals_carry_no_between_trial_variance():
    targets = load_targets().targets
    by = {t.name: t for t in targets}
    assert not by["pooled NYHA improvement OR"].between_trials
    assert not by["pooled LVESV 95 % CI width"].between_trials
    assert not by["concordant minus discordant LVESV change (%)"].between_trials   # a CI
    assert by["TARGET LVEF change, image-guided minus control (points)"].between_trials
    assert by["concordant or adjacent, control arms"].between_trials   # counted patients
    samples = np.random.default_rng(0).normal(size=(30, len(targets)))
    h = heterogeneity_variance(targets, samples, np.zeros_like(samples))
    assert np.all(h[[not t.between_trials for t in targets]] == 0)
    assert np.all(h[[t.between_trials for t in targets]] > 0)


def test_the_world_without_differences_between_trials_has_no_heterogeneity_variance():
    targets = load_targets()
    chosen = replace(targets, targets=tuple(t for t in targets.targets
                                            if t.trial == "TARGET"))
    calm = dict.fromkeys(HETEROGENEITY, 0.0)
    specs = five_trial_specs()
    e = evaluate(specs, chosen, calm, replicates=3, seed=4, n_parameters=0)
    assert np.all(e.heterogeneity == 0)
    e = evaluate(specs, chosen, {"placement.centre_lateral_sd": 1.0}, replicates=3, seed=4,
                 n_parameters=0)
    walls = [k for k, t in enumerate(chosen.targets) if t.quantity.startswith("lead_")]
    assert np.all(e.heterogeneity[walls] > 0)       # the centres' practice moves the leads


def test_the_posterior_predictive_pattern_counts_what_it_says():
    pooled = np.zeros((4, 4, 3))
    pooled[:, 0] = [1.6, 1.1, 2.5]           # NYHA OR significant in every replicate
    pooled[:, 1:, 1], pooled[:, 1:, 2] = -1.0, 1.0   # echo outcomes not
    pooled[1, 2] = [-5.0, -9.0, -1.0]        # replicate 1: LVEDV significant too
    pooled[2, 0] = [1.2, 0.8, 1.7]           # replicate 2: NYHA not significant
    pooled[3, 0] = [2.0, 1.3, 3.0]           # replicate 3: above the published 1.66
    e = Evaluation({}, np.zeros((4, 0)), pooled, *(np.zeros(0),) * 4, np.zeros((0, 0)),
                   0.0, 0)
    ppc = posterior_predictive(e, {"nyha": 1.66, "lvesv": -7.1, "lvedv": -5.2, "lvef": 0.68})
    assert ppc["pattern_share"] == pytest.approx(0.5)
    assert ppc["published_quantile"]["nyha"] == pytest.approx(0.75)


def test_validate_out_of_sample_on_a_small_world():
    specs = five_trial_specs()
    targets = load_targets()
    e = evaluate(specs, targets, replicates=3, seed=2)
    assert e.df == sum(t.fit for t in targets.targets) - len(targets.parameters)
    assert 0.0 <= e.p <= 1.0 and e.chi2 > 0
    assert e.pooled.shape == (3, 4, 3)
    cal = evaluate(specs, targets, replicates=3, seed=2, purpose="calibration")
    assert not np.array_equal(cal.samples, e.samples)


# --- replicates as data ----------------------------------------------------------------
def test_trial_replicates_write_one_row_per_replicate_trial_and_arm(cli, tmp_path):
    run = cli(["trial", "--replicates", "2", "--seed", "4", "--out", str(tmp_path / "r")])
    assert run.code == 0, run.err
    with open(tmp_path / "r" / "replicates.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 5 * 2
    for column in ("replicate", "trial", "arm", "strategy", "n", "nyha_improved_fraction",
                   "nyha_class_change_mean", "lvesv_change_mean_pct",
                   "lvesv_responder_fraction", "lvef_change_mean", "lvef_change_sd",
                   "concordant_fraction", "concordant_or_adjacent_fraction",
                   "lvesv_change_concordant_mean_pct", "lvesv_change_discordant_mean_pct",
                   "lvef_change_concordant_mean", "lvef_change_discordant_mean",
                   "lead_on_scar_fraction", "activation_time_reduction_mean_ms"):
        assert column in rows[0]
    assert {r["arm"] for r in rows} == {"image-guided", "control"}
    with open(tmp_path / "r" / "pooled.csv", newline="") as fh:
        pooled = list(csv.DictReader(fh))
    assert [(p["replicate"], p["outcome"]) for p in pooled[:4]] == [
        ("0", "nyha"), ("0", "lvesv"), ("0", "lvedv"), ("0", "lvef")]
    assert len(pooled) == 8 and all(float(p["ci_low"]) <= float(p["estimate"])
                                    <= float(p["ci_high"]) for p in pooled)
    info = json.loads((tmp_path / "r" / "replicates.json").read_text())
    target = [a for a in info["arms"] if a["trial"] == "TARGET" and a["arm"] == "control"]
    assert len(target) == 1 and target[0]["n"] == 110
    assert target[0]["lvesv_change_mean_pct"] == pytest.approx(np.mean(
        [float(r["lvesv_change_mean_pct"]) for r in rows
         if r["trial"] == "TARGET" and r["arm"] == "control"]))
    # replicate 0 is the meta-analysis `trial` runs on child 0 of the seed
    from strainsim.seeding import as_seed_sequence, child
    from strainsim.studies.trials import virtual_meta_analysis

    _, one = virtual_meta_analysis(five_trial_specs(), child(as_seed_sequence(4), 0))
    assert float(pooled[1]["estimate"]) == pytest.approx(one["lvesv"].estimate, rel=1e-5)


def test_a_contrast_with_a_value_and_arm_values_is_refused(tmp_path):
    from strainsim.errors import InputError

    path = tmp_path / "t.toml"
    path.write_text('[[target]]\nname = "a"\nstatistic = "contrast"\nquantity = '
                    '"ef_change_mean"\ntrial = "TARGET"\nvalue = 3\narm_values = [8, 5]\n'
                    'arm_sd = [7, 8]\narm_n = [103, 104]\nsource = "s"\n')
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert "either a value (or events) or arm_values, not both" in str(err.value)


@pytest.mark.parametrize("argv, fragment", [
    (["trial", "--replicates", "0"], "--replicates: expected a number in [1, 100000]"),
    (["sensitivity", "--replicates", "1"], "--replicates: expected a number in [2, 100000]"),
    (["calibrate", "--replicates", "40", "--covariance-replicates", "20"],
     "--covariance-replicates: expected a number in [40 (--replicates), 10000]"),
    (["validate", "--set", "outcomes.nyha_slope"], "--set: expected section.field=number"),
    (["validate", "--set", "outcomes.nyha_slope=1", "--set", "outcomes.nyha_slope=2"],
     "--set: expected each parameter once"),
    (["validate", "--set", "outcomes.no_such=1"],
     "expected a numeric field of [outcomes]"),
    (["calibrate", "--set", "placement.image_guided=1"],
     "expected a numeric field of [placement]"),
    (["validate", "--set", "outcomes.nyha_slope=99"],
     "outcomes.nyha_slope: expected a number in outcomes.nyha_slope's declared range"),
    (["validate", "--only", "symptoms"],
     "--only: expected a group of the targets file (placement), found 'symptoms'"),
    (["calibrate", "--only", "placement", "--set", "placement.aim_success=0.4",
      "--set", "placement.miss_nearest_share=0.3", "--set",
      "placement.empirical_lateral_share=0.7", "--set", "activation.late_angle_deg=10",
      "--set", "placement.empirical_late_share=0.5"],
     "--only: expected a group with a fitted target and a free parameter"),
])
def test_bad_world_options_get_one_line_and_exit_2(cli, tmp_path, argv, fragment):
    run = cli(argv + ["--out", str(tmp_path / "o")])
    assert run.code == 2 and fragment in run.err and "Traceback" not in run.err
    assert not (tmp_path / "o").exists()


def test_set_reaches_every_trial_and_study_and_holds_a_free_parameter():
    from strainsim.studies.calibration import hold

    targets = load_targets()
    specs, held = hold(five_trial_specs(), targets, {"outcomes.nyha_slope": 1.2,
                                                      "pacing.rv_delay_ms": 20.0})
    for spec in (*specs, *held.studies):
        assert spec.outcomes.nyha_slope == 1.2 and spec.pacing.rv_delay_ms == 20.0
    names = [p.name for p in targets.parameters]
    assert [p.name for p in held.parameters] == [n for n in names
                                                 if n != "outcomes.nyha_slope"]
    assert held.targets == targets.targets
    assert hold(five_trial_specs(), targets, {}) == (five_trial_specs(), targets)


def test_only_a_group_fits_its_targets_with_its_parameters():
    from strainsim.studies.calibration import only_group

    targets = load_targets()
    placement = only_group(targets, "placement")
    assert [p.name for p in placement.parameters] == [p.name for p in targets.parameters
                                                      if p.group == "placement"]
    assert len(placement.parameters) == 5
    for before, after in zip(targets.targets, placement.targets, strict=True):
        assert after.fit == (before.fit and before.group == "placement")
        assert replace(after, fit=before.fit) == before
    assert sum(t.fit for t in placement.targets) == 11


def test_the_placement_groups_targets_move_with_its_parameters_alone():
    # what makes a sub-model fit meaningful: no parameter outside the group moves the
    # group's targets, so the rest of the world cannot mend what the sub-model misses
    targets = load_targets()
    group = tuple(t for t in targets.targets if t.group == "placement")
    sub = replace(targets, targets=group)
    specs = five_trial_specs()

    def means(values):
        return evaluate(specs, sub, values, replicates=3, seed=4, n_parameters=0).mean

    def inside(group_member: bool) -> dict:
        return {p.name: p.low + 0.3 * (p.high - p.low) for p in targets.parameters
                if (p.group == "placement") == group_member}

    shipped = means(None)
    np.testing.assert_array_equal(means(inside(False)), shipped)
    assert np.all(np.abs(means(inside(True)) - shipped) > 0)


def test_calibrate_needs_a_free_parameter_left(cli, tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[[target]]\nname = "a"\nstatistic = "contrast"\nquantity = '
                    '"ef_change_mean"\ntrial = "TARGET"\narm_values = [8, 5]\n'
                    'arm_sd = [7, 8]\narm_n = [103, 104]\nsource = "s"\n'
                    '[[parameter]]\nname = "outcomes.resync_max_pct"\nlow = -60\nhigh = 0\n')
    run = cli(["calibrate", str(path), "--set", "outcomes.resync_max_pct=-40",
               "--out", str(tmp_path / "o")])
    assert run.code == 2, run.err
    assert "--set: expected at least one free parameter left to fit" in run.err
    assert not (tmp_path / "o").exists()


def test_leave_one_trial_out_needs_two_trials(cli, tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[[target]]\nname = "a"\nstatistic = "contrast"\nquantity = '
                    '"ef_change_mean"\ntrial = "TARGET"\narm_values = [8, 5]\n'
                    'arm_sd = [7, 8]\narm_n = [103, 104]\nsource = "s"\n'
                    '[[parameter]]\nname = "outcomes.resync_max_pct"\nlow = -60\nhigh = 0\n')
    run = cli(["validate", str(path), "--leave-one-trial-out", "--spec", "target",
               "--out", str(tmp_path / "o")])
    assert run.code == 2, run.err
    assert "--leave-one-trial-out: expected a world of at least two trials" in run.err
    assert not (tmp_path / "o").exists()


def test_sensitivity_ranges_outside_the_declared_range_are_refused(cli, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[parameter]]\nname = "pacing.rv_delay_ms"\nlow = -5\nhigh = 40\n'
                    'reason = "r"\n')
    run = cli(["sensitivity", str(path), "--out", str(tmp_path / "o")])
    assert run.code == 2
    assert "a box inside pacing.rv_delay_ms's declared range [0, 150]" in run.err
    assert not (tmp_path / "o").exists()


def test_sensitivity_command_writes_its_tornado(cli, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[parameter]]\nname = "outcomes.scar_at_lead_pct"\nlow = 5\nhigh = 30\n'
                    'reason = "r"\n')
    run = cli(["sensitivity", str(path), "--replicates", "2", "--samples", "3",
               "--out", str(tmp_path / "o"), "--json"])
    assert run.code == 0, run.err
    info = json.loads(run.out)
    assert set(info["base"]) == {"lvesv_45", "power_45", "lvesv_100", "power_100"}
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "tornado.png", "tornado.csv", "psa.csv", "sensitivity.json"}


def test_leave_one_trial_out_refits_without_the_trial_and_predicts_it():
    from strainsim.studies.calibration import leave_one_trial_out

    shipped = load_targets()
    chosen = tuple(t for t in shipped.targets if t.name in (
        "TARGET LVEF change, image-guided minus control (points)",
        "TARGET NYHA improved, control",
        "STARTER concordant or adjacent, routine",
        "concordant, image-guided arms"))
    params = tuple(p for p in shipped.parameters if p.name == "placement.aim_success")
    targets = Targets(chosen, params, "probe")
    left = leave_one_trial_out(five_trial_specs(), targets, replicates=2, seed=1,
                               max_evals=8)
    assert [lo.trial for lo in left] == ["STARTER", "TARGET"]   # in the targets' order
    for lo in left:
        own = [t for t in chosen if t.trial == lo.trial]
        assert lo.targets == tuple(t.name for t in own)
        assert np.all(np.isfinite(lo.z)) and lo.predicted.shape == (len(own),)
        assert 0.05 <= lo.values["placement.aim_success"] <= 0.95


def test_fits_from_one_start_share_its_covariance_and_find_the_same(monkeypatch):
    from strainsim.studies import calibration

    shipped = load_targets()
    chosen = tuple(t for t in shipped.targets if t.name in (
        "TARGET NYHA improved, control", "concordant, image-guided arms",
        "STARTER concordant or adjacent, routine"))
    params = tuple(p for p in shipped.parameters if p.name == "placement.aim_success")
    targets = Targets(chosen, params, "probe")
    kept = Targets(chosen[1:], params, "probe")
    specs = five_trial_specs()
    calls = []
    real = calibration.evaluate
    monkeypatch.setattr(calibration, "evaluate",
                        lambda *a, **k: calls.append(a[3] if len(a) > 3 else k) or real(*a, **k))
    shared = calibration.start_evaluation(specs, targets, 3, seed=1)
    assert shared.names == tuple(t.name for t in chosen) and len(calls) == 1
    calls.clear()
    alone = calibration.calibrate(specs, kept, replicates=2, seed=1, max_evals=6,
                                  covariance_replicates=3)
    simulated_alone = len(calls)
    calls.clear()
    reused = calibration.calibrate(specs, kept, replicates=2, seed=1, max_evals=6,
                                   covariance_replicates=3, shared_start=shared)
    # one simulation fewer (the start's covariance), the same fit, the same count
    assert len(calls) == simulated_alone - 1
    assert reused.best.values == alone.best.values and reused.best.chi2 == alone.best.chi2
    assert reused.evaluations == alone.evaluations
    np.testing.assert_array_equal(reused.start.samples, alone.start.samples)
    np.testing.assert_array_equal(reused.start.covariance, alone.start.covariance)
    assert reused.start.chi2 == alone.start.chi2
    # a start evaluation of another point or replicate count is refused
    other = calibration.start_evaluation(specs, targets, 3, seed=1,
                                         values={"placement.aim_success": 0.5})
    with pytest.raises(ValueError, match="start point"):
        calibration.calibrate(specs, kept, replicates=2, seed=1, max_evals=6,
                              covariance_replicates=3, shared_start=other)


def test_calibrate_takes_its_covariance_from_more_replicates_on_the_same_seeds():
    from strainsim.studies.calibration import calibrate

    shipped = load_targets()
    chosen = tuple(t for t in shipped.targets if t.name in (
        "TARGET NYHA improved, control", "concordant, image-guided arms"))
    params = tuple(p for p in shipped.parameters if p.name == "placement.aim_success")
    targets = Targets(chosen, params, "probe")
    specs = five_trial_specs()
    result = calibrate(specs, targets, replicates=2, seed=1, max_evals=4,
                       covariance_replicates=3)
    # start and best are the covariance's evaluations: three replicates, the first two
    # of them the means' (the same calibration seeds)
    assert result.start.samples.shape[0] == 3 and result.best.samples.shape[0] == 3
    means = evaluate(specs, targets, result.start.values, replicates=2, seed=1,
                     purpose="calibration", heterogeneity=False)
    np.testing.assert_array_equal(means.samples, result.start.samples[:2])


# --- a study's own concordance definition --------------------------------------------
def test_walls_count_the_distance_in_walls_whatever_the_ring(model):
    walls = model.wall_hops()
    np.testing.assert_array_equal(walls, walls.T)
    assert np.all(np.diag(walls) == 0) and walls.max() == 3
    by = {s.name: s.number - 1 for s in model.segments}
    # the same wall on another ring is concordant; the next wall adjacent; opposite 3
    assert walls[by["basal inferolateral"], by["mid inferolateral"]] == 0
    assert walls[by["basal inferolateral"], by["basal anterolateral"]] == 1
    assert walls[by["basal inferolateral"], by["basal anteroseptal"]] == 3
    assert np.all(walls[16, :16] == 1)                    # the apex: next to every wall
    # on the basal ring, a wall is a segment: walls and segment hops agree there
    np.testing.assert_array_equal(walls[:6, :6], model.hops[:6, :6])


def test_a_study_scores_concordance_with_its_own_definition(model):
    from strainsim.model.placement import classify

    lead, target = np.array([11, 12, 5, 10]), np.array([5, 5, 5, 6])
    assert classify(lead, target, model).tolist() == [1, 2, 0, 2]
    assert classify(lead, target, model, "touching").tolist() == [1, 1, 0, 2]
    assert classify(lead, target, model, "walls").tolist() == [0, 1, 0, 2]


def test_touching_segments_add_the_corner_contacts_to_the_edge_neighbours(model):
    touch = model.touch_hops()
    np.testing.assert_array_equal(touch, touch.T)
    assert np.all(np.diag(touch) == 0)
    assert np.all(touch <= model.hops)                    # never further than by edges
    assert np.all((model.hops == 1) <= (touch == 1))      # every edge neighbour touches
    by = {s.name: s.number - 1 for s in model.segments}
    # a basal segment touches three of the mid ring (its own sector and the two beside)
    for s in model.segments:
        if s.ring == "basal":
            mids = [t for t in model.segments if t.ring == "mid" and touch[s.number - 1, t.number - 1] == 1]
            assert len(mids) == 3
    assert touch[by["basal inferolateral"], by["mid anterolateral"]] == 1
    assert model.hops[by["basal inferolateral"], by["mid anterolateral"]] == 2
    # within one ring nothing changes, and the apex still touches only the apical ring
    np.testing.assert_array_equal(touch[:6, :6], model.hops[:6, :6])
    assert sorted(np.flatnonzero(touch[16] == 1) + 1) == [13, 14, 15, 16]


def test_targets_may_name_a_study_outside_the_meta_analysis(tmp_path):
    targets = load_targets()
    assert [s.name for s in targets.studies] == ["Ypenburg", "Polasek", "Khan2011"]
    assert targets.studies[0].placement.concordance_definition == "walls"
    # the Q-LV series aimed its leads at a long Q-LV: both its arms are electrical
    assert {targets.studies[1].placement.image_guided,
            targets.studies[1].placement.control} == {"electrical"}
    # the TARGET centre's earlier series: unguided, the latest segment of its views
    khan = targets.studies[2]
    assert {khan.placement.image_guided, khan.placement.control} == {"empirical"}
    assert khan.placement.target_region == "basal-mid"
    e = evaluate(five_trial_specs(), replace(targets, targets=tuple(
        t for t in targets.targets if t.trial == "Ypenburg")), replicates=2, seed=1,
        n_parameters=0)
    assert np.all(np.isfinite(e.samples))
    path = tmp_path / "t.toml"
    path.write_text('studies = ["target"]\n[[target]]\nname = "a"\nstatistic = "pooled"\n'
                    'outcome = "lvesv"\nsource = "s"\nvalue = 1\nci = [0, 2]\n')
    from strainsim.errors import InputError

    with pytest.raises(InputError) as err:
        load_targets(path)
    assert "studies named apart" in str(err.value)


def test_calibrate_progress_moves_through_a_covariance_point():
    from strainsim.studies.calibration import calibrate

    shipped = load_targets()
    chosen = tuple(t for t in shipped.targets if t.name in (
        "TARGET NYHA improved, control", "concordant, image-guided arms"))
    params = tuple(p for p in shipped.parameters if p.name == "placement.aim_success")
    seen = []
    result = calibrate(five_trial_specs(), Targets(chosen, params, "probe"), replicates=2,
                       seed=1, max_evals=4, covariance_replicates=3, progress=seen.append)
    # the first evaluation, the start's covariance (3 replicates twice: with and without
    # the trials' differences), moves in sixths before it counts as one
    assert seen[:7] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0, 1.0])
    assert seen == sorted(seen) and seen[-1] == result.evaluations


def test_the_homogeneous_run_counts_on_in_the_progress():
    from strainsim.studies.calibration import needs_homogeneous_run

    targets = load_targets()
    chosen = replace(targets, targets=tuple(t for t in targets.targets
                                            if t.trial == "STARTER"))
    specs = five_trial_specs()
    assert needs_homogeneous_run(specs, chosen)
    seen = []
    evaluate(specs, chosen, replicates=2, seed=1, n_parameters=0, progress=seen.append)
    assert seen == [1, 2, 3, 4]
    seen.clear()
    evaluate(specs, chosen, replicates=2, seed=1, n_parameters=0, progress=seen.append,
             heterogeneity=False)
    assert seen == [1, 2]


def test_the_chi_squares_monte_carlo_error_is_its_spread_over_independent_replicates():
    """The jackknife MCSE of one evaluation's chi-square matches how much the statistic
    moves between independent sets of as many replicates (a world with trial
    differences, so the between-trial variance left out with each group counts too); it
    shrinks with more replicates and needs no random numbers."""
    targets = load_targets()
    fitted = tuple(t for t in targets.targets if t.fit and t.between_trials)[:6]
    rng = np.random.default_rng(11)
    se = np.array([t.se for t in fitted])
    truth = np.array([t.value for t in fitted]) + 2.0 * se   # a world that misses
    tau = se
    world = tuple(replace(t, statistic="arm", outcome=None, trial=f"t{k}")
                  for k, t in enumerate(fitted))

    def one(replicates):
        calm = truth + se * rng.standard_normal((replicates, len(world)))
        samples = calm + tau * rng.standard_normal((replicates, len(world)))
        h = heterogeneity_variance(world, samples, calm)
        mean, low, high, z, cov, chi2, df = goodness_of_fit(world, samples, 0, h)
        return Evaluation({}, samples, np.zeros((replicates, 4, 3)), mean, low, high, z,
                          cov, chi2, df, h, calm)

    spreads = {}
    for replicates in (40, 160):
        runs = [one(replicates) for _ in range(150)]
        spreads[replicates] = np.std([e.chi2 for e in runs], ddof=1)
        mcse = np.median([chi2_mcse(world, e) for e in runs[:40]])
        assert 0.7 < mcse / spreads[replicates] < 1.4, (replicates, mcse, spreads)
    assert spreads[160] < 0.7 * spreads[40]            # four times the replicates
    e = runs[0]
    assert chi2_mcse(world, e) == chi2_mcse(world, e)
    assert chi2_mcse(world, e, groups=500) == pytest.approx(chi2_mcse(world, e, groups=160))
    assert np.isnan(chi2_mcse(world, replace(e, samples=e.samples[:1],
                                             homogeneous=e.homogeneous[:1])))
