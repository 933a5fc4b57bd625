"""Commands that measure strain: ``ttp`` (a user's export), ``curves`` (one
simulated patient) and ``speckle`` (B-mode frames tracked)."""

from __future__ import annotations

from pathlib import Path

import typer

from strainsim.app.cli.common import (
    ActivationModel,
    StrainKind,
    app,
    check_option,
    check_output,
    check_range,
    echo_json,
    echo_json_streamed,
    json_safe,
    parse_segments,
    print_table,
    progress_bar,
    ttp_title,
    write_json,
)
from strainsim.errors import InputError


@app.command()
def ttp(
    file: Path = typer.Argument(..., help="Strain export: CSV (time_ms + one column per "
                                "segment) or NPZ batch (strain, time_ms)."),
    strain: StrainKind = typer.Option(StrainKind.radial, help="Strain component in the file."),
    smooth_ms: float = typer.Option(50.0, help="Moving-average width (ms); 0 = none."),
    scar_threshold: float = typer.Option(10.0, help="Peak strain magnitude (%) below which a "
                                         "segment is scar."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path | None = typer.Option(None, help="Write curves + bullseye to this PNG/SVG/PDF "
                                     "(first patient of a batch)."),
    segments: Path | None = typer.Option(None, help="Segment model TOML (default: AHA 17)."),
    marker: str = typer.Option("ttp", help="Activation marker: ttp (time to peak), onset "
                               "(onset of thickening/shortening) or xcorr (cross-correlation "
                               "delay against the mean viable curve or --reference)."),
    onset_fraction: float = typer.Option(0.1, help="onset: fraction of the rise to the peak."),
    reference: int | None = typer.Option(None, help="xcorr: reference segment (1-17)."),
):
    """Time-to-peak strain per segment and the latest-activated viable segment."""
    from strainsim.app.display import add_marker, batch_table, result_dict, segment_table
    from strainsim.measure.exports import measure_export
    from strainsim.segments import load_segments
    from strainsim.studies.specs import TrialSpec

    check_option(smooth_ms, TrialSpec, "smooth_ms", "--smooth-ms")
    check_option(scar_threshold, TrialSpec, "scar_threshold_pct", "--scar-threshold")
    check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    if marker not in ("ttp", "onset", "xcorr"):
        raise InputError("option --marker", None, "ttp, onset or xcorr", repr(marker))
    if not 0.0 < onset_fraction < 1.0:
        raise InputError("option --onset-fraction", None, "a fraction in (0, 1)",
                         str(onset_fraction))
    if reference is not None and not 1 <= reference <= 17:
        raise InputError("option --reference", None, "a segment number 1-17", str(reference))
    model = load_segments(segments)
    measured = measure_export(file, kind=strain.value, smooth_ms=smooth_ms,
                              scar_threshold_pct=scar_threshold, model=model, marker=marker,
                              onset_fraction=onset_fraction, reference=reference)
    result, rec = measured.result, measured.first
    info = result_dict(result, source=str(file), time_ms=rec.time_ms,
                       patient_id=measured.patient_id, smooth_ms=smooth_ms, model=model)
    if measured.marker is not None:
        add_marker(info, measured.marker, model)
    if plot is not None:
        from strainsim.app.plots import plot_patient, save_figure

        save_figure(plot_patient(rec.time_ms, rec.strain, result, 0, model=model,
                                 title=f"{file.name}: {strain.value} strain"), plot)
    if as_json:
        echo_json_streamed(info)
    elif len(result) == 1:
        print_table(segment_table(info, ttp_title(info)))
    else:
        print_table(batch_table(info, f"{file.name}: {len(result)} patients ({strain.value})"))


@app.command()
def curves(
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    strain: StrainKind = typer.Option(StrainKind.radial, help="Strain component."),
    fps: float = typer.Option(60.0, help="Frame rate (frames per second)."),
    cycle_ms: float = typer.Option(800.0, help="Cycle length covered (ms)."),
    noise: float = typer.Option(1.5, help="Tracking noise SD (strain %)."),
    scar: str | None = typer.Option(None, help="Scar segments, e.g. '4,10,15' (default: drawn "
                                    "from the seed)."),
    activation: ActivationModel = typer.Option(ActivationModel.pattern,
                                               help="Activation model."),
    smooth_ms: float = typer.Option(50.0, help="Engine moving-average width (ms)."),
    scar_threshold: float = typer.Option(10.0, help="Engine scar threshold (%)."),
    csv: Path | None = typer.Option(None, help="Write the curves as a CSV strain export."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path | None = typer.Option(None, help="Write curves + bullseye to this PNG/SVG/PDF."),
):
    """Simulate one LBBB patient's strain curves and measure them like an export."""
    import numpy as np

    from strainsim.app.display import result_dict, segment_table
    from strainsim.model.activation import ActivationParams
    from strainsim.model.curves import CurveParams
    from strainsim.segments import load_segments
    from strainsim.studies.specs import TrialSpec
    from strainsim.studies.trials import simulate_patient

    for value, cls, attr, option in ((fps, CurveParams, "fps", "--fps"),
                                     (cycle_ms, CurveParams, "cycle_ms", "--cycle-ms"),
                                     (noise, CurveParams, "noise_sd_pct", "--noise"),
                                     (smooth_ms, TrialSpec, "smooth_ms", "--smooth-ms"),
                                     (scar_threshold, TrialSpec, "scar_threshold_pct",
                                      "--scar-threshold")):
        check_option(value, cls, attr, option)
    check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    check_output(csv, "--csv", (".csv",))
    model = load_segments()
    scar_segments = parse_segments(scar, "--scar")
    chosen = None
    if scar is not None:
        chosen = np.zeros(17, dtype=bool)
        chosen[np.asarray(scar_segments, int) - 1] = True
    try:
        spec = TrialSpec(name="patient", n_image_guided=2, n_control=2,
                         activation=ActivationParams(model=activation.value),
                         curves=CurveParams(kind=strain.value, fps=fps, cycle_ms=cycle_ms,
                                            noise_sd_pct=noise),
                         smooth_ms=smooth_ms, scar_threshold_pct=scar_threshold)
    except ValueError as exc:  # settings that contradict each other
        raise InputError("options", None, "consistent settings", str(exc)) from None
    patient = simulate_patient(seed, spec, scar=chosen, model=model)
    a = patient.arrays
    result, time_ms, curves_pct = patient.results.measured, patient.time_ms, a.strain
    true_latest = int(a.true_latest[0])
    true_latest = true_latest if true_latest > 0 else None
    info = result_dict(result, source=f"simulated (seed {seed})", time_ms=time_ms,
                       smooth_ms=smooth_ms, model=model,
                       extra={"seed": seed, "true_latest_segment": true_latest,
                              "scar_segments": [int(k) + 1 for k in np.flatnonzero(a.scar[0])]})
    if csv is not None:
        from strainsim.measure.exports import write_strain_csv

        write_strain_csv(csv, curves_pct[0], time_ms)
    if plot is not None:
        from strainsim.app.plots import plot_patient, save_figure

        save_figure(plot_patient(time_ms, curves_pct, result, 0, model=model,
                                 title=f"simulated patient (seed {seed}), true latest "
                                       f"segment {true_latest}"), plot)
    if as_json:
        echo_json(info)
    else:
        print_table(segment_table(info, ttp_title(info) + f"; true latest: {true_latest}"))


@app.command()
def speckle(
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    strain: StrainKind = typer.Option(StrainKind.radial, help="Strain component."),
    fps: float = typer.Option(60.0, help="Frame rate (frames per second)."),
    snr: float = typer.Option(20.0, help="Echo signal-to-noise ratio (dB)."),
    segment: int | None = typer.Option(None, help="Segment whose frames are saved "
                                       "(default: the true latest)."),
    out: Path = typer.Option(Path("out/speckle"), help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Render one patient's B-mode frames, speckle-track them, and measure the curves."""
    import numpy as np

    from strainsim.app.display import result_dict, segment_table
    from strainsim.app.plots import plot_frames, plot_tracked_curves, save_figure, save_gif
    from strainsim.files import check_output_folder, output_folder
    from strainsim.measure.exports import write_strain_csv
    from strainsim.measure.speckle import SpeckleParams, render_frames
    from strainsim.model.curves import CurveParams
    from strainsim.seeding import as_seed_sequence, child
    from strainsim.studies.specs import TrialSpec
    from strainsim.studies.trials import simulate_patient

    check_option(fps, CurveParams, "fps", "--fps")
    check_option(snr, SpeckleParams, "snr_db", "--snr")
    check_output_folder(out)
    if segment is not None:
        check_range(segment, 1, 17, "--segment")
    spec = TrialSpec(name="patient", n_image_guided=2, n_control=2, fidelity="speckle",
                     curves=CurveParams(kind=strain.value, fps=fps),
                     speckle=SpeckleParams(snr_db=snr))
    progress, advance = progress_bar(1, "patient imaged and speckle-tracked")
    with progress:
        patient = simulate_patient(seed, spec)
        advance(1)
    a, result, time_ms = patient.arrays, patient.results.measured, patient.time_ms
    tracked, true_strain = a.strain, a.true_strain
    true_latest = int(a.true_latest[0])
    shown = segment or (true_latest if true_latest > 0 else 1)
    # the frames shown come from a stream of their own (the fourth child of the seed)
    rng_show = np.random.default_rng(child(as_seed_sequence(seed), 3))
    frames, _ = render_frames(true_strain[0, shown - 1], strain.value, spec.speckle, rng_show)
    err = result.ttp_ms[0] - (a.activation_ms[0] + spec.curves.emd_ms
                              + spec.curves.contraction_ms)
    info = result_dict(result, source=f"speckle-tracked (seed {seed})", time_ms=time_ms,
                       smooth_ms=spec.smooth_ms, extra={
                           "seed": seed, "snr_db": snr, "true_latest_segment": true_latest,
                           "ttp_error_ms": [round(float(e), 1) for e in err],
                           "ttp_mae_ms": round(float(np.mean(np.abs(err))), 2)})
    with output_folder(out) as stage:
        save_gif(frames, stage / "frames.gif", fps=min(fps, 30.0))
        save_figure(plot_frames(frames, time_ms, title=f"segment {shown}, "
                                f"{strain.value} strain, {fps:g} fps, SNR {snr:g} dB"),
                    stage / "frames.png")
        save_figure(plot_tracked_curves(time_ms, true_strain[0], tracked[0],
                                        kind=strain.value), stage / "curves.png")
        write_strain_csv(stage / "tracked.csv", tracked[0], time_ms)
        write_json(stage / "ttp.json", json_safe(info))
    if as_json:
        echo_json(json_safe(info))
    else:
        print_table(segment_table(info, ttp_title(info) + f"; true latest: {true_latest}"))
        typer.echo(f"TTP error vs truth: mean absolute {info['ttp_mae_ms']} ms "
                   f"(one frame = {1000 / fps:.1f} ms); frames.gif, frames.png, curves.png, "
                   f"tracked.csv, ttp.json in {out}/")

