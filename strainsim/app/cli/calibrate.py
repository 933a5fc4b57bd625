"""Commands that hold the world to the published numbers: ``calibrate``,
``validate``; and ``spec-schema``."""

from __future__ import annotations

from pathlib import Path

import typer

from strainsim.app.cli.common import (
    app,
    check_output,
    echo_json,
    fmt_cell,
    json_safe,
    parse_assignments,
    print_table,
    progress_bar,
    write_csv,
    write_json,
)
from strainsim.errors import InputError


def targets_and_specs(targets: Path | None, specs: list[str] | None, replicates: int,
                      sets: list[str] | None = None, only: str | None = None):
    """The targets and the world's trial specs, with the ``--set`` values set in every
    trial and study (a free parameter among them held), and those values; with
    ``only``, that group's targets and free parameters alone."""
    from strainsim.studies.calibration import hold, load_targets, only_group
    from strainsim.studies.specs import load_spec
    from strainsim.studies.sweep import FIVE_TRIALS

    if not 2 <= replicates <= 10_000:
        raise InputError("option --replicates", None, "a number in [2, 10000]", str(replicates))
    held = parse_assignments(sets, "--set")
    loaded = [load_spec(name) for name in (specs or FIVE_TRIALS)]
    world, loaded_targets = hold(loaded, load_targets(targets, tuple(s.name for s in loaded)),
                                 held, source="option --set")
    if only is not None:
        loaded_targets = only_group(loaded_targets, only, source="option --only")
    return loaded_targets, world, held


_SET_HELP = ("section.field=value: a model parameter set in every trial and in the studies "
             "the targets name (a free one is held there, not fitted; repeat). Spec files "
             "given with --spec describe the trials only.")
_ONLY_HELP = ("A group of the targets file (the shipped one tags placement): fit and judge "
              "its targets with its free parameters alone; the other targets are reported, "
              "the other parameters keep the world's values.")


def _calibration_outputs(stage: Path, rows: list[dict], info: dict, title: str) -> None:
    from strainsim.app.plots import plot_calibration, save_figure

    write_csv(stage / "targets.csv", list(rows[0]),
               [[fmt_cell(v) if isinstance(v, float) else v for v in r.values()]
               for r in rows])
    write_json(stage / "calibration.json", json_safe(info))
    save_figure(plot_calibration(rows, title=title), stage / "calibration.png")


def _goodness(evaluation, targets) -> dict:
    from strainsim.studies.calibration import chi2_mcse

    return {"chi2": evaluation.chi2, "chi2_mcse": chi2_mcse(targets.targets, evaluation),
            "df": evaluation.df, "p": evaluation.p}


def _parameters(fits) -> list[dict]:
    return [{"name": f.name, "value": f.value, "se": f.se, "low": f.low, "high": f.high,
             "identified": f.identified} for f in fits]


def _echo_goodness(goodness: dict, what: str) -> None:
    typer.echo(f"{what}: chi-square {goodness['chi2']:.2f} (MCSE {goodness['chi2_mcse']:.2g}) "
               f"on {goodness['df']} degrees of freedom, p = {goodness['p']:.3g}")


def _echo_parameters(fits) -> None:
    for f in fits:
        se = "not identified" if not f.identified else f"SE {f.se:.3g}"
        typer.echo(f"  {f.name} = {f.value:.4g} ({se}; box [{f.low:g}, {f.high:g}])")


