"""Group-sequential boundaries against rpact, given the same spending.

``tests/data/tsa_rpact.csv`` holds rpact's boundaries for the designs of
``tests/data/tsa_designs.csv`` (recorded by ``tests/data/rpact_reference.R``); where R
and rpact are installed (``make test`` installs Debian's r-cran-rpact) the script runs
live too. Each spending function is also checked by its formula.
"""

import csv
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from strainsim.stats.sequential import boundaries, futility_design, spending

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def designs() -> dict:
    with open(DATA / "tsa_designs.csv", newline="") as fh:
        return {r["design"]: r for r in csv.DictReader(fh)}


def reference(path: Path) -> dict:
    out: dict = {}
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            out.setdefault(r["design"], []).append(r)
    return out


def ours(d: dict):
    t = [float(x) for x in d["fractions"].split()]
    alpha, beta, kind, gamma = float(d["alpha"]), float(d["beta"]), d["kind"], float(d["gamma"])
    if d["futility"] == "none":
        return boundaries(t, alpha, kind=kind, gamma=gamma), None, None
    design = futility_design(t, alpha, beta, kind=kind, gamma=gamma,
                             binding=d["futility"] == "binding")
    return design.efficacy, design.futility, design.drift ** 2


def check(ref: dict) -> None:
    found = designs()
    assert set(ref) == set(found)
    for name, rows in ref.items():
        eff, fut, shift = ours(found[name])
        np.testing.assert_allclose(eff, [float(r["efficacy"]) for r in rows], atol=1e-3,
                                   err_msg=name)
        if fut is not None:
            np.testing.assert_allclose(fut, [float(r["futility"]) for r in rows], atol=1e-3,
                                       err_msg=name)
            assert shift == pytest.approx(float(rows[0]["shift"]), abs=1e-3), name


def test_boundaries_match_rpact_recorded():
    check(reference(DATA / "tsa_rpact.csv"))


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed here "
                    "(make test installs Debian's r-cran-rpact)")
def test_boundaries_match_rpact_live(tmp_path):
    if subprocess.run(["Rscript", "-e", "library(rpact)"], capture_output=True).returncode:
        pytest.skip("rpact is not installed (Debian: r-cran-rpact)")
    subprocess.run(["Rscript", str(DATA / "rpact_reference.R"), str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    check(reference(tmp_path / "tsa_rpact.csv"))


def test_each_spending_function_by_its_formula():
    t = np.array([0.1, 0.25, 0.5, 0.8, 1.0, 1.3])
    a = 0.05
    np.testing.assert_allclose(spending(t, a, "obf"),
                               2 - 2 * norm.cdf(norm.isf(a / 2) / np.sqrt(np.minimum(t, 1))))
    np.testing.assert_allclose(spending(t, a, "pocock"),
                               a * np.log(1 + (math.e - 1) * np.minimum(t, 1)))
    for gamma in (-4.0, 1.0):
        np.testing.assert_allclose(spending(t, a, "hsd", gamma),
                                   a * (1 - np.exp(-gamma * np.minimum(t, 1)))
                                   / (1 - math.exp(-gamma)))
    np.testing.assert_allclose(spending(t, a, "hsd", 0.0), a * np.minimum(t, 1))
    for kind in ("obf", "pocock", "hsd"):
        spent = spending(t, a, kind)
        assert np.all(np.diff(spent) >= 0) and spent[-1] == pytest.approx(a)
    with pytest.raises(ValueError, match="spending must be one of"):
        spending(t, a, "linear")


def test_a_single_look_is_the_fixed_design():
    assert boundaries([1.0], 0.05, kind="pocock")[0] == pytest.approx(norm.isf(0.025))
    d = futility_design([1.0], 0.05, 0.2)
    assert d.efficacy[0] == pytest.approx(norm.isf(0.025))
    assert d.drift == pytest.approx(norm.isf(0.025) + norm.isf(0.2), abs=1e-6)
    assert d.inflation == pytest.approx(1.0, abs=1e-6)


def test_binding_futility_lowers_the_efficacy_boundaries():
    t = [0.3, 0.6, 1.0]
    binding = futility_design(t, binding=True)
    free = futility_design(t, binding=False)
    assert np.all(binding.efficacy[1:] < free.efficacy[1:])
    assert binding.futility[-1] == binding.efficacy[-1]


def test_tsa_json_carries_the_looks_boundaries_and_adjusted_interval(cli, tmp_path):
    import json

    run = cli(["trial", "--seed", "1", "--out", str(tmp_path / "t")])
    assert run.code == 0, run.err
    table = str(tmp_path / "t" / "lvesv.csv")
    plain = json.loads(cli(["tsa", table, "--effect", "-7.1", "--json"]).out)
    assert {"required_information_size", "adjusted_ci", "looks"} <= set(plain)
    for look in plain["looks"]:
        assert {"information_fraction", "efficacy_z", "futility_z", "cumulative_z"} <= \
            set(look)
        assert look["futility_z"] is None
        assert look["efficacy_z"] < 0            # the side of benefit: a negative MD
    low, high = plain["adjusted_ci"]
    last = plain["looks"][-1]
    assert low < high and high - low > 0
    run = cli(["tsa", table, "--effect", "-7.1", "--futility", "binding", "--json"])
    with_futility = json.loads(run.out)
    assert all(look["futility_z"] is not None for look in with_futility["looks"])
    assert with_futility["inflation"] > 1.0
    pocock = json.loads(cli(["tsa", table, "--effect", "-7.1", "--spending", "pocock",
                             "--json"]).out)
    # Pocock spends early: lower boundaries at the first look than O'Brien-Fleming
    assert abs(pocock["looks"][0]["efficacy_z"]) < abs(plain["looks"][0]["efficacy_z"])
    assert last["cumulative_z"] == pocock["looks"][-1]["cumulative_z"]
    run = cli(["tsa", table, "--effect", "-7.1", "--gamma", "50", "--spending", "hsd"])
    assert run.code == 2 and "--gamma: expected a number in [-20, 20]" in run.err
