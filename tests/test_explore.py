"""The concordance explorer's logic (strainsim.app.explorer) and its page (Panel), without a
browser; tests/test_explorer_browser.py drives the page in Chromium."""

from dataclasses import replace

import numpy as np
import pytest

from strainsim.app import explorer as explore
from strainsim.app.explorer import (
    ExplorerSettings,
    meta_specs,
    one_meta_analysis,
    patient_case,
    power_curve,
    render_patient,
    render_trials,
    settings_from_query,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def quick(monkeypatch):
    """Small power curves, so that the tests stay fast (the logic is the same)."""
    monkeypatch.setattr(explore, "QUICK_REPLICATES", 3)
    monkeypatch.setattr(explore, "PRECISE_REPLICATES", 5)
    monkeypatch.setattr(explore, "_SWEEPS", {})


@pytest.mark.parametrize("query, expected, problem", [
    ({"concordance": ["0.9"]}, {"concordance": 0.9}, None),
    ({"trials": [b"7"], "method": [b"DL"]}, {"trials": 7, "method": "DL"}, None),
    ({"concordance": ["abc"]}, {}, "concordance: expected a number in [0, 1], found 'abc'"),
    ({"concordance": ["1.5"]}, {}, "concordance: expected a number in [0, 1], found '1.5'"),
    ({"size": ["nan"]}, {}, "size: expected a number in [0.25, 5]"),
    ({"trials": ["2.5"]}, {}, "trials: expected a whole number in [2, 12]"),
    ({"method": ["XYZ"]}, {}, "method: expected one of REML, DL"),
    ({"colour": ["red"]}, {}, "colour: not a setting"),
])
def test_url_settings_are_checked_one_by_one(query, expected, problem):
    settings, problems = settings_from_query(query)
    for key, value in expected.items():
        assert getattr(settings, key) == value
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem)
        assert settings == ExplorerSettings()   # the defaults stand


def test_the_default_world_is_the_published_meta_analysis():
    specs = meta_specs(ExplorerSettings())
    assert [s.name for s in specs] == ["TARGET", "STARTER", "ImagingCRT", "ElectroCRT", "Lund"]
    assert sum(s.n_total for s in specs) == 818
    more = meta_specs(ExplorerSettings(trials=7, size=2.0, fps=30.0, arm_sd_pct=1.0,
                                       edv_arm_sd_pct=6.0))
    assert len({s.name for s in more}) == 7 and more[5].name == "TARGET-2"
    assert more[0].n_image_guided == 220 and more[0].curves.fps == 30.0
    assert all(s.outcomes.arm_sd_pct == 1.0 and s.outcomes.edv_arm_sd_pct == 6.0
               for s in more)


def test_one_meta_analysis_forces_the_concordance_and_is_reproducible():
    settings = ExplorerSettings(concordance=0.9, size=3.0)
    trials, pooled = one_meta_analysis(settings)
    n = sum(t.guided.n for t in trials)
    rate = sum(t.guided.concordant_measured * t.guided.n for t in trials) / n
    assert abs(rate - 0.9) < 4 * np.sqrt(0.09 / n)
    again, pooled_again = one_meta_analysis(settings)
    assert pooled_again["lvesv"].estimate == pooled["lvesv"].estimate
    other = one_meta_analysis(replace(settings, seed=2))[1]
    assert other["lvesv"].estimate != pooled["lvesv"].estimate
    with pytest.raises(ValueError, match="concordance"):
        one_meta_analysis(replace(settings, concordance=2.0))


def test_power_curves_are_cached_per_world(quick):
    settings = ExplorerSettings(size=0.5)
    first = power_curve(settings)
    assert first.replicates.shape[1] == 3
    assert power_curve(replace(settings, concordance=0.9, seed=8)) is first
    assert power_curve(replace(settings, arm_sd_pct=1.0)) is not first
    precise = power_curve(settings, precise=True)
    assert precise.replicates.shape[1] == 5
    assert power_curve(settings) is precise   # a precise curve, once there, is preferred


def test_the_trials_view_renders_and_follows_the_concordance(quick):
    settings = ExplorerSettings(size=0.5)
    view = render_trials(settings)
    assert view.forest_png.startswith(PNG) and view.power_png.startswith(PNG)
    assert "**Seed 1**" in view.summary and "Published: -7.1" in view.summary
    moved = render_trials(replace(settings, concordance=0.9))
    assert moved.forest_png != view.forest_png and moved.power_png != view.power_png
    assert "At 90% concordance" in moved.summary    # the nearest level of the curve
    assert render_trials(settings, "nyha").forest_png != view.forest_png
    with pytest.raises(ValueError, match="outcome"):
        render_trials(settings, "qol")


