"""A ground-truth benchmark for activation mapping: data sets and scoring.

:func:`make_dataset` writes simulated strain exports whose truth is known
(true activation time of every segment, scar, the true latest viable segment)
in the formats ``strainsim ttp`` reads, one NPZ batch per stratum of frame
rate and noise, with a separate truth table and a manifest. Any method, in any
language, predicts from the exports and writes a CSV; :func:`score` compares
it with the truth. The format and the scoring rules are in docs/benchmark.md.

Scoring (per stratum and overall)
    * exact accuracy: predicted latest segment == true latest viable segment;
    * within-one accuracy: the prediction is the true segment or one of its
      neighbours in the 17-segment model;
    * both with Wilson 95 % intervals; a patient without a prediction counts
      as wrong;
    * activation-time error (when the prediction has per-segment times): the
      mean absolute difference between predicted and true times over the
      patient's non-scar segments, after each is centred on its own mean over
      those segments (markers differ from activation by an unknown constant);
    * scar agreement (when the prediction has per-segment scar calls): Cohen's
      kappa over all segments.

Examples
--------
>>> from strainsim.studies.benchmark import wilson_interval
>>> [round(x, 3) for x in wilson_interval(45, 50)]
[0.786, 0.957]
"""

from __future__ import annotations

import copy
import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strainsim.errors import InputError
from strainsim.files import write_csv
from strainsim.measure.speckle import SpeckleParams
from strainsim.model.block import simulate_block
from strainsim.model.curves import CurveParams, time_axis
from strainsim.seeding import block_streams, child
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments
from strainsim.studies.specs import TrialSpec

__all__ = ["Stratum", "make_dataset", "read_truth", "read_predictions", "score",
           "wilson_interval", "FORMAT", "MAX_PATIENTS"]

FORMAT = "strainsim-activation-benchmark"
MAX_PATIENTS = 200_000  # per stratum: one stratum is held in memory while it is written


@dataclass(frozen=True)
class Stratum:
    """One frame rate and noise level of a data set."""

    fps: float
    noise: float  # tracking noise SD (strain %) for curves, SNR (dB) for speckle

    @property
    def name(self) -> str:
        return f"fps{self.fps:g}_noise{self.noise:g}"


def _patient_ids(stratum: Stratum, n: int) -> np.ndarray:
    return np.array([f"{stratum.name}-p{i + 1:06d}" for i in range(n)])


