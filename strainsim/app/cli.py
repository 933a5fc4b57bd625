"""The ``strainsim`` command line (thin: parse options, call the library, report).

Heavy modules (numba, matplotlib, the engine) are imported inside the commands
so that ``strainsim --help`` stays instant.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from strainsim.errors import InputError

app = typer.Typer(
    name="strainsim",
    help="Speckle-tracking lead-targeting simulator for cardiac resynchronization therapy.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no <bool> metavars, no wrapped boxes in pipes
)


def _show_version(value: bool) -> None:
    if value:
        from strainsim import __version__

        typer.echo(f"strainsim {__version__}")
        raise typer.Exit()


@app.callback()
def _app(version: bool = typer.Option(False, "--version", callback=_show_version,
                                      is_eager=True, help="Show the version and exit.")):
    """Speckle-tracking lead-targeting simulator for cardiac resynchronization therapy."""


class StrainKind(str, Enum):
    radial = "radial"
    longitudinal = "longitudinal"


class Measure(str, Enum):
    OR = "OR"
    MD = "MD"
    SMD = "SMD"


class Method(str, Enum):
    FE = "FE"
    MH = "MH"
    DL = "DL"
    REML = "REML"
    ML = "ML"
    PM = "PM"
    HE = "HE"


class Test(str, Enum):
    z = "z"
    knha = "knha"


class ActivationModel(str, Enum):
    pattern = "pattern"
    eikonal = "eikonal"


def _echo_json(data: dict) -> None:
    typer.echo(json.dumps(data, indent=2, allow_nan=False))


def _print_table(table) -> None:
    from rich.console import Console

    # in a pipe or a file, wide enough that cells do not wrap
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))
    console.print(table)


def _parse_segments(text: str | None, option: str) -> list[int]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 17:
            raise InputError(f"option {option}", None,
                             "comma-separated segment numbers 1-17", repr(part))
        out.append(int(part))
    return out


def _check_range(value: float, lo: float, hi: float, option: str) -> None:
    if not lo <= value <= hi:
        raise InputError(f"option {option}", None, f"a value in [{lo:g}, {hi:g}]", f"{value:g}")


MAX_FOREST_STUDIES = 200  # a row per study: beyond this a forest plot is unreadable
MAX_PATIENT_TABLE = 1_000_000  # cohort without --summary-only holds every patient (~2 GB)


def _check_output(path: Path | None, option: str, suffixes: tuple[str, ...]) -> None:
    """An output file: the right suffix, not a folder, in a folder that can be written."""
    if path is None:
        return
    if path.suffix.lower() not in suffixes:
        raise InputError(f"option {option}", None, "a file name ending in " + " or ".join(suffixes),
                         repr(str(path)))
    if path.is_dir():
        raise InputError(f"option {option}", None, "a file name", f"the folder {path}")
    from strainsim.files import check_writable_place

    check_writable_place(path.parent, path, option)


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
    import numpy as np

    from strainsim.app.display import batch_table, result_dict, segment_table
    from strainsim.measure.engine import measure
    from strainsim.measure.exports import iter_strain_npz, read_strain
    from strainsim.segments import load_segments

    _check_range(smooth_ms, 0.0, 1000.0, "--smooth-ms")
    _check_range(scar_threshold, 0.0, 100.0, "--scar-threshold")
    _check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    if marker not in ("ttp", "onset", "xcorr"):
        raise InputError("option --marker", None, "ttp, onset or xcorr", repr(marker))
    if not 0.0 < onset_fraction < 1.0:
        raise InputError("option --onset-fraction", None, "a fraction in (0, 1)",
                         str(onset_fraction))
    if reference is not None and not 1 <= reference <= 17:
        raise InputError("option --reference", None, "a segment number 1-17", str(reference))
    model = load_segments(segments)
    # an NPZ batch is measured chunk by chunk: memory stays bounded whatever its size
    chunks = (iter_strain_npz(file) if file.suffix.lower() == ".npz"
              else [read_strain(file, model)])
    results, by_markers, ids, first = [], [], [], None
    for rec in chunks:
        part = measure(rec.strain, rec.time_ms, kind=strain.value, smooth_ms=smooth_ms,
                       scar_threshold_pct=scar_threshold, model=model)
        _check_strain_kind(part, rec, strain.value, smooth_ms, scar_threshold, model, file)
        if marker != "ttp":
            from strainsim.measure.markers import measure_marker

            by_markers.append(measure_marker(
                rec.strain, rec.time_ms, marker=marker, kind=strain.value, smooth_ms=smooth_ms,
                scar_threshold_pct=scar_threshold, onset_fraction=onset_fraction,
                reference=reference, model=model))
        results.append(part)
        ids.extend(rec.patient_id)
        first = first or rec
    result = _concat_results(results)
    rec = first
    info = result_dict(result, source=str(file), time_ms=rec.time_ms,
                       patient_id=tuple(ids), smooth_ms=smooth_ms, model=model)
    if marker != "ttp":
        from dataclasses import replace as dc_replace

        from strainsim.measure.markers import MarkerResult

        by_marker = MarkerResult(
            marker=marker, time_ms=np.concatenate([m.time_ms for m in by_markers]),
            latest_segment=np.concatenate([m.latest_segment for m in by_markers]),
            engine=result)
        result = dc_replace(result, latest_segment=by_marker.latest_segment)
        _add_marker(info, by_marker, model)
    if plot is not None:
        from strainsim.app.plots import plot_patient, save_figure

        save_figure(plot_patient(rec.time_ms, rec.strain, result, 0, model=model,
                                 title=f"{file.name}: {strain.value} strain"), plot)
    if as_json:
        _echo_json_streamed(info)
    elif len(result) == 1:
        _print_table(segment_table(info, _title(info)))
    else:
        _print_table(batch_table(info, f"{file.name}: {len(result)} patients ({strain.value})"))


def _echo_json_streamed(info: dict) -> None:
    """``_echo_json(info)``, written a patient at a time (the same text)."""
    patients = info.get("patients")
    if patients is None:
        _echo_json(info)
        return
    head = {k: v for k, v in info.items() if k != "patients"}
    text = json.dumps(head, indent=2, allow_nan=False)
    out = sys.stdout
    out.write(text[:-2] + ',\n  "patients": [')
    for k, patient in enumerate(patients):
        body = json.dumps(patient, indent=2, allow_nan=False).replace("\n", "\n    ")
        out.write(("," if k else "") + "\n    " + body)
    out.write("\n  ]\n}\n")


def _concat_results(results):
    """One EngineResult from the results of consecutive chunks of patients."""
    from dataclasses import fields, replace

    import numpy as np

    if len(results) == 1:
        return results[0]
    arrays = {f.name: np.concatenate([getattr(r, f.name) for r in results])
              for f in fields(results[0]) if isinstance(getattr(results[0], f.name), np.ndarray)}
    return replace(results[0], **arrays)


def _check_strain_kind(result, rec, kind, smooth_ms, scar_threshold, model, file) -> None:
    """Refuse radial curves read as longitudinal and the reverse: every segment would be
    called scar, while the other sign finds them viable."""
    from strainsim.measure.engine import measure

    if result.viable.any():
        return
    other = "longitudinal" if kind == "radial" else "radial"
    again = measure(rec.strain, rec.time_ms, kind=other, smooth_ms=smooth_ms,
                    scar_threshold_pct=scar_threshold, model=model)
    if again.viable.mean() > 0.5:
        sign = "positive" if kind == "radial" else "negative"
        raise InputError(str(file), None, f"{kind} strain, peaking {sign}",
                         f"no segment reaching {scar_threshold:g} %; --strain {other} finds "
                         f"{again.viable.mean():.0%} of the segments viable")


def _add_marker(info: dict, by_marker, model) -> None:
    """Put a marker's per-segment times and latest segment into a ttp JSON dict."""
    import math

    patients = info["patients"] if "patients" in info else [info]
    info["marker"] = by_marker.marker
    for i, patient in enumerate(patients):
        latest = int(by_marker.latest_segment[i])
        patient["latest_segment"] = latest if latest > 0 else None
        patient["latest_name"] = model.name_of(latest) if latest > 0 else None
        for seg in patient["segments"]:
            t = float(by_marker.time_ms[i, seg["segment"] - 1])
            seg["marker_ms"] = round(t, 1) if math.isfinite(t) else None


