"""Figures: the bullseye, strain curves and a one-patient summary.

matplotlib is imported inside the functions (with the non-interactive Agg
backend when no backend was chosen), so importing strainsim stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strainsim.files import atomic_path
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = ["plot_bullseye", "plot_curves", "plot_patient", "save_figure"]


def pyplot():
    """matplotlib.pyplot, on the non-interactive Agg backend unless one was chosen."""
    import matplotlib

    if "matplotlib.pyplot" not in __import__("sys").modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bullseye(values=None, *, ax=None, target: int | None = None, lead: int | None = None,
                  scar=None, cmap: str = "viridis", label: str = "TTP (ms)",
                  vmin: float | None = None, vmax: float | None = None,
                  title: str | None = None, numbers: bool = True,
                  model: SegmentModel | None = None):
    """Draw the AHA 17-segment bullseye, coloured by a value per segment.

    Parameters
    ----------
    values : array_like, shape (17,), optional
        Value per segment (NaN is drawn grey). Without values the segments are white.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when omitted.
    target : int, optional
        Segment number to outline as the target (thick red border, "T").
    lead : int, optional
        Segment number where the lead sits (black dot, "L").
    scar : array_like of bool, shape (17,), optional
        Segments to hatch as scar.
    cmap, label, vmin, vmax : colour map, colour-bar label and limits.
    title : str, optional
    numbers : bool
        Write segment numbers.
    model : SegmentModel, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from strainsim.app.plots import plot_bullseye
    >>> ax = plot_bullseye(np.arange(17.0), target=5, lead=11)
    """
    plt = pyplot()
    from matplotlib.patches import Wedge

    model = model or load_segments()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 4))
    colormap = plt.get_cmap(cmap)
    vals = None if values is None else np.asarray(values, dtype=float)
    if vals is not None:
        finite = vals[np.isfinite(vals)]
        lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
        hi = vmax if vmax is not None else (finite.max() if finite.size else 1.0)
        if hi <= lo:
            hi = lo + 1.0
        norm = plt.Normalize(lo, hi)
    scar = np.zeros(N_SEGMENTS, bool) if scar is None else np.asarray(scar, bool)
    for seg in model.segments:
        if vals is None:
            face = "white"
        elif np.isfinite(vals[seg.number - 1]):
            face = colormap(norm(vals[seg.number - 1]))
        else:
            face = "0.8"
        start = seg.angle_start
        end = start + seg.angle_span
        wedge = Wedge((0, 0), seg.radius_outer, start, end,
                      width=seg.radius_outer - seg.radius_inner, facecolor=face,
                      edgecolor="black", linewidth=0.8,
                      hatch="///" if scar[seg.number - 1] else None)
        ax.add_patch(wedge)
        r_mid = (seg.radius_inner + seg.radius_outer) / 2 if seg.radius_inner > 0 else 0.0
        theta = np.radians(seg.angle_centre)
        x, y = r_mid * np.cos(theta), r_mid * np.sin(theta)
        if numbers:
            ax.text(x, y, str(seg.number), ha="center", va="center", fontsize=8,
                    color="black", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none",
                                             alpha=0.6))
        if target == seg.number:
            ax.add_patch(Wedge((0, 0), seg.radius_outer, start, end,
                               width=seg.radius_outer - seg.radius_inner, fill=False,
                               edgecolor="red", linewidth=3.0))
            ax.annotate("T", (x, y), xytext=(6, 6), textcoords="offset points",
                        color="red", fontweight="bold")
        if lead == seg.number:
            ax.plot(x, y - 0.06, "o", color="black", markersize=9, markeredgecolor="white")
            ax.annotate("L", (x, y - 0.06), xytext=(-12, -12), textcoords="offset points",
                        fontweight="bold")
    for text, (x, y) in {"anterior": (0, 1.08), "inferior": (0, -1.12),
                         "septal": (-1.12, 0), "lateral": (1.12, 0)}.items():
        ax.text(x, y, text, ha="center", va="center", fontsize=8, color="0.3",
                rotation=90 if text in ("septal", "lateral") else 0)
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_aspect("equal")
    ax.axis("off")
    if vals is not None:
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=colormap)
        ax.figure.colorbar(mappable, ax=ax, shrink=0.75, label=label)
    if title:
        ax.set_title(title)
    return ax


# Paul Tol's muted palette for the walls (colour-blind safe), one line style per ring,
# and legend text large enough to read at the explorer's 90 dpi (at least 10 px high)
_WALL_COLOURS = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255",
                 "#44AA99", "#999933", "#AA4499", "#888888")
_RING_STYLES = {"basal": "-", "mid": "--", "apical": ":", "apex": "-."}
_LEGEND_PT = 9


def plot_curves(time_ms, strain, *, ttp_ms=None, viable=None, latest: int | None = None,
                kind: str = "radial", ax=None, model: SegmentModel | None = None):
    """Draw 17 segmental strain curves, coloured by wall, with TTP markers.

    Parameters
    ----------
    time_ms : array_like, shape (T,)
    strain : array_like, shape (17, T)
    ttp_ms : array_like, shape (17,), optional
        Marks each curve's time to peak.
    viable : array_like of bool, shape (17,), optional
        Non-viable (scar) curves are drawn faded.
    latest : int, optional
        The latest viable segment, drawn thick.

    Each wall has its colour and each ring its line style; the legend, right of the
    axes, explains every mark.
    kind : str
        Used in the axis label.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = pyplot()
    model = model or load_segments()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.4))
    strain = np.asarray(strain, float)
    time_ms = np.asarray(time_ms, float)
    walls = list(dict.fromkeys(s.wall for s in model.segments))
    colours = {w: _WALL_COLOURS[i % len(_WALL_COLOURS)] for i, w in enumerate(walls)}
    marker = "v" if kind == "radial" else "^"
    for seg in model.segments:
        k = seg.number - 1
        if np.all(np.isnan(strain[k])):
            continue
        scar = viable is not None and not viable[k]
        width = 3.0 if latest == seg.number else 1.1
        ax.plot(time_ms, strain[k], _RING_STYLES.get(seg.ring, "-"), color=colours[seg.wall],
                linewidth=width, alpha=0.35 if scar else 1.0, zorder=3 if width > 2 else 2)
        if ttp_ms is not None and np.isfinite(ttp_ms[k]):
            i = int(np.argmin(np.abs(time_ms - ttp_ms[k])))
            ax.plot(time_ms[i], strain[k, i], marker, color=colours[seg.wall], markersize=5,
                    alpha=0.35 if scar else 1.0)
    handles = [plt.Line2D([], [], color=colours[w], linewidth=2, label=w) for w in walls]
    rings = list(dict.fromkeys(s.ring for s in model.segments))
    handles += [plt.Line2D([], [], color="0.3", linestyle=_RING_STYLES.get(r, "-"),
                           label=f"{r} ring" if r != "apex" else "apex") for r in rings]
    if latest is not None and latest > 0:
        handles.append(plt.Line2D([], [], color="black", linewidth=3.0,
                                  label=f"latest viable: {latest}"))
    if ttp_ms is not None:
        handles.append(plt.Line2D([], [], color="0.3", marker=marker, linestyle="none",
                                  label="time to peak"))
    if viable is not None and not np.all(viable):
        handles.append(plt.Line2D([], [], color="0.3", alpha=0.35, linewidth=2,
                                  label="scar (faded)"))
    ax.legend(handles=handles, fontsize=_LEGEND_PT, ncol=1, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_xlabel("time after QRS onset (ms)")
    ax.set_ylabel(f"{kind} strain (%)")
    ax.axhline(0, color="0.6", linewidth=0.6)
    return ax


def plot_patient(time_ms, strain, result, index: int = 0, *, lead: int | None = None,
                 title: str | None = None, model: SegmentModel | None = None):
    """Curves and TTP bullseye for one patient of an engine result; returns the figure."""
    plt = pyplot()
    fig, (ax_curves, ax_eye) = plt.subplots(1, 2, figsize=(12, 4.6),
                                            gridspec_kw={"width_ratios": [1.5, 1]})
    latest = int(result.latest_segment[index])
    plot_curves(time_ms, strain[index], ttp_ms=result.ttp_ms[index],
                viable=result.viable[index], latest=latest if latest > 0 else None,
                kind=result.kind, ax=ax_curves, model=model)
    plot_bullseye(result.ttp_ms[index], ax=ax_eye, target=latest if latest > 0 else None,
                  lead=lead, scar=~result.viable[index], label="time to peak (ms)",
                  cmap="plasma", model=model)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | Path) -> None:
    """Save a figure atomically (temp file + rename) and close it."""
    plt = pyplot()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)


