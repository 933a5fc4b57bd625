"""The five trials, the four placement strategies, the physiology, and calibration."""

import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import placement_inputs
from scipy.stats import norm

from strainsim.errors import InputError
from strainsim.model.outcomes import OutcomeParams, arm_shifts, simulate_outcomes
from strainsim.model.placement import PlacementParams, draw_veins, place_leads
from strainsim.resources import data_path, read_toml
from strainsim.studies.calibration import (
    HETEROGENEITY,
    Targets,
    current_values,
    evaluate,
    load_targets,
    with_parameters,
)
from strainsim.studies.calibration import calibrate as fit
from strainsim.studies.specs import TrialSpec
from strainsim.studies.sweep import five_trial_specs
from strainsim.studies.trials import simulate_trial


# --- the five trials ---------------------------------------------------------------------
def test_five_trials_are_the_published_ones_with_their_strategies():
    specs = {s.name: s for s in five_trial_specs()}
    assert list(specs) == ["TARGET", "STARTER", "ImagingCRT", "ElectroCRT", "Lund"]
    sizes = read_toml(data_path("cohorts", "published/trials.toml"))["arm_sizes"]
    for name, spec in specs.items():
        assert [spec.n_image_guided, spec.n_control] == sizes[name]
    assert [sum(s.n_image_guided for s in specs.values()),
            sum(s.n_control for s in specs.values())] == sizes["meta_analysis"]
    assert {n: (s.placement.image_guided, s.placement.control) for n, s in specs.items()} == {
        "TARGET": ("ste", "empirical"), "STARTER": ("ste", "empirical"),
        "ImagingCRT": ("multimodality", "empirical"),
        "ElectroCRT": ("multimodality", "electrical"), "Lund": ("multimodality", "empirical")}
    assert specs["Lund"].population.ischemic_fraction == 0.46


# --- strategies --------------------------------------------------------------------------
def _random_world(n, seed, model):
    rng = np.random.default_rng(seed)
    _, reachable = draw_veins(n, rng, model)
    activation = rng.uniform(0, 200, (n, 17))
    scar = rng.random((n, 17)) < 0.15
    ttp = activation + 300 + rng.normal(0, 20, (n, 17))
    viable = rng.random((n, 17)) < 0.9
    target = np.where(viable, ttp, -np.inf).argmax(axis=1) + 1
    inputs = placement_inputs(target, activation_ms=activation, scar=scar, ttp_ms=ttp,
                              viable=viable)
    return rng, reachable, activation, scar, ttp, viable, target, inputs


def test_multimodality_aims_at_the_latest_viable_scar_free_reachable_segment(model):
    n = 4000
    rng, reachable, activation, scar, ttp, viable, target, inputs = _random_world(n, 1,
                                                                                 model)
    params = PlacementParams(image_guided="multimodality", aim_success=1.0)
    lead = place_leads(True, *inputs, reachable, rng, params, model).lead_segment
    allowed = viable & ~scar & reachable
    has = allowed.any(axis=1)
    expected = np.where(allowed, ttp, -np.inf).argmax(axis=1) + 1
    assert has.mean() > 0.9
    np.testing.assert_array_equal(lead[has], expected[has])
    assert not scar[np.arange(n), lead - 1][has].any()