def _title(info: dict) -> str:
    latest = info["latest_segment"]
    d = info["dyssynchrony"]
    head = (f"latest viable segment: {latest} ({info['latest_name']})" if latest
            else "no viable segment")
    return (f"{info['source']} ({info['strain']}, {info['fps']:g} fps) - {head}; "
            f"SD TTP {d['sd_ttp_ms']} ms, septal-lateral {d['septal_lateral_ms']} ms")


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
    from strainsim.measure.engine import measure
    from strainsim.model.activation import ActivationParams, simulate_activation
    from strainsim.model.curves import FPS_RANGE, CurveParams, simulate_curves
    from strainsim.segments import load_segments

    _check_range(fps, *FPS_RANGE, "--fps")
    _check_range(cycle_ms, 300.0, 3000.0, "--cycle-ms")
    _check_range(noise, 0.0, 50.0, "--noise")
    _check_range(smooth_ms, 0.0, 1000.0, "--smooth-ms")
    _check_range(scar_threshold, 0.0, 100.0, "--scar-threshold")
    _check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    _check_output(csv, "--csv", (".csv",))
    scar_segments = _parse_segments(scar, "--scar")
    model = load_segments()
    act_rng, curve_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    chosen = None
    if scar is not None:
        chosen = np.zeros((1, 17), dtype=bool)
        chosen[0, np.asarray(scar_segments, int) - 1] = True
    act = simulate_activation(1, act_rng, ActivationParams(model=activation.value), model,
                              scar=chosen)
    activation_ms, scar_mask = act.activation_ms, act.scar
    params = CurveParams(kind=strain.value, fps=fps, cycle_ms=cycle_ms, noise_sd_pct=noise)
    sim = simulate_curves(activation_ms, scar_mask, curve_rng, params)
    result = measure(sim.strain, sim.time_ms, kind=strain.value, smooth_ms=smooth_ms,
                     scar_threshold_pct=scar_threshold, model=model)
    true_latest = int(act.true_latest_segment[0])
    true_latest = true_latest if true_latest > 0 else None
    info = result_dict(result, source=f"simulated (seed {seed})", time_ms=sim.time_ms,
                       smooth_ms=smooth_ms, model=model,
                       extra={"seed": seed, "true_latest_segment": true_latest,
                              "scar_segments": [int(k) + 1 for k in np.flatnonzero(scar_mask[0])]})
    if csv is not None:
        from strainsim.measure.exports import write_strain_csv

        write_strain_csv(csv, sim.strain[0], sim.time_ms)
    if plot is not None:
        from strainsim.app.plots import plot_patient, save_figure

        save_figure(plot_patient(sim.time_ms, sim.strain, result, 0, model=model,
                                 title=f"simulated patient (seed {seed}), true latest "
                                       f"segment {true_latest}"), plot)
    if as_json:
        _echo_json(info)
    else:
        _print_table(segment_table(info, _title(info) + f"; true latest: {true_latest}"))


