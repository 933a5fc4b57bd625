"""Batched pooling against PyMARE and statsmodels, side by side in one run.

M = 10,000 simulated meta-analyses of k = 5 studies each, pooled by
``strainsim.stats.pooling.pool_many`` (DL and REML), by PyMARE's batched estimators
(``DerSimonianLaird``, ``VarianceBasedLikelihoodEstimator(method="REML")``) and,
for scale, by statsmodels' ``combine_effects`` one row at a time (DL, 500 rows).
Best of --repeats runs; microseconds per meta-analysis. The script checks that
strainsim and PyMARE give the same pooled estimates and tau^2 (the largest
differences are reported) and times a single ``pool`` call with DL and REML.

Needs the ``bench`` extra (``pip install -e '.[bench]'``).
Run: python benchmarks/bench_meta.py [--m 10000] [--k 5] [--repeats 7]
Writes benchmarks/results/meta.json.
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--m", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "meta.json")
    args = parser.parse_args()

    import pymare
    import statsmodels
    from pymare import estimators
    from statsmodels.stats.meta_analysis import combine_effects

    from strainsim.stats.effects import effect_sizes
    from strainsim.stats.pooling import pool, pool_many

    rng = np.random.default_rng(0)
    m, k = args.m, args.k
    vi = rng.uniform(0.01, 0.2, (m, k))
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    y_t, v_t, X = np.ascontiguousarray(yi.T), np.ascontiguousarray(vi.T), np.ones((k, 1))
    pool_many(yi[:2], vi[:2], "DL")
    pool_many(yi[:2], vi[:2], "REML")

    rows = []
    for method in ("DL", "REML"):
        def theirs(method=method):
            est = (estimators.DerSimonianLaird() if method == "DL"
                   else estimators.VarianceBasedLikelihoodEstimator(method="REML"))
            return est.fit(y=y_t, v=v_t, X=X)

        ours_s = best(lambda method=method: pool_many(yi, vi, method), args.repeats)
        theirs_s = best(theirs, max(2, args.repeats // 2))
        fitted = theirs()
        ours = pool_many(yi, vi, method)
        d_est = float(np.max(np.abs(ours.estimate
                                    - np.asarray(fitted.params_["fe_params"]).ravel())))
        d_tau2 = float(np.max(np.abs(ours.tau2 - np.asarray(fitted.params_["tau2"]).ravel())))
        rows.append({"method": method, "strainsim_us": ours_s / m * 1e6,
                     "pymare_us": theirs_s / m * 1e6, "speedup": theirs_s / ours_s,
                     "max_abs_diff_estimate": d_est, "max_abs_diff_tau2": d_tau2})

    n_sm = min(500, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_s = best(lambda: [combine_effects(yi[r], vi[r], method_re="chi2")
                             for r in range(n_sm)], 2)
    single = {}
    one = effect_sizes(yi[0], vi[0])
    for method in ("DL", "REML"):
        pool(one, method)
        times = []
        for _ in range(2000):
            start = time.perf_counter()
            pool(one, method)
            times.append(time.perf_counter() - start)
        single[method] = float(np.median(times) * 1e6)

    meta = {"command": f"python benchmarks/bench_meta.py --m {m} --k {k} --repeats "
                       f"{args.repeats}",
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "pymare": pymare.__version__, "statsmodels": statsmodels.__version__,
            "date": time.strftime("%Y-%m-%d")}
    result = {"meta": meta, "batched": rows,
              "statsmodels_dl_us_per_row": sm_s / n_sm * 1e6,
              "single_pool_us": single, "single_reml_over_dl": single["REML"] / single["DL"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"M = {m:,} meta-analyses of k = {k} studies (best of {args.repeats})")
    print("| method | strainsim pool_many (us each) | PyMARE batched (us each) | speed-up |"
          " max diff estimate | max diff tau^2 |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['strainsim_us']:.2f} | {r['pymare_us']:.2f} | "
              f"{r['speedup']:.1f}x | {r['max_abs_diff_estimate']:.1e} | "
              f"{r['max_abs_diff_tau2']:.1e} |")
    print(f"statsmodels combine_effects, one row at a time (DL): "
          f"{result['statsmodels_dl_us_per_row']:.0f} us each")
    print(f"single pool() call: DL {single['DL']:.1f} us, REML {single['REML']:.1f} us "
          f"(REML / DL = {result['single_reml_over_dl']:.2f})")


if __name__ == "__main__":
    main()
