import numpy as np
import pytest

from strainsim.errors import InputError
from strainsim.files import write_text_atomic
from strainsim.measure.exports import read_strain, write_strain_csv


def _csv(tmp_path, header, rows, name="export.csv"):
    path = tmp_path / name
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _frames(n_frames=10, n_seg=17):
    t = np.arange(n_frames) * 20.0
    values = np.sin(np.arange(n_frames)[:, None] / 3.0 + np.arange(n_seg)[None, :]) * 20
    return [[t[k], *values[k]] for k in range(n_frames)]


def test_csv_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    strain = rng.normal(0, 10, (17, 12))
    time_ms = np.arange(12) * 1000 / 60
    path = tmp_path / "p.csv"
    write_strain_csv(path, strain, time_ms)
    rec = read_strain(path)
    np.testing.assert_allclose(rec.strain[0], strain, atol=1e-4)
    np.testing.assert_allclose(rec.time_ms, time_ms, atol=1e-3)
    assert rec.fps == pytest.approx(60.0, rel=1e-4)
    assert rec.segments_in_file == tuple(range(1, 18))


def test_csv_with_aha_names_in_any_order_and_without_apex(tmp_path, model):
    names = [model.name_of(k).replace(" ", "_").title() for k in range(16, 0, -1)]
    rows = _frames(n_seg=16)
    path = _csv(tmp_path, ["time_ms", *names], rows)
    rec = read_strain(path)
    assert rec.segments_in_file == tuple(range(1, 17))
    assert np.all(np.isnan(rec.strain[0, 16]))
    # column j holds segment 16 - j
    np.testing.assert_allclose(rec.strain[0, 15], [r[1] for r in rows])
    np.testing.assert_allclose(rec.strain[0, 0], [r[16] for r in rows])


def test_csv_missing_cells_are_nan(tmp_path):
    rows = _frames()
    rows[3][5] = ""
    rows[4][5] = "NaN"
    rec = read_strain(_csv(tmp_path, ["time_ms", *map(str, range(1, 18))], rows))
    assert np.isnan(rec.strain[0, 4, 3]) and np.isnan(rec.strain[0, 4, 4])


HEADER = ["time_ms", *map(str, range(1, 18))]


@pytest.mark.parametrize("mutate, match", [
    (lambda h, r: (h[:5] + h[6:], [row[:5] + row[6:] for row in r]),
     "header: expected columns for segments 1-16 .* no column for segment 5"),
    (lambda h, r: (h, r[:3]), "rows: expected at least 4 frames, found 3"),
    (lambda h, r: (h, [r[0], r[1], [r[2][0], "abc", *r[2][2:]], *r[3:]]),
     r"row 4, column '1': expected a number, found 'abc'"),
    (lambda h, r: (h, [r[0], r[2], r[1], *r[3:]]),
     "column 'time_ms': expected strictly increasing times"),
    (lambda h, r: (["t", *h[1:]], r), "header: expected 'time_ms' as the first column"),
    (lambda h, r: ([*h[:-1], "left ventricle"], r), "column 'left ventricle': expected a segment"),
    (lambda h, r: ([*h[:-1], "5"], r), "column '5': expected each segment once"),
    (lambda h, r: (h, [r[0], r[1][:-2], *r[2:]]), "row 3: expected 18 cells, found 16"),
    (lambda h, r: (h, [r[0], ["", *r[1][1:]], *r[2:]]), "row 3, column 'time_ms'"),
])
def test_malformed_csv_gives_one_clear_line(tmp_path, mutate, match):
    header, rows = mutate(list(HEADER), [list(r) for r in _frames()])
    path = _csv(tmp_path, header, rows)
    with pytest.raises(InputError, match=match) as err:
        read_strain(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_strain(empty)
    with pytest.raises(InputError, match="no such file"):
        read_strain(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="extension"):
        read_strain(tmp_path / "data.xlsx")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="UTF-8"):
        read_strain(binary)


def test_npz_batches(tmp_path):
    strain = np.random.default_rng(1).normal(0, 10, (3, 16, 20))
    path = tmp_path / "batch.npz"
    np.savez(path, strain=strain, time_ms=np.arange(20) * 20.0,
             patient_id=np.array(["a", "b", "c"]))
    rec = read_strain(path)
    assert rec.strain.shape == (3, 17, 20) and np.all(np.isnan(rec.strain[:, 16]))
    assert rec.patient_id == ("a", "b", "c")


@pytest.mark.parametrize("arrays, match", [
    (dict(strain=np.zeros((2, 17, 10))), "array 'time_ms': expected present"),
    (dict(strain=np.zeros((2, 15, 10)), time_ms=np.arange(10.0)), "shape \\(N, 17, T\\)"),
    (dict(strain=np.zeros((2, 17, 10)), time_ms=np.arange(9.0)), "array 'time_ms'"),
    (dict(strain=np.zeros((2, 17, 10)), time_ms=np.arange(10.0)[::-1].copy()),
     "strictly increasing"),
    (dict(strain=np.zeros((2, 17, 3)), time_ms=np.arange(3.0)), "at least 4 frames"),
])
def test_malformed_npz(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=match):
        read_strain(path)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="NumPy .npz"):
        read_strain(path)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "first")

    class Boom(Exception):
        pass

    from strainsim.files import atomic_path

    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise Boom
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_npy_saved_as_npz(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros((17, 10)))
    with pytest.raises(InputError, match="single .npy array"):
        read_strain(path)


def test_row_numbers_count_blank_lines(tmp_path):
    rows = _frames()
    path = tmp_path / "gaps.csv"
    text = ",".join(HEADER) + "\n\n" + "\n".join(",".join(str(v) for v in r) for r in rows[:3])
    text += "\n" + ",".join([str(rows[3][0]), "oops", *map(str, rows[3][2:])]) + "\n"
    path.write_text(text)
    with pytest.raises(InputError, match="row 6, column '1'"):
        read_strain(path)


def test_npz_batches_are_read_in_chunks(tmp_path):
    from strainsim.measure.exports import iter_strain_npz, read_strain_npz

    rng = np.random.default_rng(4)
    path = tmp_path / "batch.npz"
    strain = rng.normal(10, 5, (7, 16, 30)).astype(np.float32)
    np.savez_compressed(path, strain=strain, time_ms=np.arange(30) * 20.0,
                        patient_id=np.array([f"p{i}" for i in range(7)]))
    whole = read_strain_npz(path)
    chunks = list(iter_strain_npz(path, chunk_patients=3))
    assert [len(c.patient_id) for c in chunks] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([c.strain for c in chunks]), whole.strain)
    assert whole.strain.shape == (7, 17, 30) and np.isnan(whole.strain[:, 16]).all()
    assert sum((c.patient_id for c in chunks), ()) == whole.patient_id
