"""The concordance explorer page, laid out with Panel; the logic is :mod:`strainsim.app.explorer`.

Two tabs. *Trials*: sliders for the image-guided concordance, the number and
size of trials, the remodelling of full resynchronization, the NYHA effect not
through volumes, between-trial heterogeneity (of each arm's LVESV change and its
LVEDV reading), tracking noise and frame rate, the pooling method and test; one
virtual meta-analysis as a forest plot (a re-roll button draws another, the
seed is shown), and power, false positives and patients needed against
concordance, with the published meta-analysis marked. *Patient*: one patient's
strain curves and, per placement strategy, a bullseye with its target and lead.

The views are rendered by :func:`strainsim.app.explorer.render_trials` and
:func:`~strainsim.app.explorer.render_patient` (the command line's matplotlib figures,
as PNG images); this module only wires widgets to them. A value the model
refuses, in a widget or in the URL, shows a message on the page.

Importing this module imports Panel: only ``strainsim explore`` does.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import sys
import threading
import traceback
from concurrent.futures import Future
from pathlib import Path

import panel as pn

from strainsim.app.explorer import (
    METHOD_WORDS,
    METHODS,
    OUTCOME_LABELS,
    PRECISE_REPLICATES,
    SETTINGS,
    TEST_WORDS,
    TESTS,
    ExplorerSettings,
    patient_case,
    power_curve,
    render_lead,
    render_patient,
    render_trials,
    settings_from_query,
)
from strainsim.params import declarations

__all__ = ["build_page", "serve"]

_MAPPER = None  # worker processes for the power curves, set by serve()


class _ViewThreads:
    """A fixed set of daemon threads that compute views: a view is only ever shown, so
    one still running when the server stops is dropped, not waited for (a
    ``ThreadPoolExecutor``'s threads are joined at exit, and a refine running in one
    would hold up Ctrl-C)."""

    def __init__(self, threads: int):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        for k in range(threads):
            threading.Thread(target=self._work, name=f"strainsim-view-{k}",
                             daemon=True).start()

    def _work(self):
        while True:
            future, compute = self.queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(compute())
            except BaseException as exc:   # shown on the page by the waiting task
                future.set_exception(exc)

    def submit(self, compute) -> Future:
        future: Future = Future()
        self.queue.put((future, compute))
        return future


# views are computed off the page's event loop, so one session's refine never holds up
# another session's slider; figures are drawn one at a time (explorer.FIGURE_LOCK)
_VIEWS = _ViewThreads(8)


class _Latest:
    """Hands out tickets: a view whose ticket is no longer the latest is dropped, so a
    slow answer never overwrites a newer one."""

    def __init__(self):
        self.ticket = 0

    def take(self) -> int:
        self.ticket += 1
        return self.ticket

    def current(self, ticket: int) -> bool:
        return ticket == self.ticket


def _view_task(latest: _Latest, panes, compute, show, fail) -> None:
    """Compute a view and show it (or its failure) unless a newer one was asked for.

    Served, ``compute()`` runs in a view thread while the event loop goes on serving
    every session, its panes show a busy sign meanwhile, and ``show``/``fail`` run
    back on the loop; outside a server (tests, a notebook) everything runs here."""
    ticket = latest.take()
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        try:
            view = compute()
        except Exception as exc:  # shown on the page, never a broken page
            fail(exc)
            return
        show(view)
        return

    def busy(on: bool) -> None:
        for pane in panes:
            pane.loading = on

    async def task():
        busy(True)
        try:
            view = await asyncio.wrap_future(_VIEWS.submit(compute))
        except Exception as exc:
            if latest.current(ticket):
                busy(False)
                fail(exc)
            return
        if latest.current(ticket):
            show(view)
            busy(False)

    pn.state.execute(task)


def _report(exc: Exception) -> str:
    """One line for the page; anything unexpected also goes to the server's log."""
    if isinstance(exc, ValueError):
        return str(exc)
    print(f"strainsim explore: {type(exc).__name__}: {exc}", file=sys.stderr)
    return f"could not compute this view ({type(exc).__name__}: {exc})"


def _tip(name: str) -> str:
    """A setting's explanation (its declaration's doc): the control's tooltip."""
    return declarations(ExplorerSettings)[name].doc