def test_electrical_stays_at_the_longest_qlv_and_can_pace_scar(model):
    n = 4000
    rng, reachable, activation, scar, ttp, viable, target, inputs = _random_world(n, 2,
                                                                                 model)
    exact = PlacementParams(control="electrical", qlv_error_sd_ms=0.0)
    lead = place_leads(False, *inputs, reachable, rng, exact, model).lead_segment
    has = reachable.any(axis=1)
    expected = np.where(reachable, activation, -np.inf).argmax(axis=1) + 1
    np.testing.assert_array_equal(lead[has], expected[has])
    assert scar[np.arange(n), lead - 1].mean() > 0.05   # Q-LV does not see scar
    noisy = place_leads(False, *inputs, reachable, np.random.default_rng(3),
                        replace(exact, qlv_error_sd_ms=60.0), model).lead_segment
    # measurement error misleads: as often as the longest of the noisy Q-LVs (17 errors of
    # SD 60 ms, drawn here independently) is not the longest true one, within 4 SEs of the
    # difference of two estimates
    hit = np.mean(noisy[has] == expected[has])
    errors = np.random.default_rng(4).normal(0.0, 60.0, activation.shape)
    noisy_qlv = np.where(reachable, activation + errors, -np.inf)
    p = np.mean((noisy_qlv.argmax(axis=1) + 1)[has] == expected[has])
    assert 0.05 < p < 0.95
    assert abs(hit - p) <= 4 * np.sqrt(2 * p * (1 - p) / has.sum())


def test_forced_concordance_applies_to_every_image_guided_strategy(model):
    n = 20_000
    rng, reachable, activation, scar, ttp, viable, target, inputs = _random_world(n, 4,
                                                                                 model)
    allowed = viable & ~scar & reachable   # the multimodality aim, where there is one
    aim = np.where(allowed.any(axis=1), np.where(allowed, ttp, -np.inf).argmax(axis=1) + 1,
                   target)
    for strategy in ("ste", "multimodality", "electrical"):
        p = place_leads(True, *inputs, reachable, np.random.default_rng(5),
                        PlacementParams(image_guided=strategy, concordance=0.6), model)
        on_aim = p.lead_segment == (aim if strategy == "multimodality" else target)
        assert abs(on_aim.mean() - 0.6) < 4 * np.sqrt(0.24 / n)
        if strategy != "multimodality":
            np.testing.assert_array_equal(on_aim, p.vs_measured == 0)


def test_strategies_differ_as_the_physiology_says():
    spec = TrialSpec(name="x", n_image_guided=3000, n_control=3000)
    by = {}
    for strategy in ("empirical", "ste", "multimodality", "electrical"):
        s = replace(spec, placement=replace(spec.placement, image_guided=strategy))
        by[strategy] = simulate_trial(s, 11).guided
    # implanters who follow the branch orders alone hit the measured target far less often
    # than those aiming by strain; those who find the late site (the shipped share) about
    # as often, at the latest electrically activated segment off scar
    branch = replace(spec, placement=replace(spec.placement, image_guided="empirical",
                                             empirical_late_share=0.0))
    branch_orders = simulate_trial(branch, 11).guided
    assert by["ste"].concordant_measured > branch_orders.concordant_measured + 0.15
    assert by["empirical"].concordant_measured > branch_orders.concordant_measured + 0.15
    assert by["empirical"].lead_on_scar < branch_orders.lead_on_scar
    assert by["multimodality"].lead_on_scar < by["ste"].lead_on_scar
    assert by["electrical"].lead_on_scar > by["multimodality"].lead_on_scar
    for arm in by.values():  # LBBB: septal latest segments are rare
        assert arm.septal_latest < 0.10


# --- outcomes ----------------------------------------------------------------------------
def _esv(resync, scar_segments, params, scar_at_lead=False):
    n = resync.shape[0]
    scar = np.zeros((n, 17), bool)
    scar[:, :scar_segments] = True
    out = simulate_outcomes(edv_ml=np.full(n, 200.0), esv_ml=np.full(n, 150.0),
                            resync_fraction=resync, scar=scar,
                            scar_at_lead=np.full(n, scar_at_lead), ischemic=np.zeros(n, bool),
                            male=np.zeros(n, bool), nyha_class=np.full(n, 3, np.int8),
                            imaging_arm=False, rng=np.random.default_rng(0), params=params)
    return out.esv_change_pct


