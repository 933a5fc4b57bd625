"""Mutated inputs: every command either succeeds or exits 2 with one line, writing nothing.

Hypothesis mutates valid files (CSV strain exports, NPZ batches, TOML specs, study
tables): bytes flipped, cells replaced by odd values, lines dropped or duplicated.
"""

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strainsim.app.cli import main

ODD = ["", "nan", "inf", "-inf", "1e308", "-1e308", "abc", "0x10", "1,2", " ", "NaN", "1e-320",
       "-0", "9" * 400, "\x00", "é", "true"]


def _valid_csv():
    t = np.arange(40) * 20.0
    rows = ["time_ms," + ",".join(str(s) for s in range(1, 18))]
    for tk in t:
        rows.append(f"{tk:g}," + ",".join(
            f"{25 * np.exp(-((tk - 300 - 10 * s) / 120) ** 2):.3f}" for s in range(17)))
    return rows


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_clean(code, err, written):
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("strainsim"), err
        assert "Traceback" not in err
        assert not any(p.exists() for p in written)


fuzz = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@fuzz
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 17), st.sampled_from(ODD)),
                min_size=1, max_size=4),
       st.sampled_from(["none", "drop", "dup", "truncate"]))
def test_mutated_csv_exports(tmp_path_factory, capsys, edits, line_edit):
    folder = tmp_path_factory.mktemp("csv")
    rows = [r.split(",") for r in _valid_csv()]
    for row, col, value in edits:
        rows[row][col] = value
    lines = [",".join(r) for r in rows]
    if line_edit == "drop":
        del lines[5]
    elif line_edit == "dup":
        lines.insert(5, lines[5])
    elif line_edit == "truncate":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    path = folder / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot = folder / "plot.png"
    code, out, err = _run(["ttp", str(path), "--json", "--plot", str(plot)], capsys)
    _assert_clean(code, err, [plot])
    if code == 0:
        json.loads(out)


@fuzz
@given(st.sampled_from(["strain", "time_ms", "patient_id"]),
       st.sampled_from(["shape", "dtype", "nan", "inf", "huge", "drop", "bytes"]))
def test_mutated_npz_batches(tmp_path_factory, capsys, key, mutation):
    folder = tmp_path_factory.mktemp("npz")
    arrays = {"strain": np.random.default_rng(0).normal(10, 5, (3, 17, 30)),
              "time_ms": np.arange(30) * 20.0, "patient_id": np.array(["a", "b", "c"])}
    value = arrays[key]
    if mutation == "shape":
        arrays[key] = value.reshape(-1)[: max(1, value.size - 1)]
    elif mutation == "dtype":
        arrays[key] = value.astype(str) if key != "patient_id" else np.arange(3)
    elif mutation == "nan" and key != "patient_id":
        arrays[key] = np.full(value.shape, np.nan)
    elif mutation == "inf" and key != "patient_id":
        arrays[key] = np.where(np.arange(value.size).reshape(value.shape) == 0, np.inf, value)
    elif mutation == "huge" and key != "patient_id":
        arrays[key] = value * 1e300
    elif mutation == "drop":
        del arrays[key]
    path = folder / "batch.npz"
    if mutation == "bytes":
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = bytearray(buffer.getvalue())
        data[len(data) // 2: len(data) // 2 + 16] = b"\xff" * 16
        path.write_bytes(bytes(data))
    else:
        np.savez(path, **arrays)
    code, out, err = _run(["ttp", str(path), "--json"], capsys)
    _assert_clean(code, err, [])


SPEC = """[trial]
name = "fuzz"
n_image_guided = 20
n_control = 20

[population]
male_fraction = 0.7

[measurement]
fps = 60

[outcomes]
noise_sd_pct = 20.0
"""


@fuzz
@given(st.sampled_from(["male_fraction = 0.7", "fps = 60", "n_control = 20",
                        "noise_sd_pct = 20.0", "[population]", 'name = "fuzz"']),
       st.sampled_from(["male_fraction = 1.4", "fps = nan", "n_control = -3",
                        "noise_sd_pct = inf", "[populations]", "name = 3", "fps = '60'",
                        "male_fraction = ", "n_control = 2.5", "scar_amplitude_pct = 90",
                        "\x00", "fps = 1e999"]))
def test_mutated_specs(tmp_path_factory, capsys, old, new):
    folder = tmp_path_factory.mktemp("spec")
    path = folder / "spec.toml"
    path.write_text(SPEC.replace(old, new, 1), encoding="utf-8")
    out = folder / "out"
    code, _, err = _run(["cohort", str(path), "--out", str(out), "--summary-only"], capsys)
    _assert_clean(code, err, [out])


@fuzz
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 4), st.sampled_from(ODD + ["-5"])),
                min_size=1, max_size=3))
def test_mutated_study_tables(tmp_path_factory, capsys, edits):
    folder = tmp_path_factory.mktemp("meta")
    rows = [["study", "events_t", "n_t", "events_c", "n_c"], ["A", "12", "50", "8", "50"],
            ["B", "20", "60", "15", "58"], ["C", "5", "30", "3", "31"]]
    for row, col, value in edits:
        rows[row][col] = value
    path = folder / "studies.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    plot = folder / "forest.png"
    code, out, err = _run(["meta", str(path), "--json", "--plot", str(plot)], capsys)
    _assert_clean(code, err, [plot])
