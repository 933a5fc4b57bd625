"""End-to-end pipeline throughput and peak memory, streamed, from 10^4 to 10^6 patients.

Each size runs in a fresh subprocess: a two-arm trial of N patients (N/2 per
arm) through activation -> strain curves -> engine -> placement -> outcomes
with :func:`strainsim.trial.stream_trial` (summaries only, chunks of
--block-size patients). Reported: wall time of the simulation (after a small
warm-up run that loads the numba cache), patients per second, and the
process's peak resident memory (ru_maxrss).

Run: python benchmarks/bench_pipeline.py [--sizes 10000 100000 1000000] [--block-size 16384]
Writes benchmarks/results/pipeline.json.
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = """
import resource, sys, time, json
from strainsim.spec import TrialSpec
from strainsim.trial import stream_trial
n, block = int(sys.argv[1]), int(sys.argv[2])
stream_trial(TrialSpec(name="warm", n_image_guided=300, n_control=300), 0)
spec = TrialSpec(name="bench", n_image_guided=n // 2, n_control=n - n // 2)
start = time.perf_counter()
result = stream_trial(spec, 1, block_size=block)
seconds = time.perf_counter() - start
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": rss_mb,
                  "esv_change_mean_guided": result.guided.esv_change_mean}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--block-size", type=int, default=16384)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        done = subprocess.run([sys.executable, "-c", CHILD, str(n), str(args.block_size)],
                              capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row.update(n_patients=n, patients_per_s=n / row["seconds"])
        rows.append(row)
    meta = {"command": "python benchmarks/bench_pipeline.py --sizes "
                       + " ".join(map(str, args.sizes)) + f" --block-size {args.block_size}",
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                      indent=2) + "\n")
    print("| patients | seconds | patients/s | peak RSS (MB) |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n_patients']:,} | {r['seconds']:.1f} | {r['patients_per_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
