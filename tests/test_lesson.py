"""The lesson pack: one self-contained HTML page made by the explorer's code, and the
page in a real headless Chromium from a file URL (no server)."""

import re

import pytest

from strainsim.app.explorer import POWER_LEVELS
from strainsim.app.lesson import LESSON_STEPS, build_lesson


@pytest.fixture(scope="module")
def page_html():
    return build_lesson(replicates=4)


def test_the_lesson_is_one_self_contained_page(page_html):
    assert page_html.startswith("<!DOCTYPE html>")
    # nothing fetched from anywhere: every image is embedded
    assert not re.search(r'(src|href)="https?://', page_html)
    assert page_html.count("data:image/png;base64,") == 3 * len(POWER_LEVELS) + 1
    assert page_html.count('class="reveal"') == len(LESSON_STEPS)
    assert "{" + "own_power" + "}" not in page_html        # every number filled in
    assert "simulated" in page_html


def test_the_lesson_command_writes_index_html(cli, tmp_path):
    run = cli(["lesson", "--replicates", "3", "--out", str(tmp_path / "l")])
    assert run.code == 0, run.err
    assert (tmp_path / "l" / "index.html").stat().st_size > 100_000
    run = cli(["lesson", "--replicates", "1", "--out", str(tmp_path / "m")])
    assert run.code == 2 and "--replicates: expected a number in [2, 10000]" in run.err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_the_lesson_opens_from_a_file_and_its_slider_changes_the_figures(page_html,
                                                                          tmp_path):
    from playwright.sync_api import sync_playwright
    from test_explorer_browser import CHROMIUM_ARGS, _browser

    path = tmp_path / "index.html"
    path.write_text(page_html)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri())
            assert page.locator("#level-label").text_content() == "45%"
            before = page.locator("#forest").get_attribute("src")
            page.locator("#slider").fill(str(POWER_LEVELS.index(0.9)))
            assert page.locator("#level-label").text_content() == "90%"
            assert page.locator("#forest").get_attribute("src") != before
            answer = page.locator("#answer-0")
            assert not answer.is_visible()
            page.locator("button.reveal").first.click()
            assert answer.is_visible() and "%" in answer.text_content()
            # no horizontal scroll at 800 px
            assert page.evaluate("document.documentElement.scrollWidth") <= 800
            assert errors == []
        finally:
            browser.close()
