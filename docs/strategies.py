"""Lead positions and outcomes per trial, arm and placement strategy in the calibrated world.

Usage: python docs/strategies.py [--replicates 200] [--seed 0]

Prints a Markdown table: for each of the five trials' arms, the mean over
``replicates`` virtual meta-analyses of the share of leads concordant (and
concordant or adjacent) with the arm's measured target and with the true latest
segment, leads on scar, the mean LVESV change and the NYHA improvement rate.
"""

import argparse

import numpy as np

from strainsim.seeding import children
from strainsim.studies.sweep import five_trial_specs
from strainsim.studies.trials import virtual_meta_analysis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    specs = five_trial_specs()
    rows: dict = {}
    for seed in children(np.random.SeedSequence(args.seed), args.replicates):
        trials, _ = virtual_meta_analysis(specs, seed)
        for t in trials:
            for arm, a, strategy in (("image-guided", t.guided, t.spec.placement.image_guided),
                                     ("control", t.control, t.spec.placement.control)):
                rows.setdefault((t.spec.name, arm, strategy), []).append(
                    [a.concordant_measured, a.concordant_or_adjacent_measured,
                     a.concordant_true, a.concordant_true + a.adjacent_true, a.lead_on_scar,
                     a.esv_change_mean, a.nyha_improved / a.n])
    print("| trial | arm | strategy | concordant with its target | conc. or adjacent | "
          "concordant with the true latest | conc. or adjacent (true) | lead on scar | "
          "LVESV change (%) | NYHA improved |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (name, arm, strategy), values in rows.items():
        m = np.nanmean(np.array(values), axis=0)
        print(f"| {name} | {arm} | {strategy} | {m[0]:.0%} | {m[1]:.0%} | {m[2]:.0%} | "
              f"{m[3]:.0%} | {m[4]:.1%} | {m[5]:.1f} | {m[6]:.0%} |")


if __name__ == "__main__":
    main()