def _slider(name, label, step, fmt=None):
    """A slider over the setting's teaching range whose grid goes through its default,
    so the default (the calibrated world's value) can be reached again by hand."""
    kind, low, high = SETTINGS[name]
    default = getattr(ExplorerSettings(), name)
    widget = pn.widgets.IntSlider if kind is int else pn.widgets.FloatSlider
    options = {"format": fmt} if fmt else {}
    below = math.floor((default - low) / step + 1e-9)
    above = math.floor((high - default) / step + 1e-9)
    start, end = default - below * step, default + above * step
    if kind is int:
        start, end = int(round(start)), int(round(end))
    else:
        start, end = round(start, 10), round(end, 10)
    return widget(label=label, start=start, end=end, step=step, value=default,
                  width=250, **options)


def _with_tip(widget, text: str):
    """The control with its tooltip: the widget's own where it has one, else an icon
    beside it."""
    if "description" in widget.param:
        widget.description = text
        return widget
    return pn.Row(widget, pn.widgets.TooltipIcon(value=text, margin=(22, 0, 0, 0)),
                  width=290)


def _error_shower(error):
    """A view's ``fail``: the failure's one line in the view's error pane."""
    def fail(exc):
        error.object = _report(exc)
        error.visible = True
    return fail


def _view(controls, guide: str, *panes):
    """A tab: its controls on the left; a plain-language guide ("what you see") above
    its panes on the right."""
    text = pn.pane.Markdown(f"*What you see:* {guide}", sizing_mode="stretch_width")
    return pn.Row(controls, pn.Column(text, *panes, sizing_mode="stretch_width"),
                  sizing_mode="stretch_width")


def _trials_view(settings: ExplorerSettings, problems: list[str]):
    widgets = {
        "concordance": _slider("concordance", "image-guided concordance", 0.05, "0%"),
        "trials": _slider("trials", "number of trials", 1),
        "size": _slider("size", "trial size (x published)", 0.25),
        "resync_max_pct": _slider("resync_max_pct",
                                  "full resynchronization: LVESV change (%)", 1.0),
        "nyha_unblinded_logodds": _slider("nyha_unblinded_logodds",
                                          "NYHA effect not through volumes (log-odds)", 0.1),
        "arm_sd_pct": _slider("arm_sd_pct", "between-trial SD of each arm (%)", 0.5),
        "edv_arm_sd_pct": _slider("edv_arm_sd_pct",
                                  "between-trial SD of each arm's LVEDV reading (%)", 0.5),
        "noise_sd_pct": _slider("noise_sd_pct", "speckle-tracking noise (% strain)", 0.1),
        "fps": _slider("fps", "frame rate (fps)", 5.0),
        "method": pn.widgets.Select(label="pooling (between-trial variance tau^2)",
                                    options={METHOD_WORDS.get(m, m): m for m in METHODS}),
        "test": pn.widgets.Select(label="test of the pooled effect",
                                  options={TEST_WORDS.get(t, t): t for t in TESTS}),
    }
    for name, widget in widgets.items():
        widget.value = getattr(settings, name)
    outcome = pn.widgets.Select(label="forest plot outcome",
                                options={label: key for key, label in OUTCOME_LABELS.items()},
                                value="lvesv")
    reroll = pn.widgets.Button(label="re-roll the meta-analysis", color="primary")
    reset = pn.widgets.Button(label="reset to the calibrated world's defaults")
    refine = pn.widgets.Button(label=f"refine the power curve ({PRECISE_REPLICATES} per level)")
    seed = {"value": settings.seed}
    url_alert = pn.pane.Alert("\n".join(f"- URL {p}" for p in problems)
                              + "\n\nThe defaults are used instead.", alert_type="warning",
                              visible=bool(problems))
    error = pn.pane.Alert("", alert_type="danger", visible=False)
    summary = pn.pane.Markdown("", sizing_mode="stretch_width")
    # figures scale with the window (no horizontal scroll at 800 px), up to their size
    forest = pn.pane.PNG(None, sizing_mode="scale_width", max_width=780)
    power = pn.pane.PNG(None, sizing_mode="scale_width", max_width=1000)

    def current() -> ExplorerSettings:
        return ExplorerSettings(**{name: widgets[name].value for name in widgets},
                                seed=seed["value"])

    latest = _Latest()

    def show(view):
        error.visible = False
        forest.object, power.object, summary.object = (view.forest_png, view.power_png,
                                                       view.summary)

    fail = _error_shower(error)

    def update(*_, precise=False):
        settings, shown_outcome = current(), outcome.value   # read on the event loop
        _view_task(latest, (forest, power, summary),
                   lambda: render_trials(settings, shown_outcome, mapper=_MAPPER,
                                         precise=precise), show, fail)

    def new_seed(_):
        seed["value"] += 1
        update()

    for widget in (*widgets.values(), outcome):
        widget.param.watch(update, "value")
    # the URL follows the widgets, so a link reproduces the view (read back on load by
    # settings_from_query)
    location = pn.state.location
    if location is not None:
        for name, widget in widgets.items():
            location.sync(widget, {"value": name})

    def to_defaults(_):
        defaults = ExplorerSettings()
        for name, widget in widgets.items():
            widget.value = getattr(defaults, name)

    reset.on_click(to_defaults)
    reroll.on_click(new_seed)
    refine.on_click(lambda _: update(precise=True))
    update()
    outcome.description = "Which outcome the forest plot shows."
    reroll.description = _tip("seed")
    refine.description = (f"Recompute this world's power curve with {PRECISE_REPLICATES} "
                          "virtual meta-analyses per level: narrower Monte Carlo bands, "
                          "a few seconds of work.")
    reset.description = "Every slider back to the calibrated world's value."
    controls = pn.Column("### The trials", *(_with_tip(w, _tip(name))
                                             for name, w in widgets.items()),
                         outcome, reroll, refine, reset, width=300)
    return _view(controls, "one virtual meta-analysis of simulated trials like the "
                 "published five (the forest plot: each square a trial, the diamond their "
                 "pooled estimate, the red band the published result), and below it how "
                 "often meta-analyses of this world would show a benefit, a harm, or a "
                 "benefit that is not there (false positives), as the concordance changes. "
                 "Move a slider, then read the sentence above the figures: it always "
                 "quotes the settings shown.", url_alert, error, summary, forest, power)


