"""Check the outcome calibration: many virtual five-trial meta-analyses vs the published one.

Usage: python docs/calibrate.py [--replicates 200] [--seed 0]

Prints, per outcome, the mean pooled estimate over replicates, the mean 95 % CI,
the share of replicates whose estimate falls inside the published CI, and the
published result (cohorts/published/meta_analysis.toml).
"""

import argparse

import numpy as np

from strainsim.experiments import five_trial_specs, published_targets
from strainsim.trial import OUTCOMES, virtual_meta_analysis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    specs = five_trial_specs()
    rows = {key: [] for key in OUTCOMES}
    extra = []
    for child in np.random.SeedSequence(args.seed).spawn(args.replicates):
        trials, pooled = virtual_meta_analysis(specs, child, method="DL", test="z")
        for key, res in pooled.items():
            rows[key].append((res.estimate, res.ci_low, res.ci_high, res.i2))
        extra.append([np.mean([t.guided.concordant_measured for t in trials]),
                      np.mean([t.control.concordant_measured for t in trials]),
                      np.mean([t.guided.adjacent_measured for t in trials]),
                      np.mean([t.guided.remote_measured for t in trials])])
    published = published_targets()
    print(f"{args.replicates} virtual meta-analyses of {sum(s.n_total for s in specs)} patients "
          f"(5 trials, DL), seed {args.seed}")
    print("| outcome | mean pooled estimate | mean 95% CI | inside published CI | mean I2 |"
          " published |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in OUTCOMES:
        data = np.array(rows[key])
        tr = np.exp if key == "nyha" else (lambda x: x)
        est, low, high = tr(data[:, 0]), tr(data[:, 1]), tr(data[:, 2])
        p_est, p_low, p_high = published[key]
        inside = np.mean((est >= p_low) & (est <= p_high))
        print(f"| {key} | {est.mean():.2f} | [{low.mean():.2f}, {high.mean():.2f}] | "
              f"{inside:.0%} | {data[:, 3].mean():.0f}% | {p_est} [{p_low}, {p_high}] |")
    conc = np.mean(extra, axis=0)
    print(f"\nconcordant with the measured target: image-guided {conc[0]:.1%}, "
          f"control {conc[1]:.1%}; image-guided leads that missed the target landed "
          f"next to it in {conc[2] / (conc[2] + conc[3]):.1%} of cases")


if __name__ == "__main__":
    main()
