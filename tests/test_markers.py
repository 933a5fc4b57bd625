"""Activation markers: the kernel against its numpy reference, and each marker against
what it should find on curves whose timing is known."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import marker_times_numpy

from strainsim.measure.engine import measure
from strainsim.measure.markers import measure_marker
from strainsim.model.activation import simulate_activation
from strainsim.model.curves import CurveParams, simulate_curves


def _batch(n, seed, fps=60.0, noise=0.5):
    act = simulate_activation(n, np.random.default_rng(seed))
    c = simulate_curves(act.activation_ms, act.scar, np.random.default_rng(seed + 1),
                        CurveParams(fps=fps, noise_sd_pct=noise))
    return act, c


@settings(max_examples=25)
@given(st.integers(1, 20), st.integers(0, 2**31), st.sampled_from(["onset", "xcorr"]),
       st.sampled_from([0.0, 50.0, 100.0]), st.booleans(), st.sampled_from([None, 3, 12]),
       st.sampled_from(["radial", "longitudinal"]))
def test_marker_kernel_equals_its_numpy_reference(n, seed, marker, smooth_ms, holes,
                                                  reference, kind):
    _, c = _batch(n, seed)
    strain = c.strain if kind == "radial" else -c.strain
    if holes:
        rng = np.random.default_rng(seed)
        strain = strain.copy()
        strain[rng.random(strain.shape) < 0.05] = np.nan
        strain[0, 16] = np.nan  # a segment without samples
    kwargs = dict(marker=marker, kind=kind, smooth_ms=smooth_ms, reference=reference)
    fast = measure_marker(strain, c.time_ms, **kwargs).time_ms
    ref = marker_times_numpy(strain, c.time_ms, **kwargs)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_ttp_marker_is_the_engine():
    _, c = _batch(300, 4)
    by_marker = measure_marker(c.strain, c.time_ms, marker="ttp")
    engine = measure(c.strain, c.time_ms)
    np.testing.assert_array_equal(by_marker.latest_segment, engine.latest_segment)
    np.testing.assert_array_equal(by_marker.time_ms, engine.ttp_ms)


def test_onset_finds_the_start_of_thickening():
    """Noise-free curves at 500 fps: the 10 % onset lies a fixed time after activation
    + electromechanical delay, where the raised-cosine upstroke reaches 10 %."""
    params = CurveParams(fps=500.0, noise_sd_pct=0.0, drift_sd_pct=0.0)
    act = simulate_activation(50, np.random.default_rng(2))
    c = simulate_curves(act.activation_ms, act.scar, np.random.default_rng(3), params)
    result = measure_marker(c.strain, c.time_ms, marker="onset", smooth_ms=0,
                            scar_threshold_pct=0.5)
    expected = (act.activation_ms + params.emd_ms
                + params.contraction_ms * np.arccos(0.8) / np.pi)
    moving = c.amplitude_pct > 1.0
    np.testing.assert_allclose(result.time_ms[moving], expected[moving], atol=0.5)


def test_xcorr_recovers_shifts():
    t = np.arange(80) * 10.0
    shape = np.exp(-((t - 300.0) / 80.0) ** 2) * 25.0
    shifts = np.arange(17) % 5  # frames
    strain = np.array([[np.roll(shape, k) for k in shifts]])
    result = measure_marker(strain, t, marker="xcorr", smooth_ms=0, reference=1)
    np.testing.assert_allclose(result.time_ms[0], shifts * 10.0, atol=1.0)
    assert result.latest_segment[0] == 5  # the first segment shifted by 4 frames


@pytest.mark.parametrize("kwargs, match", [(dict(marker="peak"), "marker"),
                                           (dict(marker="onset", onset_fraction=1.5),
                                            "onset_fraction"),
                                           (dict(marker="xcorr", reference=18), "reference")])
def test_bad_marker_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_marker(np.zeros((17, 10)), np.arange(10.0), **kwargs)
