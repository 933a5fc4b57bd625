"""Where a concordance sweep spends its time, sampled with py-spy.

Runs ``strainsim sweep --workers 1`` under ``py-spy record`` (install it with
``pip install py-spy``; it is a tool, not a dependency of strainsim) and
prints each part's share of the time spent inside ``concordance_sweep``
(inclusive: a function's share counts everything it calls).

Run: python benchmarks/profile_sweep.py [--replicates 100] [--rate 250]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

PARTS = {
    "simulate_block": "the block simulator (numba kernels, with their calls)",
    "block_streams": "seeding the blocks' streams",
    "_trial_setup": "trial seeds and trial-level shifts",
    "merge": "arm summaries (merging the blocks' statistics)",
    "trial_effect_sizes": "effect sizes",
    "pool_many": "pooling (both worlds, batched)",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--rate", type=int, default=250)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: pip install py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.txt"
        subprocess.run([py_spy, "record", "--format", "raw", "--rate", str(args.rate),
                        "-o", str(raw), "--", sys.executable, "-m", "strainsim", "sweep",
                        "--replicates", str(args.replicates), "--workers", "1", "--out",
                        str(Path(tmp) / "sweep")], check=True, capture_output=True)
        inclusive = Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            for name in {frame.split(" (")[0] for frame in stack.split(";")}:
                inclusive[name] += int(count)
    sweep = inclusive["concordance_sweep"]
    print(f"py-spy, {args.rate} samples/s, strainsim sweep --replicates {args.replicates} "
          "--workers 1")
    print("| part | share of the sweep |")
    print("|---|---:|")
    for name, label in PARTS.items():
        print(f"| {label} (`{name}`) | {100 * inclusive[name] / sweep:.1f} % |")


if __name__ == "__main__":
    main()
