"""Throughput of the speckle stage: B-mode frames rendered and tracked per second.

One "frame" is one segment's wall patch at one time point (160 x 160 pixels at
the default 0.1 mm pixels), so one patient at 60 fps over 800 ms is
17 x 49 = 833 frames. Times rendering alone, tracking alone (4 kernels,
normalized cross-correlation) and both, single-threaded, median of --repeats.

Run: python benchmarks/bench_speckle.py [--segments 17] [--repeats 3]
Writes benchmarks/results/speckle.json.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from strainsim.measure.speckle import SpeckleParams, _kernel_starts, render_frames, track_frames

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=17)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    params = SpeckleParams()
    frames_per_segment = 49
    true = 20 * np.sin(np.pi * np.arange(frames_per_segment) / (frames_per_segment - 1)) ** 2
    render_times, track_times = [], []
    for _ in range(args.repeats):
        rng = np.random.default_rng(0)
        rendered = []
        start = time.perf_counter()
        for _ in range(args.segments):
            rendered.append(render_frames(true, "radial", params, rng))
        render_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for frames, phantom in rendered:
            track_frames(frames, _kernel_starts(phantom, "radial", params), params)
        track_times.append(time.perf_counter() - start)
    n = args.segments * frames_per_segment
    render_s, track_s = float(np.median(render_times)), float(np.median(track_times))
    row = {"frames": n, "image_shape": list(rendered[0][0].shape[1:]),
           "render_frames_per_s": n / render_s, "track_frames_per_s": n / track_s,
           "both_frames_per_s": n / (render_s + track_s),
           "seconds_per_patient_60fps": 833 * (render_s + track_s) / n,
           "command": "python benchmarks/bench_speckle.py "
                      f"--segments {args.segments} --repeats {args.repeats}",
           "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speckle.json").write_text(json.dumps(row, indent=2) + "\n")
    print("| frames | image | render (frames/s) | track (frames/s) | both (frames/s) |"
          " s per patient (60 fps) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {n} | {row['image_shape'][0]}x{row['image_shape'][1]} | "
          f"{row['render_frames_per_s']:.0f} | {row['track_frames_per_s']:.0f} | "
          f"{row['both_frames_per_s']:.0f} | {row['seconds_per_patient_60fps']:.1f} |")


if __name__ == "__main__":
    main()