@app.command()
def meta(
    file: Path = typer.Argument(..., help="Study table (CSV): study,yi,vi | study,events_t,"
                                "n_t,events_c,n_c | study,mean_t,sd_t,n_t,mean_c,sd_c,n_c."),
    measure: Measure | None = typer.Option(None, help="Effect measure (default: OR for "
                                           "counts, MD for means)."),
    method: Method = typer.Option(Method.REML, help="Pooling method / tau^2 estimator."),
    test: Test = typer.Option(Test.z, help="z test, or Hartung-Knapp t test (knha)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path | None = typer.Option(None, help="Write a forest plot (PNG/SVG/PDF)."),
    leave_one_out: bool = typer.Option(False, "--leave-one-out",
                                       help="Also pool without each study in turn."),
    cumulative: bool = typer.Option(False, "--cumulative",
                                    help="Also pool the first 1, 2, ... k studies."),
    order_by: str | None = typer.Option(None, help="Numeric column to order the studies "
                                        "by (e.g. year); default: as given."),
    funnel: Path | None = typer.Option(None, help="Write a funnel plot with Egger's test "
                                       "(PNG/SVG/PDF)."),
):
    """Pool studies: fixed/random effects, heterogeneity, prediction interval; leave-one-out,
    cumulative and funnel-plot (Egger) sensitivity analyses."""
    from strainsim.app.display import meta_table, sensitivity_table
    from strainsim.stats.pooling import pool
    from strainsim.stats.sensitivity import cumulative as cumulative_analysis
    from strainsim.stats.sensitivity import egger_test
    from strainsim.stats.sensitivity import leave_one_out as leave_one_out_analysis
    from strainsim.stats.study_tables import read_meta_csv

    _check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    _check_output(funnel, "--funnel", (".png", ".svg", ".pdf"))
    effects = read_meta_csv(file, None if measure is None else measure.value, order_by)
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
        _echo_json(info)
        return
    _print_table(meta_table(result, title=f"{file.name}: {result.k} studies"))
    if loo is not None:
        _print_table(sensitivity_table(loo, "omitted", result.measure,
                                       "leave-one-out: pooled without each study"))
    if cum is not None:
        _print_table(sensitivity_table(cum, "added", result.measure,
                                       "cumulative: pooled up to each study"))
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
):
    """Trial sequential analysis: required information size (heterogeneity-adjusted),
    Lan-DeMets O'Brien-Fleming boundaries and the cumulative z-curve."""
    import math

    import numpy as np

    from strainsim.app.display import tsa_table
    from strainsim.stats.sequential import trial_sequential_analysis
    from strainsim.stats.study_tables import read_study_table

    _check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    for name, value in (("--alpha", alpha), ("--beta", beta)):
        if not 0 < value < 0.5:
            raise InputError(f"option {name}", None, "a probability in (0, 0.5)", str(value))
    if method in (Method.MH, Method.FE):
        raise InputError("option --method", None, "a random-effects method (DL, REML, ML, "
                         "PM, HE)", method.value)
    effects, columns = read_study_table(file, None, order_by)
    if not {"n_t", "n_c"} <= set(columns):
        raise InputError(str(file), "header", "patient counts (n_t, n_c) for the "
                         "information size", ",".join(["study", *columns]))
    patients = columns["n_t"] + columns["n_c"]
    if effects.measure == "OR":
        if effect <= 0 or not math.isfinite(effect) or effect == 1:
            raise InputError("option --effect", None, "an odds ratio > 0 and not 1 for a "
                             "counts table", str(effect))
        pc = (float(columns["events_c"].sum() / columns["n_c"].sum())
              if control_rate is None else control_rate)
        if not 0 < pc < 1:
            raise InputError("option --control-rate", None, "a proportion in (0, 1)", str(pc))
        pi = effect * pc / (1 - pc + effect * pc)
        delta, p_bar = pi - pc, (pi + pc) / 2
        variance = p_bar * (1 - p_bar)
    else:
        if effect == 0 or not math.isfinite(effect):
            raise InputError("option --effect", None, "a non-zero mean difference", str(effect))
        if sd is None:
            dof = np.concatenate([columns["n_t"] - 1, columns["n_c"] - 1])
            var = np.concatenate([columns["sd_t"] ** 2, columns["sd_c"] ** 2])
            sd = float(np.sqrt(np.sum(dof * var) / np.sum(dof)))
        if not sd > 0:
            raise InputError("option --sd", None, "a positive SD", str(sd))
        delta, variance = effect, sd * sd
    try:
        result = trial_sequential_analysis(effects, patients, delta, variance, alpha, beta,
                                           method.value)
    except ValueError as exc:
        raise InputError(str(file), None, "studies a trial sequential analysis can use",
                         str(exc)) from None
    if plot is not None:
        from strainsim.app.plots import plot_tsa, save_figure

        save_figure(plot_tsa(result, title=f"{file.name}: trial sequential analysis"), plot)
    if as_json:
        _echo_json(result.to_dict())
    else:
        _print_table(tsa_table(result, f"{file.name}: trial sequential analysis "
                                       f"(alpha {alpha:g}, power {1 - beta:.0%}, "
                                       f"{method.value})"))


