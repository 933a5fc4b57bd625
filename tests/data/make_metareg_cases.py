"""Write the meta-regression test cases (metareg_cases.csv): the BCG trials' log odds
ratios on their publication year, and random tables (fixed seed) of 4 to 20 studies.

Run from the repository root: ``python tests/data/make_metareg_cases.py``; then
``Rscript tests/data/metafor_reference.R`` records metafor's values for them.
"""

import csv
from pathlib import Path

import numpy as np

from strainsim.stats.study_tables import read_study_table

HERE = Path(__file__).resolve().parent


def main() -> None:
    rows = []
    effects, columns = read_study_table(HERE.parent.parent / "examples" / "bcg.csv")
    for s, y, v, x in zip(effects.study, effects.yi, effects.vi, columns["year"],
                          strict=True):
        rows.append(["bcg-year", s, repr(float(y)), repr(float(v)), repr(float(x))])
    rng = np.random.default_rng(20261201)
    for case in range(12):
        k = int(rng.integers(4, 21))
        x = rng.uniform(0.0, 1.0, k)
        v = rng.uniform(0.01, 0.5, k)
        tau = float(rng.choice([0.0, 0.1, 0.4]))
        y = rng.normal(0.3, 0.5) + rng.normal(0.0, 1.0) * x + rng.normal(0, np.sqrt(v + tau ** 2))
        for i in range(k):
            rows.append([f"random-{case}", f"s{i + 1}", repr(float(y[i])), repr(float(v[i])),
                         repr(float(x[i]))])
    with open(HERE / "metareg_cases.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", "study", "yi", "vi", "x"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