def test_one_patient_under_the_four_strategies():
    case = patient_case(7)
    assert list(case.strategies) == ["empirical", "ste", "multimodality", "electrical"]
    for name, info in case.strategies.items():
        assert 1 <= info["lead"] <= 17
        assert info["vs_true"] in ("concordant", "adjacent", "remote")
        if name == "electrical":
            assert case.reachable[info["lead"] - 1]
    assert case.strategies["ste"]["target"] == int(case.measured.latest_segment[0])
    again = patient_case(7)
    assert again.strategies == case.strategies
    np.testing.assert_array_equal(again.strain, case.strain)
    slower = patient_case(7, fps=30.0)
    assert slower.strain.shape[1] < case.strain.shape[1]
    view = render_patient(7)
    assert view.curves_png.startswith(PNG) and view.strategies_png.startswith(PNG)
    assert "| multimodality |" in view.summary
    with pytest.raises(ValueError, match="fps"):
        patient_case(7, fps=5.0)


def test_the_page_shows_bad_url_values_instead_of_breaking(quick):
    from strainsim.app.explorer_page import build_page

    page = build_page({"concordance": [b"abc"], "trials": [b"3"]})
    alerts = [p for p in page.select() if type(p).__name__ == "Alert" and p.visible]
    assert len(alerts) == 1
    assert "concordance: expected a number in [0, 1], found 'abc'" in alerts[0].object
    pngs = [p for p in page.select() if type(p).__name__ == "PNG"]
    assert all(p.object is not None and p.object.startswith(PNG) for p in pngs)
    sliders = {w.label: w for w in page.select() if hasattr(w, "start")}
    assert sliders["number of trials"].value == 3


def test_the_page_reports_what_the_model_refuses(quick, monkeypatch):
    from strainsim.app import explorer_page as explorer_app

    page = explorer_app.build_page()

    def refuse(*args, **kwargs):
        raise ValueError("trials: expected a whole number in [2, 12], found 99")

    monkeypatch.setattr(explorer_app, "render_trials", refuse)
    trials = next(w for w in page.select() if getattr(w, "label", "") == "number of trials")
    trials.value = 4
    shown = [p for p in page.select() if type(p).__name__ == "Alert" and p.visible]
    assert any("found 99" in p.object for p in shown)


def test_explore_refuses_bad_options_in_one_line(cli):
    import socket

    run = cli(["explore", "--port", "70000", "--no-browser"])
    assert run.code == 2 and "--port" in run.err and run.err.count("\n") == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = cli(["explore", "--port", str(port), "--no-browser"])
    assert run.code == 2 and "free port" in run.err and run.err.count("\n") == 1
    run = cli(["explore", "--host", "192.0.2.1", "--no-browser"])   # not this machine
    assert run.code == 2 and "192.0.2.1" in run.err


def test_every_setting_is_declared_and_model_parameters_stay_in_the_model_range():
    from dataclasses import fields

    from strainsim.app.explorer import MODEL_PARAMETERS, SETTINGS
    from strainsim.params import declarations

    assert {f.name for f in fields(ExplorerSettings)} == set(SETTINGS)
    for name, cls in MODEL_PARAMETERS.items():
        own, model = declarations(ExplorerSettings)[name], declarations(cls)[name]
        assert own.unit == model.unit, name
        assert model.low <= own.low < own.high <= model.high, name
        assert own.low <= getattr(cls(), name) <= own.high, name   # the default shows


def test_the_text_quotes_the_concordance_the_slider_shows(quick):
    from dataclasses import replace

    settings = replace(explore.ExplorerSettings(), concordance=0.5)
    view = explore.render_trials(settings)
    assert "At 50% concordance (read off the curve between 45% and 60%)" in view.summary
    sweep = explore.power_curve(settings)
    lo, hi = sweep.summary[1], sweep.summary[2]             # 45 % and 60 %
    at = explore._read_off(sweep, 0.5)
    w = (0.5 - 0.45) / (0.6 - 0.45)
    assert at["benefit"] == pytest.approx((1 - w) * lo.power_benefit["lvesv"]
                                          + w * hi.power_benefit["lvesv"])
    exact = explore.render_trials(replace(settings, concordance=0.9))
    assert "At 90% concordance," in exact.summary


