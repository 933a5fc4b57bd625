"""Leave-one-out, cumulative analysis and Egger's test against independent computations."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strainsim.stats.effects import effect_sizes, log_odds_ratio
from strainsim.stats.pooling import pool
from strainsim.stats.sensitivity import cumulative, egger_test, leave_one_out

studies = st.integers(3, 12).flatmap(lambda k: st.tuples(
    st.lists(st.floats(-2, 2), min_size=k, max_size=k),
    st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k)))


def _dl(yi, vi):
    """DerSimonian-Laird written out here from its textbook formulas."""
    w = 1 / vi
    mu_fe = np.sum(w * yi) / np.sum(w)
    q = np.sum(w * (yi - mu_fe) ** 2)
    tau2 = max(0.0, (q - (yi.size - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    w_re = 1 / (vi + tau2)
    return np.sum(w_re * yi) / np.sum(w_re), np.sqrt(1 / np.sum(w_re))


@given(studies)
def test_leave_one_out_and_cumulative_pool_the_subsets(data):
    yi, vi = (np.asarray(x) for x in data)
    effects = effect_sizes(yi, vi)
    for i, row in enumerate(leave_one_out(effects, "DL")):
        keep = np.arange(yi.size) != i
        mean, se = _dl(yi[keep], vi[keep])
        assert row["omitted"] == effects.study[i] and row["k"] == yi.size - 1
        assert row["estimate"] == pytest.approx(mean, rel=1e-9, abs=1e-12)
        assert row["se"] == pytest.approx(se, rel=1e-9, abs=1e-12)
    rows = cumulative(effects, "DL")
    for j, row in enumerate(rows[1:], start=2):
        mean, se = _dl(yi[:j], vi[:j])
        assert row["k"] == j
        assert row["estimate"] == pytest.approx(mean, rel=1e-9, abs=1e-12)
    assert rows[-1]["estimate"] == pytest.approx(pool(effects, "DL").estimate, rel=1e-12)


@given(studies)
def test_egger_is_the_intercept_of_an_ols_fit(data):
    import statsmodels.api as sm

    yi, vi = (np.asarray(x) for x in data)
    sei = np.sqrt(vi)
    if np.ptp(1 / sei) <= 1e-9:  # one precision for all: no regression on it
        with pytest.raises(ValueError, match="precision"):
            egger_test(effect_sizes(yi, vi))
        return
    ols = sm.OLS(yi / sei, sm.add_constant(1 / sei)).fit()
    ours = egger_test(effect_sizes(yi, vi))
    if not np.isfinite(ols.pvalues[0]):  # an exact fit: no residual variance
        assert ours.se == pytest.approx(0.0, abs=1e-9)
        return
    assert ours.intercept == pytest.approx(ols.params[0], rel=1e-8, abs=1e-10)
    assert ours.se == pytest.approx(ols.bse[0], rel=1e-7, abs=1e-10)
    assert ours.p == pytest.approx(ols.pvalues[0], rel=1e-6, abs=1e-12)
    assert ours.df == yi.size - 2


def test_mantel_haenszel_leave_one_out_pools_the_counts():
    effects = log_odds_ratio([12, 20, 5, 9], [50, 60, 30, 40], [8, 15, 9, 12], [50, 58, 31, 41])
    rows = leave_one_out(effects, "MH")
    keep = [1, 2, 3]
    sub = log_odds_ratio([20, 5, 9], [60, 30, 40], [15, 9, 12], [58, 31, 41])
    assert rows[0]["estimate"] == pytest.approx(pool(sub, "MH").estimate, rel=1e-12)
    assert rows[0]["k"] == len(keep)


BCG = """study,events_t,n_t,events_c,n_c,year
Aronson,4,123,11,139,1948
Ferguson,6,306,29,303,1949
Rosenthal,3,231,11,220,1960
Hart,62,13598,248,12867,1977
Frimodt,33,5069,47,5808,1973
Stein,180,1541,372,1451,1953
"""


def test_meta_cli_sensitivity_json_and_funnel(tmp_path, cli):
    table = tmp_path / "bcg.csv"
    table.write_text(BCG)
    funnel = tmp_path / "funnel.png"
    result = cli(["meta", str(table), "--method", "DL", "--json",
                                      "--leave-one-out", "--cumulative", "--order-by", "year",
                                      "--funnel", str(funnel)])
    assert result.code == 0, (result.out + result.err)
    info = json.loads(result.out)
    assert [r["added"] for r in info["cumulative"]] == ["Aronson", "Ferguson", "Stein",
                                                         "Rosenthal", "Frimodt", "Hart"]
    assert len(info["leave_one_out"]) == 6 and info["egger"]["df"] == 4
    assert funnel.stat().st_size > 1000


@pytest.mark.parametrize("argv, fragment", [
    (["--order-by", "decade"], "option --order-by"),
    (["--funnel", "x.png", "--cumulative"], None),
])
def test_meta_cli_sensitivity_errors(tmp_path, argv, fragment, cli):
    table = tmp_path / "two.csv"
    table.write_text("study,yi,vi\na,0.1,0.04\nb,0.3,0.05\n")
    argv = [a if a != "x.png" else str(tmp_path / "x.png") for a in argv]
    result = cli(["meta", str(table), *argv])
    assert result.code == 2
    assert (fragment or "at least 3 studies") in (result.out + result.err)
    assert not (tmp_path / "x.png").exists()
