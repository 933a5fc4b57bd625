"""The default concordance sweep, end to end, as a user runs it.

Times ``strainsim sweep`` with its defaults (10 concordance levels x 1,000
replicates of the five-trial virtual meta-analysis, 818 patients each, so
8.18 million virtual patients) from the command line, on each requested
number of worker processes and, optionally, on a dask.distributed
LocalCluster. Every run writes its sweep.csv; the script checks that they are
identical. Wall time includes start-up (imports, workers, loading the numba
cache) and the figure; the numba cache is warmed first by a tiny sweep.

Run: python benchmarks/bench_sweep.py [--replicates 1000] [--workers 2] [--dask 2]
Writes benchmarks/results/sweep.json.
"""

import argparse
import filecmp
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run_sweep(out: Path, replicates: int, workers: int, scheduler: str | None = None):
    argv = [sys.executable, "-m", "strainsim", "sweep", "--replicates", str(replicates),
            "--workers", str(workers), "--out", str(out)]
    if scheduler:
        argv += ["--scheduler", scheduler]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--dask", type=int, nargs="*", default=[],
                        help="Dask LocalCluster worker counts to time as well.")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "sweep.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_sweep(tmp / "warm", 2, 1)  # compile or load the numba cache once
        runs = [(w, None) for w in args.workers] + [(w, "local-cluster") for w in args.dask]
        first = None
        for workers, scheduler in runs:
            for repeat in range(args.repeats):
                out = tmp / f"{scheduler or 'processes'}-{workers}-{repeat}"
                seconds = run_sweep(out, args.replicates, workers, scheduler)
                same = True
                if first is None:
                    first = out / "sweep.csv"
                else:
                    same = filecmp.cmp(first, out / "sweep.csv", shallow=False)
                rows.append({"workers": workers, "scheduler": scheduler or "processes",
                             "replicates_per_level": args.replicates, "levels": 10,
                             "seconds": seconds, "identical_sweep_csv": same})
                print(f"{scheduler or 'processes'} x {workers}: {seconds:.1f} s"
                      f"{'' if same else ' (sweep.csv DIFFERS)'}", flush=True)
    meta = {"command": "python benchmarks/bench_sweep.py --replicates "
                       f"{args.replicates} --workers {' '.join(map(str, args.workers))}"
                       + (f" --dask {' '.join(map(str, args.dask))}" if args.dask else "")
                       + (f" --repeats {args.repeats}" if args.repeats > 1 else ""),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows},
                                                   indent=2) + "\n")
    print("| runner | workers | seconds | identical sweep.csv |")
    print("|---|---:|---:|---|")
    for r in rows:
        print(f"| {r['scheduler']} | {r['workers']} | {r['seconds']:.1f} | "
              f"{'yes' if r['identical_sweep_csv'] else 'no'} |")


if __name__ == "__main__":
    main()