def test_forest_columns_never_overlap_for_ten_trials():
    """The rendered text boxes of the estimate and weight columns do not overlap."""
    import numpy as np

    from strainsim.app.plots import plot_forest, pyplot
    from strainsim.stats.effects import effect_sizes
    from strainsim.stats.pooling import pool

    rng = np.random.default_rng(3)
    yi = rng.normal(-15, 10, 10)
    result = pool(effect_sizes(yi, rng.uniform(20, 40, 10),
                               study=[f"simulated trial {k + 1}" for k in range(10)]),
                  method="REML", test="knha")
    fig = plot_forest(result, title="ten trials")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.axes[0].texts if t.get_text()]
    estimates = [t for t in texts if "," in t.get_text() and t.get_position()[0] == 1.02]
    weights = [t for t in texts if t.get_text().endswith("%") or t.get_text() == "Weight"]
    assert len(estimates) == 11 and len(weights) == 12
    right = max(t.get_window_extent(renderer).x1 for t in estimates)
    left = min(t.get_window_extent(renderer).x0 for t in weights)
    assert right < left
    pyplot().close(fig)


@pytest.mark.parametrize("bad", ["99999999999", "-5", "", "abc"])
def test_a_bad_patient_seed_gets_its_message(bad):
    from strainsim.app import explorer_page as explorer_app

    page = explorer_app.build_page()
    seed = next(w for w in page.select() if getattr(w, "label", "") == "patient seed")
    seed.value = bad
    shown = [p for p in page.select() if type(p).__name__ == "Alert" and p.visible]
    assert any("patient seed: expected a whole number" in p.object
               and "still showing patient 7" in p.object for p in shown)
    seed.value = "8"
    assert not any("patient seed" in p.object for p in page.select()
                   if type(p).__name__ == "Alert" and p.visible)


def test_the_live_page_carries_the_guided_lesson_with_a_guess_before_each_reveal(quick):
    from strainsim.app import explorer_page as explorer_app
    from strainsim.app.explorer import ExplorerSettings, power_curve
    from strainsim.app.lesson import LESSON_STEPS, lesson_steps

    page = explorer_app.build_page()
    buttons = [w for w in page.select() if type(w).__name__ == "Button"
               and getattr(w, "label", "").startswith("reveal answer")]
    guesses = [w for w in page.select() if type(w).__name__ == "TextInput"
               and getattr(w, "label", "").startswith("your guess")]
    assert len(buttons) == len(guesses) == len(LESSON_STEPS)
    steps = lesson_steps(power_curve(ExplorerSettings()))

    def shown():
        return [p for p in page.select() if type(p).__name__ == "Alert" and p.visible
                and ("guess" in (p.object or "").lower())]

    assert not shown()
    buttons[0].clicks += 1                      # no guess yet: asked for one
    assert any("Write your guess first" in p.object for p in shown())
    guesses[0].value = "lots"
    buttons[0].clicks += 1
    assert any("expected a number in percent, found 'lots'" in p.object for p in shown())
    for k, (guess, button) in enumerate(zip(guesses, buttons, strict=True)):
        guess.value = f"{10 * (k + 1)} %"
        button.clicks += 1
        assert any(p.object == f"You guessed {10 * (k + 1)} %. {steps[k]['answer']}"
                   for p in shown())


def test_every_control_explains_itself_and_sliders_return_to_their_defaults(quick):
    """A tooltip on every control; each slider's grid goes through the calibrated
    world's value, so the default can be reached again by hand."""
    from strainsim.app import explorer_page as explorer_app
    from strainsim.app.explorer import ExplorerSettings

    page = explorer_app.build_page()
    defaults = ExplorerSettings()
    sliders = [w for w in page.select() if type(w).__name__ in ("FloatSlider", "IntSlider")]
    assert len(sliders) >= 10
    for slider in sliders:
        steps = (slider.value - slider.start) / slider.step
        assert abs(steps - round(steps)) < 1e-6, slider.label
        assert slider.start <= slider.value <= slider.end
    by_label = {w.label: w for w in sliders}
    assert by_label["image-guided concordance"].value == defaults.concordance
    assert by_label["full resynchronization: LVESV change (%)"].value == \
        defaults.resync_max_pct
    icons = [w for w in page.select() if type(w).__name__ == "TooltipIcon"]
    assert len(icons) == len(sliders) and all(len(i.value) > 20 for i in icons)
    for widget in page.select():
        if type(widget).__name__ in ("Select", "Button", "TextInput"):
            assert len(widget.description or "") > 15, getattr(widget, "label", widget.name)