def _segment_picker():
    """A bullseye of the 17 segments that reports the one clicked (Bokeh, tap): the
    figure and its data source (``selected.indices`` holds the clicked segment's row)."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    from strainsim.segments import load_segments

    segments = load_segments().segments
    centre = [((s.radius_inner + s.radius_outer) / 2 if s.radius_inner > 0 else 0.0,
               math.radians(s.angle_centre)) for s in segments]
    source = ColumnDataSource({
        "segment": [s.number for s in segments], "name": [s.name for s in segments],
        "inner": [s.radius_inner for s in segments],
        "outer": [s.radius_outer for s in segments],
        "start": [math.radians(s.angle_start) for s in segments],
        "end": [math.radians(s.angle_start + s.angle_span) for s in segments],
        "x": [r * math.cos(a) for r, a in centre], "y": [r * math.sin(a) for r, a in centre],
        "label": [str(s.number) for s in segments]})
    fig = figure(width=250, height=250, tools="tap", toolbar_location=None,
                 x_range=(-1.1, 1.1), y_range=(-1.1, 1.1), match_aspect=True,
                 title="click a segment to put the lead there")
    fig.annular_wedge(x=0, y=0, inner_radius="inner", outer_radius="outer",
                      start_angle="start", end_angle="end", source=source,
                      fill_color="#DDDDDD", line_color="black",
                      selection_fill_color="#EE7733", nonselection_fill_alpha=1.0,
                      nonselection_fill_color="#DDDDDD")
    fig.text(x="x", y="y", text="label", source=source, text_align="center",
             text_baseline="middle", text_font_size="10pt")
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None
    return fig, source


def _patient_view():
    from strainsim.segments import load_segments

    # a text box, checked here: a bad value gets its message instead of being ignored
    seed = pn.widgets.TextInput(label="patient seed", value="7")
    seed_message = pn.pane.Alert("", alert_type="warning", visible=False)
    current = {"seed": 7}
    new = pn.widgets.Button(label="new patient", color="primary")
    fps = _slider("fps", "frame rate (fps)", 5.0)
    noise = _slider("noise_sd_pct", "speckle-tracking noise (% strain)", 0.1)
    error = pn.pane.Alert("", alert_type="danger", visible=False)
    summary = pn.pane.Markdown("")
    curves = pn.pane.PNG(None, sizing_mode="scale_width", max_width=640)
    bullseyes = pn.pane.PNG(None, sizing_mode="scale_width", max_width=1100)
    # the playground: the student's own lead, by a click on the bullseye or the list
    picker, picked = _segment_picker()
    lead = pn.widgets.Select(label="your lead's segment",
                             options={f"{s.number} {s.name}": s.number
                                      for s in load_segments().segments}, value=11,
                             description="Where you put the LV lead: its paced "
                             "activation and the LVESV change the model expects from it.")
    lead_png = pn.pane.PNG(None, sizing_mode="scale_width", max_width=420)
    lead_summary = pn.pane.Markdown("", sizing_mode="stretch_width")

    latest, latest_lead = _Latest(), _Latest()

    def show(view):
        error.visible = False
        curves.object, bullseyes.object, summary.object = (view.curves_png,
                                                           view.strategies_png, view.summary)

    def show_lead(view):
        lead_png.object, lead_summary.object = view

    fail = _error_shower(error)

    def update_lead(*_):
        number, frame_rate, noise_pct, segment = current["seed"], fps.value, noise.value, \
            lead.value
        _view_task(latest_lead, (lead_png, lead_summary),
                   lambda: render_lead(patient_case(number, frame_rate, noise_pct), segment),
                   show_lead, fail)

    def update(*_):
        text = (seed.value or "").strip()
        try:
            number = int(text)
            if not 0 <= number <= 2**31 - 1:
                raise ValueError
        except ValueError:
            seed_message.object = (f"patient seed: expected a whole number in "
                                   f"[0, {2**31 - 1}], found {text!r}; still showing "
                                   f"patient {current['seed']}")
            seed_message.visible = True
            return
        seed_message.visible = False
        current["seed"] = number
        frame_rate, noise_pct = fps.value, noise.value
        _view_task(latest, (curves, bullseyes, summary),
                   lambda: render_patient(number, frame_rate, noise_pct), show, fail)
        update_lead()

    def next_patient(_):
        seed.value = str(current["seed"] + 1)

    def clicked(attr, old, new_rows):
        if new_rows:
            lead.value = int(picked.data["segment"][new_rows[0]])

    for widget in (seed, fps, noise):
        widget.param.watch(update, "value")
    lead.param.watch(update_lead, "value")
    picked.selected.on_change("indices", clicked)
    new.on_click(next_patient)
    update()
    seed.description = "Which simulated patient is shown: a whole number."
    new.description = "The next patient (seed + 1)."
    controls = pn.Column("### One patient", seed, seed_message, new,
                         _with_tip(fps, _tip("fps")), _with_tip(noise, _tip("noise_sd_pct")),
                         "### Place the lead yourself", pn.pane.Bokeh(picker), lead,
                         width=300)
    playground = pn.Column("### Your lead", lead_png, lead_summary,
                           sizing_mode="stretch_width")
    return _view(controls, "one simulated patient's 17 strain curves (each curve a "
                 "segment of the LV; the triangle marks when it peaks; the thick curve is the "
                 "latest viable one, where strain guidance would aim), then where each "
                 "placement strategy put the lead on the bullseye. Click a segment of the "
                 "small bullseye on the left to put the lead there yourself and see what "
                 "pacing from it would do.", error, summary, curves, bullseyes, playground)


def _guide_view():
    """The guided path of the lesson pack on the live page: each question, a reveal
    button and its answer, from the calibrated world's power curve (the curve the
    trials view already computed; the same text as ``strainsim lesson``)."""
    from strainsim.app.lesson import lesson_steps

    steps = lesson_steps(power_curve(ExplorerSettings(), mapper=_MAPPER))
    rows = []
    for k, step in enumerate(steps):
        guess = pn.widgets.TextInput(label=f"your guess {k + 1} (%)", placeholder="e.g. 20",
                                     width=160, description="Write your prediction "
                                     "before you reveal the simulation's answer.")
        answer = pn.pane.Alert("", alert_type="info", visible=False,
                               sizing_mode="stretch_width")
        button = pn.widgets.Button(label=f"reveal answer {k + 1}",
                                   description="Shows what the calibrated world's "
                                   "simulations say, next to your guess.")

        def reveal(_, guess=guess, answer=answer, text=step["answer"]):
            typed = (guess.value or "").strip().rstrip("%").strip()
            try:
                number = float(typed)
            except ValueError:
                answer.alert_type = "warning"
                answer.object = ("Write your guess first (a number in percent), then "
                                 "reveal." if not typed else
                                 f"your guess: expected a number in percent, found "
                                 f"{typed!r}")
                answer.visible = True
                return
            answer.alert_type = "info"
            answer.object = f"You guessed {number:g} %. {text}"
            answer.visible = True

        button.on_click(reveal)
        rows += [pn.pane.Markdown(f"**{k + 1}.** {step['question']}",
                                  sizing_mode="stretch_width"), pn.Row(guess, button), answer]
    intro = pn.pane.Markdown(
        "Write your guess to each question before you reveal it; the answers come from "
        "the calibrated world's own simulations. The same lesson "
        "without a server: `strainsim lesson --out DIR`.", sizing_mode="stretch_width")
    return pn.Column("### A guided lesson", intro, *rows, sizing_mode="stretch_width",
                     max_width=900)


def build_page(query: dict | None = None):
    """The whole page for one browser session (``query``: the URL's query arguments).

    Sliders report their value on release (``panel.config.throttled``): a drag's
    intermediate values are not computed."""
    pn.config.throttled = True
    settings, problems = settings_from_query(query or {})
    tabs = pn.Tabs(("Trials", _trials_view(settings, problems)),
                   ("Lesson", _guide_view()), ("Patient", _patient_view()), dynamic=True)
    header = pn.pane.Markdown(
        "## strainsim: does 45 % concordance hide the benefit of targeting the LV lead?\n"
        "Every number comes from simulated patients, measured strain curves, placed "
        "leads and pooled trials: the same code as the `strainsim` command line.",
        sizing_mode="stretch_width")
    return pn.Column(header, tabs, sizing_mode="stretch_width")


def _session():
    return build_page(dict(pn.state.session_args or {}))


def _ignore_departed_clients() -> None:
    """A browser tab that closes while the page still sends to it is not an error: its
    closed websocket is not reported (asyncio would print a traceback for it), nor is
    one that closes before its session was made (:func:`_left_before_its_session`)."""
    from tornado.ioloop import IOLoop

    loop = IOLoop.current().asyncio_loop

    def handler(loop, context):
        exc = context.get("exception")
        if exc is not None and type(exc).__name__ in ("WebSocketClosedError",
                                                      "StreamClosedError"):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    logging.getLogger("tornado.application").addFilter(_left_before_its_session)


def _left_before_its_session(record: logging.LogRecord) -> bool:
    """False for the one error Bokeh's server logs when a tab's websocket closes before
    its session was made (the tab left while its page was still being built: nothing is
    lost); every other record passes."""
    exc = record.exc_info[1] if record.exc_info else None
    if not isinstance(exc, AssertionError):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return not (frames and frames[-1].name == "session"
                and Path(frames[-1].filename).parts[-3:] == ("bokeh", "server",
                                                               "connection.py")
                and any(f.name == "on_close" for f in frames))


def serve(port: int, host: str, open_browser: bool, workers: int = 2,
          precompute: bool = True) -> None:
    """Precompute the default world's power curve, then serve the page until
    interrupted (``host``: the address to listen on)."""
    global _MAPPER
    from strainsim.studies.parallel import make_mapper

    # the power curves' worker processes yield the CPU to the page's own answers
    with make_mapper(workers, niceness=10) as mapper:
        _MAPPER = mapper if workers > 1 else None
        if precompute:
            print(f"strainsim explore: precomputing the default power curve "
                  f"({PRECISE_REPLICATES} virtual meta-analyses per level)...",
                  file=sys.stderr)
            power_curve(ExplorerSettings(), precise=True, mapper=_MAPPER)
        origins = [f"{host}:{port}"] + ([f"localhost:{port}", f"127.0.0.1:{port}"]
                                        if host in ("127.0.0.1", "localhost") else [])
        print(f"strainsim explorer on http://{host}:{port}/ (Ctrl-C to stop)",
              file=sys.stderr)
        _ignore_departed_clients()
        pn.serve({"/": _session}, port=port, address=host, show=open_browser,
                 title="strainsim explorer", websocket_origin=origins, threaded=False,
                 start=True, print=False,
                 # gzip for every response the browser accepts it for: the page's
                 # JavaScript (bokeh, panel) is most of its weight
                 compress_response=True)
