import numpy as np
import pytest

from strainsim.errors import InputError
from strainsim.resources import data_path
from strainsim.segments import N_SEGMENTS, load_segments


def test_seventeen_segments_in_order(model):
    assert [s.number for s in model.segments] == list(range(1, 18))
    assert model.name_of(1) == "basal anterior"
    assert model.name_of(11) == "mid inferolateral"
    assert model.name_of(17) == "apex"
    assert [len(model.numbers(ring=r)) for r in ("basal", "mid", "apical", "apex")] == [6, 6, 4, 1]


def test_coronary_territories_follow_cerqueira(model):
    by = {t: sorted(s.number for s in model.segments if s.territory == t)
          for t in ("LAD", "LCx", "RCA")}
    assert by == {"LAD": [1, 2, 7, 8, 13, 14, 17], "LCx": [5, 6, 11, 12, 16],
                  "RCA": [3, 4, 9, 10, 15]}


def test_neighbours_are_exactly_the_segments_sharing_a_bullseye_edge(model):
    size = 401
    grid = model.label_grid(size)
    shared = np.zeros((N_SEGMENTS + 1, N_SEGMENTS + 1), dtype=int)
    for a, b in ((grid[:, :-1], grid[:, 1:]), (grid[:-1, :], grid[1:, :])):
        differ = (a != b) & (a > 0) & (b > 0)
        np.add.at(shared, (a[differ], b[differ]), 1)
    shared = shared + shared.T
    # an edge of positive length gives many boundary pixels; a corner only a few
    geometric = shared[1:, 1:] > 6
    np.testing.assert_array_equal(geometric, model.adjacency)


def test_hops_form_a_metric_consistent_with_adjacency(model):
    hops = model.hops
    assert np.all(np.diag(hops) == 0)
    assert np.array_equal(hops, hops.T)
    assert np.array_equal(hops == 1, model.adjacency)
    assert hops.min() >= 0
    for k in range(N_SEGMENTS):  # triangle inequality
        assert np.all(hops <= hops[:, [k]] + hops[[k], :])
    assert hops[4, 10] == 1 and hops[4, 5] == 1 and hops[4, 1] == 3


def test_label_grid_covers_the_disc_exactly(model):
    size = 101
    grid = model.label_grid(size)
    c = (np.arange(size) + 0.5) / size * 2 - 1
    r = np.hypot(c[None, :], c[:, None])
    assert np.all((grid > 0) == (r < 1))
    assert set(np.unique(grid[grid > 0])) == set(range(1, 18))
    # anterior at the top, septum on the left, lateral on the right
    assert grid[2, size // 2] == 1
    assert grid[size // 2, 2] in (2, 3) and grid[size // 2, -3] in (5, 6)


def test_vein_access_reaches_lateral_wall_but_not_the_apex(model):
    access = model.vein_access()
    assert access.shape == (len(model.veins), 17)
    assert not access[:, 16].any()
    lateral = model.numbers(ring=("basal", "mid"), wall=("anterolateral", "inferolateral"))
    assert access[:, lateral - 1].any(axis=0).all()
    assert all(0 <= v.prevalence <= 1 for v in model.veins)


@pytest.mark.parametrize("label, number", [("5", 5), (" 17 ", 17), ("Basal Inferolateral", 5),
                                           ("mid_anterolateral", 12), ("apical-septal", 14)])
def test_number_of_accepts_numbers_and_names(model, label, number):
    assert model.number_of(label) == number


def test_number_of_rejects_unknown(model):
    with pytest.raises(KeyError):
        model.number_of("lateral apex")


def _write_variant(tmp_path, old, new):
    text = data_path("segments", "aha17.toml").read_text()
    assert old in text
    path = tmp_path / "model.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, field", [
    ("neighbours = [2, 6, 7]", "neighbours = [2, 6]", "neighbours"),
    ('territory = "LAD"', 'territory = "LMCA"', "segment[1].territory"),
    ('ring = "basal"', 'ring = "equator"', "segment[1].ring"),
    ("prevalence = 0.95", "prevalence = 1.5", "veins.anterior_interventricular.prevalence"),
    ('veins = ["anterior_interventricular", "anterolateral"]', 'veins = ["great"]',
     "segment[1].veins"),
])
def test_malformed_model_names_file_and_field(tmp_path, old, new, field):
    path = _write_variant(tmp_path, old, new)
    with pytest.raises(InputError) as err:
        load_segments(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_missing_or_invalid_toml(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_segments(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    with pytest.raises(InputError, match="valid TOML"):
        load_segments(bad)


def test_usual_segments_are_reachable_through_their_vein(model):
    access = model.vein_access()
    for i, vein in enumerate(model.veins):
        assert vein.usual, vein.key
        assert all(access[i, k - 1] for k in vein.usual), vein.key