def plot_forest(result, *, title: str | None = None, xlabel: str | None = None,
                favours: tuple[str, str] | None = None, ax=None,
                published: tuple[float, float, float] | None = None):
    """Forest plot in the metafor/RevMan style.

    One row per study (square sized by its weight, horizontal CI line, the
    estimate and CI as text, the weight in %), the pooled estimate as a diamond,
    the prediction interval as a line through it (random-effects models), a
    vertical line at no effect, and the heterogeneity statistics underneath.
    Odds ratios are drawn on a log axis and labelled as ratios.

    Parameters
    ----------
    result : strainsim.stats.pooling.MetaResult
    title, xlabel : str, optional
    favours : (str, str), optional
        Labels under the left and right halves ("favours image-guided", ...).
    ax : matplotlib Axes, optional
    published : (estimate, low, high), optional
        A published pooled result (odds ratios as ratios) drawn as a red line and band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    from matplotlib.patches import Polygon

    effects = result.effects
    k = result.k
    is_ratio = result.measure == "OR"
    transform = np.exp if is_ratio else (lambda x: x)
    low, high = result.study_intervals()
    if ax is None:
        fig, ax = plt.subplots(figsize=(9.5, 1.6 + 0.38 * (k + 3)))
    else:
        fig = ax.figure
    rows = np.arange(k, 0, -1) + 1.5
    sizes = 40 + 400 * result.weights / max(result.weights.max(), 1e-12)
    ax.hlines(rows, transform(low), transform(high), color="black", linewidth=1)
    ax.scatter(transform(effects.yi), rows, s=sizes, marker="s", color="0.25", zorder=3)
    centre, lo, hi = (transform(x) for x in (result.estimate, result.ci_low, result.ci_high))
    ax.add_patch(Polygon([(lo, 0.5), (centre, 0.8), (hi, 0.5), (centre, 0.2)],
                         closed=True, color="0.1", zorder=3))
    random_effects = result.method not in ("FE", "MH")
    if random_effects and result.k > 1:
        ax.hlines(0.5, transform(result.pi_low), transform(result.pi_high), color="0.1",
                  linestyle=(0, (2, 2)), linewidth=1)
    null = 1.0 if is_ratio else 0.0
    ax.axvline(null, color="0.5", linewidth=0.8, linestyle="--")
    if published is not None:
        p_est, p_low, p_high = published
        ax.axvspan(p_low, p_high, color="tab:red", alpha=0.08)
        ax.axvline(p_est, color="tab:red", linewidth=1.2, linestyle="-.",
                   label=f"published {p_est:g} [{p_low:g}, {p_high:g}]")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False)
    if is_ratio:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    text = "{:.2f} [{:.2f}, {:.2f}]"
    trans = ax.get_yaxis_transform()
    labels = [text.format(transform(y), transform(a), transform(b))
              for y, a, b in zip(effects.yi, low, high, strict=True)]
    pooled_label = text.format(centre, lo, hi)
    # the weight column starts after the widest estimate text (bold digits are about
    # 0.67 em wide at 9 pt), so the columns never run into each other
    weight_offset = 6.1 * max(len(x) for x in [*labels, pooled_label]) + 12

    def weight_text(row, words, **style):
        ax.annotate(words, xy=(1.02, row), xycoords=trans, xytext=(weight_offset, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=9, **style)

    for row, study, label_text, w in zip(rows, effects.study, labels, result.weights,
                                         strict=True):
        ax.text(-0.02, row, study, transform=trans, ha="right", va="center", fontsize=9)
        ax.text(1.02, row, label_text, transform=trans, ha="left", va="center", fontsize=9)
        weight_text(row, f"{w:.1f}%")
    model = {"FE": "Fixed-effect model", "MH": "Mantel-Haenszel model"}.get(
        result.method, f"Random-effects model ({result.method}"
        + (", Hartung-Knapp)" if result.test == "knha" else ")"))
    ax.text(-0.02, 0.5, model, transform=trans, ha="right", va="center", fontsize=9,
            fontweight="bold")
    ax.text(1.02, 0.5, pooled_label, transform=trans, ha="left", va="center",
            fontsize=9, fontweight="bold")
    weight_text(0.5, "100%", fontweight="bold")
    q_p = "n/a" if not np.isfinite(result.q_p) else (
        "< 0.001" if result.q_p < 0.001 else f"= {result.q_p:.3f}")
    het = (f"Heterogeneity: Q = {result.q:.2f}, df = {result.q_df}, p {q_p}; "
           f"I\u00b2 = {result.i2:.0f}%; \u03c4\u00b2 = {result.tau2:.3g}")
    if random_effects and result.k > 1:
        het += (f"; prediction interval {transform(result.pi_low):.2f} to "
                f"{transform(result.pi_high):.2f}")
    ax.text(-0.02, -0.5, het, transform=trans, ha="left", va="center", fontsize=8,
            color="0.25")
    label = {"OR": "Odds ratio", "MD": "Mean difference",
             "SMD": "Standardized mean difference (Hedges' g)"}.get(result.measure, "Effect")
    short = {"OR": "OR", "MD": "MD", "SMD": "g"}.get(result.measure, "Effect")
    ax.text(1.02, k + 2.6, f"{short} [95% CI]", transform=trans, ha="left", fontsize=9,
            fontweight="bold")
    weight_text(k + 2.6, "Weight", fontweight="bold")
    ax.set_ylim(-1.0, k + 3.0)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(xlabel or label)
    if favours:
        for side, words in zip((0.25, 0.75), favours, strict=True):
            ax.annotate(words, xy=(side, 0), xycoords="axes fraction", xytext=(0, -42),
                        textcoords="offset points", ha="center", fontsize=8, color="0.3")
    if title:
        ax.set_title(title, loc="left")
    fig.subplots_adjust(left=0.26, right=0.56, bottom=0.2)
    return fig


def plot_funnel(result, egger=None, *, title: str | None = None):
    """Funnel plot: effect sizes against their standard errors (inverted), with the pooled
    estimate and its pseudo 95 % confidence region; Egger's test in the caption.

    Parameters
    ----------
    result : strainsim.stats.pooling.MetaResult
    egger : strainsim.stats.sensitivity.EggerTest, optional
    """
    plt = pyplot()
    effects = result.effects
    sei = np.sqrt(effects.vi)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    top = sei.max() * 1.1
    se_line = np.linspace(0, top, 50)
    ratio = result.measure == "OR"
    tr = np.exp if ratio else (lambda x: x)
    ax.fill_betweenx(se_line, tr(result.estimate - 1.96 * se_line),
                     tr(result.estimate + 1.96 * se_line), color="0.9",
                     label="pseudo 95% region")
    ax.axvline(tr(result.estimate), color="tab:blue", linewidth=1,
               label=f"pooled ({result.method})")
    ax.scatter(tr(effects.yi), sei, color="black", zorder=3, s=18)
    if ratio:
        ax.set_xscale("log")
    ax.set_ylim(top, 0)
    ax.set_xlabel("odds ratio" if ratio else "effect size")
    ax.set_ylabel("standard error")
    ax.legend(fontsize=8, loc="lower right")
    caption = f"{effects.k} studies"
    if egger is not None:
        caption += (f"; Egger's test: intercept {egger.intercept:.2f} "
                    f"(t = {egger.t:.2f}, df {egger.df}, p = {egger.p:.3g})")
    ax.set_title(title or "funnel plot", fontsize=10)
    fig.text(0.5, 0.01, caption, ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_tsa(result, *, title: str | None = None):
    """Trial sequential analysis: the cumulative z-curve against the monitoring
    boundaries and the conventional 1.96 lines, on the information axis."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    frac = np.asarray(result.fraction)
    from strainsim.stats.sequential import boundaries

    # the boundary as a curve: a spending schedule of 40 looks (its values at the
    # actual looks are in the table; a denser schedule changes them by little)
    grid = np.linspace(min(0.05, frac.min()), max(1.0, frac.max()) * 1.05, 40)
    kind = getattr(result, "spending", "obf")
    if getattr(result, "futility", None) is None:
        bound = boundaries(grid, result.alpha, grid_points=801, kind=kind,
                           gamma=getattr(result, "gamma", -4.0))
        shown = np.where(bound < 8, bound, np.nan)
        ax.plot(grid * result.ris, shown, color="tab:red",
                label=f"monitoring boundaries (two-sided, {kind})")
        ax.plot(grid * result.ris, -shown, color="tab:red")
    else:
        inner = np.where(np.isfinite(result.futility), result.futility, np.nan)
        sign = 1.0 if result.delta > 0 else -1.0
        harm = np.where(np.isfinite(result.boundary), -sign * result.boundary, np.nan)
        ax.fill_between(result.patients, inner, np.clip(harm, -8, 8), color="tab:orange",
                        alpha=0.2, label=f"stop for futility ({result.futility_rule}, "
                        f"{kind} spending)")
        ax.plot(result.patients, inner, "s--", color="tab:orange", markersize=4,
                label="futility boundary (side of benefit)")
    for sign in (1, -1):
        ax.axhline(sign * 1.96, color="0.5", linestyle=":", linewidth=1)
    ax.axvline(result.ris, color="tab:green", linewidth=1,
               label=f"required information {result.ris:,.0f}")
    at_looks = np.where(np.asarray(result.boundary) < 8, result.boundary, np.nan)
    ax.plot(result.patients, at_looks, "v", color="tab:red", markersize=5,
            label="boundary at each look")
    ax.plot(result.patients, -at_looks, "^", color="tab:red", markersize=5)
    ax.plot(result.patients, result.z, "o-", color="tab:blue", label="cumulative z-curve")
    for s, n, z in zip(result.study, result.patients, result.z, strict=True):
        ax.annotate(s, (n, z), textcoords="offset points", xytext=(4, 4), fontsize=7)
    finite_z = np.asarray(result.z)[np.isfinite(result.z)]
    reach = max(8.0, float(np.abs(finite_z).max()) + 0.5) if finite_z.size else 8.0
    ax.set_ylim(-reach, reach)
    ax.set_xlabel("cumulative patients")
    ax.set_ylabel("cumulative z")
    ax.set_title(title or f"trial sequential analysis ({result.conclusive})", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_benchmark(scores: dict, *, title: str | None = None):
    """Activation-mapping benchmark: exact and within-one accuracy against frame rate,
    one line per noise level, with Wilson 95 % intervals."""
    plt = pyplot()
    rows = [r for r in scores["strata"] if r["stratum"] != "all"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    noises = sorted({r["noise"] for r in rows})
    for ax, key, label in ((axes[0], "exact", "exact"),
                           (axes[1], "within_one", "within one neighbour")):
        for noise in noises:
            sel = sorted((r for r in rows if r["noise"] == noise), key=lambda r: r["fps"])
            fps = [r["fps"] for r in sel]
            acc = np.array([r[key] for r in sel]) * 100
            lo = np.array([r[f"{key}_ci"][0] for r in sel]) * 100
            hi = np.array([r[f"{key}_ci"][1] for r in sel]) * 100
            ax.errorbar(fps, acc, yerr=[acc - lo, hi - acc], fmt="o-", capsize=3,
                        label=f"noise {noise:g}")
        ax.set_xlabel("frame rate (fps)")
        ax.set_title(f"latest segment found: {label}", fontsize=10)
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("patients (%)")
    fig.suptitle(title or "activation-mapping benchmark")
    fig.tight_layout()
    return fig


# Paul Tol's bright palette: the four outcomes told apart with colour blindness too
_COLOURS = (("nyha", "#AA3377"), ("lvesv", "#228833"), ("lvedv", "#4477AA"),
            ("lvef", "#EE6677"))


def _share_with_band(ax, levels, result, key: str, name: str, colour: str) -> None:
    """A sweep share per level (%) with its 95 % Monte Carlo band (1.96 MCSE)."""
    share = np.array([getattr(lvl, name)[key] for lvl in result.summary]) * 100
    error = np.array([lvl.mcse[key][name] for lvl in result.summary]) * 100
    ax.fill_between(levels, share - 1.96 * error, share + 1.96 * error, color=colour,
                    alpha=0.15, linewidth=0)
    ax.plot(levels, share, "o-", color=colour, label=key.upper())


def _power_panel(ax, result, current: float | None = None):
    levels = np.asarray(result.levels) * 100
    for key, colour in _COLOURS:
        _share_with_band(ax, levels, result, key, "power_benefit", colour)
    ax.axhline(80, color="0.4", linestyle="--", linewidth=0.8)
    ax.axvline(45, color="tab:red", linestyle=":", linewidth=1, label="published (45%)")
    own = getattr(result, "calibrated", None)
    if own is not None:
        for key, colour in _COLOURS:
            p = 100 * own.power_benefit[key]
            ax.errorbar([100 * own.concordance], [p],
                        yerr=[[196 * own.mcse[key]["power_benefit"]]], fmt="*",
                        color=colour, markersize=11, markeredgecolor="black")
        ax.plot([], [], "*", color="0.5", markeredgecolor="black", markersize=11,
                label="the calibrated world (others: what-ifs)")
    if current is not None:
        ax.axvline(current * 100, color="black", linewidth=1.2, label="this setting")
    ax.set_ylim(0, 102)
    ax.set_xlabel("image-guided concordance (%)")
    ax.set_ylabel(f"power to show benefit, {result.n_patients} patients (%)\n"
                  "(bands: 95 % Monte Carlo interval)")
    ax.legend(fontsize=9.5)


def _false_positive_panel(ax, result, current: float | None = None):
    levels = np.asarray(result.levels) * 100
    for key, colour in _COLOURS:
        _share_with_band(ax, levels, result, key, "false_positive", colour)
    ax.axhline(5, color="0.4", linestyle="--", linewidth=0.8, label="nominal 5%")
    if current is not None:
        ax.axvline(current * 100, color="black", linewidth=1.2)
    ax.set_ylim(0, max(12.0, 1.1 * max(lvl.false_positive[k] * 100 for lvl in result.summary
                                       for k, _ in _COLOURS)))
    ax.set_xlabel("image-guided concordance (%)")
    ax.set_ylabel("false positives with no image-guided benefit (%)")
    ax.set_title(f"{result.method}, {'Hartung-Knapp' if result.test == 'knha' else 'z'} test",
                 fontsize=9)
    ax.legend(fontsize=9.5)


def _patients_panel(ax, result, current: float | None = None):
    levels = np.asarray(result.levels) * 100
    for key, colour in _COLOURS[:2]:
        need = np.array([lvl.patients_for_80[key]["patients"] for lvl in result.summary])
        low = np.array([lvl.patients_for_80[key]["low"] for lvl in result.summary])
        high = np.array([lvl.patients_for_80[key]["high"] for lvl in result.summary])
        ok = np.isfinite(need) & (need > 0)
        ax.plot(levels[ok], need[ok], "o-", color=colour,
                label=f"{key.upper()} (bars: MC interval)")
        band = ok & np.isfinite(low) & np.isfinite(high)
        ax.errorbar(levels[band], need[band], yerr=[need[band] - low[band],
                                                     high[band] - need[band]],
                    fmt="none", color=colour, capsize=3)
        beyond = ~np.isfinite(need) & np.isfinite(low)
        ax.plot(levels[beyond], low[beyond], "^", color=colour, alpha=0.6,
                label=f"{key.upper()}: more than this")
    ax.axhline(result.n_patients, color="0.4", linestyle="--", linewidth=0.8,
               label=f"{result.n_patients} patients pooled")
    ax.axvline(45, color="tab:red", linestyle=":", linewidth=1)
    if current is not None:
        ax.axvline(current * 100, color="black", linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("image-guided concordance (%)")
    ax.set_ylabel("patients needed for 80% power\n(copies of the trial mix, simulated)")
    ax.legend(fontsize=9.5)


def plot_power(result, *, current: float | None = None):
    """The lower row of :func:`plot_sweep` alone (power, false positives, patients
    needed), with the concordance ``current`` marked: the explorer's power view."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    _power_panel(axes[0], result, current)
    _false_positive_panel(axes[1], result, current)
    _patients_panel(axes[2], result, current)
    fig.suptitle(f"{result.replicates.shape[1]} virtual meta-analyses per level "
                 f"(seed {result.seed})", fontsize=10, y=0.995)
    # a fixed layout: tight_layout would cost a whole extra draw on every slider move
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.14, top=0.84, wspace=0.38)
    return fig


def plot_strategies(case, *, model: SegmentModel | None = None):
    """One patient's bullseye per placement strategy: time to peak, scar hatched, the
    strategy's target (T) and lead (L), and how the lead is classified.

    ``case`` is a :class:`strainsim.app.explorer.PatientCase`.
    """
    plt = pyplot()
    names = list(case.strategies)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 4.2))
    ttp = np.where(case.measured.viable[0], case.measured.ttp_ms[0], np.nan)
    for ax, name in zip(axes, names, strict=True):
        info = case.strategies[name]
        plot_bullseye(ttp, ax=ax, target=info["target"] if info["target"] > 0 else None,
                      lead=info["lead"], scar=case.scar, label="TTP (ms)", model=model,
                      title=f"{name}: lead in {info['lead']}\n"
                            f"vs its target ({info['target']}): {info['vs_target']}\n"
                            f"vs true latest ({case.true_latest}): {info['vs_true']}")
        ax.title.set_fontsize(9)
    from matplotlib.patches import Patch

    marks = [plt.Line2D([], [], color="red", linewidth=3, label="T: the strategy's target"),
             plt.Line2D([], [], color="black", marker="o", linestyle="none", markersize=9,
                        markeredgecolor="white", label="L: where its lead went"),
             Patch(facecolor="white", edgecolor="black", hatch="///", label="scar"),
             Patch(facecolor="0.8", edgecolor="black", label="no time to peak (scar)")]
    fig.legend(handles=marks, loc="lower center", ncol=len(marks), fontsize=_LEGEND_PT,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_sweep(result, *, published: dict | None = None):
    """Concordance sweep: pooled effects with their mean 95 % CI, power, false positives,
    patients needed.

    Parameters
    ----------
    result : strainsim.studies.sweep.SweepResult
    published : dict, optional
        ``{"nyha": (estimate, low, high), "lvesv": ...}`` drawn as the published
        pooled estimate and CI at the trials' concordance.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    levels = np.asarray(result.levels) * 100
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    panels = (("nyha", "NYHA improvement, odds ratio", True),
              ("lvesv", "LVESV change, mean difference (%)", False),
              ("lvedv", "LVEDV change, mean difference (%)", False))
    for ax, (key, label, ratio) in zip(axes[0], panels, strict=True):
        k = ("nyha", "lvesv", "lvedv", "lvef").index(key)
        est = result.replicates[:, :, k, 0].mean(axis=1)
        low = result.replicates[:, :, k, 2].mean(axis=1)
        high = result.replicates[:, :, k, 3].mean(axis=1)
        tr = np.exp if ratio else (lambda x: x)
        ax.fill_between(levels, tr(low), tr(high), color="tab:blue", alpha=0.2,
                        label="mean 95% CI of one meta-analysis")
        ax.plot(levels, tr(est), "o-", color="tab:blue",
                label="mean pooled estimate (forced concordance: what-ifs)")
        own = getattr(result, "calibrated", None)
        if own is not None:
            band = 1.96 * own.mcse[key]["estimate"]
            m = own.mean_estimate[key]
            ax.errorbar([100 * own.concordance], [m], yerr=[[band], [band]], fmt="*",
                        color="black", markersize=12, capsize=3,
                        label="the calibrated world, its own concordance")
        ax.axhline(1.0 if ratio else 0.0, color="0.4", linestyle="--", linewidth=0.8)
        if published and key in published:
            e, lo, hi = published[key]
            ax.errorbar([45], [e], yerr=[[e - lo], [hi - e]], fmt="s", color="tab:red",
                        capsize=4, label="published meta-analysis (45%)")
        if ratio:
            from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

            ax.set_yscale("log")
            ax.yaxis.set_major_locator(FixedLocator([0.5, 0.75, 1, 1.5, 2, 3, 4, 6]))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("image-guided concordance (%)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8, loc="best")
    _power_panel(axes[1, 0], result)
    _false_positive_panel(axes[1, 1], result)
    _patients_panel(axes[1, 2], result)
    fig.suptitle(f"Concordance sweep: {result.replicates.shape[1]} virtual meta-analyses per "
                 f"level (seed {result.seed}, {result.method}, {result.test})")
    fig.tight_layout()
    return fig


def plot_frames(frames, time_ms, *, n: int = 6, title: str | None = None):
    """A montage of ``n`` B-mode frames spread over the cycle; returns the figure."""
    plt = pyplot()
    picks = np.linspace(0, len(frames) - 1, n).round().astype(int)
    fig, axes = plt.subplots(1, n, figsize=(2.1 * n, 2.6))
    for ax, k in zip(np.atleast_1d(axes), picks, strict=True):
        ax.imshow(frames[k], cmap="gray", vmin=0, vmax=1, aspect="equal")
        ax.set_title(f"{time_ms[k]:.0f} ms", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_tracked_curves(time_ms, true_strain, tracked_strain, *, kind: str = "radial",
                        model: SegmentModel | None = None):
    """Tracked (solid) vs true (dashed) strain for all 17 segments, one panel each."""
    plt = pyplot()
    model = model or load_segments()
    fig, axes = plt.subplots(3, 6, figsize=(15, 7), sharex=True, sharey=True)
    for seg, ax in zip(model.segments, axes.ravel(), strict=False):
        k = seg.number - 1
        ax.plot(time_ms, true_strain[k], "--", color="0.4", linewidth=1, label="true")
        ax.plot(time_ms, tracked_strain[k], color="tab:blue", linewidth=1.2, label="tracked")
        ax.set_title(f"{seg.number} {seg.name}", fontsize=8)
        ax.axhline(0, color="0.8", linewidth=0.5)
    axes.ravel()[-1].axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel("time after QRS onset (ms)")
    fig.supylabel(f"{kind} strain (%)")
    fig.tight_layout()
    return fig


def save_gif(frames, path: str | Path, *, fps: float = 20.0) -> None:
    """Write frames (values in [0, 1]) as an animated GIF, atomically."""
    from PIL import Image

    images = [Image.fromarray((np.clip(f, 0, 1) * 255).astype(np.uint8)) for f in frames]
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(1000 / fps), loop=0)


def plot_calibration(rows: list[dict], *, title: str | None = None):
    """Each target: the published value (diamond) against the simulated mean and 95 %
    range across replicates, on a common scale of published SEs (z)."""
    plt = pyplot()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8.5, 0.34 * n + 1.4))
    y = np.arange(n)[::-1]
    for yk, r in zip(y, rows, strict=True):
        se = r["se"]
        if r["statistic"] == "pooled" and r["outcome"] == "nyha":  # odds ratio: log scale
            def scale(v, r=r, se=se):
                return (np.log(max(v, 1e-12)) - np.log(r["published"])) / se
        else:
            def scale(v, r=r, se=se):
                return (v - r["published"]) / se
        color = "C0" if r["fit"] else "0.55"
        ax.plot([scale(r["simulated_low"]), scale(r["simulated_high"])], [yk, yk], color=color,
                lw=2, alpha=0.6)
        ax.plot(scale(r["simulated_mean"]), yk, "o", color=color)
    ax.plot(np.zeros(n), y, "D", color="C3", label="published value")
    ax.axvspan(-2, 2, color="C3", alpha=0.08, label="within 2 published SEs")
    ax.set_yticks(y, [r["target"] + ("" if r["fit"] else " (not fitted)") for r in rows],
                  fontsize=8)
    ax.set_xlabel("(simulated - published) / published SE")
    ax.plot([], [], "o-", color="C0", label="simulated mean, 95 % range")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "calibration targets")
    fig.tight_layout()
    return fig


_OUTPUT_LABELS = {"lvesv_45": "pooled LVESV difference (%) at 45 % concordance",
                  "power_45": "power to show LVESV benefit at 45 %",
                  "lvesv_100": "pooled LVESV difference (%) at 100 % concordance",
                  "power_100": "power to show LVESV benefit at 100 %"}


def plot_tornado(result):
    """One tornado per central output: each unsourced input moved from its low to its
    high end (others shipped), sorted by swing, around the shipped world's value with
    its 95 % Monte Carlo band; the probabilistic analysis's 2.5-97.5 % range below."""
    from strainsim.studies.psa import OUTPUTS

    plt = pyplot()
    names = [p.name for p in result.ranges.parameters]
    keys = list(OUTPUTS)
    fig, axes = plt.subplots(2, 2, figsize=(12, 0.42 * len(names) * 2 + 2.5))
    for ax, key in zip(axes.ravel(), keys, strict=True):
        base = result.base[key]
        lows = np.array([r[key] for r in result.low])
        highs = np.array([r[key] for r in result.high])
        order = np.argsort(np.abs(highs - lows))
        y = np.arange(len(names))
        for yk, k in zip(y, order, strict=True):
            ax.barh(yk, lows[k] - base, left=base, color="C0", alpha=0.8,
                    label="input at its low end" if yk == 0 else None)
            ax.barh(yk, highs[k] - base, left=base, color="C1", alpha=0.8,
                    label="input at its high end" if yk == 0 else None)
        band = 1.96 * result.base_mcse[key]
        ax.axvspan(base - band, base + band, color="0.5", alpha=0.2,
                   label="shipped world, 95 % Monte Carlo band")
        ax.axvline(base, color="k", lw=1)
        if result.sample_outputs.shape[0] >= 2:
            lo, hi = np.percentile(result.sample_outputs[:, keys.index(key)], [2.5, 97.5])
            ax.plot([lo, hi], [-1, -1], color="C2", lw=4,
                    label="all inputs drawn together: 2.5-97.5 %")
        ax.set_yticks(list(y) + [-1], [names[k] for k in order] + ["probabilistic"],
                      fontsize=8)
        ax.set_title(_OUTPUT_LABELS[key], fontsize=10)
        if key.startswith("power"):
            ax.set_xlim(-0.02, 1.02)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"sensitivity to the unsourced inputs ({result.replicates} virtual "
                 f"meta-analyses per world, seed {result.seed})")
    fig.tight_layout()
    return fig


def plot_pooled_distribution(estimates, published: float, *, label: str,
                             title: str | None = None):
    """Where the published pooled estimate falls among simulated ones: a histogram of
    the simulated meta-analyses' pooled estimates with the published value marked, and
    the share of simulated meta-analyses at least as far from no effect on its side."""
    plt = pyplot()
    est = np.asarray(estimates, dtype=float)
    est = est[np.isfinite(est)]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.hist(est, bins=30, color="#4477AA", alpha=0.8,
            label=f"{est.size} simulated meta-analyses")
    side = est <= published if published < 0 else est >= published
    share = float(side.mean()) if est.size else float("nan")
    ax.axvline(published, color="#CC3311", linewidth=2,
               label=f"published {published:g}: {share:.1%} of simulated are at least as "
               "extreme")
    ax.axvline(0.0, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xlabel(label)
    ax.set_ylabel("simulated meta-analyses")
    ax.set_title(title or "the published result among simulated ones", fontsize=10)
    ax.legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig
