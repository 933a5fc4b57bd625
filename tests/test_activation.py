import numpy as np
import pytest

from strainsim.model.activation import (
    ActivationParams,
    ScarParams,
    draw_scar,
    eikonal_activation,
    simulate_activation,
)


def _mean_wall(times, model, walls):
    idx = model.numbers(ring=("basal", "mid"), wall=walls) - 1
    return times[:, idx].mean()


@pytest.mark.parametrize("kind", ["pattern", "eikonal"])
def test_lbbb_septum_early_lateral_late(model, kind):
    n = 2000 if kind == "pattern" else 300
    act = simulate_activation(n, np.random.default_rng(1), ActivationParams(model=kind))
    assert act.activation_ms.shape == (n, 17)
    assert np.all(act.activation_ms >= 0)
    septal = _mean_wall(act.activation_ms, model, ("anteroseptal", "inferoseptal"))
    lateral = _mean_wall(act.activation_ms, model, ("anterolateral", "inferolateral"))
    assert lateral - septal > 25.0  # on average about 36 ms (eikonal), 47 ms (pattern)
    # the latest segment is mostly on the lateral / posterolateral / inferior wall
    latest = act.true_latest_segment
    late_walls = set(model.numbers(wall=("anterolateral", "inferolateral", "inferior",
                                         "lateral")))
    assert np.isin(latest, list(late_walls)).mean() > 0.7


def test_same_seed_same_patients():
    a = simulate_activation(50, np.random.default_rng(7))
    b = simulate_activation(50, np.random.default_rng(7))
    c = simulate_activation(50, np.random.default_rng(8))
    np.testing.assert_array_equal(a.activation_ms, b.activation_ms)
    np.testing.assert_array_equal(a.scar, b.scar)
    assert not np.array_equal(a.activation_ms, c.activation_ms)


def test_scar_is_contiguous_and_in_the_culprit_territory(model):
    params = ScarParams(ischemic_fraction=1.0, ischemic_scar_segments_mean=3.0)
    scar, ischemic = draw_scar(400, np.random.default_rng(3), params, model)
    assert ischemic.all()
    assert np.all(scar.sum(axis=1) >= 1)
    territory = np.array([s.territory for s in model.segments])
    for row in scar:
        segs = np.flatnonzero(row)
        # contiguous: the scar segments form one connected piece of the neighbour graph
        reached = {segs[0]}
        frontier = [segs[0]]
        while frontier:
            cur = frontier.pop()
            for nxt in segs:
                if nxt not in reached and model.adjacency[cur, nxt]:
                    reached.add(nxt)
                    frontier.append(nxt)
        assert reached == set(segs)
        if len(segs) <= 5:  # small scars stay within one territory
            assert len(set(territory[segs])) == 1


def test_no_ischemia_means_little_scar(model):
    params = ScarParams(ischemic_fraction=0.0, nonischemic_scar_probability=0.0)
    scar, ischemic = draw_scar(100, np.random.default_rng(3), params, model)
    assert not ischemic.any() and not scar.any()


def test_pattern_scar_delays_only_the_scar_segments(model):
    from strainsim.model.activation import pattern_activation

    rng = np.random.default_rng(2)
    late, delay = rng.uniform(0, 360, 20), rng.uniform(60, 200, 20)
    jitter = rng.standard_normal((20, 17))
    params = ActivationParams(onset_ms=50.0)
    none = np.zeros((20, 17), bool)
    scar = none.copy()
    scar[:, [4, 10]] = True
    diff = (pattern_activation(late, delay, scar, jitter, params, model)
            - pattern_activation(late, delay, none, jitter, params, model))
    np.testing.assert_allclose(diff[:, [4, 10]], params.scar_delay_ms)
    np.testing.assert_allclose(np.delete(diff, [4, 10, 16], axis=1), 0.0)


def test_eikonal_scar_slows_and_blocks_conduction(model):
    params = ActivationParams(model="eikonal")
    late = np.array([0.0])  # late site lateral, breakthrough septal
    velocity = np.array([0.45])
    none = np.zeros((1, 17), bool)
    lateral_scar = none.copy()
    lateral_scar[0, [11, 12]] = True  # segments 12 (mid anterolateral) and 13 (apical anterior)
    free = eikonal_activation(late, velocity, none, params, model)
    slow = eikonal_activation(late, velocity, lateral_scar, params, model)
    blocked = eikonal_activation(late, velocity, lateral_scar,
                                 ActivationParams(model="eikonal", scar_conduction=0.0), model)
    # the scar segments themselves activate later when they conduct slowly
    assert np.all(slow[0, [11, 12]] > free[0, [11, 12]])
    # segments that are not beyond the scar are unaffected
    assert slow[0, 1] == pytest.approx(free[0, 1]) and slow[0, 2] == pytest.approx(free[0, 2])
    # with a block the front detours: the segment behind it (6, basal anterolateral) is later
    assert blocked[0, 5] >= free[0, 5]
    assert np.all(np.isfinite(blocked))
    # septal-to-lateral delay scales inversely with conduction velocity
    fast = eikonal_activation(late, velocity * 2, none, params, model)
    d_free = free[0, 5] - free[0, 1]
    d_fast = fast[0, 5] - fast[0, 1]
    assert d_fast == pytest.approx(d_free / 2, rel=0.05)


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError):
        ActivationParams(model="magic")
    with pytest.raises(ValueError):
        ScarParams(territory_weights=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError):
        ActivationParams(scar_conduction=2.0)


@pytest.mark.parametrize("kind", ["pattern", "eikonal"])
def test_a_given_scar_replaces_the_drawn_one_and_keeps_the_other_draws(kind):
    params = ActivationParams(model=kind)
    drawn = simulate_activation(3, np.random.default_rng(6), params)
    scar = np.zeros((3, 17), bool)
    scar[:, 4] = True
    given = simulate_activation(3, np.random.default_rng(6), params, scar=scar)
    np.testing.assert_array_equal(given.scar, scar)
    np.testing.assert_array_equal(given.late_angle_deg, drawn.late_angle_deg)
    same = simulate_activation(3, np.random.default_rng(6), params, scar=drawn.scar)
    np.testing.assert_allclose(same.activation_ms, drawn.activation_ms)
