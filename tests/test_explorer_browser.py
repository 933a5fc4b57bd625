"""The explorer in a real headless Chromium: load the page, move the concordance slider,
see the plots change; a bad URL shows a message.

Needs Debian's chromium (``.ci/run`` installs it). Without a browser this test fails
rather than skips: a page nobody has loaded is not tested. Set STRAINSIM_SCREENSHOT to
a PNG path to keep the screenshot (docs/figures/explorer.png is made that way).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no Chromium found: install Debian's chromium (apt-get install chromium); "
                ".ci/run does this")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "strainsim", "explore", "--port", str(port),
                             "--no-browser", "--no-precompute", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the explorer exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the explorer did not answer within 120 s")
    yield url
    proc.send_signal(signal.SIGINT)   # Ctrl-C: exit 130, one line
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the explorer did not stop on Ctrl-C")
    assert proc.returncode == 130, err
    assert "strainsim: interrupted" in err and "Traceback" not in err


def _image_sources(page):
    return [page.locator("img").nth(k).get_attribute("src")
            for k in range(page.locator("img").count())]


def _wait_for_change(page, before, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _image_sources(page)
        if len(now) == len(before) and all(a != b for a, b in zip(now, before, strict=True)):
            return now
        page.wait_for_timeout(250)
    pytest.fail("the plots did not change after the slider moved")


@pytest.mark.slow
def test_moving_the_concordance_slider_changes_the_plots(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            scripts = []
            page.on("response", lambda r: scripts.append(r) if ".js" in r.url else None)
            page.goto(server)
            page.locator("img").nth(1).wait_for(timeout=120_000)
            page.get_by_text("image-guided concordance: 45%").wait_for(timeout=30_000)
            # the page's JavaScript is sent compressed: at most half of the 2.98 MB it
            # weighed uncompressed
            sent = sum(r.request.sizes()["responseBodySize"] for r in scripts)
            assert 0 < sent <= 1.49e6, sent
            bokeh = next(r for r in scripts if "bokeh.min.js" in r.url)
            assert bokeh.header_value("content-encoding") == "gzip"
            before = _image_sources(page)
            assert len(before) == 2 and all(src.startswith("data:image/png") for src in before)
            handle = page.locator(".noUi-handle").first   # the concordance slider
            handle.focus()
            for _ in range(9):                           # 9 steps of 5 %: 45 % -> 90 %
                handle.press("ArrowRight")
            page.get_by_text("image-guided concordance: 90%").wait_for(timeout=30_000)
            after = _wait_for_change(page, before)
            assert all(src.startswith("data:image/png") for src in after)
            page.get_by_text("At 90% concordance").first.wait_for(timeout=30_000)
            # the URL follows the widgets: a link reproduces the view
            deadline = time.monotonic() + 30
            while "concordance=0.9" not in page.url and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert "concordance=0.9" in page.url
            shot = Path(os.environ.get("STRAINSIM_SCREENSHOT") or tmp_path / "explorer.png")
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000

            # no horizontal scroll at 1,400 px or at 800 px, on either tab
            for width in (1400, 800):
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(500)
                for tab in ("Trials", "Lesson", "Patient"):
                    page.locator(".bk-tab", has_text=tab).first.click()
                    page.wait_for_timeout(1500)
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    assert scroll <= width, f"{tab} tab is {scroll} px wide at {width} px"
            page.set_viewport_size({"width": 1500, "height": 1250})
            page.locator(".bk-tab", has_text="Trials").first.click()

            # the URL round trip: a link opens the view it names
            page.goto(server + "?concordance=0.9&trials=4")
            page.get_by_text("image-guided concordance: 90%").wait_for(timeout=60_000)
            page.get_by_text("number of trials: 4").wait_for(timeout=30_000)
            page.get_by_text("At 90% concordance").first.wait_for(timeout=120_000)

            # the guided lesson, first question to last reveal, each after a guess
            page.locator(".bk-tab", has_text="Lesson").first.click()
            reveals = page.get_by_role("button", name=re.compile("reveal answer"))
            reveals.first.wait_for(timeout=30_000)
            for k in range(reveals.count()):
                page.get_by_role("textbox").nth(k).fill(f"{10 * (k + 1)}")
                reveals.nth(k).click()
                page.get_by_text(f"You guessed {10 * (k + 1)} %.").wait_for(timeout=30_000)

            # the patient tab: a bad seed gets its message next to the box
            page.locator(".bk-tab", has_text="Patient").first.click()
            box = page.get_by_role("textbox").first
            box.wait_for(timeout=30_000)
            box.fill("abc")
            box.press("Enter")
            page.get_by_text("patient seed: expected a whole number").wait_for(timeout=30_000)
            # the playground: a click on the bullseye's centre puts the lead on the apex
            page.get_by_text("Place the lead yourself").wait_for(timeout=30_000)
            canvas = page.locator("canvas").first   # the picker: the page's one Bokeh plot
            canvas.wait_for(timeout=30_000)
            box = canvas.bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + 10)
            page.get_by_text("A lead in segment 17").wait_for(timeout=60_000)
            page.locator(".bk-tab", has_text="Trials").first.click()

            # a bad URL value: a visible message, the defaults, a working page
            page.goto(server + "?concordance=abc&trials=3")
            page.get_by_text("URL concordance: expected a number in [0, 1], found 'abc'") \
                .wait_for(timeout=60_000)
            page.locator("img").nth(1).wait_for(timeout=120_000)
            page.get_by_text("number of trials: 3").wait_for(timeout=30_000)
        finally:
            browser.close()


@pytest.mark.slow
def test_one_session_refining_does_not_hold_up_another(server):
    """Two browser sessions: while one refines the power curve of its own world (tens of
    seconds of simulation), the other's concordance change is redrawn."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=CHROMIUM_ARGS)
        try:
            refining = browser.new_page(viewport={"width": 1400, "height": 900})
            refining.goto(server + "?size=3&arm_sd_pct=7")
            refining.locator("img").nth(1).wait_for(timeout=120_000)
            refining.get_by_text("Power curve:").first.wait_for(timeout=120_000)
            other = browser.new_page(viewport={"width": 1400, "height": 900})
            other.goto(server)
            other.locator("img").nth(1).wait_for(timeout=120_000)
            other.get_by_text("Power curve:").first.wait_for(timeout=120_000)
            power_before = _image_sources(refining)[1]
            refining.get_by_text("refine the power curve").first.click()
            refining.wait_for_timeout(1000)
            before = _image_sources(other)
            handle = other.locator(".noUi-handle").first
            handle.focus()
            start = time.monotonic()
            handle.press("ArrowRight")
            _wait_for_change(other, before, timeout_s=30)
            answered = time.monotonic() - start
            # the refine was still running when the other session was answered
            assert _image_sources(refining)[1] == power_before
            assert answered < 15, answered
        finally:
            browser.close()