def make_dataset(out: str | Path, n: int, strata: list[Stratum], *, kind: str = "radial",
                 fidelity: str = "curves", seed: int = 0, cycle_ms: float = 800.0,
                 per_patient_csv: bool = False, model: SegmentModel | None = None,
                 progress=None) -> dict:
    """Write a benchmark data set into the (new or empty) folder ``out``.

    The same ``n`` patients (the block simulator's patients stream from the seed)
    are imaged in every stratum; each stratum's tracking noise (or speckle imaging)
    has its own measurement stream, so strata differ only by how the patients were
    measured.

    Returns
    -------
    dict
        The manifest (also written to ``out/manifest.json``).
    """
    from strainsim import __version__

    model = model or load_segments()
    out = Path(out)
    if not 1 <= n <= MAX_PATIENTS:
        raise ValueError(f"n must be in [1, {MAX_PATIENTS}]")
    root = np.random.SeedSequence(seed)
    # one patients stream for every stratum (the same patients), one measurement stream
    # per stratum: each stratum is the block simulator on those patients
    patients_stream, _, care_stream = block_streams(child(root, 0))
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "version": 1, "strainsim": __version__, "seed": seed,
                "n_per_stratum": n, "strain": kind, "fidelity": fidelity,
                "cycle_ms": cycle_ms, "truth": "truth.csv", "strata": []}
    rows = []
    done = 0
    for j, stratum in enumerate(strata):
        measurement_stream = block_streams(child(root, 1 + j))[1]
        noise = {"noise_sd_pct": stratum.noise} if fidelity == "curves" else {}
        spec = TrialSpec(name=stratum.name, n_image_guided=2, n_control=2, fidelity=fidelity,
                         curves=CurveParams(kind=kind, fps=stratum.fps, cycle_ms=cycle_ms,
                                            **noise),
                         speckle=SpeckleParams(snr_db=stratum.noise) if fidelity == "speckle"
                         else SpeckleParams())
        streams = (copy.deepcopy(patients_stream), measurement_stream,
                   copy.deepcopy(care_stream))
        a = simulate_block(n, streams, guided=True, spec=spec, model=model, keep_curves=True)
        strain, time_ms = a.strain, time_axis(spec.curves)
        ids = _patient_ids(stratum, n)
        np.savez_compressed(out / f"{stratum.name}.npz", strain=strain, time_ms=time_ms,
                            patient_id=ids)
        if per_patient_csv:
            from strainsim.measure.exports import write_strain_csv

            (out / "csv").mkdir(exist_ok=True)
            for i, pid in enumerate(ids):
                write_strain_csv(out / "csv" / f"{pid}.csv", strain[i], time_ms)
        manifest["strata"].append({"name": stratum.name, "fps": stratum.fps,
                                   "noise": stratum.noise, "file": f"{stratum.name}.npz",
                                   "n": n, "frames": int(time_ms.size)})
        for i, pid in enumerate(ids):
            rows.append([pid, stratum.name, f"{stratum.fps:g}", f"{stratum.noise:g}",
                         int(a.true_latest[i])]
                        + [f"{t:.3f}" for t in a.activation_ms[i]]
                        + [int(x) for x in a.scar[i]])
        done += n
        if progress is not None:
            progress(done)
    header = (["patient_id", "stratum", "fps", "noise", "true_latest_segment"]
              + [f"act_{s}" for s in range(1, N_SEGMENTS + 1)]
              + [f"scar_{s}" for s in range(1, N_SEGMENTS + 1)])
    write_csv(out / "truth.csv", header, rows)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


@dataclass(frozen=True)
class Truth:
    """A data set's truth table."""

    patient_id: tuple
    stratum: tuple
    fps: np.ndarray
    noise: np.ndarray
    latest: np.ndarray          # (n,) true latest viable segment (-1: none)
    activation_ms: np.ndarray   # (n, 17)
    scar: np.ndarray            # (n, 17) bool
    manifest: dict


