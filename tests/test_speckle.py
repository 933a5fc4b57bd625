"""Speckle tracking on synthetic B-mode frames against the known deformation."""

import json

import numpy as np
import pytest

from strainsim.app.cli import main
from strainsim.measure.engine import measure
from strainsim.measure.speckle import (
    SpeckleParams,
    noise_statistics,
    render_frames,
    track_curves,
    track_segment,
)
from strainsim.model.activation import simulate_activation
from strainsim.model.curves import CurveParams, simulate_curves


def _bump(n_frames, peak):
    return peak * np.sin(np.pi * np.arange(n_frames) / (n_frames - 1)) ** 2


@pytest.mark.parametrize("kind, peak", [("radial", 25.0), ("longitudinal", -18.0)])
def test_tracking_recovers_a_known_strain_curve(kind, peak):
    true = _bump(30, peak)
    tracked = track_segment(true, kind, SpeckleParams(snr_db=30), np.random.default_rng(1))
    assert np.max(np.abs(tracked - true)) < 0.15 * abs(peak)
    assert abs(tracked.max() if peak > 0 else tracked.min()) == pytest.approx(abs(peak), rel=0.12)
    assert abs(int(np.argmax(np.sign(peak) * tracked)) - 15) <= 1


def test_frames_are_log_compressed_speckle_that_deforms():
    frames, phantom = render_frames(np.array([0.0, 30.0]), "radial", SpeckleParams(),
                                    np.random.default_rng(2))
    assert frames.shape[0] == 2 and frames.min() >= 0 and frames.max() <= 1
    bright = frames > 0.5
    rows_before = np.flatnonzero(bright[0].mean(axis=1) > 0.3)   # rows across the wall
    rows_after = np.flatnonzero(bright[1].mean(axis=1) > 0.3)
    assert rows_before.size > 1 and rows_after.size > 1   # a bright wall in both frames
    # the wall is about 30 % thicker in the second frame
    assert (np.ptp(rows_after) / np.ptp(rows_before)) == pytest.approx(1.3, abs=0.1)


@pytest.mark.slow
def test_ttp_error_within_one_frame_at_a_typical_setting():
    rng_act, rng_curves, rng_speckle = (np.random.default_rng(s) for s in (10, 11, 12))
    act = simulate_activation(2, rng_act)
    clean = simulate_curves(act.activation_ms, act.scar, rng_curves,
                            CurveParams(fps=60, noise_sd_pct=0.0, drift_sd_pct=0.0))
    tracked = track_curves(clean.strain, "radial", SpeckleParams(snr_db=20), rng_speckle)
    result = measure(tracked, clean.time_ms)
    err = np.abs(result.ttp_ms - clean.true_ttp_ms)[~act.scar]
    frame_ms = 1000 / 60
    assert err.mean() <= frame_ms
    assert np.mean(err <= frame_ms + 1e-9) >= 0.8
    np.testing.assert_array_equal(~result.viable, act.scar)


def test_same_seed_same_tracking_and_noise_statistics():
    true = _bump(20, 20.0)[None, None, :]
    a = track_curves(true, "radial", SpeckleParams(), np.random.default_rng(5))
    b = track_curves(true, "radial", SpeckleParams(), np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    stats = noise_statistics(true, true, 16.7)
    assert stats["sd_pct"] == 0.0 and np.isnan(stats["corr_ms"])


@pytest.mark.slow
def test_speckle_fidelity_in_a_trial_is_reproducible():
    from strainsim.studies.specs import spec_from_dict
    from strainsim.studies.trials import simulate_trial

    spec = spec_from_dict({"trial": {"name": "s", "n_image_guided": 2, "n_control": 2},
                           "measurement": {"fidelity": "speckle", "fps": 30,
                                           "cycle_ms": 700, "snr_db": 25}})
    a = simulate_trial(spec, 4)
    b = simulate_trial(spec, 4)
    from dataclasses import astuple

    # NaN where no lead is concordant: compare with NaN equal to NaN
    np.testing.assert_equal(astuple(a.guided), astuple(b.guided))
    np.testing.assert_equal(astuple(a.control), astuple(b.control))


@pytest.mark.slow
def test_speckle_command(tmp_path, capsys):
    code = main(["speckle", "--seed", "1", "--fps", "30", "--out", str(tmp_path), "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    info = json.loads(out)
    assert len(info["ttp_error_ms"]) == 17 and info["snr_db"] == 20.0
    for name in ("frames.gif", "frames.png", "curves.png", "tracked.csv", "ttp.json"):
        assert (tmp_path / name).exists()
    assert main(["speckle", "--snr", "100", "--out", str(tmp_path / "x")]) == 2
