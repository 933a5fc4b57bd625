"""Engine results as JSON-ready dictionaries and as rich tables for the terminal."""

from __future__ import annotations

import math

import numpy as np

from strainsim.measure.engine import EngineResult
from strainsim.segments import SegmentModel, load_segments

__all__ = ["patient_dict", "result_dict", "segment_table", "batch_table", "meta_table",
           "pooled_table", "sweep_table", "patient_rows"]


def _num(value, digits: int = 2):
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def patient_dict(result: EngineResult, index: int = 0, *,
                 model: SegmentModel | None = None) -> dict:
    """One patient's measurements as a JSON-ready dict.

    Keys: ``latest_segment`` (int or None), ``latest_name``, ``segments`` (a list
    of ``{"segment", "name", "ttp_ms", "peak_strain", "viable", "missing"}``; a
    segment without samples is ``missing`` with ``viable`` None, not scar) and
    ``dyssynchrony`` (``sd_ttp_ms``, ``maxmin_ttp_ms``, ``septal_lateral_ms``).
    Missing values are ``None``.
    """
    model = model or load_segments()
    latest = int(result.latest_segment[index])
    segments = []
    for seg in model.segments:
        missing = bool(np.isnan(result.ttp_ms[index, seg.number - 1]))  # no samples
        segments.append({"segment": seg.number, "name": seg.name,
                         "ttp_ms": _num(result.ttp_ms[index, seg.number - 1], 1),
                         "peak_strain": _num(result.peak_strain[index, seg.number - 1]),
                         "viable": None if missing else bool(result.viable[index,
                                                                           seg.number - 1]),
                         "missing": missing})
    return {
        "latest_segment": latest if latest > 0 else None,
        "latest_name": model.name_of(latest) if latest > 0 else None,
        "segments": segments,
        "dyssynchrony": {
            "sd_ttp_ms": _num(result.sd_ttp_ms[index], 1),
            "maxmin_ttp_ms": _num(result.maxmin_ttp_ms[index], 1),
            "septal_lateral_ms": _num(result.septal_lateral_ms[index], 1),
        },
    }


def result_dict(result: EngineResult, *, source: str, time_ms: np.ndarray,
                patient_id: tuple[str, ...] | None = None, smooth_ms: float,
                model: SegmentModel | None = None, extra: dict | None = None) -> dict:
    """The whole result as a JSON-ready dict.

    One patient: the :func:`patient_dict` keys at the top level. Several: a
    ``patients`` list of them, each with its ``patient_id``. Both carry
    ``source``, ``strain``, ``fps``, ``frames``, ``smooth_ms`` and
    ``scar_threshold_pct``.
    """
    dt = float(np.median(np.diff(time_ms)))
    head = {"source": source, "strain": result.kind, "fps": round(1000.0 / dt, 1),
            "frames": int(len(time_ms)), "smooth_ms": smooth_ms,
            "smooth_frames": result.smooth_frames,
            "scar_threshold_pct": result.scar_threshold_pct}
    if extra:
        head.update(extra)
    if len(result) == 1:
        return {**head, **patient_dict(result, 0, model=model)}
    ids = patient_id or tuple(str(i) for i in range(len(result)))
    return {**head, "n_patients": len(result),
            "patients": [{"patient_id": ids[i], **patient_dict(result, i, model=model)}
                         for i in range(len(result))]}


