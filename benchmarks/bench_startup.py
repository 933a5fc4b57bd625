"""Start-up costs: `strainsim --help`, and numba compilation on a first run vs cached.

Run: python benchmarks/bench_startup.py [--repeats 5]
Writes benchmarks/results/startup.json.

* help: median wall time of `python -m strainsim --help` in a subprocess;
* first run: `strainsim curves --seed 0` (curve kernel and engine) and
  `strainsim trial --seed 0` (every kernel of the trial pipeline, the block
  kernel included) with an empty numba cache directory (NUMBA_CACHE_DIR
  pointing to a new temporary folder), so every kernel they need is compiled
  and written to the cache;
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
    commands = (["curves", "--seed", "0", "--json"],
                ["trial", "--seed", "0", "--json", "--out"])
    rows = []
    for argv in commands:
        with tempfile.TemporaryDirectory() as cache:
            run = [sys.executable, "-m", "strainsim", *argv]
            if argv[-1] == "--out":
                run.append(str(Path(cache) / "out"))
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            first = timed(run, env)
            cached = sorted(timed(run, env) for _ in range(args.repeats))[args.repeats // 2]
        shown = " ".join(a for a in argv if a != "--out")
        rows.append({"command": f"strainsim {shown}", "first_run_s": first,
                     "cached_run_s": cached, "compile_s": first - cached})
    meta = {"help_s": help_s,
            "command": f"python benchmarks/bench_startup.py --repeats {args.repeats}",
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                     indent=2) + "\n")
    print(f"strainsim --help: {help_s:.2f} s")
    print("| command | first run, empty cache (s) | cached run (s) | compile cost (s) |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['command']}` | {r['first_run_s']:.1f} | {r['cached_run_s']:.1f} |"
              f" {r['compile_s']:.1f} |")

if __name__ == "__main__":
    main()
