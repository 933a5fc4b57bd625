"""One rule for "the latest segment", used by the engine, the markers, lead placement and
the activation model, checked where it matters: on tied frames.

TTPs are quantised to frames, so two segments often peak on the same frame. The
rule (strainsim.measure.latest) sends a tie to the larger peak magnitude, then to
the lower segment. Every user is compared with the rule written out here in numpy.
"""

import numpy as np
from conftest import placement_inputs
from hypothesis import given
from hypothesis import strategies as st

from strainsim.measure.engine import measure
from strainsim.measure.latest import latest_of
from strainsim.measure.markers import measure_marker
from strainsim.model.activation import Activation
from strainsim.model.placement import PlacementParams, place_leads


def rule(times, ties, allowed):
    """The rule in numpy: largest time, then largest tie-break, then lowest index."""
    out = np.full(times.shape[0], -1)
    for i in range(times.shape[0]):
        ok = allowed[i] & ~np.isnan(times[i])
        if not ok.any():
            continue
        t = np.where(ok, times[i], -np.inf)
        best = ok & (t == t.max())
        tb = np.where(best, ties[i], -np.inf)
        out[i] = int(np.flatnonzero(best & (tb == tb.max()))[0]) + 1
    return out


frames = st.integers(0, 5)  # few distinct frames: ties on almost every patient


@given(st.lists(st.lists(frames, min_size=17, max_size=17), min_size=1, max_size=20),
       st.lists(st.lists(st.sampled_from([4.0, 12.0, 20.0, 20.0, 35.0]), min_size=17,
                         max_size=17), min_size=20, max_size=20),
       st.sampled_from(["radial", "longitudinal"]))
def test_engine_and_markers_break_ties_by_the_rule(peak_frames, amplitudes, kind):
    n = len(peak_frames)
    peak_frames = np.array(peak_frames)
    amplitude = np.array(amplitudes)[:n]
    sign = 1.0 if kind == "radial" else -1.0
    time_ms = np.arange(8) * 50.0
    strain = np.zeros((n, 17, 8))
    i, s = np.indices(peak_frames.shape)
    strain[i, s, peak_frames + 1] = sign * amplitude   # one sample above zero per curve
    measured = measure(strain, time_ms, kind=kind, smooth_ms=0)
    ttp = time_ms[peak_frames + 1]
    np.testing.assert_array_equal(measured.ttp_ms, ttp)
    expected = rule(ttp, amplitude, amplitude >= 10.0)
    np.testing.assert_array_equal(measured.latest_segment, expected)
    marker = measure_marker(strain, time_ms, marker="ttp", kind=kind, smooth_ms=0)
    np.testing.assert_array_equal(marker.latest_segment, expected)
    for k in range(n):
        assert latest_of(ttp[k], amplitude[k], amplitude[k] >= 10.0) == expected[k]


def test_the_multimodality_target_breaks_ties_by_peak_magnitude(model):
    # segments 5 and 6 both peak last on the same frame; 6 contracts more strongly
    n = 3
    ttp = np.full((n, 17), 300.0)
    ttp[:, [4, 5]] = 450.0
    peak = np.full((n, 17), 25.0)
    peak[:, 5] = 32.0
    viable = np.ones((n, 17), bool)
    scar = np.zeros((n, 17), bool)
    measured, activation = placement_inputs(np.full(n, 5), ttp_ms=ttp, viable=viable,
                                            scar=scar, peak_strain=peak)
    reachable = np.ones((n, 17), bool)
    params = PlacementParams(image_guided="multimodality", aim_success=1.0)
    placed = place_leads(True, measured, activation, reachable, np.random.default_rng(0),
                         params, model)
    np.testing.assert_array_equal(placed.target_segment, rule(ttp, peak, viable))
    assert set(placed.target_segment) == {6}


@given(st.lists(st.lists(frames, min_size=17, max_size=17), min_size=1, max_size=30),
       st.lists(st.booleans(), min_size=17, max_size=17))
def test_the_true_latest_segment_follows_the_rule_with_ties_to_the_lower_segment(times,
                                                                                 scar_row):
    times = np.array(times, float) * 10.0
    scar = np.tile(np.array(scar_row), (times.shape[0], 1))
    act = Activation(activation_ms=times, scar=scar, ischemic=np.zeros(len(times), bool),
                     late_angle_deg=np.zeros(len(times)), delay_ms=np.zeros(len(times)))
    expected = rule(times, np.zeros_like(times), ~scar)
    np.testing.assert_array_equal(act.true_latest_segment, expected)