def _fmt(value, digits=0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def segment_table(info: dict, title: str):
    """A rich Table of one patient's segments, the latest viable one highlighted."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    marker = info.get("marker")
    columns = [("seg", "right"), ("name", "left"), ("TTP (ms)", "right")]
    if marker:
        columns.append((f"{marker} (ms)", "right"))
    columns += [("peak strain (%)", "right"), ("viable", "center")]
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for seg in info["segments"]:
        style = "bold green" if seg["segment"] == info["latest_segment"] else None
        cells = [str(seg["segment"]), seg["name"], _fmt(seg["ttp_ms"])]
        if marker:
            cells.append(_fmt(seg["marker_ms"], 1))
        cells += [_fmt(seg["peak_strain"], 1),
                  "missing" if seg.get("missing") else ("yes" if seg["viable"] else "scar")]
        table.add_row(*cells, style=style)
    return table


def batch_table(info: dict, title: str, limit: int = 50):
    """A rich Table with one row per patient (latest segment and dyssynchrony)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in ("patient", "latest", "SD TTP (ms)", "max-min (ms)", "sept-lat (ms)", "viable"):
        table.add_column(name, justify="right")
    for p in info["patients"][:limit]:
        d = p["dyssynchrony"]
        table.add_row(p["patient_id"], _fmt(p["latest_segment"]), _fmt(d["sd_ttp_ms"]),
                      _fmt(d["maxmin_ttp_ms"]), _fmt(d["septal_lateral_ms"]),
                      str(sum(s["viable"] for s in p["segments"])))
    if len(info["patients"]) > limit:
        table.caption = f"first {limit} of {len(info['patients'])} patients (use --json for all)"
    return table


def meta_table(result, title: str):
    """A rich Table of a meta-analysis: one row per study, then the pooled estimate."""
    from rich.table import Table

    ratio = result.measure == "OR"
    back = math.exp if ratio else (lambda x: x)
    name = {"OR": "OR", "MD": "MD", "SMD": "g"}.get(result.measure, "effect")
    table = Table(title=title, title_justify="left")
    for col in ("study", name, "95% CI", "weight"):
        table.add_column(col, justify="left" if col == "study" else "right")
    low, high = result.study_intervals()
    for study, y, lo, hi, w in zip(result.effects.study, result.effects.yi, low, high,
                                   result.weights, strict=True):
        table.add_row(study, f"{back(y):.3f}", f"[{back(lo):.3f}, {back(hi):.3f}]", f"{w:.1f}%")
    model = result.method + (" + Hartung-Knapp" if result.test == "knha" else "")
    table.add_row(f"pooled ({model})", f"{back(result.estimate):.3f}",
                  f"[{back(result.ci_low):.3f}, {back(result.ci_high):.3f}]", "100%",
                  style="bold")
    q_p = "n/a" if math.isnan(result.q_p) else f"{result.q_p:.3g}"
    table.caption = (f"p = {result.p:.3g}; tau2 = {result.tau2:.4g}; I2 = {result.i2:.1f}%; "
                     f"Q = {result.q:.3f} (df {result.q_df}, p {q_p}); prediction interval "
                     f"[{back(result.pi_low):.3f}, {back(result.pi_high):.3f}]")
    return table


def sensitivity_table(rows: list[dict], key: str, measure: str, title: str):
    """A rich Table of leave-one-out (``key="omitted"``) or cumulative (``"added"``) rows."""
    from rich.table import Table

    back = math.exp if measure == "OR" else (lambda x: x)
    table = Table(title=title, title_justify="left")
    for col in (key, "k", "estimate", "95% CI", "p", "tau2", "I2"):
        table.add_column(col, justify="left" if col == key else "right")

    def fmt(x, spec, f=lambda v: v):
        return "-" if x is None else format(f(x), spec)

    for row in rows:
        ci = ("-" if row["ci_low"] is None else
              f"[{back(row['ci_low']):.3f}, {back(row['ci_high']):.3f}]")
        table.add_row(row[key], str(row["k"]), fmt(row["estimate"], ".3f", back), ci,
                      fmt(row["p"], ".3g"), fmt(row["tau2"], ".4g"), fmt(row["i2"], ".1f"))
    return table


def tsa_table(result, title: str):
    """A rich Table of a trial sequential analysis, one row per look."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    futility = result.futility is not None
    for col in ("study", "patients", "information", "z", "boundary |z|") + (
            ("futility z",) if futility else ()):
        table.add_column(col, justify="left" if col == "study" else "right")

    def shown(x):
        return ("inf" if x > 0 else "-inf") if not math.isfinite(x) else f"{x:.2f}"

    for k, (s, n, f, z, b) in enumerate(zip(result.study, result.patients, result.fraction,
                                            result.z, result.boundary, strict=True)):
        table.add_row(s, f"{n:,}", f"{f:.0%}", f"{z:.2f}", shown(b),
                      *((shown(result.futility[k]),) if futility else ()))
    low, high = result.adjusted_ci
    table.caption = (f"required information {result.ris:,.0f} patients (D2 = {result.d2:.0%}; "
                     f"{result.ris_unadjusted:,.0f} without heterogeneity"
                     + (f"; x{result.inflation:.3f} for the futility design"
                        if futility else "")
                     + f"); {result.conclusive}; TSA-adjusted CI [{low:.3g}, {high:.3g}]")
    return table


_OUTCOME_LABELS = {"nyha": "NYHA (OR)", "lvesv": "LVESV (MD, %)",
                   "lvedv": "LVEDV (MD, %)", "lvef": "LVEF (MD, points)"}


def _interval(result, key):
    back = math.exp if key == "nyha" else (lambda x: x)
    return back(result.estimate), back(result.ci_low), back(result.ci_high)


def pooled_table(pooled: dict, published: dict | None, title: str):
    """A rich Table: virtual pooled estimate per outcome next to the published one."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("outcome", "virtual pooled [95% CI]", "I2", "published [95% CI]", "inside"):
        table.add_column(col, justify="left" if col == "outcome" else "right")
    for key, result in pooled.items():
        est, lo, hi = _interval(result, key)
        row = [_OUTCOME_LABELS.get(key, key), f"{est:.2f} [{lo:.2f}, {hi:.2f}]",
               f"{result.i2:.0f}%"]
        if published and key in published:
            p_est, p_lo, p_hi = published[key]
            row += [f"{p_est:.2f} [{p_lo:.2f}, {p_hi:.2f}]", "yes" if p_lo <= est <= p_hi else "no"]
        else:
            row += ["-", "-"]
        table.add_row(*row)
    return table


def _share(level, outcome: str, name: str) -> str:
    """A share with its Monte Carlo standard error: ``6.5% ± 1.7``."""
    value = getattr(level, name)[outcome]
    return f"{value:.1%} ± {100 * level.mcse[outcome][name]:.1f}"


def sweep_table(result, title: str):
    """A rich Table of the concordance sweep, one row per level."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("concordance", "NYHA OR", "benefit", "false pos.", "LVESV MD %", "benefit",
                "harm", "false pos.", "CI width", "N for 80% (LVESV)"):
        table.add_column(col, justify="right")
    levels = ((result.calibrated,) if result.calibrated else ()) + tuple(result.summary)
    for lvl in levels:
        need_text = patients_text(lvl.patients_for_80["lvesv"])
        label = (f"calibrated ({lvl.concordance:.0%})" if lvl.world == "calibrated"
                 else f"{lvl.concordance:.0%}")
        table.add_row(label, f"{lvl.mean_estimate['nyha']:.2f}",
                      _share(lvl, "nyha", "power_benefit"), _share(lvl, "nyha", "false_positive"),
                      f"{lvl.mean_estimate['lvesv']:.1f}", _share(lvl, "lvesv", "power_benefit"),
                      _share(lvl, "lvesv", "power_harm"), _share(lvl, "lvesv", "false_positive"),
                      f"{lvl.mean_ci_width['lvesv']:.1f}", need_text,
                      end_section=lvl.world == "calibrated")
    return table


def patients_text(need: dict) -> str:
    """Patients for 80 % power with its Monte Carlo interval, rounded to what the
    interval supports; beyond the simulated range, "> N"."""
    value, low, high = need["patients"], need["low"], need["high"]
    if math.isnan(value):
        return f"> {low:,.0f}" if not math.isnan(low) else "-"
    if math.isnan(low):
        return f"<= {value:,.0f}"
    digits = -int(math.floor(math.log10(max(high - low, 1.0)))) + 1

    def rounded(x):
        return f"{round(x, min(digits, 0)):,.0f}"
    return f"{rounded(value)} [{rounded(low)}, {rounded(high)}]"


def methods_table(rows: list[dict], title: str):
    """A rich Table of :func:`strainsim.studies.sweep.compare_methods` for LVESV and NYHA:
    coverage, power, false positives (each ± its Monte Carlo SE) and CI width."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("method", "test", "LVESV coverage", "LVESV power", "LVESV false pos.",
                "LVESV CI width", "NYHA coverage", "NYHA power", "NYHA false pos."):
        table.add_column(col, justify="left" if col in ("method", "test") else "right")

    def share(r, name):
        return f"{100 * r[name]:.1f}% ± {100 * r[name + '_mcse']:.1f}"

    for r in rows:
        table.add_row(r["method"], r["test"], share(r, "lvesv_coverage"),
                      share(r, "lvesv_power_benefit"), share(r, "lvesv_false_positive"),
                      f"{r['lvesv_ci_width']:.1f}", share(r, "nyha_coverage"),
                      share(r, "nyha_power_benefit"), share(r, "nyha_false_positive"))
    return table


