"""The default sweep of an earlier tree and of this one, side by side in one run.

Run from the repository root: python benchmarks/sweep_side_by_side.py BEFORE_TREE
(a checkout of the earlier commit, e.g. from `git worktree add`). Times each tree's
`python -m strainsim sweep` end to end (after a warm-up sweep), two rounds
interleaved, and writes benchmarks/results/sweep_side_by_side.json.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
trees = {"before": sys.argv[1] if len(sys.argv) > 1 else "../before", "after": str(ROOT)}
def run(tree, extra):
    env = dict(os.environ, PYTHONPATH=trees[tree])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "strainsim", "sweep", "--out", tmp + "/o", *extra],
                       env=env, check=True, capture_output=True, cwd=tmp)
        return time.perf_counter() - t
for tree in trees:
    run(tree, ["--replicates", "2"])
rows = []
for rnd in (1, 2):
    for tree, extra in (("before", []), ("after", []), ("after", ["--replicates", "1000"]),
                        ("after", ["--levels", "0.45,1.0"]), ):
        s = run(tree, extra)
        rows.append({"round": rnd, "tree": tree, "args": " ".join(extra) or "(defaults)", "seconds": round(s, 1)})
        print(rows[-1], flush=True)
json.dump(rows, open(ROOT / "benchmarks" / "results" / "sweep_side_by_side.json", "w"), indent=1)