def test_remodelling_follows_the_resynchronization_graded_and_less_with_scar():
    params = OutcomeParams(noise_sd_pct=0.0, edv_noise_sd_pct=0.0, scar_burden_pct=0.0,
                           base_esv_change_pct=-5.0, resync_max_pct=-30.0)
    share = np.linspace(0.0, 0.8, 9)
    esv = _esv(share, 0, params)
    expected = -5.0 - 30.0 * norm.cdf((share - params.resync_half_fraction)
                                      / params.resync_width_fraction)
    np.testing.assert_allclose(esv, expected, rtol=1e-9)
    assert np.all(np.diff(esv) < 0)                      # more resynchronized, more remodelled
    # scar neither contracts nor remodels: the response scales with the viable share
    half = np.array([params.resync_half_fraction])
    assert _esv(half, 17, params)[0] == pytest.approx(-5.0)
    assert _esv(half, 6, params)[0] == pytest.approx(-5.0 - 15.0 * (1 - 6 / 17))
    with_burden = OutcomeParams(noise_sd_pct=0.0, edv_noise_sd_pct=0.0, scar_burden_pct=20.0)
    assert _esv(half, 6, with_burden)[0] - _esv(half, 6, replace(with_burden,
                                                                 scar_burden_pct=0.0))[0] == \
        pytest.approx(20.0 * 6 / 17)
    assert _esv(half, 0, params, scar_at_lead=True)[0] - _esv(half, 0, params)[0] == \
        pytest.approx(params.scar_at_lead_pct)


def test_nyha_is_an_ordinal_class_from_its_latent_score():
    n = 200_000
    params = OutcomeParams(noise_sd_pct=0.0, edv_noise_sd_pct=0.0, base_esv_change_pct=0.0,
                           resync_max_pct=0.0, nyha_intercept=0.4, nyha_slope=1.0,
                           nyha_unblinded_logodds=0.6)
    kw = dict(edv_ml=np.full(n, 200.0), esv_ml=np.full(n, 150.0),
              resync_fraction=np.full(n, 0.3), scar=np.zeros((n, 17), bool),
              scar_at_lead=np.zeros(n, bool), ischemic=np.zeros(n, bool),
              male=np.zeros(n, bool), nyha_class=np.full(n, 3, np.int8), params=params)
    control = simulate_outcomes(imaging_arm=False, rng=np.random.default_rng(1), **kw)
    guided = simulate_outcomes(imaging_arm=True, rng=np.random.default_rng(1), **kw)
    se = np.sqrt(0.25 / n)
    for out, score in ((control, 0.4), (guided, 1.0)):   # logistic latent score
        better = logistic(score)
        two = logistic(score - params.nyha_two_class_logodds)
        worse = logistic(-score - params.nyha_worse_logodds)
        assert out.nyha_improved.mean() == pytest.approx(better, abs=5 * se)
        assert np.mean(out.nyha_class_change == -2) == pytest.approx(two, abs=5 * se)
        assert np.mean(out.nyha_class_change == 1) == pytest.approx(worse, abs=5 * se)
        np.testing.assert_array_equal(out.nyha_improved, out.nyha_class_change < 0)
    # the classes stay within I-IV: a class I patient cannot improve, a IV cannot worsen
    top = simulate_outcomes(imaging_arm=True, rng=np.random.default_rng(2),
                            **{**kw, "nyha_class": np.full(n, 1, np.int8)})
    assert not top.nyha_improved.any() and top.nyha_class_change.max() <= 1


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_heterogeneity_reaches_both_arms_and_only_arm_effects_reach_the_difference():
    params = OutcomeParams(centre_sd_pct=4.0, arm_sd_pct=3.0, edv_arm_sd_pct=2.0)
    rng = np.random.default_rng(7)
    shifts = np.array([arm_shifts(params, rng) for _ in range(40_000)])  # (draws, arm, esv/edv)
    esv, edv = shifts[:, :, 0], shifts[:, :, 1]
    for column in esv.T:  # each arm: centre + its own effect
        assert np.var(column) == pytest.approx(4.0 ** 2 + 3.0 ** 2, rel=0.03)
    assert np.var(esv[:, 0] - esv[:, 1]) == pytest.approx(2 * 3.0 ** 2, rel=0.03)
    # the EDV shifts: each arm's own, shared with nothing
    for column in edv.T:
        assert np.var(column) == pytest.approx(2.0 ** 2, rel=0.03)
    assert np.var(edv[:, 0] - edv[:, 1]) == pytest.approx(2 * 2.0 ** 2, rel=0.03)
    corr = np.corrcoef(np.column_stack([esv, edv]).T)
    assert np.all(np.abs(corr[:2, 2:]) < 0.03) and abs(corr[2, 3]) < 0.03
    assert abs(np.mean(shifts)) < 0.1