def patient_rows(arm, strategy: str) -> tuple[list[str], list[list]]:
    """Header and rows of the per-patient CSV for one arm (placed by ``strategy``):
    ``measured_latest`` is the STE target, ``target_segment`` the arm's own target
    (they differ in a multimodality arm), ``lead_vs_measured`` the lead against the
    arm's target."""
    p, act, m, pl, o = (arm.patients, arm.patients.activation, arm.measured, arm.placement,
                        arm.outcomes)
    header = ["arm", "strategy", "age", "male", "ischemic", "scar_segments", "edv_ml",
              "esv_ml", "ef_pct", "true_latest", "measured_latest", "target_segment",
              "lead_segment", "lead_vs_measured",
              "lead_vs_true", "scar_at_lead", "sd_ttp_ms", "paced_total_ms",
              "activation_time_reduction_ms", "esv_change_pct", "edv_change_pct",
              "ef_change", "nyha_improved"]
    names = {-1: "none", 0: "concordant", 1: "adjacent", 2: "remote"}
    # every column computed once (properties such as ef_pct compute a whole array)
    ef, true_latest, scar_count = p.ef_pct, act.true_latest_segment, act.scar.sum(axis=1)
    paced = arm.pacing
    reduction = paced.reduction_ms
    rows = []
    for i in range(len(arm)):
        rows.append([arm.arm, strategy, f"{p.age[i]:.1f}", int(p.male[i]),
                     int(act.ischemic[i]), int(scar_count[i]), f"{p.edv_ml[i]:.1f}",
                     f"{p.esv_ml[i]:.1f}", f"{ef[i]:.1f}", int(true_latest[i]),
                     int(m.latest_segment[i]), int(pl.target_segment[i]),
                     int(pl.lead_segment[i]),
                     names[int(pl.vs_measured[i])], names[int(pl.vs_true[i])],
                     int(arm.scar_at_lead[i]), f"{m.sd_ttp_ms[i]:.1f}",
                     f"{paced.total_paced_ms[i]:.1f}", f"{reduction[i]:.1f}",
                     f"{o.esv_change_pct[i]:.2f}", f"{o.edv_change_pct[i]:.2f}",
                     f"{o.ef_change[i]:.2f}", int(o.nyha_improved[i])])
    return header, rows


