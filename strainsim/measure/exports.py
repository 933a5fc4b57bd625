"""Reading users' strain exports (and writing one patient's curves as one).

Strain exports
--------------
CSV
    One row per frame. A ``time_ms`` column (frame time after QRS onset, ms,
    strictly increasing) and one column per segment, headed ``1``..``17`` or by
    AHA name (``basal anterior``, ``basal_anterior``, any case). A 16-segment
    export without the apex is accepted (the apex becomes a missing curve).
    Empty cells and ``nan`` are missing samples.
NPZ (batches)
    ``strain`` with shape ``(N, 17, T)`` or ``(N, 16, T)`` (a single patient may
    be ``(17, T)``), ``time_ms`` with shape ``(T,)``, and optionally
    ``patient_id`` with shape ``(N,)``.

Every problem raises :class:`~strainsim.errors.InputError` naming the file, the
field and what was expected.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from strainsim.errors import InputError
from strainsim.files import csv_rows, write_csv
from strainsim.segments import N_SEGMENTS, SegmentModel, load_segments

__all__ = [
    "MIN_FRAMES",
    "StrainRecording",
    "MAX_STRAIN_PCT",
    "read_strain_csv",
    "iter_strain_npz",
    "read_strain_npz",
    "read_strain",
    "write_strain_csv",
    "MeasuredExport",
    "check_strain_kind",
    "measure_export",
]

MIN_FRAMES = 4
_MISSING = {"", "nan", "na", "n/a"}


@dataclass(frozen=True)
class StrainRecording:
    """Strain curves read from a file.

    Attributes
    ----------
    strain : ndarray, shape (N, 17, T)
        Strain (%); the apex is all-NaN for a 16-segment file.
    time_ms : ndarray, shape (T,)
        Frame times after QRS onset (ms).
    source : str
        The file read.
    segments_in_file : tuple of int
        Segment numbers the file provided.
    patient_id : tuple of str
        One id per patient.
    """

    strain: np.ndarray
    time_ms: np.ndarray
    source: str
    segments_in_file: tuple[int, ...]
    patient_id: tuple[str, ...]

    @property
    def fps(self) -> float:
        """Frame rate from the median frame interval (frames per second)."""
        return 1000.0 / float(np.median(np.diff(self.time_ms)))


MAX_STRAIN_PCT = 1000.0  # |strain| beyond this is not a strain in %


def _check_strain(strain: np.ndarray, source: str, field: str) -> None:
    """Plausible strain values: finite, in %, not all missing."""
    if np.isinf(strain).any():
        raise InputError(source, field, "finite numbers or NaN", "an infinite value")
    finite = strain[~np.isnan(strain)]
    if finite.size == 0:
        raise InputError(source, field, "strain values", "every sample missing")
    big = np.abs(finite).max()
    if big > MAX_STRAIN_PCT:
        raise InputError(source, field, f"strain in % (|value| <= {MAX_STRAIN_PCT:g})",
                         f"{big:g}")


def _check_time(time_ms: np.ndarray, source: str, field: str) -> None:
    if time_ms.size < MIN_FRAMES:
        raise InputError(source, field, f"at least {MIN_FRAMES} frames", f"{time_ms.size}")
    if not np.all(np.isfinite(time_ms)):
        raise InputError(source, field, "finite times in ms", "a missing or infinite time")
    steps = np.diff(time_ms)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0)) + 1
        raise InputError(source, field, "strictly increasing times",
                         f"{time_ms[k]:g} after {time_ms[k - 1]:g} at frame {k + 1}")
    if time_ms[-1] - time_ms[0] < 10.0:  # a cardiac cycle lasts hundreds of ms
        raise InputError(source, field, "times in ms",
                         f"a span of {time_ms[-1] - time_ms[0]:g} (seconds? multiply by 1000)")
    if time_ms[-1] - time_ms[0] > 60_000.0 or abs(time_ms[0]) > 60_000.0:
        raise InputError(source, field, "times in ms within a minute of QRS onset",
                         f"{time_ms[0]:g} to {time_ms[-1]:g}")


def _segment_columns(header: list[str], source: str, model: SegmentModel) -> list[int]:
    numbers = []
    for col in header:
        try:
            numbers.append(model.number_of(col))
        except KeyError:
            raise InputError(source, f"column {col!r}",
                             "a segment number 1-17 or an AHA segment name") from None
    seen = set()
    for col, num in zip(header, numbers, strict=True):
        if num in seen:
            raise InputError(source, f"column {col!r}", "each segment once",
                             f"segment {num} twice")
        seen.add(num)
    missing = [k for k in range(1, N_SEGMENTS) if k not in seen]
    if missing:
        raise InputError(source, "header",
                         "columns for segments 1-16 (17, the apex, is optional)",
                         "no column for segment " + ", ".join(map(str, missing)))
    return numbers


def read_strain_csv(path: str | Path, model: SegmentModel | None = None) -> StrainRecording:
    """Read a one-patient strain export (CSV); see the module docstring for the format."""
    model = model or load_segments()
    source = str(path)
    lines = csv_rows(path, "a header row and frames")
    header = [cell.strip() for cell in lines[0][1]]
    if not header or header[0].lower() != "time_ms":
        raise InputError(source, "header", "'time_ms' as the first column",
                         repr(header[0]) if header else "nothing")
    numbers = _segment_columns(header[1:], source, model)
    body = lines[1:]
    if len(body) < MIN_FRAMES:
        raise InputError(source, "rows", f"at least {MIN_FRAMES} frames", f"{len(body)}")
    values = np.empty((len(body), len(header)))
    for i, (r, row) in enumerate(body):
        if len(row) != len(header):
            raise InputError(source, f"row {r}", f"{len(header)} cells", f"{len(row)}")
        for c, cell in enumerate(row):
            text = cell.strip()
            if text.lower() in _MISSING:
                if c == 0:
                    raise InputError(source, f"row {r}, column 'time_ms'", "a time in ms",
                                     "an empty cell")
                values[i, c] = np.nan
                continue
            try:
                values[i, c] = float(text)
            except ValueError:
                raise InputError(source, f"row {r}, column {header[c]!r}", "a number",
                                 repr(text)) from None
    time_ms = values[:, 0]
    _check_time(time_ms, source, "column 'time_ms'")
    strain = np.full((1, N_SEGMENTS, len(body)), np.nan)
    for c, num in enumerate(numbers, start=1):
        strain[0, num - 1] = values[:, c]
    _check_strain(strain, source, "strain")
    return StrainRecording(strain=strain, time_ms=time_ms, source=source,
                           segments_in_file=tuple(sorted(numbers)),
                           patient_id=(Path(source).stem,))


def _npz_member(zf: zipfile.ZipFile, name: str, source: str):
    """Header (shape, fortran order, dtype) of one array of an NPZ archive, and its stream."""
    try:
        fh = zf.open(f"{name}.npy")
    except KeyError:
        raise InputError(source, f"array {name!r}", "present",
                         "arrays " + ", ".join(sorted(n.removesuffix(".npy")
                                                      for n in zf.namelist()))) from None
    try:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(fh)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        fh.close()
        raise InputError(source, f"array {name!r}", "a NumPy array",
                         str(exc).split("\n")[0]) from None
    return fh, shape, fortran, dtype


def _read_small(zf, name, source):
    fh, shape, fortran, dtype = _npz_member(zf, name, source)
    with fh:
        if dtype.hasobject:
            raise InputError(source, f"array {name!r}", "an array without Python objects",
                             f"dtype {dtype}")
        count = int(np.prod(shape))
        try:
            data = fh.read(count * dtype.itemsize)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise InputError(source, f"array {name!r}", "an intact NPZ archive",
                             str(exc).split("\n")[0]) from None
    if len(data) != count * dtype.itemsize:
        raise InputError(source, f"array {name!r}", f"{count} values", "a truncated array")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def iter_strain_npz(path: str | Path, chunk_patients: int = 512):
    """Read a batch of strain curves (NPZ) chunk by chunk, in bounded memory.

    Yields :class:`StrainRecording` of at most ``chunk_patients`` patients each, in
    order; the checks of :func:`read_strain_npz` apply to every chunk (and "every
    sample missing" to the whole file).
    """
    source = str(path)
    try:
        with open(path, "rb") as probe:
            if probe.read(6) == b"\x93NUMPY":
                raise InputError(source, None, "a NumPy .npz archive", "a single .npy array")
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(source, None, "an existing NPZ file", "no such file") from None
    except IsADirectoryError:
        raise InputError(source, None, "an NPZ file", "a folder") from None
    except PermissionError:
        raise InputError(source, None, "a file that can be read", "permission denied") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(source, None, "a NumPy .npz archive", str(exc).split("\n")[0]) from None
    with zf:
        time_ms = _read_small(zf, "time_ms", source)
        fh, shape, fortran, dtype = _npz_member(zf, "strain", source)
        with fh:
            for key, kind in (("strain", dtype.kind), ("time_ms", time_ms.dtype.kind)):
                if kind not in "iuf":  # no bool, complex, text or objects
                    raise InputError(source, f"array {key!r}", "real numbers (integer or float)",
                                     f"dtype {dtype if key == 'strain' else time_ms.dtype}")
            if len(shape) == 2:
                shape = (1, *shape)
            if len(shape) != 3 or shape[1] not in (16, 17):
                raise InputError(source, "array 'strain'", "shape (N, 17, T) or (N, 16, T)",
                                 f"shape {shape}")
            if fortran and shape[0] > 1:
                raise InputError(source, "array 'strain'", "C order (numpy's default)",
                                 "Fortran order")
            time_ms = time_ms.astype(np.float64)
            n, n_seg, n_frames = shape
            if time_ms.ndim != 1 or time_ms.size != n_frames:
                raise InputError(source, "array 'time_ms'", f"shape ({n_frames},)",
                                 f"shape {time_ms.shape}")
            if n == 0:
                raise InputError(source, "array 'strain'", "at least one patient", "none")
            _check_time(time_ms, source, "array 'time_ms'")
            if "patient_id.npy" in zf.namelist():
                ids = _read_small(zf, "patient_id", source)
                if ids.shape != (n,):
                    raise InputError(source, "array 'patient_id'", f"shape ({n},)",
                                     f"shape {ids.shape}")
                patient_id = tuple(str(x) for x in ids)
            else:
                patient_id = tuple(str(i) for i in range(n))
            segments_in_file = tuple(range(1, n_seg + 1))
            row_bytes = n_seg * n_frames * dtype.itemsize
            measured = False
            for start in range(0, n, chunk_patients):
                size = min(chunk_patients, n - start)
                try:
                    data = fh.read(size * row_bytes)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                    raise InputError(source, "array 'strain'", "an intact NPZ archive",
                                     str(exc).split("\n")[0]) from None
                if len(data) != size * row_bytes:
                    raise InputError(source, "array 'strain'", f"{n} patients",
                                     "a truncated array")
                strain = np.frombuffer(data, dtype=dtype).reshape(size, n_seg, n_frames)
                strain = strain.astype(np.float64)
                if np.isinf(strain).any() or np.nanmax(np.abs(strain), initial=0.0) > \
                        MAX_STRAIN_PCT:
                    _check_strain(strain, source, "array 'strain'")
                measured |= bool((~np.isnan(strain)).any())
                if n_seg == 16:
                    strain = np.concatenate([strain, np.full((size, 1, n_frames), np.nan)],
                                            axis=1)
                yield StrainRecording(strain=strain, time_ms=time_ms, source=source,
                                      segments_in_file=segments_in_file,
                                      patient_id=patient_id[start:start + size])
            if not measured:
                raise InputError(source, "array 'strain'", "strain values",
                                 "every sample missing")


def read_strain_npz(path: str | Path) -> StrainRecording:
    """Read a batch of strain curves (NPZ) whole; see the module docstring for the format
    (:func:`iter_strain_npz` reads it in bounded memory)."""
    chunks = list(iter_strain_npz(path))
    if len(chunks) == 1:
        return chunks[0]
    first = chunks[0]
    return StrainRecording(strain=np.concatenate([c.strain for c in chunks]),
                           time_ms=first.time_ms, source=first.source,
                           segments_in_file=first.segments_in_file,
                           patient_id=tuple(p for c in chunks for p in c.patient_id))


def read_strain(path: str | Path, model: SegmentModel | None = None) -> StrainRecording:
    """Read a strain export, CSV or NPZ by file extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return read_strain_npz(path)
    if suffix in (".csv", ".txt"):
        return read_strain_csv(path, model)
    raise InputError(str(path), None, "a .csv or .npz strain export", f"'{suffix or 'no'}' extension")


def write_strain_csv(path: str | Path, strain: np.ndarray, time_ms: np.ndarray) -> None:
    """Write one patient's curves, shape ``(17, T)``, in the CSV export format (atomically)."""
    strain = np.asarray(strain)
    header = ["time_ms", *(str(k) for k in range(1, N_SEGMENTS + 1))]
    write_csv(path, header, ([f"{t:.3f}", *("" if np.isnan(v) else f"{v:.4f}"
                                             for v in strain[:, k])]
                             for k, t in enumerate(time_ms)))


@dataclass(frozen=True)
class MeasuredExport:
    """A strain export measured by the engine (and a marker).

    Attributes
    ----------
    result : EngineResult
        The engine's measurements; with a marker other than ``ttp`` its
        ``latest_segment`` is the marker's.
    marker : MarkerResult or None
        The marker's per-segment times (None for ``ttp``).
    first : StrainRecording
        The file's first chunk of patients (the whole file for a CSV).
    patient_id : tuple of str
    """

    result: object
    marker: object
    first: StrainRecording
    patient_id: tuple[str, ...]


def check_strain_kind(result, recording: StrainRecording, *, kind: str, smooth_ms: float,
                      scar_threshold_pct: float, model: SegmentModel | None = None) -> None:
    """Refuse radial curves read as longitudinal and the reverse: every segment would be
    called scar, while the other sign finds them viable (one :class:`InputError`)."""
    from strainsim.measure.engine import measure

    if result.viable.any():
        return
    other = "longitudinal" if kind == "radial" else "radial"
    again = measure(recording.strain, recording.time_ms, kind=other, smooth_ms=smooth_ms,
                    scar_threshold_pct=scar_threshold_pct, model=model)
    if again.viable.mean() > 0.5:
        sign = "positive" if kind == "radial" else "negative"
        raise InputError(recording.source, None, f"{kind} strain, peaking {sign}",
                         f"no segment reaching {scar_threshold_pct:g} %; --strain {other} "
                         f"finds {again.viable.mean():.0%} of the segments viable")


def measure_export(path: str | Path, *, kind: str = "radial", smooth_ms: float = 50.0,
                   scar_threshold_pct: float = 10.0, model: SegmentModel | None = None,
                   marker: str = "ttp", onset_fraction: float = 0.1,
                   reference: int | None = None) -> MeasuredExport:
    """Read a CSV or NPZ strain export and measure it; an NPZ batch chunk by chunk, so
    memory stays bounded whatever its size.

    Parameters
    ----------
    path : str or Path
    kind, smooth_ms, scar_threshold_pct, model
        As for :func:`strainsim.measure.engine.measure`.
    marker, onset_fraction, reference
        As for :func:`strainsim.measure.markers.measure_marker`.
    """
    from strainsim.measure.engine import concat_results, measure
    from strainsim.measure.markers import MarkerResult, measure_marker

    model = model or load_segments()
    chunks = (iter_strain_npz(path) if Path(path).suffix.lower() == ".npz"
              else [read_strain(path, model)])
    results, by_marker, ids, first = [], [], [], None
    settings = dict(kind=kind, smooth_ms=smooth_ms, scar_threshold_pct=scar_threshold_pct,
                    model=model)
    for rec in chunks:
        part = measure(rec.strain, rec.time_ms, **settings)
        check_strain_kind(part, rec, kind=kind, smooth_ms=smooth_ms,
                          scar_threshold_pct=scar_threshold_pct, model=model)
        if marker != "ttp":
            by_marker.append(measure_marker(rec.strain, rec.time_ms, marker=marker,
                                            onset_fraction=onset_fraction,
                                            reference=reference, **settings))
        results.append(part)
        ids.extend(rec.patient_id)
        first = first or rec
    result = concat_results(results)
    joined = None
    if marker != "ttp":
        joined = MarkerResult(
            marker=marker, time_ms=np.concatenate([m.time_ms for m in by_marker]),
            latest_segment=np.concatenate([m.latest_segment for m in by_marker]),
            engine=result)
        result = replace(result, latest_segment=joined.latest_segment)
    return MeasuredExport(result=result, marker=joined, first=first, patient_id=tuple(ids))
