"""Calibrate the fast curve model's tracking noise against the speckle stage.

Usage: python docs/noise_calibration.py

Tracks 8 simulated patients' B-mode frames (60 fps, SNR 20 dB) and measures the
time-to-peak and peak-strain errors against the truth; then measures the same
errors for the fast curve model over a grid of noise settings (3000 patients).
The default CurveParams noise is the grid point whose TTP error matches.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speckle_accuracy import run  # noqa: E402

from strainsim.measure.engine import measure
from strainsim.model.activation import simulate_activation
from strainsim.model.curves import CurveParams, simulate_curves


def main():
    ref = run(60, 20, 8, 7)
    print(f"speckle stage (8 patients, 60 fps, 20 dB): TTP MAE {ref['ttp_mae_viable_ms']:.2f} ms,"
          f" peak MAE {ref['peak_mae_viable_pct']:.2f} %, peak bias "
          f"{ref['peak_bias_viable_pct']:+.2f} %")
    act = simulate_activation(3000, np.random.default_rng(3))
    viable = ~act.scar
    print("| noise SD (%) | correlation (ms) | drift SD (%) | TTP MAE (ms) | peak MAE (%) |")
    print("|---:|---:|---:|---:|---:|")
    for sd in (0.5, 0.75, 1.0, 1.5):
        for corr in (5.0, 40.0):
            for drift in (0.0, 0.5):
                params = CurveParams(noise_sd_pct=sd, noise_corr_ms=corr, drift_sd_pct=drift)
                curves = simulate_curves(act.activation_ms, act.scar, np.random.default_rng(4),
                                         params)
                m = measure(curves.strain, curves.time_ms)
                ttp = np.mean(np.abs(m.ttp_ms - curves.true_ttp_ms)[viable])
                peak = np.mean(np.abs(m.peak_strain - curves.amplitude_pct)[viable])
                print(f"| {sd} | {corr:g} | {drift} | {ttp:.2f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
