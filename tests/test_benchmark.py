"""The activation-mapping benchmark: data sets, the scoring rules, a perfect and a wrong
method, and the command line."""

import csv
import json

import numpy as np
import pytest

from strainsim.app.cli import main
from strainsim.studies.benchmark import (
    Predictions,
    Stratum,
    make_dataset,
    read_predictions,
    read_truth,
    score,
    wilson_interval,
    write_predictions,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench") / "data"
    make_dataset(folder, 60, [Stratum(30, 0.5), Stratum(90, 0.5), Stratum(90, 2.0)], seed=3)
    return folder


def test_dataset_files_truth_and_manifest(dataset, capsys):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert [s["name"] for s in manifest["strata"]] == ["fps30_noise0.5", "fps90_noise0.5",
                                                       "fps90_noise2"]
    truth = read_truth(dataset)
    assert len(truth.patient_id) == 180 and len(set(truth.patient_id)) == 180
    # the same patients in every stratum: same truth
    np.testing.assert_array_equal(truth.activation_ms[:60], truth.activation_ms[60:120])
    # each stratum is an export strainsim ttp reads
    assert main(["ttp", str(dataset / "fps90_noise0.5.npz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_patients"] == 60 and info["fps"] == 90.0


def _oracle(truth):
    return Predictions(latest=truth.latest.copy(), times_ms=truth.activation_ms + 123.0,
                       scar=truth.scar.copy(), missing=0)


def test_a_perfect_oracle_scores_perfectly(dataset):
    truth = read_truth(dataset)
    result = score(truth, _oracle(truth))
    for row in result["strata"]:
        assert row["exact"] == 1.0 and row["within_one"] == 1.0
        assert row["time_mae_ms"] == pytest.approx(0.0, abs=1e-9)
        assert row["scar_kappa"] == pytest.approx(1.0)


def test_a_wrong_method_scores_what_chance_gives(dataset):
    truth = read_truth(dataset)
    always_one = Predictions(latest=np.ones_like(truth.latest), times_ms=None, scar=None,
                             missing=0)
    result = score(truth, always_one)["strata"][0]
    assert result["exact"] == pytest.approx(np.mean(truth.latest == 1))
    assert result["exact"] < 0.3 and "time_mae_ms" not in result
    shuffled = _oracle(truth)
    rng = np.random.default_rng(0)
    shuffled.times_ms[:] = rng.permutation(shuffled.times_ms.T).T
    assert score(truth, shuffled)["strata"][0]["time_mae_ms"] > 20.0


def test_predictions_round_trip_and_markers_on_the_command_line(dataset, tmp_path, capsys):
    preds = tmp_path / "ttp.csv"
    assert main(["bench-score", "--truth", str(dataset), "--marker", "ttp",
                 "--write-predictions", str(preds), "--json"]) == 0
    by_marker = json.loads(capsys.readouterr().out)
    assert main(["bench-score", str(preds), "--truth", str(dataset), "--json",
                 "--plot", str(tmp_path / "acc.png")]) == 0
    by_file = json.loads(capsys.readouterr().out)
    for a, b in zip(by_file["strata"], by_marker["strata"], strict=True):
        # the CSV keeps times to 1 us
        assert a.pop("time_mae_ms") == pytest.approx(b.pop("time_mae_ms"), abs=1e-3)
        assert a == b
    assert (tmp_path / "acc.png").stat().st_size > 1000
    with open(preds) as fh:
        header = next(csv.reader(fh))
    assert header[:2] == ["patient_id", "latest_segment"] and "t_17" in header


def test_missing_patients_count_as_wrong(dataset, tmp_path):
    truth = read_truth(dataset)
    path = tmp_path / "few.csv"
    path.write_text("patient_id,latest_segment\n"
                    + "".join(f"{pid},{seg}\n" for pid, seg in
                              zip(truth.patient_id[:30], truth.latest[:30], strict=True)))
    preds = read_predictions(path, truth)
    assert preds.missing == 150
    assert score(truth, preds)["strata"][0]["exact"] == pytest.approx(30 / 180)


@pytest.mark.parametrize("body, fragment", [
    ("patient_id,latest_segment\nnobody,3\n", "a patient of the data set"),
    ("patient_id,latest_segment\n{pid},18\n", "a segment number 1-17"),
    ("patient_id,segment\n{pid},3\n", "'latest_segment' column"),
    ("patient_id,latest_segment\n{pid},3\n{pid},4\n", "each patient once"),
])
def test_bad_predictions_are_one_line_and_exit_2(dataset, tmp_path, capsys, body, fragment):
    pid = read_truth(dataset).patient_id[0]
    path = tmp_path / "bad.csv"
    path.write_text(body.format(pid=pid))
    assert main(["bench-score", str(path), "--truth", str(dataset)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_bench_data_refuses_a_folder_with_files(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("keep me")
    assert main(["bench-data", "--out", str(tmp_path), "--n", "2"]) == 2
    assert "new or empty folder" in capsys.readouterr().err


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((0, 10), (7, 10), (45, 50), (180, 180)):
        np.testing.assert_allclose(wilson_interval(k, n),
                                   proportion_confint(k, n, method="wilson"), atol=1e-12)


def test_write_predictions_reads_back(dataset, tmp_path):
    truth = read_truth(dataset)
    path = tmp_path / "oracle.csv"
    write_predictions(path, truth, _oracle(truth))
    again = read_predictions(path, truth)
    np.testing.assert_array_equal(again.latest, truth.latest)
    np.testing.assert_allclose(again.times_ms, truth.activation_ms + 123.0, atol=1e-3)


def test_a_damaged_truth_folder_is_one_line(dataset, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    (copy / "truth.csv").write_text("")
    assert main(["bench-score", "--truth", str(copy), "--marker", "ttp"]) == 2
    assert "truth.csv" in capsys.readouterr().err
    (copy / "manifest.json").write_text("{not json")
    assert main(["bench-score", "--truth", str(copy), "--marker", "ttp"]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_write_predictions_path_is_checked_before_scoring(dataset, tmp_path, capsys):
    folder = tmp_path / "taken.csv"
    folder.mkdir()
    assert main(["bench-score", "--truth", str(dataset), "--marker", "ttp",
                 "--write-predictions", str(folder)]) == 2
    assert "--write-predictions" in capsys.readouterr().err
