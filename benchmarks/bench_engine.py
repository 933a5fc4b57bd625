"""Benchmark the activation-mapping engine against its numpy reference and the memory floor.

For each batch size N the script simulates N patients' radial strain curves
(60 fps, 800 ms: 49 frames, float64), then times, on the same array:

* ``floor``  - a parallel numba sum over every sample (what merely reading the
  array costs on this machine),
* ``engine`` - :func:`strainsim.measure.engine.measure` (smoothing, TTP, viability,
  latest viable segment, dyssynchrony),
* ``numpy``  - ``tests/naive.py``'s ``measure_numpy``, the plain-numpy reference.

Each timing is the median of ``--repeats`` runs after a warm-up call; the
ratios are taken within one run of this script. Results go to stdout as a
Markdown table and to ``benchmarks/results/engine.json``.

Run with ``make bench`` or ``python benchmarks/bench_engine.py [--sizes 1000 10000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from naive import measure_numpy  # noqa: E402  (the tests' plain-numpy reference)

from strainsim.measure.engine import measure
from strainsim.model.activation import simulate_activation
from strainsim.model.curves import CurveParams, simulate_curves

RESULTS = Path(__file__).resolve().parent / "results"


@numba.njit(parallel=True, cache=True)
def parallel_sum(strain):
    """Sum of every sample, parallel over patients: the cost of reading the array."""
    n = strain.shape[0]
    partial = np.zeros(n)
    for i in numba.prange(n):
        total = 0.0
        for s in range(strain.shape[1]):
            for k in range(strain.shape[2]):
                total += strain[i, s, k]
        partial[i] = total
    return partial.sum()


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, page faults)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def make_curves(n: int, seed: int = 0):
    rng_act, rng_curves = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    act = simulate_activation(n, rng_act)
    return simulate_curves(act.activation_ms, act.scar, rng_curves, CurveParams(fps=60.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "engine.json")
    args = parser.parse_args()

    rows = []
    for n in args.sizes:
        curves = make_curves(n)
        strain, time_ms = curves.strain, curves.time_ms
        floor = median_time(lambda s=strain: parallel_sum(s), args.repeats)
        engine = median_time(lambda s=strain, t=time_ms: measure(s, t), args.repeats)
        reference = median_time(lambda s=strain, t=time_ms: measure_numpy(s, t), args.reference_repeats)
        same = np.array_equal(measure(strain, time_ms).latest_segment,
                              measure_numpy(strain, time_ms).latest_segment)
        rows.append({"n_patients": n, "frames": int(strain.shape[2]),
                     "megabytes": round(strain.nbytes / 1e6, 1),
                     "floor_s": floor, "engine_s": engine, "numpy_s": reference,
                     "engine_over_floor": engine / floor, "numpy_over_engine": reference / engine,
                     "curves_per_s": n * 17 / engine, "reference_agrees": bool(same)})
        del curves, strain

    meta = {"command": "python benchmarks/bench_engine.py " + " ".join(
                f"--sizes {' '.join(map(str, args.sizes))}".split()),
            "numba_threads": numba.get_num_threads(), "cpu_count": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    tmp.replace(args.out)

    # thread scaling at the largest size, and the same numbers with 1 thread
    curves = make_curves(args.sizes[-1])
    scaling = {}
    reference = measure(curves.strain, curves.time_ms)
    # the default thread count first: switching back up after 1 thread can leave the
    # OpenMP workers asleep and slow the next calls
    for threads in sorted({1, numba.get_num_threads()}, reverse=True):
        numba.set_num_threads(threads)
        scaling[threads] = median_time(lambda c=curves: measure(c.strain, c.time_ms),
                                       args.repeats)
        again = measure(curves.strain, curves.time_ms)
        assert np.array_equal(again.ttp_ms, reference.ttp_ms, equal_nan=True)
        assert np.array_equal(again.latest_segment, reference.latest_segment)
    numba.set_num_threads(max(scaling))
    threads_out = args.out.with_name("engine_threads.json")
    threads_out.write_text(json.dumps({"n_patients": args.sizes[-1], "seconds": scaling,
                                       "identical_results": True}, indent=2) + "\n")

    print(f"numba threads: {meta['numba_threads']}, cpus: {meta['cpu_count']}")
    print("| N | MB | floor (ms) | engine (ms) | numpy reference (ms) | engine / floor |"
          " numpy / engine | curves/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n_patients']:,} | {r['megabytes']:.0f} | {r['floor_s'] * 1e3:.1f} | "
              f"{r['engine_s'] * 1e3:.1f} | {r['numpy_s'] * 1e3:.0f} | "
              f"{r['engine_over_floor']:.2f} | {r['numpy_over_engine']:.0f} | "
              f"{r['curves_per_s']:.3g} |")
    print(f"\n| threads | engine (ms) at N = {args.sizes[-1]:,} | speed-up |")
    print("|---:|---:|---:|")
    for threads, seconds in sorted(scaling.items()):
        print(f"| {threads} | {seconds * 1e3:.1f} | {scaling[1] / seconds:.2f} |")
    print("(identical TTPs and latest segments with every thread count)")


if __name__ == "__main__":
    main()
