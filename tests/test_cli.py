import json
import subprocess
import sys

import numpy as np
import pytest

from strainsim.app.cli import main
from strainsim.measure.exports import write_strain_csv


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def export(tmp_path):
    time_ms = np.arange(49) * 1000 / 60
    k = np.arange(49)
    centres = np.full(17, 20.0)
    centres[10] = 32.0  # segment 11 latest
    strain = 22 * np.exp(-0.5 * ((k[None, :] - centres[:, None]) / 4) ** 2)
    strain[3] *= 0.2     # segment 4 scar
    path = tmp_path / "patient.csv"
    write_strain_csv(path, strain, time_ms)
    return path


def test_ttp_json_schema(export, capsys):
    code, out, err = run(["ttp", str(export), "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["latest_segment"] == 11 and info["latest_name"] == "mid inferolateral"
    assert len(info["segments"]) == 17
    assert set(info["segments"][0]) == {"segment", "name", "ttp_ms", "peak_strain", "viable",
                                        "missing"}
    seg4 = info["segments"][3]
    assert seg4["viable"] is False and seg4["peak_strain"] == pytest.approx(4.4, abs=0.1)
    assert info["segments"][10]["ttp_ms"] == pytest.approx(32 * 1000 / 60, abs=0.1)
    assert set(info["dyssynchrony"]) == {"sd_ttp_ms", "maxmin_ttp_ms", "septal_lateral_ms"}


def test_ttp_table_and_plot(export, tmp_path, capsys):
    png = tmp_path / "fig.png"
    code, out, _ = run(["ttp", str(export), "--plot", str(png)], capsys)
    assert code == 0
    assert "latest viable segment: 11" in out and "mid inferolateral" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_longitudinal_and_batches(tmp_path, capsys):
    k = np.arange(40)
    centres = np.tile(np.arange(10, 27, 1.0), (3, 1))
    strain = -18 * np.exp(-0.5 * ((k[None, None, :] - centres[:, :, None]) / 3) ** 2)
    path = tmp_path / "batch.npz"
    np.savez(path, strain=strain, time_ms=k * 20.0)
    code, out, _ = run(["ttp", str(path), "--strain", "longitudinal", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["n_patients"] == 3
    assert [p["latest_segment"] for p in info["patients"]] == [17, 17, 17]
    code, out, _ = run(["ttp", str(path), "--strain", "longitudinal"], capsys)
    assert code == 0 and "3 patients" in out


def test_no_viable_segment_gives_null(tmp_path, capsys):
    path = tmp_path / "flat.csv"
    write_strain_csv(path, np.ones((17, 10)), np.arange(10) * 20.0)
    code, out, _ = run(["ttp", str(path), "--json"], capsys)
    assert code == 0 and json.loads(out)["latest_segment"] is None


@pytest.mark.parametrize("content, fragment", [
    ("", "empty file"),
    ("time_ms,1,2\n0,1,2\n", "no column for segment 3"),
    ("time_ms," + ",".join(map(str, range(1, 18))) + "\n0" + ",1" * 17 + "\n", "at least 4"),
])
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    plot = tmp_path / "never.png"
    code, out, err = run(["ttp", str(path), "--plot", str(plot)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err and str(path) in err
    assert not plot.exists()


@pytest.mark.parametrize("argv, fragment", [
    (["ttp", "x.csv", "--strain", "circumferential"], "'--strain'"),
    (["ttp", "x.csv", "--smooth-ms", "-5"], "option --smooth-ms"),
    (["ttp", "x.csv", "--plot", "fig.gif"], "option --plot"),
    (["curves", "--scar", "4,99"], "option --scar"),
    (["curves", "--fps", "2"], "option --fps"),
    (["nonsense"], "No such command"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and fragment in err


def test_curves_simulates_and_exports(tmp_path, capsys):
    csv = tmp_path / "sim.csv"
    png = tmp_path / "sim.png"
    code, out, _ = run(["curves", "--seed", "3", "--scar", "4,10", "--json", "--csv", str(csv),
                        "--plot", str(png)], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["scar_segments"] == [4, 10]
    assert not info["segments"][3]["viable"] and not info["segments"][9]["viable"]
    assert png.exists()
    # the exported CSV measures the same as the simulation
    code, out2, _ = run(["ttp", str(csv), "--json"], capsys)
    again = json.loads(out2)
    assert again["latest_segment"] == info["latest_segment"]
    for a, b in zip(again["segments"], info["segments"], strict=True):
        assert a["ttp_ms"] == pytest.approx(b["ttp_ms"], abs=0.05)
    # same seed, same patient
    code, out3, _ = run(["curves", "--seed", "3", "--scar", "4,10", "--json"], capsys)
    assert json.loads(out3)["segments"] == info["segments"]


def test_console_script_help_runs():
    done = subprocess.run([sys.executable, "-m", "strainsim", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "ttp" in done.stdout
    # --help must not pull in the heavy modules
    probe = subprocess.run([sys.executable, "-c",
                            "import sys; from strainsim.app.cli import main\n"
                            "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
                            "print(sorted(m for m in ('numba', 'matplotlib', 'scipy', 'skimage')"
                            " if m in sys.modules))"], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip().splitlines()[-1] == "[]"
