import csv
import json

import pytest

from strainsim.app.cli import main


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cohort_writes_patient_table_and_summary(tmp_path, capsys):
    code, out, _ = run(["cohort", "starter", "--seed", "2", "--out", str(tmp_path)], capsys)
    assert code == 0 and "STARTER" in out
    rows = list(csv.DictReader((tmp_path / "patients.csv").open()))
    assert len(rows) == 187
    assert {r["arm"] for r in rows} == {"image-guided", "control"}
    assert {r["lead_vs_true"] for r in rows} <= {"concordant", "adjacent", "remote", "none"}
    assert {(r["arm"], r["strategy"]) for r in rows} == {("image-guided", "ste"),
                                                         ("control", "empirical")}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["image_guided"]["n"] == 110 and summary["control"]["n"] == 77


def test_trial_json_forest_plots_and_same_seed(tmp_path, capsys):
    argv = ["trial", "target", "starter", "--seed", "5", "--out", str(tmp_path), "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    info = json.loads(out)
    assert set(info["pooled"]) == {"nyha", "lvesv", "lvedv", "lvef"}
    assert info["pooled"]["nyha"]["k"] == 2 and "or" in info["pooled"]["nyha"]
    for key in info["pooled"]:
        assert (tmp_path / f"forest_{key}.png").exists()
    code, again, _ = run(argv, capsys)
    assert json.loads(again) == info


def test_trial_table_names_each_arms_strategy(tmp_path, capsys):
    code, _, _ = run(["trial", "imagingcrt", "electrocrt", "--seed", "5", "--out",
                      str(tmp_path)], capsys)
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert [(r["trial"], r["arm"], r["strategy"]) for r in rows] == [
        ("ImagingCRT", "image-guided", "multimodality"), ("ImagingCRT", "control", "empirical"),
        ("ElectroCRT", "image-guided", "multimodality"), ("ElectroCRT", "control", "electrical")]
    for r in rows:  # classes against the arm's target and against the truth add up
        for against in ("measured", "true"):
            assert sum(float(r[f"{c}_{against}"]) for c in ("concordant", "adjacent",
                                                            "remote")) == pytest.approx(1.0, abs=1e-5)


def test_sweep_small_run_writes_outputs(tmp_path, capsys):
    code, out, _ = run(["sweep", "--levels", "0.3,1", "--replicates", "3", "--workers", "1", "--out",
                        str(tmp_path), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert [row["concordance"] for row in info["levels"][1:]] == [0.3, 1.0]
    assert [row["world"] for row in info["levels"]] == ["calibrated", "what-if", "what-if"]
    own = info["levels"][0]["concordance"]     # the calibrated world's achieved concordance
    assert 0.3 < own < 0.7
    assert (tmp_path / "sweep.png").exists() and (tmp_path / "sweep.csv").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["sweep", "--levels", "0.2,abc"], "option --levels"),
    (["sweep", "--levels", "1.5"], "fractions in [0, 1]"),
    (["sweep", "--replicates", "0"], "option --replicates"),
    (["sweep", "--workers", "0"], "option --workers"),
    (["sweep", "--replicates", "1", "--scheduler", "bogus://x"], "option --scheduler"),
    (["trial", "no_such_trial"], "no_such_trial: expected an existing TOML file"),
    (["trial", "target", "--method", "MH"], "option --method"),
    (["cohort", "nowhere.toml"], "nowhere.toml"),
])
def test_bad_options_and_specs_exit_2(tmp_path, capsys, argv, fragment):
    code, out, err = run([*argv, "--out", str(tmp_path / "o")] if argv[0] != "x" else argv,
                         capsys)
    assert code == 2 and fragment in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_bad_spec_file_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text('[trial]\nname = "x"\nn_image_guided = 10\nn_control = -3\n')
    code, _, err = run(["cohort", str(spec), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert f"{spec}: trial.n_control: expected a whole number in [2, 1e+07] patients, found -3" in err


@pytest.mark.slow
def test_trial_on_two_workers_and_cohort_blocks_give_the_same_numbers(tmp_path, capsys):
    argv = ["trial", "target", "starter", "--seed", "8", "--json"]
    code, one, _ = run([*argv, "--out", str(tmp_path / "a")], capsys)
    code2, two, _ = run([*argv, "--out", str(tmp_path / "b"), "--workers", "2"], capsys)
    assert code == code2 == 0 and json.loads(one) == json.loads(two)
    run(["cohort", "starter", "--out", str(tmp_path / "c"), "--block-size", "100"], capsys)
    run(["cohort", "starter", "--out", str(tmp_path / "d")], capsys)
    assert (tmp_path / "c" / "patients.csv").read_text() == \
        (tmp_path / "d" / "patients.csv").read_text()


def test_cohort_summary_only_streams(tmp_path, capsys):
    code, out, _ = run(["cohort", "target", "--seed", "4", "--summary-only", "--out",
                        str(tmp_path)], capsys)
    assert code == 0 and not (tmp_path / "patients.csv").exists()
    streamed = json.loads((tmp_path / "summary.json").read_text())
    run(["cohort", "target", "--seed", "4", "--out", str(tmp_path / "full")], capsys)
    full = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert streamed["image_guided"]["nyha_improved"] == full["image_guided"]["nyha_improved"]
    assert streamed["control"]["esv_change_mean"] == pytest.approx(
        full["control"]["esv_change_mean"], rel=1e-12)


def test_cohort_summary_only_on_workers_is_identical(tmp_path, capsys):
    argv = ["cohort", "starter", "--seed", "6", "--summary-only", "--block-size", "256"]
    assert run([*argv, "--out", str(tmp_path / "a")], capsys)[0] == 0
    assert run([*argv, "--out", str(tmp_path / "b"), "--workers", "2"], capsys)[0] == 0
    assert (tmp_path / "a" / "summary.json").read_text() == \
        (tmp_path / "b" / "summary.json").read_text()
    code, _, err = run(["cohort", "starter", "--workers", "2", "--out", str(tmp_path / "c")],
                       capsys)
    assert code == 2 and "--summary-only" in err