def test_legends_are_readable_at_the_page_resolution(quick):
    """Every legend's text is at least 10 px high in the figures the page shows (90 dpi)."""
    from strainsim.app import explorer as explore
    from strainsim.app.plots import plot_curves, plot_power, plot_strategies, pyplot

    sweep = explore.power_curve(explore.ExplorerSettings())
    case = explore.patient_case(7)
    m = case.measured
    figures = [plot_power(sweep, current=0.45),
               plot_curves(case.time_ms, case.strain, ttp_ms=m.ttp_ms[0],
                           viable=m.viable[0], latest=int(m.latest_segment[0])).figure,
               plot_strategies(case)]
    for fig in figures:
        fig.set_dpi(90)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legends = [a.get_legend() for a in fig.axes if a.get_legend()] + list(fig.legends)
        texts = [t for legend in legends for t in legend.get_texts()]
        assert texts
        assert min(t.get_window_extent(renderer).height for t in texts) >= 10
        pyplot().close(fig)




def test_a_lead_placed_by_hand_is_paced_and_read_by_the_model(quick):
    """The playground: the share of activation time removed orders the expected LVESV
    change (the model's remodelling falls with it, on the patient's same draws), every
    strategy's lead gets its row, and a segment outside 1-17 is refused."""
    case = explore.patient_case(7)
    outcomes = [explore.lead_outcome(case, s) for s in range(1, 18)]
    healthy = sorted((o for o in outcomes if not o.on_scar), key=lambda o: o.resync_fraction)
    means = [o.esv_change_mean_pct for o in healthy]
    assert all(a >= b - 1e-9 for a, b in zip(means, means[1:], strict=False))
    for o in outcomes:
        assert o.esv_change_low_pct <= o.esv_change_mean_pct <= o.esv_change_high_pct
        assert o.reduction_ms >= 0 and 0 <= o.resync_fraction <= 1
        assert np.all(o.paced_ms <= case.activation_ms + 1e-9)  # pacing never delays
    png, summary = explore.render_lead(case, 6)
    assert png.startswith(PNG) and "A lead in segment 6" in summary
    for name, info in case.strategies.items():
        assert f"| {name} | {info['lead']} |" in summary
    with pytest.raises(ValueError, match="lead: expected a segment number"):
        explore.lead_outcome(case, 18)


def test_a_click_on_the_bullseye_puts_the_lead_there(quick):
    from strainsim.app import explorer_page as explorer_app

    page = explorer_app.build_page()
    select = next(w for w in page.select() if getattr(w, "label", "") == "your lead's segment")
    from bokeh.models import ColumnDataSource

    source = next(m for p in page.select() if type(p).__name__ == "Bokeh"
                  for m in p.object.select({"type": ColumnDataSource}))
    source.selected.indices = [4]          # the fifth wedge: segment 5
    assert select.value == 5
    assert any("A lead in segment 5" in (p.object or "") for p in page.select()
               if type(p).__name__ == "Markdown")


def test_view_threads_compute_report_failures_and_never_hold_up_the_exit():
    import subprocess
    import sys
    import time

    from strainsim.app.explorer_page import _VIEWS

    assert _VIEWS.submit(lambda: 6 * 7).result(timeout=10) == 42
    with pytest.raises(ValueError, match="refused"):
        _VIEWS.submit(lambda: (_ for _ in ()).throw(ValueError("refused"))).result(10)
    # a server stopped while a slow view is still being computed exits at once
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c",
                          "import time; from strainsim.app.explorer_page import _VIEWS; "
                          "_VIEWS.submit(lambda: time.sleep(120)); time.sleep(0.5)"],
                         capture_output=True, text=True, timeout=100)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 60


def test_a_tab_that_leaves_before_its_session_is_not_logged_as_an_error():
    import logging
    import sys

    from strainsim.app.explorer_page import _left_before_its_session

    def record_of(filename):
        code = compile("def on_close():\n    session()\n\ndef session():\n    assert False\n",
                       filename, "exec")
        space = {}
        exec(code, space)
        try:
            space["on_close"]()
        except AssertionError:
            info = sys.exc_info()
        return logging.LogRecord("tornado.application", logging.ERROR, "web.py", 1,
                                 "Uncaught exception", None, info)

    assert not _left_before_its_session(record_of("/lib/bokeh/server/connection.py"))
    assert _left_before_its_session(record_of("/lib/strainsim/app/explorer_page.py"))
    assert _left_before_its_session(logging.LogRecord("tornado.application", logging.ERROR,
                                                      "web.py", 1, "other", None, None))
