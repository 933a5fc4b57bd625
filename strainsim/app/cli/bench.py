"""Commands of the activation-mapping benchmark: ``bench-data``, ``bench-score``."""

from __future__ import annotations

from pathlib import Path

import typer

from strainsim.app.cli.common import (
    Marker,
    StrainKind,
    app,
    check_output,
    echo_json,
    json_safe,
    parse_floats,
    print_table,
    progress_bar,
)
from strainsim.errors import InputError


@app.command("bench-data")
def bench_data(
    out: Path = typer.Option(..., help="Folder to write the data set into (new or empty)."),
    n: int = typer.Option(200, help="Patients per stratum."),
    fps: str = typer.Option("60", help="Frame rates (fps), comma-separated: one stratum "
                            "per frame rate and noise level."),
    noise: str = typer.Option("0.5", help="Noise levels, comma-separated: tracking noise SD "
                              "(strain %) for curves, SNR (dB) for speckle."),
    strain: StrainKind = typer.Option(StrainKind.radial, help="Strain component."),
    fidelity: str = typer.Option("curves", help="'curves' (fast model) or 'speckle' "
                                 "(B-mode frames tracked; about 4 s a patient)."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    csv: bool = typer.Option(False, "--csv", help="Also write one CSV export per patient."),
):
    """Write a ground-truth activation-mapping data set: strain exports, truth, manifest."""
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.benchmark import MAX_PATIENTS, Stratum, make_dataset

    if fidelity not in ("curves", "speckle"):
        raise InputError("option --fidelity", None, "'curves' or 'speckle'", repr(fidelity))
    if not 1 <= n <= MAX_PATIENTS:
        raise InputError("option --n", None, f"a number in [1, {MAX_PATIENTS}]", str(n))
    fps_values = parse_floats(fps, "--fps", 10.0, 500.0)
    noise_values = parse_floats(noise, "--noise", *((0.0, 50.0) if fidelity == "curves"
                                                      else (-10.0, 80.0)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("option --out", None, "a new or empty folder", str(out))
    check_output_folder(out)
    strata = [Stratum(f, s) for f in fps_values for s in noise_values]
    progress, advance = progress_bar(n * len(strata), "patients")
    with progress, output_folder(out) as stage:
        manifest = make_dataset(stage, n, strata, kind=strain.value, fidelity=fidelity,
                                seed=seed, per_patient_csv=csv, progress=advance)
    typer.echo(f"{len(strata)} strata x {n} patients ({fidelity}, {strain.value}) -> {out}/: "
               + ", ".join(s["file"] for s in manifest["strata"])
               + ", truth.csv, manifest.json")


@app.command("bench-score")
def bench_score(
    predictions: Path | None = typer.Argument(None, help="Predictions CSV: patient_id,"
                                              "latest_segment[,t_1..t_17][,scar_1..scar_17]."),
    truth: Path = typer.Option(..., help="The data set folder (strainsim bench-data --out)."),
    marker: Marker | None = typer.Option(None, help="Score one of strainsim's own markers "
                                         "instead of a predictions file."),
    write_predictions: Path | None = typer.Option(None, help="With --marker: also write its "
                                                  "predictions CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path | None = typer.Option(None, help="Write accuracy vs frame rate (PNG/SVG/PDF)."),
):
    """Score activation-mapping predictions against a data set's truth."""
    from strainsim.studies.benchmark import predict_with_marker, read_predictions, read_truth, score
    from strainsim.studies.benchmark import write_predictions as write_csv

    check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    check_output(write_predictions, "--write-predictions", (".csv",))
    if (predictions is None) == (marker is None):
        raise InputError("arguments", None, "a predictions CSV or --marker (one of them)",
                         "both" if predictions is not None else "neither")
    data = read_truth(truth)
    if marker is not None:
        preds = predict_with_marker(truth, data, marker.value)
        if write_predictions is not None:
            write_csv(write_predictions, data, preds)
    else:
        preds = read_predictions(predictions, data)
    result = score(data, preds)
    result["method"] = marker.value if marker is not None else str(predictions)
    if plot is not None:
        from strainsim.app.plots import plot_benchmark, save_figure

        save_figure(plot_benchmark(result, title=f"activation mapping: {result['method']}"),
                    plot)
    if as_json:
        echo_json(json_safe(result))
        return
    from rich.table import Table

    table = Table(title=f"{result['method']} on {truth}: {result['n_patients']} patients"
                        + (f", {result['missing']} without a prediction"
                           if result["missing"] else ""), title_justify="left")
    columns = ["stratum", "n", "exact [95% CI]", "within one [95% CI]"]
    extra = [k for k in ("time_mae_ms", "scar_kappa") if k in result["strata"][0]]
    for col in columns + [{"time_mae_ms": "time MAE (ms)", "scar_kappa": "scar kappa"}[k]
                          for k in extra]:
        table.add_column(col, justify="left" if col == "stratum" else "right")
    for row in result["strata"]:
        cells = [row["stratum"], str(row["n"]),
                 f"{row['exact']:.1%} [{row['exact_ci'][0]:.1%}, {row['exact_ci'][1]:.1%}]",
                 f"{row['within_one']:.1%} [{row['within_one_ci'][0]:.1%}, "
                 f"{row['within_one_ci'][1]:.1%}]"]
        cells += [f"{row[k]:.1f}" if k == "time_mae_ms" else f"{row[k]:.2f}" for k in extra]
        table.add_row(*cells)
    print_table(table)

