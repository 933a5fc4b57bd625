"""A classroom at once: how fast the explorer answers one student while another refines.

Run: python benchmarks/bench_sessions.py [--sessions 10] [--changes 10] [--workers 2]
Writes benchmarks/results/explore_sessions.json. Needs Chromium (Debian's package,
as the browser tests) and playwright (the ``test`` extra).

Starts ``strainsim explore`` as a user would (precomputing the default world), opens
``--sessions`` pages in one headless Chromium, and times, in a real browser, a
concordance change (one press of the arrow key on the slider) until both figures of
that page are new:

* alone: one page open, nothing else running;
* classroom: all pages open, and one of them refining the power curve of a world
  of its own (three times the trials' size, a wider heterogeneity: about half a
  minute of simulation on the server's worker processes) while another page moves
  its concordance slider.

The time includes the browser's round trip and drawing. The refining page is checked
to be still busy after the last timed change, so every classroom change was made
while it refined.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
REFINING_WORLD = "?size=3&arm_sd_pct=7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(workers: int):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "strainsim", "explore", "--port", str(port),
                             "--no-browser", "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the explorer exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the explorer did not answer within 600 s")


def _sources(page) -> list:
    images = page.locator("img")
    return [images.nth(k).get_attribute("src") for k in range(images.count())]


def _ready(page, url):
    page.goto(url)
    page.locator("img").nth(1).wait_for(timeout=300_000)
    page.get_by_text("Power curve:").first.wait_for(timeout=300_000)


def _time_change(page) -> float:
    """One arrow-key step of the concordance slider, until both figures are new (s)."""
    before = _sources(page)
    handle = page.locator(".noUi-handle").first
    handle.focus()
    start = time.perf_counter()
    handle.press("ArrowRight")
    while True:
        now = _sources(page)
        if len(now) == len(before) and all(a != b for a, b in zip(now, before, strict=True)):
            return time.perf_counter() - start
        if time.perf_counter() - start > 120:
            raise SystemExit("a concordance change did not redraw within 120 s")
        page.wait_for_timeout(20)


def _changes(page, count: int) -> list:
    times = []
    for k in range(count):
        if k and k % 10 == 0:   # back to the start of the slider's travel: 45 % -> 95 %
            handle = page.locator(".noUi-handle").first
            for _ in range(10):
                handle.press("ArrowLeft")
            page.wait_for_timeout(3000)
        times.append(_time_change(page))
    return times


def _summary(times: list) -> dict:
    return {"median_s": statistics.median(times), "max_s": max(times),
            "changes": len(times), "times_s": [round(t, 3) for t in times]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    browser_path = next((shutil.which(n) for n in ("chromium", "chromium-browser")
                         if shutil.which(n)), None)
    if browser_path is None:
        raise SystemExit("no Chromium found (Debian: apt-get install chromium)")
    proc, url = _start(args.workers)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
            viewport = {"width": 1400, "height": 900}
            first = browser.new_page(viewport=viewport)
            _ready(first, url)
            alone = _changes(first, args.changes)
            first.close()

            pages = [browser.new_page(viewport=viewport) for _ in range(args.sessions)]
            refining, student = pages[0], pages[1]
            _ready(refining, url + REFINING_WORLD)
            for page in pages[1:]:
                _ready(page, url)
            power_before = _sources(refining)[1]
            refining.get_by_text("refine the power curve").first.click()
            refining.wait_for_timeout(500)
            classroom = _changes(student, args.changes)
            still_refining = _sources(refining)[1] == power_before
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    rows = {"alone": _summary(alone), "classroom": _summary(classroom),
            "refine_still_running_after_the_last_change": still_refining}
    meta = {"command": f"python benchmarks/bench_sessions.py --sessions {args.sessions} "
                       f"--changes {args.changes} --workers {args.workers}",
            "sessions": args.sessions, "cpus": os.cpu_count(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "explore_sessions.json").write_text(
        json.dumps({"meta": meta, **rows}, indent=2) + "\n")
    print("| pages open | another page refining | median (s) | max (s) | changes |")
    print("|---:|---|---:|---:|---:|")
    for label, n, other in (("alone", 1, "no"), ("classroom", args.sessions, "yes")):
        r = rows[label]
        print(f"| {n} | {other} | {r['median_s']:.2f} | {r['max_s']:.2f} | {r['changes']} |")
    print(f"refine still running after the last change: {still_refining}")


if __name__ == "__main__":
    main()