# --- targets and calibration -------------------------------------------------------------
def test_shipped_targets_load_with_every_required_number():
    targets = load_targets()
    names = [t.name for t in targets.targets]
    for required in ("pooled NYHA improvement OR", "pooled LVESV change MD (%)",
                     "pooled LVEDV change MD (%)", "pooled LVEF change MD (points)",
                     "concordant, image-guided arms",
                     "STARTER concordant or adjacent, image-guided",
                     "STARTER concordant or adjacent, routine",
                     "TARGET NYHA improved, image-guided minus control",
                     "TARGET LVESV responders, control",
                     "TARGET LVEF change, image-guided minus control (points)",
                     "concordant minus discordant LVESV change (%)"):
        assert required in names
    by = {t.name: t for t in targets.targets}
    assert by["pooled NYHA improvement OR"].se == pytest.approx(
        (np.log(2.69) - np.log(1.02)) / 3.92)
    assert by["TARGET LVEF change, control (points)"].se == pytest.approx(8 / np.sqrt(104))
    assert by["concordant or adjacent, control arms"].value == pytest.approx(291 / 361)
    contrast = by["TARGET LVEF change, image-guided minus control (points)"]
    assert contrast.value == pytest.approx(3.0)
    assert contrast.se == pytest.approx(np.sqrt(49 / 103 + 64 / 104))
    rd = by["TARGET NYHA improved, image-guided minus control"]
    assert rd.se == pytest.approx(np.sqrt(0.83 * 0.17 / 103 + 0.65 * 0.35 / 104))
    assert {p.name for p in targets.parameters} >= {"placement.aim_success",
                                                    "outcomes.resync_max_pct",
                                                    "outcomes.nyha_unblinded_logodds"}


@pytest.mark.parametrize("extra, fragment", [
    ('[[parameter]]\nname = "outcomes.noise_sd_pct"\nlow = -5\nhigh = 10\n',
     "a box inside outcomes.noise_sd_pct's declared range [0, 100]"),
    ('[[parameter]]\nname = "placement.aim_success"\nlow = 0.2\nhigh = 0.9\nstep = 1\n',
     "parameter[1].step: expected a known key"),
    ('[[targte]]\n', "targte: expected a known key (did you mean target?)"),
])
def test_free_parameters_stay_inside_their_declared_ranges(tmp_path, extra, fragment):
    path = tmp_path / "t.toml"
    path.write_text('[[target]]\nname = "a"\nstatistic = "pooled"\noutcome = "lvesv"\n'
                    'source = "s"\nvalue = 1\nci = [0, 2]\n' + extra)
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert fragment in str(err.value)


