"""Commands that run virtual trials: ``cohort``, ``trial`` and ``sweep``."""

from __future__ import annotations

from pathlib import Path

import typer

from strainsim.app.cli.common import (
    MAX_PATIENT_TABLE,
    Method,
    Test,
    app,
    check_range,
    check_workers,
    echo_json,
    fmt_cell,
    json_safe,
    print_table,
    progress_bar,
    write_csv,
    write_json,
)
from strainsim.errors import InputError


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
    check_workers(workers)
    if (workers > 1 or scheduler) and not summary_only:
        raise InputError("option --workers/--scheduler", None, "--summary-only with them "
                         "(the per-patient table is built in one process)")
    trial_spec = load_spec(spec)
    if not summary_only and trial_spec.n_total > MAX_PATIENT_TABLE:
        raise InputError("option --summary-only", None, "it for more than "
                         f"{MAX_PATIENT_TABLE:,} patients (the patient table is held in "
                         "memory)", f"{trial_spec.n_total:,} patients in {spec}")
    check_output_folder(out)
    progress, advance = progress_bar(trial_spec.n_total, f"{trial_spec.name}: patients")
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
        write_json(stage / "summary.json", json_safe(summary))
        if not summary_only:
            header, rows = patient_rows(guided, trial_spec.placement.image_guided)
            rows += patient_rows(control, trial_spec.placement.control)[1]
            write_csv(stage / "patients.csv", ["patient", *header],
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
    replicates: int | None = typer.Option(None, help="Run this many virtual meta-analyses "
                                          "and write them as data (replicates.csv, "
                                          "pooled.csv) instead of one."),
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
    check_workers(workers)
    if concordance is not None:
        check_range(concordance, 0.0, 1.0, "--concordance")
    if replicates is not None and not 1 <= replicates <= 100_000:
        raise InputError("option --replicates", None, "a number in [1, 100000]",
                         str(replicates))
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
    if replicates is not None:
        _trial_replicates(loaded, replicates, seed, method.value, test.value, out, workers,
                          scheduler, as_json)
        return
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
        write_trial_outputs(stage, trials, pooled, info)
    if as_json:
        echo_json(json_safe(info))
    else:
        print_table(pooled_table(pooled, published, f"virtual meta-analysis of "
                                  f"{len(trials)} trials (seed {seed}, {method.value}, "
                                  f"{test.value})"))
        typer.echo(f"forest plots, trials.csv, pooled.json and one study table per outcome "
                   f"(nyha.csv, lvesv.csv, lvedv.csv, lvef.csv) in {out}/")


def _trial_replicates(loaded, replicates: int, seed: int, method: str, test: str, out: Path,
                      workers: int, scheduler, as_json: bool) -> None:
    """``trial --replicates``: the virtual meta-analyses as data."""
    import numpy as np

    from strainsim.files import output_folder
    from strainsim.studies.parallel import make_mapper
    from strainsim.studies.sweep import share_mcse
    from strainsim.studies.trials import replicate_tables

    progress, advance = progress_bar(replicates, "virtual meta-analyses")
    with make_mapper(workers, scheduler) as mapper, progress:
        (arm_header, arm_rows), (pooled_header, pooled_rows) = replicate_tables(
            loaded, replicates, seed, method=method, test=test, progress=advance,
            mapper=None if workers == 1 and not scheduler else mapper)
    summary = {}
    for key in ("nyha", "lvesv", "lvedv", "lvef"):
        rows = [r for r in pooled_rows if r[1] == key]
        estimate = np.array([float(r[2]) for r in rows])
        low = np.array([float(r[3]) for r in rows])
        high = np.array([float(r[4]) for r in rows])
        null = 1.0 if key == "nyha" else 0.0
        significant = (low > null) | (high < null)
        share = float(significant.mean())
        summary[key] = {"estimate_mean": float(estimate.mean()),
                        "estimate_mean_mcse": float(estimate.std(ddof=1) / np.sqrt(replicates))
                        if replicates > 1 else float("nan"),
                        "significant_share": share,
                        "significant_share_mcse": share_mcse(share, replicates)}
    # each trial's arm, its columns averaged over the replicates (empty cells left out)
    arms = {}
    columns = arm_header[4:]
    for row in arm_rows:
        entry = arms.setdefault((row[1], row[2]), {"trial": row[1], "arm": row[2],
                                                   "strategy": row[3], "values": []})
        entry["values"].append(row[4:])
    arm_means = []
    for entry in arms.values():
        means = {}
        for k, name in enumerate(columns):
            values = [float(v[k]) for v in entry["values"] if v[k] != ""]
            means[name] = float(np.mean(values)) if values else float("nan")
        arm_means.append({"trial": entry["trial"], "arm": entry["arm"],
                          "strategy": entry["strategy"], **means})
    info = {"seed": seed, "method": method, "test": test, "replicates": replicates,
            "trials": [s.name for s in loaded], "summary": summary, "arms": arm_means}
    with output_folder(out) as stage:
        write_csv(stage / "replicates.csv", arm_header, arm_rows)
        write_csv(stage / "pooled.csv", pooled_header, pooled_rows)
        write_json(stage / "replicates.json", json_safe(info))
    if as_json:
        echo_json(json_safe(info))
        return
    for key, v in summary.items():
        typer.echo(f"{key}: mean pooled estimate {v['estimate_mean']:.3g} (MCSE "
                   f"{v['estimate_mean_mcse']:.2g}); significant in "
                   f"{100 * v['significant_share']:.1f} % (MCSE "
                   f"{100 * v['significant_share_mcse']:.1f}) of {replicates}")
    typer.echo(f"replicates.csv, pooled.csv and replicates.json in {out}/")


def write_trial_outputs(stage: Path, trials, pooled: dict, info: dict) -> None:
    """The trial command's files: forest plots, trials.csv, one study table per outcome
    and pooled.json."""
    from strainsim.app.plots import plot_forest, save_figure

    for key, result in pooled.items():
        save_figure(plot_forest(result, title=f"virtual meta-analysis: {key}",
                                favours=("favours image-guided", "favours control")
                                if key in ("lvesv", "lvedv") else
                                ("favours control", "favours image-guided")),
                    stage / f"forest_{key}.png")
    from strainsim.studies.trials import arm_table, study_tables

    write_csv(stage / "trials.csv", *arm_table(trials))
    # one study table per outcome, in the layouts strainsim meta and strainsim tsa read
    for key, (header, rows) in study_tables(trials).items():
        write_csv(stage / f"{key}.csv", header, rows)
    write_json(stage / "pooled.json", json_safe(info))


@app.command()
def sweep(
    levels: str = typer.Option("0.2,0.3,0.4,0.45,0.5,0.6,0.7,0.8,0.9,1.0",
                               help="Concordance levels (fractions), comma-separated."),
    # a literal, so that --help stays instant: studies.sweep.DEFAULT_REPLICATES (tested)
    replicates: int = typer.Option(1112, help="Virtual meta-analyses (every level uses "
                                   "them): 1,112 keep the Monte Carlo SE of any share "
                                   "at most 1.5 points."),
    seed: int = typer.Option(0, min=0, help="Random seed (>= 0)."),
    out: Path = typer.Option(Path("out/sweep"), help="Output folder."),
    workers: int | None = typer.Option(None, help="Worker processes (or Dask workers); "
                                       "default: one per core."),
    scheduler: str | None = typer.Option(None, help="'local-cluster' or a Dask scheduler "
                                         "address to run replicates on dask.distributed."),
    method: Method = typer.Option(Method.REML, help="Pooling method (tau^2 estimator)."),
    test: Test = typer.Option(Test.knha, help="z or Hartung-Knapp (knha)."),
    compare: bool = typer.Option(False, "--compare-methods", help="Also pool the calibrated "
                                 "world's replicates by FE, DL and REML, each with z and "
                                 "Hartung-Knapp: coverage, power, false positives, CI width "
                                 "(compare_methods.csv)."),
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
    check_workers(workers)
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
        import scipy.stats  # noqa: F401  (the sample sizes' t distribution, imported now)

        progress, advance = progress_bar(len(values) * replicates, "virtual meta-analyses")
        with progress:
            result = concordance_sweep(levels=values, replicates=replicates, seed=seed,
                                       method=method.value, test=test.value, mapper=mapper,
                                       progress=advance)
    rows = result.table()
    info = {"seed": seed, "replicates": replicates, "method": result.method,
            "test": result.test, "n_patients": result.n_patients, "levels": rows,
            "slope_on_concordance": result.slope_on_concordance()}
    compared = None
    if compare:
        from strainsim.studies.sweep import compare_methods

        compared = compare_methods(result)
        info["compare_methods"] = compared
    with output_folder(out) as stage:
        write_csv(stage / "sweep.csv", list(rows[0]), [[fmt_cell(v) for v in r.values()]
                                                        for r in rows])
        if compared:
            write_csv(stage / "compare_methods.csv", list(compared[0]),
                      [[fmt_cell(v) for v in r.values()] for r in compared])
        write_json(stage / "sweep.json", json_safe(info))
        save_figure(plot_sweep(result, published=published_targets()), stage / "sweep.png")
    if as_json:
        echo_json(json_safe(info))
    else:
        print_table(sweep_table(result, f"concordance sweep: {replicates} replicates per "
                                 f"level, {result.n_patients} patients each (seed {seed}, "
                                 f"{result.method}, {result.test})"))
        if compared:
            from strainsim.app.display import methods_table

            print_table(methods_table(compared, f"the calibrated world pooled six ways "
                                      f"({replicates} replicates, k = {result.n_trials})"))
        slope = info["slope_on_concordance"].get("lvesv")
        if slope:
            typer.echo(f"pooled LVESV difference per 10 points of concordance: "
                       f"{slope['slope'] / 10:+.2f} % (MCSE {slope['slope_mcse'] / 10:.2f})")
        extra = ", compare_methods.csv" if compared else ""
        typer.echo(f"sweep.csv{extra}, sweep.json and sweep.png in {out}/")

