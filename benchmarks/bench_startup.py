"""Start-up costs: `strainsim --help`, and numba compilation on a first run vs cached.

Run: python benchmarks/bench_startup.py [--repeats 5]
Writes benchmarks/results/startup.json.

* help: median wall time of `python -m strainsim --help` in a subprocess;
* first run: `strainsim curves --seed 0` with an empty numba cache directory
  (NUMBA_CACHE_DIR pointing to a new temporary folder), so every kernel it
  needs is compiled and written to the cache;
* cached run: the same command again with that cache, so the kernels load.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def timed(argv, env=None):
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    help_s = sorted(timed([sys.executable, "-m", "strainsim", "--help"])
                    for _ in range(args.repeats))[args.repeats // 2]
    run = [sys.executable, "-m", "strainsim", "curves", "--seed", "0", "--json"]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        first = timed(run, env)
        cached = sorted(timed(run, env) for _ in range(args.repeats))[args.repeats // 2]
    row = {"help_s": help_s, "first_run_s": first, "cached_run_s": cached,
           "compile_s": first - cached,
           "command": f"python benchmarks/bench_startup.py --repeats {args.repeats}",
           "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(row, indent=2) + "\n")
    print("| strainsim --help (s) | first run, empty cache (s) | cached run (s) |"
          " compile cost (s) |")
    print("|---:|---:|---:|---:|")
    print(f"| {help_s:.2f} | {first:.1f} | {cached:.1f} | {first - cached:.1f} |")


if __name__ == "__main__":
    main()
