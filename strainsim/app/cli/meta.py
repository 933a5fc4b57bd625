"""Commands that pool study tables: ``meta`` and ``tsa``."""

from __future__ import annotations

from pathlib import Path

import typer

from strainsim.app.cli.common import (
    MAX_FOREST_STUDIES,
    Futility,
    Layout,
    Measure,
    Method,
    Spending,
    Test,
    app,
    check_output,
    echo_json,
    print_table,
)
from strainsim.errors import InputError


@app.command()
def meta(
    file: Path = typer.Argument(..., help="Study table (CSV): study,yi,vi | study,events_t,"
                                "n_t,events_c,n_c | study,mean_t,sd_t,n_t,mean_c,sd_c,n_c."),
    measure: Measure | None = typer.Option(None, help="Effect measure (default: OR for "
                                           "counts, MD for means)."),
    method: Method = typer.Option(Method.REML, help="Pooling method / tau^2 estimator."),
    test: Test | None = typer.Option(None, help="z test, or Hartung-Knapp t test (knha); "
                                     "default z, knha with --moderator."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path | None = typer.Option(None, help="Write a forest plot (PNG/SVG/PDF)."),
    moderator: str | None = typer.Option(None, help="A numeric column: also fit the "
                                         "mixed-effects meta-regression of the effect on it "
                                         "(REML; Hartung-Knapp unless --test z)."),
    leave_one_out: bool = typer.Option(False, "--leave-one-out",
                                       help="Also pool without each study in turn."),
    cumulative: bool = typer.Option(False, "--cumulative",
                                    help="Also pool the first 1, 2, ... k studies."),
    order_by: str | None = typer.Option(None, help="Numeric column to order the studies "
                                        "by (e.g. year); default: as given."),
    funnel: Path | None = typer.Option(None, help="Write a funnel plot with Egger's test "
                                       "(PNG/SVG/PDF)."),
    layout: Layout | None = typer.Option(None, help="Which layout to read when the table "
                                         "holds more than one: yi-vi, counts or means."),
):
    """Pool studies: fixed/random effects, heterogeneity, prediction interval; leave-one-out,
    cumulative and funnel-plot (Egger) sensitivity analyses."""
    import numpy as np

    from strainsim.app.display import meta_table, sensitivity_table
    from strainsim.stats.metareg import meta_regression
    from strainsim.stats.pooling import pool
    from strainsim.stats.sensitivity import cumulative as cumulative_analysis
    from strainsim.stats.sensitivity import egger_test
    from strainsim.stats.sensitivity import leave_one_out as leave_one_out_analysis
    from strainsim.stats.study_tables import read_study_table

    check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    check_output(funnel, "--funnel", (".png", ".svg", ".pdf"))
    if test is None:
        test = Test.knha if moderator is not None else Test.z
    if moderator is not None and method != Method.REML:
        raise InputError("option --method", None, "REML with --moderator (the "
                         "meta-regression's tau^2 estimator)", method.value)
    effects, columns = read_study_table(file, None if measure is None else measure.value,
                                        order_by,
                                        layout=None if layout is None else layout.value)
    moderator_values = None
    if moderator is not None:
        key = moderator.strip().lower()
        if key not in columns:
            raise InputError("option --moderator", None, f"a numeric column of {file}: "
                             + ", ".join(sorted(columns)), moderator)
        moderator_values = columns[key]
        if np.ptp(moderator_values) == 0:
            raise InputError(str(file), f"column {moderator!r}", "a moderator that varies "
                             "between studies", f"{moderator_values[0]:g} in every row")
        if effects.k < (3 if test == Test.knha else 2):
            raise InputError("option --moderator", None, "at least 3 studies for a "
                             "meta-regression (2 with --test z)", f"{effects.k} in {file}")
    if test == Test.knha and effects.k < 2:
        raise InputError("option --test", None, "at least 2 studies for Hartung-Knapp",
                         f"{effects.k} study in {file}")
    if leave_one_out and effects.k < 2:
        raise InputError("option --leave-one-out", None, "at least 2 studies",
                         f"{effects.k} in {file}")
    if plot is not None and effects.k > MAX_FOREST_STUDIES:
        raise InputError("option --plot", None, f"at most {MAX_FOREST_STUDIES} studies in a "
                         "forest plot (--funnel or --json for more)", f"{effects.k} studies")
    if funnel is not None and effects.k < 3:
        raise InputError("option --funnel", None, "at least 3 studies for Egger's test",
                         f"{effects.k} in {file}")
    try:
        result = pool(effects, method=method.value, test=test.value)
        loo = (leave_one_out_analysis(effects, method.value, test.value)
               if leave_one_out else None)
        cum = cumulative_analysis(effects, method.value, test.value) if cumulative else None
        egger = egger_test(effects) if funnel is not None else None
        regression = (meta_regression(yi=effects.yi, vi=effects.vi, x=moderator_values,
                                      test=test.value)
                      if moderator_values is not None else None)
    except ValueError as exc:
        raise InputError(str(file), None, f"data the {method.value} method can pool",
                         str(exc)) from None
    if plot is not None:
        from strainsim.app.plots import plot_forest, save_figure

        save_figure(plot_forest(result, title=file.name), plot)
    if funnel is not None:
        from strainsim.app.plots import plot_funnel, save_figure

        save_figure(plot_funnel(result, egger, title=file.name), funnel)
    if as_json:
        info = result.to_dict()
        if loo is not None:
            info["leave_one_out"] = loo
        if cum is not None:
            info["cumulative"] = cum
        if egger is not None:
            info["egger"] = egger.to_dict()
        if regression is not None:
            info["moderator"] = {"name": moderator, **regression.to_dict()}
        echo_json(info)
        return
    print_table(meta_table(result, title=f"{file.name}: {result.k} studies"))
    if loo is not None:
        print_table(sensitivity_table(loo, "omitted", result.measure,
                                       "leave-one-out: pooled without each study"))
    if cum is not None:
        print_table(sensitivity_table(cum, "added", result.measure,
                                       "cumulative: pooled up to each study"))
    if regression is not None:
        r = regression
        dist = f"t on {r.df} df" if r.df is not None else "z"
        typer.echo(f"meta-regression on {moderator} (REML, {test.value}): slope "
                   f"{r.slope:.4g} [{r.slope_ci_low:.4g}, {r.slope_ci_high:.4g}] per unit, "
                   f"SE {r.slope_se:.4g}, {dist}, p = {r.slope_p:.3g}; intercept "
                   f"{r.intercept:.4g}; residual tau^2 {r.tau2:.4g}; R^2 "
                   + ("-" if r.r2 != r.r2 else f"{100 * r.r2:.1f} %"))
    if egger is not None:
        typer.echo(f"Egger's test: intercept {egger.intercept:.3f} (SE {egger.se:.3f}), "
                   f"t = {egger.t:.2f} on {egger.df} df, p = {egger.p:.3g}; "
                   f"funnel plot in {funnel}")


@app.command()
def tsa(
    file: Path = typer.Argument(..., help="Study table (CSV) with patient counts: "
                                "study,events_t,n_t,events_c,n_c | "
                                "study,mean_t,sd_t,n_t,mean_c,sd_c,n_c."),
    effect: float = typer.Option(..., help="Effect to detect: a mean difference (means "
                                 "table) or an odds ratio (counts table)."),
    alpha: float = typer.Option(0.05, help="Two-sided type I error."),
    beta: float = typer.Option(0.2, help="Type II error (power = 1 - beta)."),
    sd: float | None = typer.Option(None, help="Outcome SD for a means table (default: the "
                                    "studies' pooled SD)."),
    control_rate: float | None = typer.Option(None, help="Control event proportion for a "
                                              "counts table (default: pooled from the "
                                              "control arms)."),
    method: Method = typer.Option(Method.DL, help="Random-effects method for D2 and the "
                                  "z-curve."),
    order_by: str | None = typer.Option(None, help="Numeric column to order the studies by."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path | None = typer.Option(None, help="Write the TSA plot (PNG/SVG/PDF)."),
    layout: Layout | None = typer.Option(None, help="Which layout to read when the table "
                                         "holds more than one: counts or means."),
    spending: Spending = typer.Option(Spending.obf, help="Alpha (and beta) spending: "
                                      "O'Brien-Fleming (TSA convention), Pocock or "
                                      "Hwang-Shih-DeCani (--gamma)."),
    gamma: float = typer.Option(-4.0, help="Hwang-Shih-DeCani's gamma (-4 is close to "
                                "O'Brien-Fleming, 1 to Pocock)."),
    futility: Futility = typer.Option(Futility.none, help="Beta-spending futility "
                                      "boundaries: none, binding or non-binding."),
):
    """Trial sequential analysis: required information size (heterogeneity-adjusted),
    Lan-DeMets alpha-spending boundaries, beta-spending futility, the cumulative
    z-curve and the TSA-adjusted confidence interval."""


    from strainsim.app.display import tsa_table
    from strainsim.stats.sequential import DesignError, trial_sequential_analysis, tsa_design
    from strainsim.stats.study_tables import read_study_table

    check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    for name, value in (("--alpha", alpha), ("--beta", beta)):
        if not 0 < value < 0.5:
            raise InputError(f"option {name}", None, "a probability in (0, 0.5)", str(value))
    if method in (Method.MH, Method.FE):
        raise InputError("option --method", None, "a random-effects method (DL, REML, ML, "
                         "PM, HE)", method.value)
    import math

    if not (math.isfinite(gamma) and -20 <= gamma <= 20):
        raise InputError("option --gamma", None, "a number in [-20, 20]", str(gamma))
    effects, columns = read_study_table(file, None, order_by,
                                        layout=None if layout is None else layout.value)
    if not {"n_t", "n_c"} <= set(columns):
        raise InputError(str(file), "header", "patient counts (n_t, n_c) for the "
                         "information size", ",".join(["study", *columns]))
    try:
        design = tsa_design(effects.measure, columns, effect, sd=sd, control_rate=control_rate)
    except DesignError as exc:
        raise InputError(f"option --{exc.parameter.replace('_', '-')}", None, exc.expected,
                         exc.found) from None
    try:
        result = trial_sequential_analysis(effects, design.patients, design.delta,
                                           design.variance, alpha, beta, method.value,
                                           spending_kind=spending.value, gamma=gamma,
                                           futility=futility.value)
    except ValueError as exc:
        raise InputError(str(file), None, "studies a trial sequential analysis can use",
                         str(exc)) from None
    if plot is not None:
        from strainsim.app.plots import plot_tsa, save_figure

        save_figure(plot_tsa(result, title=f"{file.name}: trial sequential analysis"), plot)
    if as_json:
        echo_json(result.to_dict())
    else:
        print_table(tsa_table(result, f"{file.name}: trial sequential analysis "
                                       f"(alpha {alpha:g}, power {1 - beta:.0%}, "
                                       f"{method.value}, {spending.value} spending, "
                                       f"futility {futility.value})"))

