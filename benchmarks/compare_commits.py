"""Speed of this checkout against an earlier one, measured side by side in one run.

The machines are shared and noisy, so a before/after comparison only means
something when both run in the same session, interleaved. This script runs
the same benchmarks on the package of each tree in
turn, ``--rounds`` times, by putting the tree first on ``PYTHONPATH``. Each tree
runs its own copy of the scripts (``TREE/benchmarks/``), so a tree whose modules
moved is timed by scripts that import them where they are; the scripts keep
one command line and one output format:

* the default concordance sweep (``bench_sweep.py``, 2 worker processes);
* 10^6 patients streamed through the pipeline (``bench_pipeline.py``, 1 and
  2 workers);
* the engine against its floor (``bench_engine.py``).

Run (from the repository root, with an earlier commit checked out elsewhere)::

    git worktree add /tmp/before <commit>
    python benchmarks/compare_commits.py --before /tmp/before [--after DIR] [--rounds 2]

Writes benchmarks/results/before_after.json and prints a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def run(tree: Path, script: str, args: list[str], out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    # run from the output's folder: ``python -m`` puts the working directory first
    subprocess.run([sys.executable, str(tree / "benchmarks" / script), *args, "--out", str(out)],
                   check=True, env=env, capture_output=True, text=True, cwd=out.parent)
    return json.loads(out.read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True,
                        help="root of a checkout of the earlier commit")
    parser.add_argument("--after", type=Path, default=ROOT,
                        help="root of the later checkout (default: this one; use a clean "
                             "checkout if you edit this one meanwhile)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sweep-replicates", type=int, default=1000)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rnd in range(args.rounds):
            for label, tree in trees.items():
                sweep = run(tree, "bench_sweep.py",
                            ["--replicates", str(args.sweep_replicates), "--workers", "2"],
                            tmp / f"sweep-{label}-{rnd}.json")
                pipeline = run(tree, "bench_pipeline.py",
                               ["--sizes", "1000000", "--workers", "1", "2"],
                               tmp / f"pipeline-{label}-{rnd}.json")
                engine = run(tree, "bench_engine.py", ["--sizes", "100000"],
                             tmp / f"engine-{label}-{rnd}.json")
                row = {"round": rnd, "tree": label,
                       "sweep_s": sweep["rows"][0]["seconds"],
                       "pipeline_1e6_1_worker_s": pipeline["rows"][0]["seconds"],
                       "pipeline_1e6_2_workers_s": pipeline["rows"][1]["seconds"],
                       "pipeline_peak_rss_mb": pipeline["rows"][0]["peak_rss_mb"],
                       "engine_over_floor_1e5": engine["rows"][0]["engine_over_floor"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    meta = {"command": "python benchmarks/compare_commits.py --before <checkout> --after "
                       f"<checkout> --rounds {args.rounds}"
                       + (f" --sweep-replicates {args.sweep_replicates}"
                          if args.sweep_replicates != 1000 else ""),
            "before": subprocess.run(["git", "-C", str(trees["before"]), "rev-parse",
                                      "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip(),
            "after": subprocess.run(["git", "-C", str(trees["after"]), "rev-parse", "--short",
                                     "HEAD"], capture_output=True, text=True).stdout.strip(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "before_after.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                          indent=2) + "\n")
    print("| round | tree | default sweep (s, 2 workers) | 1e6 patients, 1 process (s) |"
          " 1e6 patients, 2 workers (s) | peak RSS (MB) | engine / floor (1e5) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['round'] + 1} | {r['tree']} | {r['sweep_s']:.1f} | "
              f"{r['pipeline_1e6_1_worker_s']:.1f} | {r['pipeline_1e6_2_workers_s']:.1f} | "
              f"{r['pipeline_peak_rss_mb']:.0f} | {r['engine_over_floor_1e5']:.2f} |")


if __name__ == "__main__":
    main()