class Marker(str, Enum):
    ttp = "ttp"
    onset = "onset"
    xcorr = "xcorr"


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
    fps_values = _parse_floats(fps, "--fps", 10.0, 500.0)
    noise_values = _parse_floats(noise, "--noise", *((0.0, 50.0) if fidelity == "curves"
                                                      else (-10.0, 80.0)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("option --out", None, "a new or empty folder", str(out))
    check_output_folder(out)
    strata = [Stratum(f, s) for f in fps_values for s in noise_values]
    progress, advance = _progress(n * len(strata), "patients")
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

    _check_output(plot, "--plot", (".png", ".svg", ".pdf"))
    _check_output(write_predictions, "--write-predictions", (".csv",))
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
        _echo_json(_clean(result))
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
    _print_table(table)


def _parse_floats(text: str, option: str, lo: float, hi: float) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"option {option}", None, "comma-separated numbers", repr(text)) from None
    if not values or not all(lo <= v <= hi for v in values):
        raise InputError(f"option {option}", None, f"numbers in [{lo:g}, {hi:g}]", repr(text))
    return sorted(set(values))


def _progress(total: int, label: str):
    """A rich progress bar on stderr; returns (context manager, advance callback)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task(label, total=total)
    return progress, lambda done: progress.update(task, completed=done)


def _check_workers(workers: int) -> None:
    if not 1 <= workers <= 256:
        raise InputError("option --workers", None, "a number of workers in [1, 256]",
                         str(workers))


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    from strainsim.files import write_text_atomic

    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")


def _write_json(path: Path, data) -> None:
    from strainsim.files import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def _clean(value):
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    import math

    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@app.command()
def cohort(
    spec: str = typer.Argument(..., help="Trial spec: a TOML file or a shipped name "
                               "(target, starter, ...)."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    out: Path = typer.Option(Path("out/cohort"), help="Output folder."),
    block_size: int = typer.Option(8192, help="Patients simulated together (memory bound; "
                                   "never changes the numbers)."),
    summary_only: bool = typer.Option(False, "--summary-only", help="Stream the cohort and "
                                      "write summary.json only (memory bounded by "
                                      "--block-size, for very large cohorts)."),
    workers: int = typer.Option(1, help="Worker processes for --summary-only."),
    scheduler: str | None = typer.Option(None, help="'local-cluster' or a Dask scheduler "
                                         "address, for --summary-only."),
):
    """Simulate one trial's patients: patients.csv and summary.json."""
    from dataclasses import asdict

    from strainsim.app.display import patient_rows
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.parallel import make_mapper
    from strainsim.studies.specs import load_spec
    from strainsim.studies.trials import simulate_trial

    if not 1 <= block_size <= 10_000_000:
        raise InputError("option --block-size", None, "a number of patients in [1, 1e7]",
                         str(block_size))
    _check_workers(workers)
    if (workers > 1 or scheduler) and not summary_only:
        raise InputError("option --workers/--scheduler", None, "--summary-only with them "
                         "(the per-patient table is built in one process)")
    trial_spec = load_spec(spec)
    if not summary_only and trial_spec.n_total > MAX_PATIENT_TABLE:
        raise InputError("option --summary-only", None, "it for more than "
                         f"{MAX_PATIENT_TABLE:,} patients (the patient table is held in "
                         "memory)", f"{trial_spec.n_total:,} patients in {spec}")
    check_output_folder(out)
    progress, advance = _progress(trial_spec.n_total, f"{trial_spec.name}: patients")
    with progress:
        if summary_only:
            with make_mapper(workers, scheduler) as mapper:
                result = simulate_trial(trial_spec, seed, block_size=block_size,
                                        progress=advance,
                                        mapper=mapper if workers > 1 or scheduler else None)
        else:
            result, guided, control = simulate_trial(trial_spec, seed, keep_arms=True,
                                                     block_size=block_size, progress=advance)
    summary = {"spec": trial_spec.name, "seed": seed, "image_guided": asdict(result.guided),
               "control": asdict(result.control)}
    with output_folder(out) as stage:
        _write_json(stage / "summary.json", _clean(summary))
        if not summary_only:
            header, rows = patient_rows(guided, trial_spec.placement.image_guided)
            rows += patient_rows(control, trial_spec.placement.control)[1]
            _write_csv(stage / "patients.csv", ["patient", *header],
                       [[i, *row] for i, row in enumerate(rows)])
    if summary_only:
        typer.echo(f"{trial_spec.name}: {trial_spec.n_total} patients -> "
                   f"{out / 'summary.json'}")
    else:
        typer.echo(f"{trial_spec.name}: {len(rows)} patients -> {out / 'patients.csv'}, "
                   f"{out / 'summary.json'}")
    g, c, placement = result.guided, result.control, trial_spec.placement
    typer.echo(f"image-guided ({placement.image_guided}): concordant with the measured target "
               f"{g.concordant_measured:.0%}, with the true latest segment "
               f"{g.concordant_true:.0%}; control ({placement.control}) "
               f"{c.concordant_measured:.0%} / {c.concordant_true:.0%}")


@app.command()
def trial(
    specs: list[str] = typer.Argument(None, help="Trial specs (files or shipped names); "
                                      "default: the five trials of the published "
                                      "meta-analysis."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    out: Path = typer.Option(Path("out/trial"), help="Output folder."),
    method: Method = typer.Option(Method.REML, help="Pooling method (tau^2 estimator)."),
    test: Test | None = typer.Option(None, help="z or Hartung-Knapp (knha); default knha, "
                                     "z for a single trial."),
    concordance: float | None = typer.Option(None, help="Force the image-guided arms' "
                                             "concordance rate (0-1), as the sweep does."),
    workers: int = typer.Option(1, help="Worker processes (or Dask workers), one trial each."),
    scheduler: str | None = typer.Option(None, help="'local-cluster' or a Dask scheduler "
                                         "address."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Run virtual trials through the whole pipeline and pool them (virtual meta-analysis)."""
    from strainsim.app.display import pooled_table
    from strainsim.files import check_output_folder, output_folder
    from strainsim.studies.parallel import make_mapper
    from strainsim.studies.specs import load_spec
    from strainsim.studies.sweep import FIVE_TRIALS, published_targets
    from strainsim.studies.trials import virtual_meta_analysis

    if method == Method.MH:
        raise InputError("option --method", None, "an inverse-variance method for the "
                         "continuous outcomes (FE, DL, REML, ML, PM, HE)", "MH")
    _check_workers(workers)
    if concordance is not None:
        _check_range(concordance, 0.0, 1.0, "--concordance")
    names = specs or list(FIVE_TRIALS)
    loaded = [load_spec(name) for name in names]
    if test is None:
        test = Test.knha if len(names) >= 2 else Test.z
    if test == Test.knha and len(names) < 2:
        raise InputError("option --test", None, "at least 2 trials for Hartung-Knapp "
                         "(or --test z)", f"{len(names)} trial")
    check_output_folder(out)
    if concordance is not None:
        from strainsim.studies.sweep import with_concordance

        loaded = with_concordance(loaded, concordance)
    with make_mapper(workers, scheduler) as mapper:
        trials, pooled = virtual_meta_analysis(loaded, seed, method=method.value,
                                               test=test.value,
                                               mapper=None if workers == 1 and not scheduler
                                               else mapper)
    published = published_targets()
    info = {"seed": seed, "method": method.value, "test": test.value, "trials": names,
            "concordance": concordance,
            "pooled": {k: r.to_dict() for k, r in pooled.items()},
            "published": {k: list(v) for k, v in published.items()}}
    with output_folder(out) as stage:
        _write_trial_outputs(stage, trials, pooled, info)
    if as_json:
        _echo_json(_clean(info))
    else:
        _print_table(pooled_table(pooled, published, f"virtual meta-analysis of "
                                  f"{len(trials)} trials (seed {seed}, {method.value}, "
                                  f"{test.value})"))
        typer.echo(f"forest plots, trials.csv, pooled.json and one study table per outcome "
                   f"(nyha.csv, lvesv.csv, lvedv.csv, lvef.csv) in {out}/")


def _write_trial_outputs(stage: Path, trials, pooled: dict, info: dict) -> None:
    """The trial command's files: forest plots, trials.csv, one study table per outcome
    and pooled.json."""
    from strainsim.app.plots import plot_forest, save_figure

    for key, result in pooled.items():
        save_figure(plot_forest(result, title=f"virtual meta-analysis: {key}",
                                favours=("favours image-guided", "favours control")
                                if key in ("lvesv", "lvedv") else
                                ("favours control", "favours image-guided")),
                    stage / f"forest_{key}.png")
    from dataclasses import fields

    from strainsim.studies.trials import ArmSummary

    measures = [f.name for f in fields(ArmSummary)]
    header = ["trial", "arm", "strategy", *measures]
    rows = []
    for t in trials:
        for arm, strategy, summary in (
                ("image-guided", t.spec.placement.image_guided, t.guided),
                ("control", t.spec.placement.control, t.control)):
            rows.append([t.spec.name, arm, strategy] + [
                _fmt_cell(v) if isinstance(v := getattr(summary, k), float) else v
                for k in measures])
    _write_csv(stage / "trials.csv", header, rows)
    # one study table per outcome, in the formats strainsim meta and strainsim tsa read
    _write_csv(stage / "nyha.csv", ["study", "events_t", "n_t", "events_c", "n_c"],
               [[t.spec.name, t.guided.nyha_improved, t.guided.n, t.control.nyha_improved,
                 t.control.n] for t in trials])
    for key, mean, sd in (("lvesv", "esv_change_mean", "esv_change_sd"),
                          ("lvedv", "edv_change_mean", "edv_change_sd"),
                          ("lvef", "ef_change_mean", "ef_change_sd")):
        _write_csv(stage / f"{key}.csv", ["study", "mean_t", "sd_t", "n_t", "mean_c", "sd_c",
                                         "n_c"],
                   [[t.spec.name, f"{getattr(t.guided, mean):.6f}",
                     f"{getattr(t.guided, sd):.6f}", t.guided.n,
                     f"{getattr(t.control, mean):.6f}", f"{getattr(t.control, sd):.6f}",
                     t.control.n] for t in trials])
    _write_json(stage / "pooled.json", _clean(info))


@app.command()
def sweep(
    levels: str = typer.Option("0.2,0.3,0.4,0.45,0.5,0.6,0.7,0.8,0.9,1.0",
                               help="Concordance levels (fractions), comma-separated."),
    replicates: int = typer.Option(1000, help="Virtual meta-analyses per level."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    out: Path = typer.Option(Path("out/sweep"), help="Output folder."),
    workers: int | None = typer.Option(None, help="Worker processes (or Dask workers); "
                                       "default: one per core."),
    scheduler: str | None = typer.Option(None, help="'local-cluster' or a Dask scheduler "
                                         "address to run replicates on dask.distributed."),
    method: Method = typer.Option(Method.REML, help="Pooling method (tau^2 estimator)."),
    test: Test = typer.Option(Test.knha, help="z or Hartung-Knapp (knha)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Sweep the image-guided concordance rate: pooled effect, CI width, power, false
    positives (the same world without the image-guided benefit), sample size."""
    from strainsim.studies.parallel import make_mapper

    if method == Method.MH:
        raise InputError("option --method", None, "an inverse-variance method "
                         "(FE, DL, REML, ML, PM, HE)", "MH")

    try:
        values = [float(x) for x in levels.split(",") if x.strip()]
    except ValueError:
        raise InputError("option --levels", None, "comma-separated fractions like 0.2,0.45,1",
                         repr(levels)) from None
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        raise InputError("option --levels", None, "fractions in [0, 1]", repr(levels))
    if not 1 <= replicates <= 100_000:  # about 1.4 h on 2 cores; the results stay < 0.4 GB
        raise InputError("option --replicates", None, "a number in [1, 100000]",
                         str(replicates))
    import os

    if workers is None:
        workers = os.cpu_count() or 1
    _check_workers(workers)
    from strainsim.files import check_output_folder, output_folder

    check_output_folder(out)
    # about 10 ms of one core per five-trial meta-analysis (benchmarks/README.md)
    minutes = len(values) * replicates * 0.010 / max(1, min(workers, os.cpu_count() or 1)) / 60
    if minutes > 10 and not scheduler:
        typer.echo(f"strainsim: {len(values) * replicates:,} virtual meta-analyses will take "
                   f"about {minutes:.0f} minutes on {workers} workers", err=True)
    with make_mapper(workers, scheduler) as mapper:
        # the workers start up while this process imports the rest, plotting included
        from strainsim.app.display import sweep_table
        from strainsim.app.plots import plot_sweep, pyplot, save_figure
        from strainsim.studies.sweep import concordance_sweep, published_targets

        pyplot()

        progress, advance = _progress(len(values) * replicates, "virtual meta-analyses")
        with progress:
            result = concordance_sweep(levels=values, replicates=replicates, seed=seed,
                                       method=method.value, test=test.value, mapper=mapper,
                                       progress=advance)
    rows = result.table()
    info = {"seed": seed, "replicates": replicates, "method": result.method,
            "test": result.test, "n_patients": result.n_patients, "levels": rows}
    with output_folder(out) as stage:
        _write_csv(stage / "sweep.csv", list(rows[0]), [[_fmt_cell(v) for v in r.values()]
                                                        for r in rows])
        _write_json(stage / "sweep.json", _clean(info))
        save_figure(plot_sweep(result, published=published_targets()), stage / "sweep.png")
    if as_json:
        _echo_json(_clean(info))
    else:
        _print_table(sweep_table(result, f"concordance sweep: {replicates} replicates per "
                                 f"level, {result.n_patients} patients each (seed {seed}, "
                                 f"{result.method}, {result.test})"))
        typer.echo(f"sweep.csv, sweep.json and sweep.png in {out}/")


def _targets_and_specs(targets: Path | None, specs: list[str] | None, replicates: int):
    from strainsim.studies.calibration import load_targets
    from strainsim.studies.specs import load_spec
    from strainsim.studies.sweep import FIVE_TRIALS

    if not 2 <= replicates <= 10_000:
        raise InputError("option --replicates", None, "a number in [2, 10000]", str(replicates))
    loaded = [load_spec(name) for name in (specs or FIVE_TRIALS)]
    return load_targets(targets, tuple(s.name for s in loaded)), loaded


def _calibration_outputs(stage: Path, rows: list[dict], info: dict, title: str) -> None:
    from strainsim.app.plots import plot_calibration, save_figure

    _write_csv(stage / "targets.csv", list(rows[0]),
               [[_csv_cell(v) for v in r.values()] for r in rows])
    _write_json(stage / "calibration.json", _clean(info))
    save_figure(plot_calibration(rows, title=title), stage / "calibration.png")


def _csv_cell(value) -> str:
    if isinstance(value, float):
        return _fmt_cell(value)
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


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
    loaded_targets, loaded = _targets_and_specs(targets, specs, replicates)
    check_output_folder(out)
    progress, advance = _progress(max_evals, "objective evaluations")
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
        _echo_json(_clean(info))
        return
    _print_table(calibration_table(rows, f"targets vs the fitted world ({replicates} "
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

    loaded_targets, loaded = _targets_and_specs(targets, specs, replicates)
    if out is not None:
        check_output_folder(out)
    progress, advance = _progress(replicates, "virtual meta-analyses")
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
        _echo_json(_clean(info))
        return
    _print_table(calibration_table(rows, f"targets vs the shipped defaults ({replicates} "
                                   f"replicates, seed {seed})"))
    typer.echo(f"objective {evaluation.objective:.2f}; {info['inside_95']} of {len(fitted)} "
               f"fitted targets inside the simulated 95 % range")


@app.command()
def explore(
    port: int = typer.Option(5006, help="Port to serve the page on."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (default: this "
                             "machine only; 0.0.0.0 opens it to the network)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
    workers: int = typer.Option(2, help="Worker processes for the power curves."),
    precompute: bool = typer.Option(True, help="Compute the default world's power curve "
                                    "precisely before serving (a few seconds)."),
):
    """Serve the concordance explorer: an interactive page for teaching."""
    import socket

    _check_workers(workers)
    if not 1 <= port <= 65535:
        raise InputError("option --port", None, "a port number in [1, 65535]", str(port))
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise InputError("option --port/--host", None, "a free port on an address of this "
                         "machine", f"{host}:{port} ({exc.strerror or exc})") from None
    from strainsim.app.explorer_page import serve

    try:  # the server runs until Ctrl-C (or SIGTERM), which it handles by returning
        serve(port, host, open_browser=not no_browser, workers=workers, precompute=precompute)
    except KeyboardInterrupt:
        pass
    raise typer.Exit(130)  # stopped by Ctrl-C or SIGTERM: main() says so in one line


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
    from strainsim.measure.engine import measure
    from strainsim.measure.exports import write_strain_csv
    from strainsim.measure.speckle import SpeckleParams, render_frames, track_curves
    from strainsim.model.activation import simulate_activation
    from strainsim.model.curves import FPS_RANGE, CurveParams, simulate_curves

    _check_range(fps, *FPS_RANGE, "--fps")
    _check_range(snr, -10.0, 80.0, "--snr")
    check_output_folder(out)
    if segment is not None:
        _check_range(segment, 1, 17, "--segment")
    rng_act, rng_curves, rng_speckle, rng_show = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    act = simulate_activation(1, rng_act)
    truth = simulate_curves(act.activation_ms, act.scar, rng_curves,
                            CurveParams(kind=strain.value, fps=fps, noise_sd_pct=0.0,
                                        drift_sd_pct=0.0))
    params = SpeckleParams(snr_db=snr)
    progress, advance = _progress(17, "segments tracked")
    with progress:
        tracked = np.empty_like(truth.strain)
        for s_idx in range(17):
            tracked[0, s_idx] = track_curves(truth.strain[:, s_idx:s_idx + 1], strain.value,
                                             params, rng_speckle, frame_ms=1000.0 / fps)[0, 0]
            advance(s_idx + 1)
    result = measure(tracked, truth.time_ms, kind=strain.value)
    true_latest = int(act.true_latest_segment[0])
    shown = segment or (true_latest if true_latest > 0 else 1)
    frames, _ = render_frames(truth.strain[0, shown - 1], strain.value, params, rng_show)
    err = result.ttp_ms[0] - truth.true_ttp_ms[0]
    info = result_dict(result, source=f"speckle-tracked (seed {seed})", time_ms=truth.time_ms,
                       smooth_ms=50.0, extra={
                           "seed": seed, "snr_db": snr, "true_latest_segment": true_latest,
                           "ttp_error_ms": [round(float(e), 1) for e in err],
                           "ttp_mae_ms": round(float(np.mean(np.abs(err))), 2)})
    with output_folder(out) as stage:
        save_gif(frames, stage / "frames.gif", fps=min(fps, 30.0))
        save_figure(plot_frames(frames, truth.time_ms, title=f"segment {shown}, "
                                f"{strain.value} strain, {fps:g} fps, SNR {snr:g} dB"),
                    stage / "frames.png")
        save_figure(plot_tracked_curves(truth.time_ms, truth.strain[0], tracked[0],
                                        kind=strain.value), stage / "curves.png")
        write_strain_csv(stage / "tracked.csv", tracked[0], truth.time_ms)
        _write_json(stage / "ttp.json", _clean(info))
    if as_json:
        _echo_json(_clean(info))
    else:
        _print_table(segment_table(info, _title(info) + f"; true latest: {true_latest}"))
        typer.echo(f"TTP error vs truth: mean absolute {info['ttp_mae_ms']} ms "
                   f"(one frame = {1000 / fps:.1f} ms); frames.gif, frames.png, curves.png, "
                   f"tracked.csv, ttp.json in {out}/")


def _fmt_cell(value) -> str:
    import math

    return "" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"


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
    _check_output(out, "--out", (".json",))
    from strainsim.files import write_text_atomic

    write_text_atomic(out, schema_text())
    typer.echo(f"spec schema -> {out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning input errors into one line and exit code 2."""
    try:  # newer typer carries its own copy of click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click.exceptions import UsageError

    try:
        code = app(args=argv, prog_name="strainsim", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into an exit code outside standalone mode
            raise KeyboardInterrupt
    except InputError as exc:
        typer.echo(f"strainsim: error: {exc}", err=True)
        return 2
    except UsageError as exc:
        ctx = exc.ctx
        command = f"strainsim {ctx.info_name}" if ctx and ctx.parent else "strainsim"
        message = exc.format_message()
        if message:  # an empty message follows the help shown for a bare command
            typer.echo(f"{command}: error: {message}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("strainsim: interrupted; nothing was written", err=True)
        return 130
    except BrokenPipeError:  # output piped into a pager or head that closed early
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
