"""The meta-analysis engine against metafor's published values and statsmodels."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from strainsim.stats.effects import (
    effect_sizes,
    log_odds_ratio,
    mean_difference,
    standardized_mean_difference,
)
from strainsim.stats.pooling import pool, tau2_estimate

# BCG vaccine trials (metafor's dat.bcg): tpos, tneg, cpos, cneg
BCG = np.array([[4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209],
                [62, 13536, 248, 12619], [33, 5036, 47, 5761], [180, 1361, 372, 1079],
                [8, 2537, 10, 619], [505, 87886, 499, 87892], [29, 7470, 45, 7232],
                [17, 1699, 65, 1600], [186, 50448, 141, 27197], [5, 2493, 3, 2338],
                [27, 16886, 29, 17825]], dtype=float)


def bcg_log_rr():
    a, b, c, d = BCG.T
    yi = np.log(a / (a + b)) - np.log(c / (c + d))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return effect_sizes(yi, vi)


def bcg_log_or():
    a, b, c, d = BCG.T
    return log_odds_ratio(a, a + b, c, c + d)


# metafor 4.x output for dat.bcg (its test suite and documentation), 4 decimals
@pytest.mark.parametrize("effects, method, test, expected", [
    (bcg_log_rr, "FE", "z", dict(estimate=-0.4303, ci_low=-0.5097, ci_high=-0.3509,
                                 stat=-10.6247, q=152.2330)),
    (bcg_log_rr, "DL", "z", dict(estimate=-0.7141, ci_low=-1.0644, ci_high=-0.3638,
                                 stat=-3.9952, tau2=0.3088, i2=92.1173)),
    (bcg_log_rr, "REML", "z", dict(estimate=-0.7145, se=0.1798, ci_low=-1.0669,
                                   ci_high=-0.3622, stat=-3.9744, tau2=0.3132, i2=92.22,
                                   h2=12.86, q=152.2330)),
    (bcg_log_rr, "REML", "knha", dict(estimate=-0.7145, se=0.1808, ci_low=-1.1084,
                                      ci_high=-0.3206, stat=-3.9522)),
    (bcg_log_or, "FE", "z", dict(estimate=-0.4361, ci_low=-0.5190, ci_high=-0.3533,
                                 stat=-10.3190, q=163.1649)),
    (bcg_log_or, "DL", "z", dict(estimate=-0.7474, ci_low=-1.1242, ci_high=-0.3706,
                                 stat=-3.8873, tau2=0.3663, i2=92.6455)),
    (bcg_log_or, "MH", "z", dict(estimate=-0.4734, ci_low=-0.5538, ci_high=-0.3930,
                                 stat=-11.5444, q=163.9426)),
])
def test_bcg_matches_metafor(effects, method, test, expected):
    result = pool(effects(), method=method, test=test)
    for key, value in expected.items():
        tol = 0.006 if key in ("i2", "h2") else 0.00051  # as many decimals as published
        assert getattr(result, key) == pytest.approx(value, abs=tol), key


def test_bcg_exponentiated_or_fields():
    out = pool(bcg_log_or(), method="DL").to_dict()
    assert out["or"] == pytest.approx(0.4736, abs=5e-4)      # metafor predict(transf=exp)
    assert out["or_ci_low"] == pytest.approx(0.3249, abs=5e-4)
    assert out["or_ci_high"] == pytest.approx(0.6903, abs=5e-4)


studies = st.integers(2, 12).flatmap(lambda k: st.tuples(
    st.lists(st.floats(-2, 2), min_size=k, max_size=k),
    st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k)))


@given(studies)
def test_dl_pm_fe_and_hksj_match_statsmodels(data):
    from statsmodels.stats.meta_analysis import combine_effects as sm_combine

    def combine_effects(yi, vi, method_re):
        with np.errstate(all="ignore"):  # statsmodels divides by tau2 + 0 itself
            return sm_combine(yi, vi, method_re=method_re)

    yi, vi = (np.asarray(x) for x in data)
    effects = effect_sizes(yi, vi)
    for method, sm_method in (("DL", "chi2"), ("PM", "iterated")):
        ours = pool(effects, method=method)
        ref = combine_effects(yi, vi, method_re=sm_method)
        if ref.tau2 < 0:  # statsmodels' iteration can stop below zero; tau^2 >= 0 here
            assert ours.tau2 == 0.0
            continue
        # statsmodels stops its Paule-Mandel iteration at a relative change of 1e-6
        rel = 1e-9 if method == "DL" else 1e-4
        assert ours.tau2 == pytest.approx(ref.tau2, rel=rel, abs=1e-9 if method == "DL" else 1e-6)
        assert ours.estimate == pytest.approx(ref.mean_effect_re, rel=rel, abs=1e-9)
        assert ours.se == pytest.approx(ref.sd_eff_w_re, rel=rel)
        assert ours.q == pytest.approx(ref.q, rel=1e-9)
        knha = pool(effects, method=method, test="knha")
        assert knha.se == pytest.approx(ref.sd_eff_w_re_hksj, rel=rel, abs=1e-12)
    fe = pool(effects, method="FE")
    ref = combine_effects(yi, vi, method_re="chi2")
    assert fe.estimate == pytest.approx(ref.mean_effect_fe, rel=1e-9, abs=1e-12)
    assert fe.se == pytest.approx(ref.sd_eff_w_fe, rel=1e-9)
    if ref.tau2 >= 0:
        assert pool(effects, method="DL").i2 == pytest.approx(100 * ref.i2, abs=1e-6)


def _neg_loglik(tau2, yi, vi, restricted):
    w = 1 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    ll = -0.5 * np.sum(np.log(vi + tau2)) - 0.5 * np.sum(w * (yi - mu) ** 2)
    if restricted:
        ll -= 0.5 * np.log(np.sum(w))
    return -ll


@given(studies)
def test_reml_and_ml_maximize_their_likelihoods(data):
    yi, vi = (np.asarray(x) for x in data)
    for method, restricted in (("REML", True), ("ML", False)):
        ours = tau2_estimate(yi, vi, method)
        ref = minimize_scalar(_neg_loglik, bounds=(0, 50), args=(yi, vi, restricted),
                              method="bounded", options={"xatol": 1e-12})
        # at least as likely as a bounded Brent search finds, and a stationary point
        # (or the boundary with a non-positive slope)
        assert _neg_loglik(ours, yi, vi, restricted) <= ref.fun + 1e-9
        from strainsim.stats.pooling import _score_info

        score, info = _score_info(ours, yi, vi, len(yi), restricted)
        # within 1e-6 (relative) of the stationary point; metafor stops at 1e-5
        assert abs(score / info) < 1e-6 * (1 + ours) or (ours == 0.0 and score <= 0)


def test_he_by_hand():
    yi = np.array([0.1, 0.5, -0.2, 0.9])
    vi = np.array([0.04, 0.09, 0.05, 0.2])
    expected = np.var(yi, ddof=1) - vi.mean()
    assert tau2_estimate(yi, vi, "HE") == pytest.approx(expected)
    assert tau2_estimate(yi, vi * 100, "HE") == 0.0


def test_smd_and_or_effect_sizes_match_statsmodels():
    from statsmodels.stats.meta_analysis import effectsize_2proportions, effectsize_smd

    m1, s1, n1 = np.array([10.0, 12.0, 9.0]), np.array([3.0, 4.0, 2.5]), np.array([20, 35, 14])
    m2, s2, n2 = np.array([8.0, 12.5, 7.0]), np.array([3.5, 4.0, 3.0]), np.array([22, 30, 15])
    ours = standardized_mean_difference(m1, s1, n1, m2, s2, n2)
    g, var = effectsize_smd(m1, s1, n1, m2, s2, n2)
    np.testing.assert_allclose(ours.yi, g, rtol=1e-3)  # statsmodels approximates J
    np.testing.assert_allclose(ours.vi, var, rtol=1e-2)
    md = mean_difference(m1, s1, n1, m2, s2, n2)
    np.testing.assert_allclose(md.yi, m1 - m2)
    np.testing.assert_allclose(md.vi, s1**2 / n1 + s2**2 / n2)
    ev1, ev2 = np.array([12, 30, 5]), np.array([8, 25, 9])
    lor = log_odds_ratio(ev1, n1, ev2, n2)
    ref, ref_var = effectsize_2proportions(ev1, n1, ev2, n2, statistic="odds-ratio")
    np.testing.assert_allclose(lor.yi, ref, rtol=1e-12)
    np.testing.assert_allclose(lor.vi, ref_var, rtol=1e-12)


def test_exact_hedges_correction():
    from scipy.special import gamma

    out = standardized_mean_difference([1.0], [1.0], [5], [0.0], [1.0], [5])
    m = 8
    correction = gamma(m / 2) / (math.sqrt(m / 2) * gamma((m - 1) / 2))
    assert out.yi[0] == pytest.approx(correction)


def test_mantel_haenszel_matches_statsmodels():
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = [np.array([[a, b], [c, d]]) for a, b, c, d in BCG]
    ref = StratifiedTable(tables)
    ours = pool(bcg_log_or(), method="MH")
    assert ours.estimate == pytest.approx(math.log(ref.oddsratio_pooled), rel=1e-10)
    assert ours.se == pytest.approx(ref.logodds_pooled_se, rel=1e-10)


def test_zero_cells_are_corrected_only_where_they_occur():
    effects = log_odds_ratio([0, 10], [20, 40], [3, 12], [20, 40])
    assert effects.yi[0] == pytest.approx(math.log(0.5 * 17.5 / (20.5 * 3.5)))
    assert effects.vi[0] == pytest.approx(1 / 0.5 + 1 / 20.5 + 1 / 3.5 + 1 / 17.5)
    assert effects.yi[1] == pytest.approx(math.log(10 * 28 / (30 * 12)))
    # MH uses the raw counts; a study with no events anywhere contributes nothing
    with_double_zero = log_odds_ratio([0, 10, 5], [20, 40, 30], [0, 12, 9], [20, 40, 30])
    without = log_odds_ratio([10, 5], [40, 30], [12, 9], [40, 30])
    assert pool(with_double_zero, "MH").estimate == pytest.approx(pool(without, "MH").estimate)
    with pytest.raises(ValueError, match="undefined"):
        pool(log_odds_ratio([0, 0], [10, 10], [0, 0], [10, 10]), "MH")


def test_single_study_and_zero_tau2():
    one = effect_sizes([0.3], [0.04])
    for method in ("FE", "DL", "REML", "ML", "PM", "HE"):
        r = pool(one, method=method)
        assert (r.estimate, r.se, r.tau2, r.k) == (0.3, 0.2, 0.0, 1)
        assert math.isnan(r.q_p) and r.i2 == 0.0
        assert r.to_dict()["q_p"] is None
    with pytest.raises(ValueError, match="at least 2"):
        pool(one, test="knha")
    same = effect_sizes([0.2, 0.2, 0.2], [0.01, 0.02, 0.03])
    for method in ("DL", "REML", "ML", "PM", "HE"):
        r = pool(same, method=method)
        assert r.tau2 == 0.0 and r.estimate == pytest.approx(0.2)
        assert r.pi_low == pytest.approx(r.ci_low) and r.pi_high == pytest.approx(r.ci_high)


def test_prediction_interval_widens_with_tau2():
    r = pool(bcg_log_rr(), method="REML")
    half = 1.959963984540054 * math.sqrt(r.se**2 + r.tau2)
    assert r.pi_low == pytest.approx(r.estimate - half)
    assert r.pi_high == pytest.approx(r.estimate + half)
    assert sum(r.weights) == pytest.approx(100.0)


@pytest.mark.parametrize("call, match", [
    (lambda: log_odds_ratio([5], [4], [1], [10]), "between 0 and the arm size"),
    (lambda: log_odds_ratio([1], [0], [1], [10]), "arm sizes"),
    (lambda: mean_difference([1], [-1], [10], [1], [1], [10]), "standard deviations"),
    (lambda: effect_sizes([0.1], [-0.2]), "positive"),
    (lambda: pool(effect_sizes([0.1, 0.2], [0.1, 0.1]), method="XX"), "method"),
    (lambda: pool(effect_sizes([0.1, 0.2], [0.1, 0.1]), method="MH"), "2x2 counts"),
])
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@given(studies, st.sampled_from(["z", "knha"]), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_intervals_and_p_values_are_scipy_stats(data, test, level):
    """pool's intervals and p-values are those of scipy.stats' norm, t and chi2."""
    from scipy import stats

    yi, vi = data
    res = pool(effect_sizes(yi, vi), method="DL", test=test, level=level)
    dist = stats.t(res.df) if test == "knha" else stats.norm()
    crit = dist.ppf(0.5 + level / 2)
    assert res.ci_high == pytest.approx(res.estimate + crit * res.se, rel=1e-12, abs=1e-15)
    assert res.p == pytest.approx(2 * dist.sf(abs(res.stat)), rel=1e-12, abs=1e-300)
    assert res.q_p == pytest.approx(stats.chi2.sf(res.q, res.k - 1), rel=1e-12, abs=1e-300)
