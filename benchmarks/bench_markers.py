"""Speed of the activation markers against the memory floor and their numpy reference.

On one (N, 17, 49) array of simulated radial strain curves (60 fps), medians of
--repeats rounds (each round times the parallel-sum floor, reading the array,
and every marker once, after a warm-up): each marker through
:func:`strainsim.measure.markers.measure_marker` (the engine's pass included: viability
comes from it; ``ttp`` is the engine itself) and, on a 2,000-patient slice, its
numpy reference. ``ttp`` and ``onset`` are one pass over the data;
``xcorr`` compares every segment with a reference at every lag up to 200 ms, so
it is many passes by design.

Run: python benchmarks/bench_markers.py [--n 100000] [--repeats 5]
Writes benchmarks/results/markers.json.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np
from bench_engine import median_time, parallel_sum
from naive import marker_times_numpy  # tests/naive.py, put on the path by bench_engine

from strainsim.measure.markers import MARKERS, measure_marker
from strainsim.model.activation import simulate_activation
from strainsim.model.curves import CurveParams, simulate_curves

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "markers.json")
    args = parser.parse_args()
    act = simulate_activation(args.n, np.random.default_rng(0))
    curves = simulate_curves(act.activation_ms, act.scar, np.random.default_rng(1),
                             CurveParams(fps=60.0))
    strain, time_ms = curves.strain, curves.time_ms
    # round robin: the floor and every marker once per round, medians over the rounds
    jobs = {"floor": lambda: parallel_sum(strain)}
    jobs.update({m: (lambda m=m: measure_marker(strain, time_ms, marker=m)) for m in MARKERS})
    for job in jobs.values():
        job()  # warm-up (compilation, page faults)
    times = {name: [] for name in jobs}
    for _ in range(args.repeats):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - start)
    floor = float(np.median(times["floor"]))
    small = strain[:2000]
    rows = []
    for marker in MARKERS:
        seconds = float(np.median(times[marker]))
        ref = median_time(lambda m=marker: marker_times_numpy(small, time_ms, marker=m), 1)
        fast_small = median_time(lambda m=marker: measure_marker(small, time_ms, marker=m),
                                 args.repeats)
        rows.append({"marker": marker, "seconds": seconds, "over_floor": seconds / floor,
                     "numpy_over_numba_2000": ref / fast_small})
    meta = {"command": f"python benchmarks/bench_markers.py --n {args.n} --repeats "
                       f"{args.repeats}", "numba_threads": numba.get_num_threads(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "n": args.n, "floor_s": floor,
                                    "rows": rows}, indent=2) + "\n")
    print(f"N = {args.n:,} patients x 17 segments x {time_ms.size} frames; floor "
          f"{floor * 1e3:.1f} ms")
    print("| marker | ms | x floor | numpy reference / numba (2,000 patients) |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['marker']} | {r['seconds'] * 1e3:.1f} | {r['over_floor']:.2f} | "
              f"{r['numpy_over_numba_2000']:.0f} |")


if __name__ == "__main__":
    main()
