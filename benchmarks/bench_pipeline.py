"""End-to-end pipeline throughput and peak memory, streamed, from 10^4 to 10^6 patients.

Each size runs in a fresh subprocess: a two-arm trial of N patients (N/2 per
arm) through activation -> strain curves -> engine -> placement -> outcomes
with :func:`strainsim.studies.trials.simulate_trial` (summaries only, chunks of
--block-size patients), in the main process (1 worker) or on worker processes.
Reported: wall time of the simulation (after a small warm-up run that loads the
numba caches and starts the workers), patients per second, peak resident
memory of the main process and of the largest worker (ru_maxrss), and whether
every worker count gave the same summary.

Run: python benchmarks/bench_pipeline.py [--sizes 10000 100000 1000000] [--block-size 16384]
     [--workers 1 2]
Writes benchmarks/results/pipeline.json.
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = """
import resource, sys, time, json
from strainsim.studies.parallel import make_mapper
from strainsim.studies.specs import TrialSpec
from strainsim.studies.trials import simulate_trial

if __name__ == "__main__":
    n, block, workers = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    spec = TrialSpec(name="bench", n_image_guided=n // 2, n_control=n - n // 2)
    warm = TrialSpec(name="warm", n_image_guided=600, n_control=600)
    with make_mapper(workers) as mapper:
        mapper = None if workers == 1 else mapper
        simulate_trial(warm, 0, block_size=256, mapper=mapper)   # load numba caches, start pool
        start = time.perf_counter()
        result = simulate_trial(spec, 1, block_size=block, mapper=mapper)
        seconds = time.perf_counter() - start
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers > 1 else 0
    print(json.dumps({"seconds": seconds, "peak_rss_mb": main_mb, "worker_peak_rss_mb": worker_mb,
                      "esv_change_mean_guided": result.guided.esv_change_mean}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--block-size", type=int, default=16384)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "pipeline.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(CHILD)
        for workers in args.workers:
            for n in args.sizes:
                done = subprocess.run([sys.executable, str(script), str(n),
                                       str(args.block_size), str(workers)],
                                      capture_output=True, text=True, check=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row.update(n_patients=n, workers=workers, patients_per_s=n / row["seconds"])
                rows.append(row)
    same = {r["n_patients"]: set() for r in rows}
    for r in rows:
        same[r["n_patients"]].add(r["esv_change_mean_guided"])
    identical = all(len(v) == 1 for v in same.values())
    meta = {"command": "python benchmarks/bench_pipeline.py --sizes "
                       + " ".join(map(str, args.sizes)) + f" --block-size {args.block_size}"
                       + " --workers " + " ".join(map(str, args.workers)),
            "identical_across_workers": identical,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows},
                                                      indent=2) + "\n")
    print("| workers | patients | seconds | patients/s | peak RSS main (MB) |"
          " peak RSS per worker (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        worker = f"{r['worker_peak_rss_mb']:.0f}" if r["workers"] > 1 else "-"
        print(f"| {r['workers']} | {r['n_patients']:,} | {r['seconds']:.1f} | "
              f"{r['patients_per_s']:,.0f} | {r['peak_rss_mb']:.0f} | {worker} |")
    print(f"same summary for every worker count: {identical}")


if __name__ == "__main__":
    main()
