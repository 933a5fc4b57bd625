"""A lesson pack: the explorer's lesson as one HTML file that needs no server.

:func:`build_lesson` runs the explorer's own code (:func:`strainsim.app.explorer.render_trials`
and its power curve) for the calibrated world at every concordance level of the
explorer's power curve, adds where the published pooled LVESV difference falls among
the simulated ones, and writes everything into one self-contained page: the figures
as embedded PNGs, a slider that swaps them, and a guided path of questions, each to
answer before its reveal. The page opens from the file system with no Python running
(``strainsim lesson --out DIR``).

Examples
--------
>>> from strainsim.app.lesson import LESSON_STEPS
>>> len(LESSON_STEPS) >= 3
True
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import replace

__all__ = ["build_lesson", "LESSON_STEPS", "lesson_numbers", "lesson_steps"]

# the guided path: (question, what the reveal shows; {names} are filled from the numbers)
LESSON_STEPS = (
    ("The trials' image-guided arms placed about {own_pct} of leads on their measured "
     "target. In what share of five-trial meta-analyses of 818 patients like the published "
     "one would the LVESV benefit show (a pooled interval wholly on the side of benefit)? "
     "Write your guess in percent.",
     "In the calibrated world: {own_power} of simulated meta-analyses (Monte Carlo SE "
     "{own_power_mcse}), while {own_false} show 'benefit' in the same world with no "
     "benefit at all. A null result like the published one is what this world expects."),
    ("Now move the slider to 90 %: nine in ten leads on target. Guess the share again.",
     "At 90 %: {power_90} (SE {power_90_mcse}). Hitting the measured target more often "
     "helps remodelling little in this world: the latest segment by strain is not where "
     "pacing shortens activation most."),
    ("The published pooled LVESV difference was -7.1 %. Among simulated meta-analyses of "
     "the calibrated world, what share would you expect to be at least that far on the "
     "side of benefit?",
     "{published_share} of them (the histogram): the published result is a rare, lucky "
     "draw in this world, or the world misses something real."),
    ("Symptoms: in what share of simulated meta-analyses does the NYHA benefit show?",
     "{nyha_power} (SE {nyha_power_mcse}), against a published result that was "
     "significant. Symptoms here follow the resynchronization a lead achieves, fitted to "
     "a series in which they improved more often the later the lead's site activated, "
     "on top of a channel that does not change the heart's volumes (an unblinded "
     "assessment or the procedure); the trials cannot tell how the benefit splits "
     "between the two."),
)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _markdown_line(text: str) -> str:
    """The explorer's summary (bold, italics, code, line breaks) as HTML."""
    import re

    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"\*(.+?)\*", r"<i>\1</i>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out.replace("  \n", "<br>")


def lesson_numbers(sweep) -> dict:
    """The numbers the guided questions reveal, from a power curve of the calibrated
    world (:func:`strainsim.app.explorer.power_curve`), as text."""
    from strainsim.app.explorer import POWER_LEVELS
    from strainsim.studies.sweep import published_targets

    published = published_targets()["lvesv"][0]
    own = sweep.calibrated
    at_90 = sweep.summary[POWER_LEVELS.index(0.9)]
    side = sweep.calibrated_replicates[:, 1, 0] <= published
    return {
        "own_pct": _pct(own.concordance),
        "own_power": _pct(own.power_benefit["lvesv"]),
        "own_power_mcse": _pct(own.mcse["lvesv"]["power_benefit"]),
        "own_false": _pct(own.false_positive["lvesv"]),
        "power_90": _pct(at_90.power_benefit["lvesv"]),
        "power_90_mcse": _pct(at_90.mcse["lvesv"]["power_benefit"]),
        "published_share": _pct(float(side.mean())),
        "nyha_power": _pct(own.power_benefit["nyha"]),
        "nyha_power_mcse": _pct(own.mcse["nyha"]["power_benefit"]),
    }


def lesson_steps(sweep) -> list[dict]:
    """The guided path's questions and answers with :func:`lesson_numbers` filled in."""
    numbers = lesson_numbers(sweep)
    return [{"question": q.format(**numbers), "answer": a.format(**numbers)}
            for q, a in LESSON_STEPS]


