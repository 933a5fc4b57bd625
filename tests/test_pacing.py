"""Paced activation on the segment graph, by its properties: pacing never delays a
segment, the leads' segments activate at capture, the fronts follow shortest paths
(checked against scipy's Dijkstra on the same edge times), scar slows them, a
lateral lead shortens LBBB activation more than a septal one, and the late wall's
share removed (what remodelling follows) is taken over the latest viable third."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from strainsim.model.activation import simulate_activation
from strainsim.model.pacing import PacingParams, paced_activation, pacing_record

LATE = 1e4  # an intrinsic time no front is slower than


def graph_times(model, params, scar_row, sources):
    """Shortest arrival from the sources (segment numbers, start ms) with scipy."""
    rec = pacing_record(params, model)
    slow = np.where(scar_row, rec.scar_factor, 1.0)
    weights = np.where(rec.adjacency, 0.5 * rec.edge_ms * (slow[:, None] + slow[None, :]), 0)
    best = np.full(17, np.inf)
    for segment, start in sources:
        best = np.minimum(best, start + dijkstra(weights, indices=segment - 1))
    return best


@given(st.lists(st.booleans(), min_size=17, max_size=17), st.integers(1, 17),
       st.sampled_from([0.25, 0.5, 1.0]))
def test_fronts_follow_the_shortest_paths_of_the_segment_graph(model, scar_row, lead, speed):
    params = PacingParams(velocity_mm_per_ms=speed)
    scar = np.array(scar_row)[None, :]
    paced = paced_activation(np.full((1, 17), LATE), scar, np.array([lead]), params, model)
    delay = params.scar_capture_delay_ms if scar[0, lead - 1] else 0.0
    expected = graph_times(model, params, scar[0], [(params.rv_segment, params.rv_delay_ms),
                                                     (lead, delay)])
    np.testing.assert_allclose(paced.paced_ms[0], expected, rtol=1e-12)


def has_lv(lead):
    return lead > 0


def test_pacing_never_delays_and_captures_at_the_leads(model):
    act = simulate_activation(500, np.random.default_rng(3))
    lead = np.random.default_rng(4).integers(1, 18, 500)
    lead[::25] = -1                                           # no LV lead: RV only
    paced = paced_activation(act.activation_ms, act.scar, lead, PacingParams(), model)
    assert np.all(paced.paced_ms <= act.activation_ms)
    assert np.all(paced.reduction_ms >= 0)
    rv = PacingParams().rv_segment - 1
    np.testing.assert_array_equal(paced.paced_ms[:, rv][~has_lv(lead)],
                                  np.minimum(PacingParams().rv_delay_ms,
                                             act.activation_ms[:, rv])[~has_lv(lead)])
    has = lead > 0
    at_lead = paced.paced_ms[np.flatnonzero(has), lead[has] - 1]
    on_scar = act.scar[np.flatnonzero(has), lead[has] - 1]
    expected = np.where(on_scar, np.minimum(PacingParams().scar_capture_delay_ms,
                                            act.activation_ms[np.flatnonzero(has),
                                                              lead[has] - 1]), 0.0)
    assert np.all(at_lead <= expected + 1e-12)
    np.testing.assert_allclose(paced.total_intrinsic_ms, act.activation_ms.max(axis=1))


def test_scar_slows_the_fronts(model):
    params = PacingParams()
    healthy = paced_activation(np.full((1, 17), LATE), np.zeros((1, 17), bool),
                               np.array([5]), params, model)
    scar = np.zeros((1, 17), bool)
    scar[0, [10, 11, 15]] = True                               # scar next to the lead
    scarred = paced_activation(np.full((1, 17), LATE), scar, np.array([5]), params, model)
    assert np.all(scarred.paced_ms >= healthy.paced_ms - 1e-12)
    assert scarred.total_paced_ms[0] > healthy.total_paced_ms[0]


def test_a_lateral_lead_shortens_lbbb_activation_more_than_a_septal_one(model):
    act = simulate_activation(2000, np.random.default_rng(5))
    n = act.activation_ms.shape[0]
    lateral = paced_activation(act.activation_ms, act.scar, np.full(n, 5), PacingParams(),
                               model)
    septal = paced_activation(act.activation_ms, act.scar, np.full(n, 3), PacingParams(),
                              model)
    # LBBB: the lateral wall is late, so pacing it removes the late tail
    assert lateral.reduction_ms.mean() > septal.reduction_ms.mean() + 10.0
    assert lateral.residual_sd_ms.mean() < septal.residual_sd_ms.mean()


def test_an_arm_summary_carries_the_mean_reduction(model):
    from strainsim.studies.specs import TrialSpec
    from strainsim.studies.trials import simulate_arm

    spec = TrialSpec(name="p", n_image_guided=300, n_control=2)
    arm = simulate_arm(300, True, spec, np.random.SeedSequence(2), keep_patients=True)
    assert arm.summary.activation_time_reduction_mean_ms == pytest.approx(
        arm.pacing.reduction_ms.mean(), rel=1e-12)
    again = paced_activation(arm.patients.activation.activation_ms,
                             arm.patients.activation.scar, arm.placement.lead_segment,
                             spec.pacing, model)
    np.testing.assert_array_equal(again.paced_ms, arm.pacing.paced_ms)


@given(st.lists(st.floats(20.0, 200.0), min_size=17, max_size=17),
       st.lists(st.booleans(), min_size=17, max_size=17), st.integers(1, 17))
def test_the_late_share_removed_is_over_the_latest_third_of_the_viable_basal_mid(
        model, times, scar_row, lead):
    # what remodelling follows: the latest third (at least one) of the viable basal and
    # mid segments by intrinsic activation, and the share of their summed activation
    # time that pacing removes; scar and the apex never count
    intrinsic = np.array(times)[None, :]
    scar = np.array(scar_row)[None, :]
    paced = paced_activation(intrinsic, scar, np.array([lead]), PacingParams(), model)
    share = paced.late_removed_fraction[0]
    viable = [s for s in range(12) if not scar_row[s]]
    if not viable:
        assert share == 0.0
        return
    # latest first, equal times the lower segment first
    order = sorted(viable, key=lambda s: (-times[s], s))
    late = order[:max(1, len(viable) // 3)]
    before = sum(times[s] for s in late)
    after = sum(paced.paced_ms[0, s] for s in late)
    assert share == pytest.approx((before - after) / before, rel=1e-12, abs=1e-12)
    assert 0.0 <= share <= 1.0


def test_a_lead_on_the_late_wall_advances_it_more_than_a_septal_one(model):
    intrinsic = np.full((1, 17), 60.0)
    intrinsic[0, [4, 5, 10, 11]] = 180.0            # a late lateral wall
    no_scar = np.zeros((1, 17), bool)
    share = {lead: paced_activation(intrinsic, no_scar, np.array([lead]), PacingParams(),
                                    model).late_removed_fraction[0] for lead in (3, 9, 5, 11)}
    assert min(share[5], share[11]) > max(share[3], share[9]) + 0.1
    # scar on the late wall takes its segments out of the late third
    scar = no_scar.copy()
    scar[0, [4, 5, 10, 11]] = True
    on_scar = paced_activation(intrinsic, scar, np.array([11]), PacingParams(), model)
    assert on_scar.late_removed_fraction[0] < share[11]
