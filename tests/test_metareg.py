"""The meta-regression and the pooled estimators against metafor.

The reference values were recorded by ``tests/data/metafor_reference.R`` (metafor's
``rma``) for the cases of ``tests/data/metareg_cases.csv`` (the BCG trials on their
year, and random tables made by ``tests/data/make_metareg_cases.py``). Where R and
metafor are installed (``make test`` installs Debian's r-cran-metafor), the script also
runs live and its fresh values are compared the same way.
"""

import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from strainsim.stats.effects import effect_sizes
from strainsim.stats.metareg import meta_regression
from strainsim.stats.pooling import pool

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def cases() -> dict:
    out: dict = {}
    with open(DATA / "metareg_cases.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            entry = out.setdefault(row["case"], ([], [], []))
            for column, value in zip(entry, (row["yi"], row["vi"], row["x"]), strict=True):
                column.append(float(value))
    return {name: tuple(np.array(c) for c in entry) for name, entry in out.items()}


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def number(text: str) -> float:
    return float("nan") if text in ("", "NA") else float(text)


def check_regressions(reference: list[dict]) -> None:
    data = cases()
    assert {r["case"] for r in reference} == set(data)
    for r in reference:
        yi, vi, x = data[r["case"]]
        fit = meta_regression(yi=yi, vi=vi, x=x, test=r["test"])
        where = f"{r['case']} {r['test']}"
        for name in ("intercept", "slope", "intercept_se", "slope_se", "slope_ci_low",
                     "slope_ci_high", "slope_p", "tau2"):
            assert getattr(fit, name) == pytest.approx(number(r[name]), abs=1e-4), \
                f"{where}: {name}"
        assert 100 * fit.r2 == pytest.approx(number(r["r2"]), abs=1e-2), f"{where}: r2"


def check_pooled(reference: list[dict]) -> None:
    data = cases()
    for r in reference:
        yi, vi, _ = data[r["case"]]
        res = pool(effect_sizes(yi, vi), method=r["method"], test=r["test"])
        # non-iterative estimators to 1e-6, iterative ones to 1e-4
        tol = 1e-6 if r["method"] in ("FE", "DL", "HE") else 1e-4
        where = f"{r['case']} {r['method']} {r['test']}"
        for name, ours in (("estimate", res.estimate), ("se", res.se), ("ci_low", res.ci_low),
                           ("ci_high", res.ci_high), ("tau2", res.tau2)):
            assert ours == pytest.approx(number(r[name]), abs=tol), f"{where}: {name}"


def test_meta_regression_matches_metafor_recorded():
    check_regressions(rows(DATA / "metareg_metafor.csv"))


def test_pooled_estimators_match_metafor_recorded():
    check_pooled(rows(DATA / "pooled_metafor.csv"))


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed here "
                    "(make test installs Debian's r-cran-metafor)")
def test_against_metafor_live(tmp_path):
    found = subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True)
    if found.returncode != 0:
        pytest.skip("metafor is not installed (Debian: r-cran-metafor)")
    subprocess.run(["Rscript", str(DATA / "metafor_reference.R"), str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    check_regressions(rows(tmp_path / "metareg_metafor.csv"))
    check_pooled(rows(tmp_path / "pooled_metafor.csv"))


def test_a_moderator_that_explains_everything():
    x = np.linspace(0, 1, 8)
    fit = meta_regression(yi=2.0 - 3.0 * x, vi=np.full(8, 0.1), x=x)
    assert fit.slope == pytest.approx(-3.0) and fit.intercept == pytest.approx(2.0)
    assert fit.tau2 == 0.0


@pytest.mark.parametrize("kw, message", [
    (dict(yi=[1, 2], vi=[1, 1], x=[0, 1]), "at least 3 studies"),
    (dict(yi=[1, 2, 3], vi=[1, 1, 1], x=[1, 1, 1]), "one value only"),
    (dict(yi=[1, 2, 3], vi=[1, 0, 1], x=[0, 1, 2]), "variances positive"),
])
def test_meta_regression_refuses_what_it_cannot_fit(kw, message):
    with pytest.raises(ValueError, match=message):
        meta_regression(**kw)


def test_meta_command_fits_a_moderator(cli, tmp_path):
    import json

    run = cli(["meta", str(ROOT / "examples" / "bcg.csv"), "--moderator", "year", "--json"])
    assert run.code == 0, run.err
    info = json.loads(run.out)["moderator"]
    assert {"intercept", "slope", "slope_se", "slope_ci_low", "slope_ci_high", "tau2",
            "r2"} <= set(info)
    run = cli(["meta", str(ROOT / "examples" / "bcg.csv"), "--moderator", "nope"])
    assert run.code == 2 and "--moderator: expected a numeric column" in run.err
    run = cli(["meta", str(ROOT / "examples" / "bcg.csv"), "--moderator", "year",
               "--method", "DL"])
    assert run.code == 2 and "REML with --moderator" in run.err
