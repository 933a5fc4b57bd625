"""Directional power and Monte Carlo standard errors of the sweep's summaries, on
replicates made here (so the shares are known)."""

import numpy as np
import pytest

from strainsim.studies.sweep import BENEFIT_SIGN, share_mcse, summarize_sweep
from strainsim.studies.trials import OUTCOMES


def replicates(estimates, half_width):
    """(1 level, R, 4 outcomes, 6 fields) with CIs estimate +- half_width."""
    r = estimates.shape[0]
    data = np.zeros((1, r, len(OUTCOMES), 6))
    data[0, :, :, 0] = estimates
    data[0, :, :, 1] = half_width / 1.96
    data[0, :, :, 2] = estimates - half_width
    data[0, :, :, 3] = estimates + half_width
    return data


def test_benefit_and_harm_are_counted_apart_with_their_mcse():
    rng = np.random.default_rng(0)
    est = rng.normal(0.0, 1.0, (400, len(OUTCOMES)))
    data = replicates(est, 1.0)
    level, = summarize_sweep([0.5], data, 818, replicates(np.zeros_like(est), 1.0))
    for k, key in enumerate(OUTCOMES):
        above, below = np.mean(est[:, k] > 1.0), np.mean(est[:, k] < -1.0)
        good, bad = (above, below) if BENEFIT_SIGN[key] > 0 else (below, above)
        assert level.power_benefit[key] == pytest.approx(good)
        assert level.power_harm[key] == pytest.approx(bad)
        assert level.mcse[key]["power_benefit"] == pytest.approx(np.sqrt(good * (1 - good) / 400))
        assert level.false_positive[key] == 0.0 and level.mcse[key]["false_positive"] == 0.0
        spread = est[:, k].std(ddof=1) / np.sqrt(400)
        if key == "nyha":   # the odds ratio's MCSE by the delta method
            assert level.mcse[key]["estimate"] == pytest.approx(np.exp(est[:, k].mean()) * spread)
        else:
            assert level.mcse[key]["estimate"] == pytest.approx(spread)


def test_a_clear_harm_is_not_power():
    est = np.full((50, len(OUTCOMES)), 5.0)   # every interval above zero
    level, = summarize_sweep([0.2], replicates(est, 1.0), 818, replicates(est * 0, 1.0))
    assert level.power_benefit["lvesv"] == 0.0 and level.power_harm["lvesv"] == 1.0
    assert level.power_benefit["nyha"] == 1.0 and level.power_harm["nyha"] == 0.0


def test_share_mcse_is_the_binomial_standard_error():
    assert share_mcse(0.5, 100) == pytest.approx(0.05)
    assert share_mcse(0.0, 100) == 0.0


def test_the_sweep_levels_share_their_replicates_patients():
    """Common random numbers: the calibrated world and the forced levels run on the same
    replicates, so a level equal to no forcing at all is not needed to compare them, and
    the null world, which no lead reaches, is the same at every level."""
    from strainsim.studies.sweep import concordance_sweep

    result = concordance_sweep(levels=(0.3, 0.9), replicates=3, seed=4)
    np.testing.assert_array_equal(result.null_replicates[0], result.null_replicates[1])
    np.testing.assert_array_equal(result.null_replicates[0], result.calibrated_null)
    assert result.calibrated.world == "calibrated"
    assert not np.array_equal(result.replicates[0], result.replicates[1])


def test_coverage_and_the_method_comparison_pool_the_same_trials():
    from strainsim.studies.sweep import COMPARED, compare_methods, concordance_sweep

    result = concordance_sweep(levels=(0.5,), replicates=6, seed=3)
    rows = compare_methods(result)
    assert [(r["method"], r["test"]) for r in rows] == list(COMPARED)
    own = result.calibrated
    reml = next(r for r in rows if (r["method"], r["test"]) == ("REML", "knha"))
    for key in ("nyha", "lvesv", "lvedv", "lvef"):
        assert reml[f"{key}_coverage"] == own.coverage[key]
        assert reml[f"{key}_power_benefit"] == own.power_benefit[key]
        assert reml[f"{key}_false_positive"] == own.false_positive[key]
        assert 0.0 <= own.coverage[key] <= 1.0
        z = next(r for r in rows if (r["method"], r["test"]) == ("REML", "z"))
        assert z[f"{key}_ci_width"] <= reml[f"{key}_ci_width"] * 1.5
    row = result.table()[0]
    assert {"lvesv_coverage", "lvesv_coverage_mcse"} <= set(row)


def test_sample_size_by_simulation_finds_the_analytic_answer():
    """Trials of a known effect: the simulated search and the shortcut agree with the
    normal-theory answer for a fixed-effect z test, within the search's own interval."""
    from scipy.stats import norm

    from strainsim.studies.sweep import simulated_sample_size, t_sample_size

    rng = np.random.default_rng(0)
    effect, var, k, replicates = 0.5, 1.0, 5, 4000
    yi = effect + np.sqrt(var) * rng.standard_normal((replicates, k))
    vi = np.full_like(yi, var)
    copies = ((norm.isf(0.025) + norm.isf(0.2)) / effect) ** 2 * var / k
    found = simulated_sample_size(yi, vi, 100, +1.0, "FE", "z")
    assert found["low"] < 100 * copies < found["high"]
    assert found["patients"] == pytest.approx(100 * copies, rel=0.08)
    assert t_sample_size(effect, var, 0.0, k, 100, +1.0, "z") == pytest.approx(100 * copies,
                                                                              rel=1e-6)
    # the power the search starts from is the sweep's own at one copy
    one = float(np.mean(yi.mean(axis=1) - 1.959964 * np.sqrt(var / k) > 0))
    assert found["power_at_1"] == pytest.approx(one)
    # an effect on the side of harm has no sample size for benefit
    assert np.isnan(t_sample_size(-effect, var, 0.0, k, 100, +1.0))
    assert np.isnan(simulated_sample_size(-yi, vi, 100, +1.0, "FE", "z")["patients"])


def test_the_hartung_knapp_shortcut_needs_more_patients_than_the_normal_one():
    from strainsim.studies.sweep import t_sample_size

    z = t_sample_size(0.3, 1.0, 0.1, 5, 100, +1.0, "z")
    t = t_sample_size(0.3, 1.0, 0.1, 5, 100, +1.0, "knha")
    assert t > z


def test_the_shortcut_with_one_trial_starts_where_hartung_knapp_can():
    from strainsim.studies.sweep import t_sample_size

    assert np.isfinite(t_sample_size(0.5, 1.0, 0.0, 1, 100, +1.0, "knha"))


def test_the_default_replicates_keep_every_share_within_the_chosen_mcse():
    import inspect

    from strainsim.app.cli import trials as cli_trials
    from strainsim.studies.sweep import DEFAULT_MCSE, DEFAULT_REPLICATES, replicates_for_mcse

    # the inverse of share_mcse: the least replicates that meet the bound at p = 0.5
    for mcse in (0.05, 0.02, DEFAULT_MCSE, 0.01):
        r = replicates_for_mcse(mcse)
        assert share_mcse(0.5, r) <= mcse < share_mcse(0.5, r - 1)
        assert max(share_mcse(p, r) for p in np.linspace(0, 1, 101)) <= mcse
    assert replicates_for_mcse(0.02, p=0.1) == 225
    with pytest.raises(ValueError):
        replicates_for_mcse(0.0)
    # the command's default is that number
    default = inspect.signature(cli_trials.sweep).parameters["replicates"].default.default
    assert default == DEFAULT_REPLICATES == 1112