@pytest.mark.parametrize("body, fragment", [
    ('[[target]]\nname = "a"\nstatistic = "median"\nsource = "s"\nvalue = 1\nn = 5\n',
     "target[1].statistic: expected one of 'pooled'"),
    ('[[target]]\nname = "a"\nstatistic = "arm"\nquantity = "concordant_measured"\n'
     'trial = "MADIT"\narm = "control"\nsource = "s"\nvalue = 0.5\nn = 5\n',
     "trial: expected 'all' or one of the trials"),
    ('[[target]]\nname = "a"\nstatistic = "pooled"\noutcome = "lvesv"\nsource = "s"\n'
     'value = 1\n', "expected an uncertainty"),
    ('[[target]]\nname = "a"\nstatistic = "pooled"\noutcome = "lvesv"\nsource = "s"\n'
     'value = 1\ntolerance = 2\n', "reason: expected a reason"),
    ('[[target]]\nname = "a"\nstatistic = "pooled"\noutcome = "nyha"\nsource = "s"\n'
     'value = 1\nci = [0, 2]\n', "ci: expected low < high (and > 0"),
    ('[[target]]\nname = "a"\nstatistic = "pooled"\noutcome = "lvesv"\nsource = "s"\n'
     'value = 1\nci = [0, 2]\n[[parameter]]\nname = "outcomes.noise"\nlow = 0\nhigh = 1\n',
     "expected a numeric field of [outcomes]"),
])
def test_bad_targets_files_are_one_line(tmp_path, body, fragment):
    path = tmp_path / "t.toml"
    path.write_text(body)
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert fragment in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_evaluation_is_reproducible_and_uses_common_random_numbers():
    specs = five_trial_specs()
    targets = load_targets()
    a = evaluate(specs, targets, replicates=3, seed=5)
    b = evaluate(specs, targets, replicates=3, seed=5)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.values == current_values(specs, targets.parameters)
    # outcome parameters move outcomes only: the same leads under common random numbers
    moved = evaluate(specs, targets, {**a.values, "outcomes.base_esv_change_pct": -30.0},
                     replicates=3, seed=5)
    lead_rows = [k for k, t in enumerate(targets.targets) if t.statistic == "arm"
                 and t.quantity.startswith("concordant")]
    np.testing.assert_array_equal(a.samples[:, lead_rows], moved.samples[:, lead_rows])
    lvesv = [t.name for t in targets.targets].index("pooled LVESV change MD (%)")
    assert not np.array_equal(a.samples[:, lvesv], moved.samples[:, lvesv])


def test_calibration_recovers_known_parameters():
    """Targets made by the model itself at known values are fitted back from elsewhere
    (in a world whose trials do not differ, so that the SEs of 0.01 are the whole
    uncertainty)."""
    specs = with_parameters(
        [replace(s, n_image_guided=s.n_image_guided * 3, n_control=s.n_control * 3)
         for s in five_trial_specs()], dict.fromkeys(HETEROGENEITY, 0.0))
    shipped = load_targets()
    chosen = [t for t in shipped.targets if t.name in (
        "concordant, image-guided arms", "TARGET LVESV responders, control",
        "TARGET NYHA improved, control")]
    params = tuple(p for p in shipped.parameters if p.name in (
        "placement.aim_success", "outcomes.base_esv_change_pct"))
    truth = {"placement.aim_success": 0.6, "outcomes.base_esv_change_pct": -15.0}
    probe = Targets(tuple(chosen), params, "probe")
    made = evaluate(with_parameters(specs, truth), probe, truth, replicates=6, seed=3)
    synthetic = Targets(tuple(replace(t, value=float(m), se=0.01)
                              for t, m in zip(chosen, made.mean, strict=True)),
                        params, "synthetic")
    result = fit(specs, synthetic, replicates=6, seed=3, max_evals=80,
                 start={"placement.aim_success": 0.35, "outcomes.base_esv_change_pct": -5.0})
    # far better than the start, and at least as good as the truth on the fit's own seeds
    at_truth = evaluate(specs, synthetic, truth, replicates=6, seed=3, purpose="calibration")
    assert result.best.objective < result.start.objective / 20
    assert result.best.objective <= at_truth.objective * 1.05
    # the truth lies within three of the fit's own standard errors, which are informative
    for fitted in result.parameters:
        assert fitted.identified and fitted.se < 0.25 * (fitted.high - fitted.low)
        assert abs(fitted.value - truth[fitted.name]) < 3 * fitted.se, fitted


