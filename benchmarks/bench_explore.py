"""How fast the explorer answers a slider: the page's own render calls, timed.

Run: python benchmarks/bench_explore.py [--repeats 5] [--workers 2]
Writes benchmarks/results/explore.json.

Each row times what the server does between a widget change and new images:
``strainsim.app.explorer.render_trials`` / ``render_patient`` (simulation, pooling,
matplotlib figures, PNG encoding), with the power-curve worker processes the
server uses (``--workers``). Every repeat uses a value not seen before, so a
cached power curve is hit only where the page would hit it too:

* concordance: the slider moves (one meta-analysis, cached power curve);
* re-roll: a new seed (one meta-analysis, cached power curve);
* world: a setting that changes the world (between-trial SD): one meta-analysis
  and a new power curve of 24 meta-analyses per level (QUICK_REPLICATES);
* patient: a new patient (curves, engine, four strategies, two figures).

The browser's own drawing and the websocket transfer are not included.
"""

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from strainsim.app.explorer import (
        QUICK_REPLICATES,
        ExplorerSettings,
        render_patient,
        render_trials,
    )
    from strainsim.studies.parallel import make_mapper

    base = ExplorerSettings()
    rows = []
    with make_mapper(args.workers) as mapper:
        mapper = mapper if args.workers > 1 else None
        render_trials(base, mapper=mapper)   # compile, import, and the default world's curve
        render_patient(7)

        def timed(label, calls):
            times = []
            for call in calls:
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            rows.append({"change": label, "median_s": statistics.median(times),
                         "max_s": max(times), "repeats": len(times)})

        k = range(args.repeats)
        timed("concordance", [lambda i=i: render_trials(
            replace(base, concordance=0.5 + 0.1 * i / args.repeats), mapper=mapper) for i in k])
        timed("re-roll", [lambda i=i: render_trials(replace(base, seed=100 + i),
                                                   mapper=mapper) for i in k])
        timed("world", [lambda i=i: render_trials(replace(base, arm_sd_pct=1.0 + 0.5 * i),
                                                 mapper=mapper) for i in k])
        timed("patient", [lambda i=i: render_patient(100 + i) for i in k])
    meta = {"command": f"python benchmarks/bench_explore.py --repeats {args.repeats} "
                       f"--workers {args.workers}",
            "quick_replicates": QUICK_REPLICATES, "cpus": os.cpu_count(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "explore.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                     indent=2) + "\n")
    print("| change | median (s) | max (s) |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['change']} | {r['median_s']:.2f} | {r['max_s']:.2f} |")


if __name__ == "__main__":
    main()
