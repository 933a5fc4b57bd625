"""Trial sequential analysis: spending, boundaries by simulation, information size, D^2."""

import json

import numpy as np
import pytest
from scipy import stats

from strainsim.stats.effects import effect_sizes
from strainsim.stats.pooling import pool
from strainsim.stats.sequential import (
    boundaries,
    diversity,
    obf_spending,
    required_information,
    trial_sequential_analysis,
)


def test_spending_function_is_lan_demets_obrien_fleming():
    t = np.array([0.1, 0.25, 0.5, 1.0, 1.5])
    z = stats.norm.ppf(0.975)
    expected = 2 - 2 * stats.norm.cdf(z / np.sqrt(np.minimum(t, 1)))
    np.testing.assert_allclose(obf_spending(t, 0.05), expected, rtol=1e-12)
    assert obf_spending(1.0, 0.05) == pytest.approx(0.05)


def test_a_single_look_is_the_fixed_sample_test():
    assert boundaries([1.0], 0.05)[0] == pytest.approx(stats.norm.ppf(0.975), abs=1e-9)
    assert boundaries([1.0], 0.01)[0] == pytest.approx(stats.norm.ppf(0.995), abs=1e-9)


@pytest.mark.parametrize("fractions", [[0.2, 0.4, 0.6, 0.8, 1.0], [0.15, 0.5, 0.7, 1.0],
                                       [0.3, 1.0, 1.4]])
def test_boundaries_spend_alpha_as_promised_by_simulation(fractions):
    """Brownian motion under no effect crosses the boundaries by each look with the
    spent probability (Monte Carlo, 4 standard errors)."""
    b = boundaries(fractions, 0.05)
    t = np.minimum(np.asarray(fractions), 1.0)
    n = 400_000
    rng = np.random.default_rng(1)
    steps = np.diff(np.r_[0.0, t])
    s = np.cumsum(rng.standard_normal((n, t.size)) * np.sqrt(np.maximum(steps, 0)), axis=1)
    z = s / np.sqrt(t)
    crossed = np.cumsum(np.abs(z) >= b, axis=1) > 0
    for j, spent in enumerate(obf_spending(t, 0.05)):
        observed = crossed[:, j].mean()
        assert abs(observed - spent) <= 4 * np.sqrt(spent * (1 - spent) / n) + 2e-5, j


def test_required_information_by_hand():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert required_information(0.5, 1.0) == pytest.approx(4 * z**2 / 0.25)
    assert required_information(0.5, 1.0, d2=0.5) == pytest.approx(8 * z**2 / 0.25)
    with pytest.raises(ValueError):
        required_information(0.0, 1.0)


def test_diversity_is_the_relative_excess_random_effects_variance(rng):
    yi = rng.normal(0, 0.5, 8)
    vi = rng.uniform(0.02, 0.2, 8)
    effects = effect_sizes(yi, vi)
    v_fe = pool(effects, "FE").se ** 2
    v_re = pool(effects, "DL").se ** 2
    assert diversity(yi, vi) == pytest.approx((v_re - v_fe) / v_re, rel=1e-12)
    assert diversity(np.zeros(4), np.full(4, 0.1)) == 0.0


def test_tsa_z_curve_is_the_cumulative_meta_analysis(rng):
    yi = rng.normal(0.3, 0.1, 5)
    vi = rng.uniform(0.01, 0.05, 5)
    effects = effect_sizes(yi, vi)
    result = trial_sequential_analysis(effects, [100, 200, 150, 300, 250], 0.2, 1.0)
    assert result.z[-1] == pytest.approx(pool(effects, "DL").stat, rel=1e-12)
    assert result.patients.tolist() == [100, 300, 450, 750, 1000]
    np.testing.assert_allclose(result.fraction, result.patients / result.ris)


def test_tsa_cli_on_a_means_table(tmp_path, cli):
    table = tmp_path / "lvesv.csv"
    table.write_text("study,mean_t,sd_t,n_t,mean_c,sd_c,n_c\n"
                     "a,-15,20,100,-10,21,100\nb,-14,19,80,-12,20,82\n"
                     "c,-18,22,60,-9,20,58\n")
    plot = tmp_path / "tsa.png"
    result = cli(["tsa", str(table), "--effect", "-5", "--json",
                                      "--plot", str(plot)])
    assert result.code == 0, (result.out + result.err)
    info = json.loads(result.out)
    assert [look["patients"] for look in info["looks"]] == [200, 362, 480]
    assert info["ris"] >= info["ris_unadjusted"] > 0
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize("argv, fragment", [
    (["--effect", "0"], "option --effect"),
    (["--effect", "-5", "--alpha", "0.7"], "option --alpha"),
    (["--effect", "-5", "--method", "FE"], "option --method"),
])
def test_tsa_cli_errors(tmp_path, argv, fragment, cli):
    table = tmp_path / "t.csv"
    table.write_text("study,mean_t,sd_t,n_t,mean_c,sd_c,n_c\na,-15,20,100,-10,21,100\n"
                     "b,-14,19,80,-12,20,82\n")
    result = cli(["tsa", str(table), *argv])
    assert result.code == 2 and fragment in (result.out + result.err)


def test_tsa_cli_needs_patient_counts(tmp_path, cli):
    table = tmp_path / "g.csv"
    table.write_text("study,yi,vi\na,0.1,0.04\nb,0.3,0.05\n")
    result = cli(["tsa", str(table), "--effect", "0.2"])
    assert result.code == 2 and "patient counts" in (result.out + result.err)
