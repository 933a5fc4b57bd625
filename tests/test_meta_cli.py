import json

import pytest

from strainsim.app.cli import main
from strainsim.errors import InputError
from strainsim.stats.study_tables import read_meta_csv


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, text, name="studies.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


COUNTS = "study,events_t,n_t,events_c,n_c\nA,12,50,8,50\nB,20,60,15,58\nC,0,30,3,31\n"
MEANS = "study,mean_t,sd_t,n_t,mean_c,sd_c,n_c\nA,-20,15,40,-12,14,38\nB,-18,12,55,-15,13,50\n"
YIVI = "study,yi,vi\nA,0.2,0.04\nB,0.5,0.09\nC,-0.1,0.05\n"


def test_meta_json_keys_and_or_fields(tmp_path, capsys):
    code, out, _ = run(["meta", str(write(tmp_path, COUNTS)), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    for key in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q", "q_p", "pi_low",
                "pi_high", "k", "or", "or_ci_low", "or_ci_high", "or_pi_low", "or_pi_high"):
        assert key in info
    assert info["k"] == 3 and info["measure"] == "OR" and info["method"] == "REML"
    assert info["or"] == pytest.approx(2.718281828 ** info["estimate"])


@pytest.mark.parametrize("text, argv, measure", [
    (MEANS, [], "MD"), (MEANS, ["--measure", "SMD"], "SMD"), (YIVI, [], "GEN"),
    (COUNTS, ["--method", "MH"], "OR"), (YIVI, ["--test", "knha", "--method", "PM"], "GEN"),
])
def test_meta_layouts_and_options(tmp_path, capsys, text, argv, measure):
    code, out, _ = run(["meta", str(write(tmp_path, text)), "--json", *argv], capsys)
    assert code == 0
    assert json.loads(out)["measure"] == measure


def test_meta_table_and_forest_plot(tmp_path, capsys):
    png = tmp_path / "forest.png"
    svg = tmp_path / "forest.svg"
    code, out, _ = run(["meta", str(write(tmp_path, COUNTS)), "--plot", str(png)], capsys)
    assert code == 0 and "pooled (REML)" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, _, _ = run(["meta", str(write(tmp_path, MEANS)), "--plot", str(svg)], capsys)
    assert code == 0 and "<svg" in svg.read_text()


@pytest.mark.parametrize("text, fragment", [
    ("study,yi\nA,1\n", "header: expected columns study,yi,vi or"),
    ("study,yi,vi\nA,0.1,-0.2\n", "row 2, column 'vi': expected a positive sampling variance"),
    ("study,mean_t,sd_t,n_t,mean_c,sd_c,n_c\nA,1,-2,10,1,1,10\n",
     "row 2, column 'sd_t': expected a standard deviation >= 0"),
    ("study,events_t,n_t,events_c,n_c\nA,12,50,8,50\nB,70,60,15,58\n",
     "row 3, column 'events_t': expected events between 0 and n_t"),
    ("study,events_t,n_t,events_c,n_c\nA,0,0,8,50\n",
     "row 2, column 'n_t': expected a positive number of patients"),
    ("study,events_t,n_t,events_c,n_c\nA,1.5,10,8,50\n", "expected a whole number of events"),
    ("study,yi,vi\nA,abc,0.1\n", "row 2, column 'yi': expected a number, found 'abc'"),
    ("", "empty file"),
    ("study,yi,vi\n", "at least one data row"),
])
def test_bad_tables_exit_2_with_one_line(tmp_path, capsys, text, fragment):
    path = write(tmp_path, text)
    png = tmp_path / "never.png"
    code, out, err = run(["meta", str(path), "--plot", str(png)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err, err
    assert not png.exists()


@pytest.mark.parametrize("text, argv, fragment", [
    (COUNTS, ["--measure", "MD"], "option --measure"),
    (YIVI, ["--method", "MH"], "2x2 counts"),
    (YIVI, ["--method", "XX"], "'--method'"),
    ("study,yi,vi\nA,0.1,0.2\n", ["--test", "knha"], "at least 2 studies"),
])
def test_bad_combinations_exit_2(tmp_path, capsys, text, argv, fragment):
    code, _, err = run(["meta", str(write(tmp_path, text)), *argv], capsys)
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_reader_returns_effects(tmp_path):
    effects = read_meta_csv(write(tmp_path, MEANS))
    assert effects.study == ("A", "B") and effects.measure == "MD"
    assert effects.yi[0] == pytest.approx(-8.0)
    with pytest.raises(InputError):
        read_meta_csv(tmp_path / "missing.csv")


BOTH = ("study,yi,vi,events_t,n_t,events_c,n_c\n"
        "A,0.9,0.04,12,50,8,50\nB,0.2,0.09,20,60,15,58\nC,-0.5,0.05,0,30,3,31\n")


def test_a_table_with_two_layouts_needs_layout(tmp_path, capsys):
    path = write(tmp_path, BOTH)
    for command in (["meta", str(path)], ["tsa", str(path), "--effect", "1.5"]):
        code, out, err = run(command, capsys)
        assert code == 2 and out == ""
        assert err.strip().endswith("expected the columns of one layout, or --layout naming "
                                    "which to read, found the columns of yi-vi and counts")
    # naming one reads that one: the counts give the same pooled OR as the counts alone
    code, out, _ = run(["meta", str(path), "--layout", "counts", "--json"], capsys)
    alone, counts_only, _ = run(["meta", str(write(tmp_path, COUNTS, "c.csv")), "--json"], capsys)
    assert code == alone == 0 and json.loads(out)["estimate"] == json.loads(counts_only)["estimate"]
    code, out, _ = run(["meta", str(path), "--layout", "yi-vi", "--json"], capsys)
    assert code == 0 and json.loads(out)["k"] == 3
    # a layout the table does not hold is one line too
    code, _, err = run(["meta", str(path), "--layout", "means"], capsys)
    assert code == 2 and "expected the means columns study,mean_t" in err