def test_validate_and_calibrate_commands(cli, tmp_path):
    run = cli(["validate", "--replicates", "3", "--out", str(tmp_path / "v")])
    assert run.code == 0 and "pooled NYHA improvement OR" in run.out
    assert "chi-square" in run.out and "published pattern" in run.out and "MCSE" in run.out
    assert {p.name for p in (tmp_path / "v").iterdir()} == {
        "targets.csv", "calibration.json", "calibration.png"}
    run = cli(["calibrate", "--replicates", "2", "--max-evals", "3",
               "--covariance-replicates", "4", "--out", str(tmp_path / "c"), "--json"])
    assert run.code == 0
    assert {p.name for p in (tmp_path / "c").iterdir()} == {
        "targets.csv", "calibration.json", "calibration.png", "fitted.toml"}
    assert "outcomes.resync_max_pct" in run.out
    info = json.loads(run.out)
    assert set(info["goodness_of_fit"]) == {"chi2", "chi2_mcse", "df", "p"}
    assert info["goodness_of_fit"]["chi2_mcse"] > 0   # a simulated figure, with its error
    assert info["covariance_replicates"] == 4
    targets = load_targets()
    assert info["goodness_of_fit"]["df"] == (sum(t.fit for t in targets.targets)
                                             - len(targets.parameters))
    from strainsim.resources import read_toml
    from strainsim.studies.specs import spec_from_dict

    fragment = read_toml(tmp_path / "c" / "fitted.toml")   # a spec fragment that loads
    spec = spec_from_dict({"trial": {"name": "x", "n_image_guided": 2, "n_control": 2},
                           **fragment})
    assert spec.placement.aim_success == pytest.approx(fragment["placement"]["aim_success"])
    # a held parameter: one degree of freedom more, and its value in the fragment
    run = cli(["calibrate", "--replicates", "2", "--max-evals", "3", "--covariance-replicates",
               "4", "--set", "outcomes.nyha_slope=1.2", "--out", str(tmp_path / "h"), "--json"])
    assert run.code == 0, run.err
    held = json.loads(run.out)
    assert held["held"] == {"outcomes.nyha_slope": 1.2}
    assert "outcomes.nyha_slope" not in held["fitted"]
    assert held["goodness_of_fit"]["df"] == info["goodness_of_fit"]["df"] + 1
    assert read_toml(tmp_path / "h" / "fitted.toml")["outcomes"]["nyha_slope"] == 1.2
    # one group alone: its targets fitted with its parameters, the rest reported
    run = cli(["calibrate", "--replicates", "2", "--max-evals", "2", "--covariance-replicates",
               "4", "--only", "placement", "--out", str(tmp_path / "p"), "--json"])
    assert run.code == 0, run.err
    only = json.loads(run.out)
    group = [p.name for p in targets.parameters if p.group == "placement"]
    assert only["only"] == "placement" and sorted(only["fitted"]) == sorted(group)
    fitted_rows = [r for r in only["table"] if r["fit"]]
    assert {r["target"] for r in fitted_rows} == {t.name for t in targets.targets
                                                  if t.fit and t.group == "placement"}
    assert only["goodness_of_fit"]["df"] == len(fitted_rows) - len(group)
    bad = cli(["validate", str(tmp_path / "missing.toml")])
    assert bad.code == 2 and bad.err.count("\n") == 1 and "missing.toml" in bad.err
    bad = cli(["calibrate", "--replicates", "1"])
    assert bad.code == 2 and "--replicates" in bad.err


def test_the_commands_replicates_are_the_calibrations():
    import inspect

    from strainsim.app.cli.calibrate import calibrate as calibrate_command
    from strainsim.app.cli.calibrate import validate as validate_command
    from strainsim.studies.calibration import COVARIANCE_REPLICATES, FIT_REPLICATES

    def default(command, name):
        return inspect.signature(command).parameters[name].default.default

    assert default(calibrate_command, "replicates") == FIT_REPLICATES
    assert default(calibrate_command, "covariance_replicates") == COVARIANCE_REPLICATES
    assert default(validate_command, "replicates") == COVARIANCE_REPLICATES