@app.command()
def calibrate(
    targets: Path = typer.Argument(None, help="Targets file (default: the shipped "
                                   "cohorts/published/targets.toml)."),
    specs: list[str] = typer.Option(None, "--spec", help="Trial specs of the world (repeat; "
                                    "default: the five trials)."),
    replicates: int = typer.Option(200, help="Virtual meta-analyses per evaluation (the "
                                   "means the fit moves)."),
    max_evals: int = typer.Option(300, help="Objective evaluations of the fit at most "
                                  "(finite differences included; the SEs take one more "
                                  "per parameter)."),
    covariance_replicates: int = typer.Option(
        1000, help="Virtual meta-analyses the chi-square's covariance is taken from at the "
        "start and at each optimum (at least --replicates; the validation's count)."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0): the common random numbers."),
    sets: list[str] = typer.Option(None, "--set", help=_SET_HELP),
    only: str = typer.Option(None, "--only", help=_ONLY_HELP),
    out: Path = typer.Option(Path("out/calibrate"), help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Fit the free parameters to the published targets (minimum chi-square)."""
    from strainsim.app.display import calibration_rows, calibration_table
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.calibration import calibrate as fit
    from strainsim.studies.calibration import spec_fragment

    if not 1 <= max_evals <= 100_000:
        raise InputError("option --max-evals", None, "a number in [1, 100000]", str(max_evals))
    loaded_targets, loaded, held = targets_and_specs(targets, specs, replicates, sets, only)
    if not loaded_targets.parameters:
        raise InputError("option --set", None, "at least one free parameter left to fit",
                         "every free parameter held")
    if not replicates <= covariance_replicates <= 10_000:
        raise InputError("option --covariance-replicates", None,
                         f"a number in [{replicates} (--replicates), 10000]",
                         str(covariance_replicates))
    check_output_folder(out)
    progress, advance = progress_bar(max_evals, "objective evaluations")
    with progress:
        result = fit(loaded, loaded_targets, replicates=replicates, seed=seed,
                     max_evals=max_evals, progress=advance,
                     covariance_replicates=covariance_replicates)
    rows = calibration_rows(loaded_targets, result.best)
    start_rows = calibration_rows(loaded_targets, result.start)
    info = {"targets": loaded_targets.source, "replicates": replicates,
            "covariance_replicates": covariance_replicates, "seed": seed,
            "seeds": "calibration", "evaluations": result.evaluations,
            "converged": result.converged, "held": held, "only": only,
            "goodness_of_fit_start": _goodness(result.start, loaded_targets),
            "goodness_of_fit": _goodness(result.best, loaded_targets),
            "start": result.start.values, "fitted": result.best.values,
            "parameters": _parameters(result.parameters),
            "table": rows, "table_start": start_rows}
    with output_folder(out) as stage:
        _calibration_outputs(stage, rows, info, f"fitted world ({covariance_replicates} "
                             f"replicates, seed {seed})")
        from strainsim.files import write_text_atomic

        write_text_atomic(stage / "fitted.toml", spec_fragment({**held, **result.best.values}))
    if as_json:
        echo_json(json_safe(info))
        return
    print_table(calibration_table(rows, f"targets vs the fitted world ({covariance_replicates} "
                                   f"replicates, seed {seed}, calibration seeds)"))
    _echo_goodness(info["goodness_of_fit_start"], "start")
    _echo_goodness(info["goodness_of_fit"], f"fitted after {result.evaluations} evaluations "
                   f"({'converged' if result.converged else 'stopped at --max-evals'})")
    _echo_parameters(result.parameters)
    typer.echo(f"targets.csv, calibration.json, calibration.png and fitted.toml in {out}/")


@app.command()
def validate(
    targets: Path = typer.Argument(None, help="Targets file (default: the shipped "
                                   "cohorts/published/targets.toml)."),
    specs: list[str] = typer.Option(None, "--spec", help="Trial specs of the world (repeat; "
                                    "default: the five trials)."),
    replicates: int = typer.Option(1000, help="Virtual meta-analyses (the parameters' SEs "
                                   "move means of at most 200, the refits of at most 40)."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    sets: list[str] = typer.Option(None, "--set", help=_SET_HELP),
    only: str = typer.Option(None, "--only", help=_ONLY_HELP),
    leave_one_trial_out: bool = typer.Option(
        False, "--leave-one-trial-out", help="Refit without each trial's own targets and "
        "predict them (slow: one calibration per trial)."),
    uncertainty: bool = typer.Option(True, help="Also the free parameters' SEs and "
                                     "identification (one evaluation per parameter)."),
    max_evals: int = typer.Option(300, help="Evaluations per leave-one-trial-out refit."),
    out: Path | None = typer.Option(None, help="Also write targets.csv, calibration.json "
                                    "and calibration.png into this folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Check the shipped defaults against the published targets, on seeds the
    calibration never used."""
    from strainsim.app.display import calibration_rows, calibration_table
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.calibration import (
        FIT_REPLICATES,
        REFIT_REPLICATES,
        check_leave_one_trial_out,
        evaluate,
        needs_homogeneous_run,
        posterior_predictive,
        start_evaluation,
        uncertainty_at,
    )
    from strainsim.studies.calibration import (
        leave_one_trial_out as loto,
    )

    loaded_targets, loaded, held = targets_and_specs(targets, specs, replicates, sets, only)
    names = check_leave_one_trial_out(loaded, loaded_targets) if leave_one_trial_out else []
    if not 1 <= max_evals <= 100_000:
        raise InputError("option --max-evals", None, "a number in [1, 100000]", str(max_evals))
    if out is not None:
        check_output_folder(out)
    runs = 2 if needs_homogeneous_run(loaded, loaded_targets) else 1
    progress, advance = progress_bar(runs * replicates, "virtual meta-analyses")
    with progress:
        evaluation = evaluate(loaded, loaded_targets, replicates=replicates, seed=seed,
                              progress=advance)
    fits = shared = None
    uncertainty = uncertainty and bool(loaded_targets.parameters)
    if uncertainty or leave_one_trial_out:
        # the covariance at the shipped values, on the calibration seeds: simulated once
        # for the SEs and every refit
        progress, advance = progress_bar(runs * replicates, "covariance at the shipped values "
                                         "(calibration seeds)")
        with progress:
            shared = start_evaluation(loaded, loaded_targets, replicates, seed=seed,
                                      progress=advance)
    if uncertainty:
        progress, advance = progress_bar(len(loaded_targets.parameters) + 1,
                                         "parameter uncertainty")
        with progress:
            fits = uncertainty_at(loaded, loaded_targets, replicates=min(replicates, FIT_REPLICATES),
                                  seed=seed, progress=advance,
                                  covariance_replicates=replicates, shared_start=shared)
    left_out = None
    if leave_one_trial_out:
        progress, advance = progress_bar(len(names), "leave-one-trial-out refits")
        with progress:
            left_out = loto(loaded, loaded_targets, replicates=min(replicates, REFIT_REPLICATES),
                            seed=seed, max_evals=max_evals, progress=advance,
                            covariance_replicates=replicates, shared_start=shared)
    rows = calibration_rows(loaded_targets, evaluation)
    fitted = [r for r in rows if r["fit"]]
    info = {"targets": loaded_targets.source, "replicates": replicates, "seed": seed,
            "seeds": "validation", "held": held, "only": only,
            "goodness_of_fit": _goodness(evaluation, loaded_targets),
            "values": evaluation.values,
            "inside_95": sum(r["inside_95"] for r in fitted), "fitted_targets": len(fitted),
            "posterior_predictive": posterior_predictive(evaluation),
            "table": rows}
    if fits is not None:
        info["parameters"] = _parameters(fits)
    if left_out is not None:
        info["leave_one_trial_out"] = [
            {"trial": lo.trial, "refit": lo.values, "refit_chi2": lo.chi2, "refit_df": lo.df,
             "predictions": [{"target": name, "published": float(pub), "predicted": float(pr),
                              "z": float(z)} for name, pub, pr, z in
                             zip(lo.targets, lo.published, lo.predicted, lo.z, strict=True)]}
            for lo in left_out]
    if out is not None:
        with output_folder(out) as stage:
            _calibration_outputs(stage, rows, info, f"shipped defaults ({replicates} "
                                 f"replicates, seed {seed})")
    if as_json:
        echo_json(json_safe(info))
        return
    print_table(calibration_table(rows, f"targets vs the shipped defaults ({replicates} "
                                   f"replicates, seed {seed}, validation seeds)"))
    if fits is not None:
        typer.echo("free parameters (SE from the chi-square's curvature):")
        _echo_parameters(fits)
    if left_out is not None:
        typer.echo("leave one trial out (refit without the trial, its targets predicted):")
        for lo in left_out:
            for name, pub, pr, z in zip(lo.targets, lo.published, lo.predicted, lo.z,
                                        strict=True):
                typer.echo(f"  {name}: published {pub:.3g}, predicted {pr:.3g}, z {z:+.2f}")
    ppc = info["posterior_predictive"]
    typer.echo(f"published pattern ({ppc['pattern']}) in {100 * ppc['pattern_share']:.1f} % "
               f"(MCSE {100 * ppc['pattern_share_mcse']:.1f}) of {replicates} virtual "
               f"meta-analyses")
    _echo_goodness(info["goodness_of_fit"], f"{info['inside_95']} of {len(fitted)} fitted "
                   "targets inside the simulated 95 % range; goodness of fit")


@app.command("spec-schema")
def spec_schema(
    out: Path | None = typer.Option(None, help="Write the schema to this file instead of "
                                    "printing it."),
):
    """The JSON Schema of trial spec files (every key with its unit, range and source)."""
    from strainsim.studies.specs import schema_text

    if out is None:
        typer.echo(schema_text(), nl=False)
        return
    check_output(out, "--out", (".json",))
    from strainsim.files import write_text_atomic

    write_text_atomic(out, schema_text())
    typer.echo(f"spec schema -> {out}")



@app.command()
def sensitivity(
    ranges: Path = typer.Argument(None, help="Sensitivity file (default: the shipped "
                                  "cohorts/published/sensitivity.toml)."),
    specs: list[str] = typer.Option(None, "--spec", help="Trial specs of the world (repeat; "
                                    "default: the five trials)."),
    replicates: int = typer.Option(40, help="Virtual meta-analyses per world and level."),
    samples: int = typer.Option(20, help="Draws of all inputs together (probabilistic "
                                "analysis)."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    out: Path = typer.Option(Path("out/sensitivity"), help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Vary the unsourced inputs over their stated ranges: a tornado and a probabilistic
    sensitivity analysis of the pooled LVESV difference and the power at 45 % and 100 %
    concordance."""
    import numpy as np

    from strainsim.app.plots import plot_tornado, save_figure
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.psa import OUTPUTS, load_ranges
    from strainsim.studies.psa import sensitivity as run_sensitivity
    from strainsim.studies.specs import load_spec
    from strainsim.studies.sweep import FIVE_TRIALS

    if not 2 <= replicates <= 100_000:
        raise InputError("option --replicates", None, "a number in [2, 100000]",
                         str(replicates))
    if not 0 <= samples <= 100_000:
        raise InputError("option --samples", None, "a number in [0, 100000]", str(samples))
    loaded_ranges = load_ranges(ranges)
    loaded = [load_spec(name) for name in (specs or FIVE_TRIALS)]
    check_output_folder(out)
    worlds = 1 + 2 * len(loaded_ranges.parameters) + samples
    progress, advance = progress_bar(worlds, "worlds")
    with progress:
        result = run_sensitivity(loaded, loaded_ranges, replicates=replicates,
                                 samples=samples, seed=seed, progress=advance)
    names = [p.name for p in loaded_ranges.parameters]
    tornado = [[name, p.low, p.high, reason] + [fmt_cell(lo[k]) for k in OUTPUTS]
               + [fmt_cell(hi[k]) for k in OUTPUTS]
               for name, p, reason, lo, hi in zip(names, loaded_ranges.parameters,
                                                  loaded_ranges.reasons, result.low,
                                                  result.high, strict=True)]
    info = {"ranges": loaded_ranges.source, "replicates": replicates, "samples": samples,
            "seed": seed, "base": result.base,
            "base_mcse": {f"{k}_mcse": v for k, v in result.base_mcse.items()},
            "tornado": [{"parameter": name, "low": p.low, "high": p.high,
                         "at_low": lo, "at_high": hi}
                        for name, p, lo, hi in zip(names, loaded_ranges.parameters,
                                                   result.low, result.high, strict=True)],
            "spearman": {name: dict(zip(OUTPUTS, row.tolist(), strict=True))
                         for name, row in zip(names, result.spearman, strict=True)}}
    if samples >= 2:
        info["probabilistic"] = {k: {"low": float(np.percentile(result.sample_outputs[:, j],
                                                                2.5)),
                                     "median": float(np.median(result.sample_outputs[:, j])),
                                     "high": float(np.percentile(result.sample_outputs[:, j],
                                                                 97.5))}
                                 for j, k in enumerate(OUTPUTS)}
    with output_folder(out) as stage:
        write_csv(stage / "tornado.csv", ["parameter", "low", "high", "reason"]
                  + [f"{k}_at_low" for k in OUTPUTS] + [f"{k}_at_high" for k in OUTPUTS],
                  tornado)
        write_csv(stage / "psa.csv", names + list(OUTPUTS),
                  [[fmt_cell(float(v)) for v in row] for row in
                   np.hstack([result.samples, result.sample_outputs])])
        write_json(stage / "sensitivity.json", json_safe(info))
        save_figure(plot_tornado(result), stage / "tornado.png")
    if as_json:
        echo_json(json_safe(info))
        return
    typer.echo("shipped world: " + ", ".join(
        f"{k} {result.base[k]:.3g} (MCSE {result.base_mcse[k]:.2g})" for k in OUTPUTS))
    for name, lo, hi in zip(names, result.low, result.high, strict=True):
        typer.echo(f"  {name}: " + ", ".join(f"{k} {lo[k]:.3g} .. {hi[k]:.3g}"
                                             for k in OUTPUTS))
    typer.echo(f"tornado.png, tornado.csv, psa.csv and sensitivity.json in {out}/")
