import numpy as np
import pytest

from strainsim.model.curves import CurveParams, simulate_curves, time_axis


def _patients(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 200, (n, 17)), rng.random((n, 17)) < 0.2


def test_noise_free_curves_peak_at_the_true_time_with_the_right_sign():
    act, scar = _patients(50)
    for kind, sign in (("radial", 1), ("longitudinal", -1)):
        params = CurveParams(kind=kind, fps=500.0, noise_sd_pct=0.0, drift_sd_pct=0.0)
        c = simulate_curves(act, scar, np.random.default_rng(1), params)
        peak_frame = np.argmax(sign * c.strain, axis=2)
        moving = c.amplitude_pct > 0.5  # a zero-amplitude (scar) curve is flat
        np.testing.assert_allclose(c.time_ms[peak_frame][moving], c.true_ttp_ms[moving], atol=2.0)
        peak = np.take_along_axis(c.strain, peak_frame[..., None], axis=2)[..., 0]
        np.testing.assert_allclose(sign * peak, c.amplitude_pct, rtol=2e-4, atol=1e-6)
        np.testing.assert_array_equal(c.true_ttp_ms, act + params.emd_ms + params.contraction_ms)


def test_scar_segments_contract_weakly():
    act, scar = _patients(500)
    c = simulate_curves(act, scar, np.random.default_rng(2), CurveParams())
    assert c.amplitude_pct[scar].mean() < 10.0 < c.amplitude_pct[~scar].mean()


def test_tracking_noise_has_the_asked_sd_and_correlation():
    params = CurveParams(noise_sd_pct=2.0, noise_corr_ms=50.0, drift_sd_pct=0.0,
                         viable_amplitude_pct=1e-9, viable_amplitude_sd_pct=0.0, fps=50.0,
                         scar_amplitude_pct=0.0)
    act = np.full((3000, 17), 5000.0)  # contraction outside the cycle: pure noise
    c = simulate_curves(act, np.zeros((3000, 17), bool), np.random.default_rng(3), params)
    x = c.strain.reshape(-1, c.strain.shape[2])   # 51,000 curves of pure AR(1) noise
    phi = np.exp(-20.0 / 50.0)
    # stationary from the first frame: the same variance at every frame
    per_frame_sd = x.std(axis=0)
    se = 2.0 * np.sqrt(2.0 / x.shape[0])  # SE of a sample SD, about
    assert np.all(np.abs(per_frame_sd - 2.0) < 5 * se)
    # autocorrelation phi**lag
    for lag in (1, 2, 5):
        r = np.mean(x[:, lag:] * x[:, :-lag]) / np.mean(x * x)
        assert r == pytest.approx(phi ** lag, abs=0.01)


def test_drift_is_linear_over_the_cycle():
    params = CurveParams(noise_sd_pct=0.0, drift_sd_pct=3.0, viable_amplitude_pct=1e-9,
                         scar_amplitude_pct=0.0,
                         viable_amplitude_sd_pct=0.0)
    c = simulate_curves(np.full((5, 17), 5000.0), np.zeros((5, 17), bool),
                        np.random.default_rng(4), params)
    second_diff = np.diff(c.strain, n=2, axis=2)
    np.testing.assert_allclose(second_diff, 0.0, atol=1e-9)
    assert np.all(c.strain[:, :, 0] == 0.0)


def test_time_axis_and_reproducibility():
    params = CurveParams(fps=50.0, cycle_ms=800.0)
    np.testing.assert_allclose(time_axis(params), np.arange(41) * 20.0)
    act, scar = _patients(10)
    a = simulate_curves(act, scar, np.random.default_rng(9), params)
    b = simulate_curves(act, scar, np.random.default_rng(9), params)
    np.testing.assert_array_equal(a.strain, b.strain)
    assert a.fps == pytest.approx(50.0)


@pytest.mark.parametrize("kwargs", [dict(kind="circumferential"), dict(fps=0.5), dict(fps=800.0),
                                    dict(scar_amplitude_pct=30.0), dict(noise_sd_pct=float("nan")),
                                    dict(cycle_ms=10.0), dict(noise_sd_pct=-1.0),
                                    dict(contraction_ms=0.0)])
def test_invalid_curve_parameters(kwargs):
    with pytest.raises(ValueError):
        CurveParams(**kwargs)