def calibration_rows(targets, evaluation) -> list[dict]:
    """One dict per target: the published value and SE, the world's between-trial SD of
    it (``between_trial_sd``, fitting scale), the simulated mean and 95 % range, z."""
    rows = []
    het = evaluation.heterogeneity
    for k, t in enumerate(targets.targets):
        rows.append({
            "target": t.name, "statistic": t.statistic,
            "trial": t.trial or "", "arm": t.arm or "", "outcome": t.outcome or "",
            "quantity": t.quantity or "", "published": t.value, "se": t.se,
            "between_trial_sd": float(np.sqrt(het[k])) if het is not None else 0.0,
            "simulated_mean": float(evaluation.mean[k]),
            "simulated_low": float(evaluation.low[k]),
            "simulated_high": float(evaluation.high[k]),
            "z": float(evaluation.z[k]), "fit": t.fit,
            "inside_95": bool(evaluation.low[k] <= t.value <= evaluation.high[k]),
            "source": t.source})
    return rows


def calibration_table(rows: list[dict], title: str):
    """A rich Table of :func:`calibration_rows`."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("target", "published", "simulated mean [95% range]", "z", "fitted"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for r in rows:
        digits = 3 if abs(r["published"]) < 1.5 else 2
        table.add_row(r["target"], f"{r['published']:.{digits}f}",
                      f"{r['simulated_mean']:.{digits}f} [{r['simulated_low']:.{digits}f}, "
                      f"{r['simulated_high']:.{digits}f}]", f"{r['z']:+.2f}",
                      "yes" if r["fit"] else "no")
    return table


def add_marker(info: dict, by_marker, model: SegmentModel) -> None:
    """Put a marker's per-segment times and latest segment into a ttp JSON dict."""
    patients = info["patients"] if "patients" in info else [info]
    info["marker"] = by_marker.marker
    for i, patient in enumerate(patients):
        latest = int(by_marker.latest_segment[i])
        patient["latest_segment"] = latest if latest > 0 else None
        patient["latest_name"] = model.name_of(latest) if latest > 0 else None
        for seg in patient["segments"]:
            t = float(by_marker.time_ms[i, seg["segment"] - 1])
            seg["marker_ms"] = round(t, 1) if math.isfinite(t) else None
