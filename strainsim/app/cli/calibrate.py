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
    print_table,
    progress_bar,
    write_csv,
    write_json,
)
from strainsim.errors import InputError


def targets_and_specs(targets: Path | None, specs: list[str] | None, replicates: int):
    from strainsim.studies.calibration import load_targets
    from strainsim.studies.specs import load_spec
    from strainsim.studies.sweep import FIVE_TRIALS

    if not 2 <= replicates <= 10_000:
        raise InputError("option --replicates", None, "a number in [2, 10000]", str(replicates))
    loaded = [load_spec(name) for name in (specs or FIVE_TRIALS)]
    return load_targets(targets, tuple(s.name for s in loaded)), loaded


def _calibration_outputs(stage: Path, rows: list[dict], info: dict, title: str) -> None:
    from strainsim.app.plots import plot_calibration, save_figure

    write_csv(stage / "targets.csv", list(rows[0]),
               [[fmt_cell(v) if isinstance(v, float) else v for v in r.values()]
               for r in rows])
    write_json(stage / "calibration.json", json_safe(info))
    save_figure(plot_calibration(rows, title=title), stage / "calibration.png")


@app.command()
def calibrate(
    targets: Path = typer.Argument(None, help="Targets file (default: the shipped "
                                   "cohorts/published/targets.toml)."),
    specs: list[str] = typer.Option(None, "--spec", help="Trial specs of the world (repeat; "
                                    "default: the five trials)."),
    replicates: int = typer.Option(40, help="Virtual meta-analyses per evaluation."),
    max_evals: int = typer.Option(300, help="Objective evaluations at most."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0): the common random numbers."),
    out: Path = typer.Option(Path("out/calibrate"), help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Fit the free parameters to the published targets (simulated method of moments)."""
    from strainsim.app.display import calibration_rows, calibration_table
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.calibration import calibrate as fit
    from strainsim.studies.calibration import spec_fragment

    if not 1 <= max_evals <= 100_000:
        raise InputError("option --max-evals", None, "a number in [1, 100000]", str(max_evals))
    loaded_targets, loaded = targets_and_specs(targets, specs, replicates)
    check_output_folder(out)
    progress, advance = progress_bar(max_evals, "objective evaluations")
    with progress:
        result = fit(loaded, loaded_targets, replicates=replicates, seed=seed,
                     max_evals=max_evals, progress=advance)
    rows = calibration_rows(loaded_targets, result.best)
    start_rows = calibration_rows(loaded_targets, result.start)
    info = {"targets": loaded_targets.source, "replicates": replicates, "seed": seed,
            "evaluations": result.evaluations, "converged": result.converged,
            "objective_start": result.start.objective, "objective": result.best.objective,
            "start": result.start.values, "fitted": result.best.values,
            "parameters": [{"name": p.name, "low": p.low, "high": p.high}
                           for p in loaded_targets.parameters],
            "table": rows, "table_start": start_rows}
    with output_folder(out) as stage:
        _calibration_outputs(stage, rows, info, f"fitted world ({replicates} replicates, "
                             f"seed {seed})")
        from strainsim.files import write_text_atomic

        write_text_atomic(stage / "fitted.toml", spec_fragment(result.best.values))
    if as_json:
        echo_json(json_safe(info))
        return
    print_table(calibration_table(rows, f"targets vs the fitted world ({replicates} "
                                   f"replicates, seed {seed})"))
    typer.echo(f"objective {result.start.objective:.2f} -> {result.best.objective:.2f} after "
               f"{result.evaluations} evaluations ({'converged' if result.converged else 'stopped at --max-evals'})")
    for name, value in result.best.values.items():
        typer.echo(f"  {name} = {value:.4g} (was {result.start.values[name]:.4g})")
    typer.echo(f"targets.csv, calibration.json, calibration.png and fitted.toml in {out}/")


@app.command()
def validate(
    targets: Path = typer.Argument(None, help="Targets file (default: the shipped "
                                   "cohorts/published/targets.toml)."),
    specs: list[str] = typer.Option(None, "--spec", help="Trial specs of the world (repeat; "
                                    "default: the five trials)."),
    replicates: int = typer.Option(200, help="Virtual meta-analyses."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    out: Path | None = typer.Option(None, help="Also write targets.csv, calibration.json "
                                    "and calibration.png into this folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Check the shipped defaults against the published targets."""
    from strainsim.app.display import calibration_rows, calibration_table
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.calibration import evaluate

    loaded_targets, loaded = targets_and_specs(targets, specs, replicates)
    if out is not None:
        check_output_folder(out)
    progress, advance = progress_bar(replicates, "virtual meta-analyses")
    with progress:
        evaluation = evaluate(loaded, loaded_targets, replicates=replicates, seed=seed,
                              progress=advance)
    rows = calibration_rows(loaded_targets, evaluation)
    fitted = [r for r in rows if r["fit"]]
    info = {"targets": loaded_targets.source, "replicates": replicates, "seed": seed,
            "objective": evaluation.objective, "values": evaluation.values,
            "inside_95": sum(r["inside_95"] for r in fitted), "fitted_targets": len(fitted),
            "table": rows}
    if out is not None:
        with output_folder(out) as stage:
            _calibration_outputs(stage, rows, info, f"shipped defaults ({replicates} "
                                 f"replicates, seed {seed})")
    if as_json:
        echo_json(json_safe(info))
        return
    print_table(calibration_table(rows, f"targets vs the shipped defaults ({replicates} "
                                   f"replicates, seed {seed})"))
    typer.echo(f"objective {evaluation.objective:.2f}; {info['inside_95']} of {len(fitted)} "
               f"fitted targets inside the simulated 95 % range")


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