def read_truth(folder: str | Path) -> Truth:
    """Read ``manifest.json`` and the truth table of a data set folder."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise InputError(str(folder), None, "a benchmark data set folder (strainsim "
                         "bench-data --out DIR)", "no such folder")
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise InputError(str(manifest_path), None, "the data set's manifest",
                         "no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(manifest_path), None, "JSON", str(exc)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(str(manifest_path), "format", repr(FORMAT),
                         repr(manifest.get("format") if isinstance(manifest, dict) else None))
    path = folder / str(manifest.get("truth", "truth.csv"))
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(str(path), None, "the truth table", "no such file") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError, csv.Error) as exc:
        raise InputError(str(path), None, "the truth table (UTF-8 CSV)",
                         type(exc).__name__) from None
    if len(rows) < 2:
        raise InputError(str(path), None, "a header and one row per patient",
                         f"{len(rows)} rows")
    header = rows[0]
    body = rows[1:]
    try:
        a = header.index("act_1")
        sc = header.index("scar_1")
        return Truth(
            patient_id=tuple(r[0] for r in body), stratum=tuple(r[1] for r in body),
            fps=np.array([float(r[2]) for r in body]),
            noise=np.array([float(r[3]) for r in body]),
            latest=np.array([int(r[4]) for r in body], dtype=np.int64),
            activation_ms=np.array([[float(x) for x in r[a:a + N_SEGMENTS]] for r in body]),
            scar=np.array([[x == "1" for x in r[sc:sc + N_SEGMENTS]] for r in body]),
            manifest=manifest)
    except (ValueError, IndexError) as exc:
        raise InputError(str(path), None, "a truth table written by strainsim bench-data",
                         str(exc).split("\n")[0]) from None


@dataclass(frozen=True)
class Predictions:
    """A method's predictions, aligned to the truth's patients."""

    latest: np.ndarray          # (n,) -1 where missing
    times_ms: np.ndarray | None  # (n, 17) or None
    scar: np.ndarray | None      # (n, 17) bool or None
    missing: int


def read_predictions(path: str | Path, truth: Truth) -> Predictions:
    """Read a predictions CSV: ``patient_id,latest_segment`` and optionally
    ``t_1..t_17`` (activation times, ms, any offset) and ``scar_1..scar_17`` (0/1)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(str(path), None, "a predictions CSV", "no such file") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(str(path), None, "a text CSV file", type(exc).__name__) from None
    if not rows:
        raise InputError(str(path), None, "a header row", "an empty file")
    header = [h.strip().lower() for h in rows[0]]
    for needed in ("patient_id", "latest_segment"):
        if needed not in header:
            raise InputError(str(path), "header", f"a {needed!r} column", ",".join(header))
    t_cols = [f"t_{s}" for s in range(1, N_SEGMENTS + 1)]
    s_cols = [f"scar_{s}" for s in range(1, N_SEGMENTS + 1)]
    has_t = all(c in header for c in t_cols)
    has_s = all(c in header for c in s_cols)
    index = {pid: i for i, pid in enumerate(truth.patient_id)}
    n = len(truth.patient_id)
    latest = np.full(n, -1, dtype=np.int64)
    times = np.full((n, N_SEGMENTS), np.nan) if has_t else None
    scar = np.zeros((n, N_SEGMENTS), dtype=bool) if has_s else None
    seen = np.zeros(n, dtype=bool)
    col = {name: header.index(name) for name in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(str(path), f"row {line}", f"{len(header)} cells", f"{len(row)}")
        pid = row[col["patient_id"]].strip()
        if pid not in index:
            raise InputError(str(path), f"row {line}, column 'patient_id'",
                             "a patient of the data set", repr(pid))
        i = index[pid]
        if seen[i]:
            raise InputError(str(path), f"row {line}, column 'patient_id'",
                             "each patient once", f"{pid!r} again")
        seen[i] = True
        cell = row[col["latest_segment"]].strip()
        try:
            value = int(cell) if cell else -1
        except ValueError:
            raise InputError(str(path), f"row {line}, column 'latest_segment'",
                             "a segment number 1-17, or -1 for none", repr(cell)) from None
        if not (value == -1 or 1 <= value <= N_SEGMENTS):
            raise InputError(str(path), f"row {line}, column 'latest_segment'",
                             "a segment number 1-17, or -1 for none", repr(cell))
        latest[i] = value
        if has_t:
            for s, name in enumerate(t_cols):
                text = row[col[name]].strip()
                try:
                    times[i, s] = float(text) if text else np.nan
                except ValueError:
                    raise InputError(str(path), f"row {line}, column {name!r}",
                                     "a time in ms (or empty)", repr(text)) from None
        if has_s:
            for s, name in enumerate(s_cols):
                text = row[col[name]].strip()
                if text not in ("0", "1"):
                    raise InputError(str(path), f"row {line}, column {name!r}", "0 or 1",
                                     repr(text))
                scar[i, s] = text == "1"
    return Predictions(latest=latest, times_ms=times, scar=scar, missing=int(n - seen.sum()))


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054):
    """Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def _time_error(pred, true, scar):
    # mean absolute difference of patient-centred times over non-scar segments
    ok = ~scar & np.isfinite(pred) & np.isfinite(true)
    errors = []
    for i in range(pred.shape[0]):
        m = ok[i]
        if m.sum() < 2:
            continue
        p, t = pred[i, m], true[i, m]
        errors.append(np.abs((p - p.mean()) - (t - t.mean())).mean())
    return float(np.mean(errors)) if errors else math.nan


def _kappa(pred, true):
    pred, true = pred.ravel(), true.ravel()
    observed = np.mean(pred == true)
    expected = pred.mean() * true.mean() + (1 - pred.mean()) * (1 - true.mean())
    return float((observed - expected) / (1 - expected)) if expected < 1 else math.nan


def score(truth: Truth, predictions: Predictions, model: SegmentModel | None = None) -> dict:
    """Scores per stratum and overall (see the module docstring)."""
    model = model or load_segments()
    hops = model.hops
    names = list(dict.fromkeys(truth.stratum))
    groups = [("all", np.ones(len(truth.patient_id), dtype=bool))] + [
        (name, np.array([s == name for s in truth.stratum])) for name in names]
    out = {"n_patients": len(truth.patient_id), "missing": predictions.missing, "strata": []}
    for name, mask in groups:
        true = truth.latest[mask]
        pred = predictions.latest[mask]
        n = int(mask.sum())
        exact = (pred == true) & (true > 0) | (pred == -1) & (true == -1)
        near = exact.copy()
        both = (pred > 0) & (true > 0)
        near[both] = hops[pred[both] - 1, true[both] - 1] <= 1
        row = {"stratum": name, "n": n,
               "exact": float(exact.mean()), "exact_ci": list(wilson_interval(int(exact.sum()),
                                                                             n)),
               "within_one": float(near.mean()),
               "within_one_ci": list(wilson_interval(int(near.sum()), n))}
        if name != "all":
            row["fps"] = float(truth.fps[mask][0])
            row["noise"] = float(truth.noise[mask][0])
        if predictions.times_ms is not None:
            row["time_mae_ms"] = _time_error(predictions.times_ms[mask],
                                             truth.activation_ms[mask], truth.scar[mask])
        if predictions.scar is not None:
            row["scar_kappa"] = _kappa(predictions.scar[mask], truth.scar[mask])
        out["strata"].append(row)
    return out


def predict_with_marker(folder: str | Path, truth: Truth, marker: str, *,
                        smooth_ms: float = 50.0, scar_threshold_pct: float = 10.0,
                        onset_fraction: float = 0.1, model: SegmentModel | None = None
                        ) -> Predictions:
    """strainsim's own marker on every stratum of a data set, as predictions."""
    from strainsim.measure.exports import read_strain_npz
    from strainsim.measure.markers import measure_marker

    folder = Path(folder)
    index = {pid: i for i, pid in enumerate(truth.patient_id)}
    n = len(index)
    latest = np.full(n, -1, dtype=np.int64)
    times = np.full((n, N_SEGMENTS), np.nan)
    scar = np.zeros((n, N_SEGMENTS), dtype=bool)
    for stratum in truth.manifest["strata"]:
        rec = read_strain_npz(folder / stratum["file"])
        result = measure_marker(rec.strain, rec.time_ms, marker=marker,
                                kind=truth.manifest.get("strain", "radial"),
                                smooth_ms=smooth_ms, scar_threshold_pct=scar_threshold_pct,
                                onset_fraction=onset_fraction, model=model)
        rows = np.array([index[pid] for pid in rec.patient_id])
        latest[rows] = result.latest_segment
        times[rows] = result.time_ms
        scar[rows] = ~result.engine.viable
    return Predictions(latest=latest, times_ms=times, scar=scar, missing=0)


def write_predictions(path: str | Path, truth: Truth, predictions: Predictions) -> None:
    """Write predictions in the benchmark's CSV format (atomically)."""
    header = ["patient_id", "latest_segment"]
    if predictions.times_ms is not None:
        header += [f"t_{s}" for s in range(1, N_SEGMENTS + 1)]
    if predictions.scar is not None:
        header += [f"scar_{s}" for s in range(1, N_SEGMENTS + 1)]
    def rows():
        for i, pid in enumerate(truth.patient_id):
            row = [pid, int(predictions.latest[i])]
            if predictions.times_ms is not None:
                row += ["" if not np.isfinite(t) else f"{t:.3f}" for t in predictions.times_ms[i]]
            if predictions.scar is not None:
                row += [int(x) for x in predictions.scar[i]]
            yield row

    write_csv(path, header, rows())