def build_lesson(*, replicates: int = 200, progress=None) -> str:
    """The lesson page's HTML (see the module docstring).

    Parameters
    ----------
    replicates : int
        Virtual meta-analyses behind the power curve (every level uses them).
    progress : callable, optional
        Called with the number of levels rendered.
    """
    from strainsim.app.explorer import (
        POWER_LEVELS,
        ExplorerSettings,
        png_bytes,
        power_curve,
        render_trials,
    )
    from strainsim.app.plots import plot_pooled_distribution
    from strainsim.studies.sweep import published_targets

    settings = ExplorerSettings()
    sweep = power_curve(settings, replicates=replicates)
    published = published_targets()["lvesv"][0]
    levels = []
    for k, level in enumerate(POWER_LEVELS):
        view = render_trials(replace(settings, concordance=level), "lvesv",
                             replicates=replicates)
        estimates = sweep.replicates[k, :, 1, 0]
        histogram = png_bytes(plot_pooled_distribution(
            estimates, published, label="pooled LVESV difference (%)",
            title=f"pooled LVESV differences at {level:.0%} concordance (what-if)"))
        levels.append({"level": level, "label": f"{level:.0%}",
                       "forest": _data_uri(view.forest_png),
                       "power": _data_uri(view.power_png),
                       "histogram": _data_uri(histogram),
                       # the live page's pointer to refining does not apply here
                       "summary": _markdown_line(view.summary.split("  \n*Power curve")[0])})
        if progress is not None:
            progress(k + 1)
    own = sweep.calibrated
    own_estimates = sweep.calibrated_replicates[:, 1, 0]
    numbers = lesson_numbers(sweep)
    calibrated_histogram = _data_uri(png_bytes(plot_pooled_distribution(
        own_estimates, published, label="pooled LVESV difference (%)",
        title=f"the calibrated world ({own.concordance:.0%} concordance)")))
    steps = lesson_steps(sweep)
    return _page(levels, steps, calibrated_histogram, replicates, numbers)


def _page(levels, steps, calibrated_histogram, replicates, numbers) -> str:
    start = min(range(len(levels)), key=lambda k: abs(levels[k]["level"] - 0.45))
    data = json.dumps({"levels": levels, "start": start})
    step_html = "\n".join(
        f'<li class="step"><p>{html.escape(s["question"])}</p>'
        f'<input type="text" class="guess" aria-label="your guess" size="8"> '
        f'<button class="reveal" data-step="{k}">reveal</button>'
        f'<p class="answer" id="answer-{k}" hidden>{html.escape(s["answer"])}</p></li>'
        for k, s in enumerate(steps))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>strainsim lesson: does 45 % concordance hide the benefit of targeting the LV lead?</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.2em auto; max-width: 1100px;
       padding: 0 1em; line-height: 1.45; color: #222; }}
img {{ max-width: 100%; height: auto; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.figures > div {{ flex: 1 1 420px; }}
.step {{ margin-bottom: 1em; }}
.answer {{ background: #eef5fb; padding: 0.5em; border-left: 4px solid #4477AA; }}
#slider {{ width: 100%; max-width: 500px; }}
.note {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<h1>Does a 45 % concordance rate hide the benefit of targeting the LV lead?</h1>
<p>Every picture below was computed by strainsim for its calibrated world: simulated
patients, measured strain curves, placed leads and pooled virtual trials
({replicates} virtual meta-analyses behind every curve). The trials shown are
<b>simulated</b>, named after the five real designs. This page needs no server.</p>
<h2>The guided path</h2>
<p>Answer each question before you press <i>reveal</i>.</p>
<ol>
{step_html}
</ol>
<h2>Explore the concordance</h2>
<label for="slider">image-guided concordance (a what-if, forced):
<b id="level-label"></b></label><br>
<input type="range" id="slider" min="0" max="{len(levels) - 1}" step="1" value="{start}"
       aria-label="image-guided concordance">
<p id="summary"></p>
<div class="figures">
<div><img id="forest" alt="forest plot of one simulated meta-analysis"></div>
<div><img id="histogram" alt="pooled LVESV differences of the simulated meta-analyses"></div>
</div>
<div><img id="power" alt="power, false positives and patients needed against concordance"></div>
<h2>The calibrated world itself</h2>
<p>Its image-guided arms achieve {html.escape(numbers["own_pct"])} concordance; the
published pooled LVESV difference among its simulated meta-analyses:</p>
<img id="calibrated" alt="the calibrated world's pooled LVESV differences"
     src="{calibrated_histogram}">
<p class="note">Made by <code>strainsim lesson</code>: the same code as
<code>strainsim explore</code>. Monte Carlo standard errors are given with every share.</p>
<script id="lesson-data" type="application/json">{data}</script>
<script>
const lesson = JSON.parse(document.getElementById("lesson-data").textContent);
const slider = document.getElementById("slider");
function show(k) {{
  const level = lesson.levels[k];
  document.getElementById("level-label").textContent = level.label;
  document.getElementById("forest").src = level.forest;
  document.getElementById("power").src = level.power;
  document.getElementById("histogram").src = level.histogram;
  document.getElementById("summary").innerHTML = level.summary;
}}
slider.addEventListener("input", () => show(Number(slider.value)));
document.querySelectorAll("button.reveal").forEach(button => {{
  button.addEventListener("click", () => {{
    document.getElementById("answer-" + button.dataset.step).hidden = false;
  }});
}});
show(lesson.start);
</script>
</body></html>
"""
