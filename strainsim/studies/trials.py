"""Virtual randomized trials: both arms through the whole pipeline, then effect sizes.

Every patient goes activation -> strain curves (or, with
``fidelity = "speckle"``, B-mode frames tracked by block matching) -> engine
-> placement -> outcomes; the image-guided arm aims its lead at the segment the engine
measured on the patient's own curves (no shortcut around the curves). The
control arm has the same baseline echo but places leads empirically.

Trials differ: each draws a centre effect both arms share and an effect of each
arm (``OutcomeParams.centre_sd_pct``, ``arm_sd_pct``;
:func:`strainsim.model.outcomes.arm_shifts`), the between-trial heterogeneity real
meta-analyses see. Each arm places its leads by its own strategy
(``PlacementParams.image_guided``, ``control``).

Reproducibility: a trial's seed has one child per arm (and one for the
trial-level draw), an arm's seed one child per block of :data:`SEED_BLOCK`
patients, and a block's seed three streams (:mod:`strainsim.seeding`); a
processing chunk is a whole number of seed blocks, so the numbers do not
depend on the chunk size, the thread count, or where a replicate runs.

Examples
--------
>>> from strainsim.studies.specs import TrialSpec
>>> from strainsim.studies.trials import simulate_trial
>>> result = simulate_trial(TrialSpec(name="demo", n_image_guided=40, n_control=40), seed=1)
>>> sorted(result.effects)
['lvedv', 'lvef', 'lvesv', 'nyha']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from functools import cached_property

import numba
import numpy as np

from strainsim.measure.engine import EngineResult, measure
from strainsim.measure.speckle import track_curves
from strainsim.model.block import block_arrays, block_supported, measure_simulated, simulate_block
from strainsim.model.curves import simulate_curves
from strainsim.model.outcomes import Outcomes, arm_shifts, simulate_outcomes
from strainsim.model.placement import Placement, draw_veins, place_leads, scar_at_lead
from strainsim.model.population import Patients, simulate_patients
from strainsim.seeding import as_seed_sequence, block_streams, child, children
from strainsim.segments import N_SEGMENTS, load_segments
from strainsim.stats.effects import log_odds_ratio, mean_difference
from strainsim.stats.pooling import MetaResult, pool
from strainsim.studies.specs import TrialSpec

__all__ = [
    "SEED_BLOCK",
    "ArmResult",
    "ArmSummary",
    "TrialResult",
    "simulate_arm",
    "summarize_arm",
    "simulate_trial",
    "stream_arm",
    "stream_trial",
    "virtual_meta_analysis",
    "trial_effect_sizes",
    "pool_trials",
    "OUTCOMES",
]

SEED_BLOCK = 256
OUTCOMES = ("nyha", "lvesv", "lvedv", "lvef")


@dataclass(frozen=True)
class ArmResult:
    """Per-patient results of one arm (arrays of length n).

    Attributes
    ----------
    arm : {"image-guided", "control"}
    patients : Patients
    measured : EngineResult
        The engine's measurements on each patient's strain curves.
    placement : Placement
    outcomes : Outcomes
    scar_at_lead : ndarray of bool
    null_outcomes : Outcomes or None
        With ``null_world``: the same patients' outcomes, from the same draws, in a
        world where the lead's position has no effect.
    """

    arm: str
    patients: Patients
    measured: EngineResult
    placement: Placement
    outcomes: Outcomes
    scar_at_lead: np.ndarray
    null_outcomes: Outcomes | None = None

    def __len__(self) -> int:
        return len(self.patients)


@dataclass(frozen=True)
class ArmSummary:
    """Arm-level summaries, as a trial would report them.

    Attributes
    ----------
    n : int
    nyha_improved : int
        Patients better by at least one NYHA class.
    esv_responders : int
        Patients with an LVESV reduction of at least 15 %.
    esv_change_mean, esv_change_sd, edv_change_mean, edv_change_sd : float
        Percent volume changes.
    ef_change_mean, ef_change_sd : float
        Percentage points.
    concordant_measured, adjacent_measured, remote_measured : float
        Classes of the leads against the arm's measured target (among patients
        with one): the STE target measured at baseline, or in a multimodality
        image-guided arm the target imaging chose.
    concordant_true, adjacent_true, remote_true : float
        The same against the true latest non-scar segment.
    septal_latest : float
        Share of patients whose true latest non-scar segment is septal.
    lead_on_scar : float
        Share of leads on a scar segment.
    esv_change_concordant_mean, esv_change_discordant_mean : float
        Mean LVESV change (%) of the patients whose lead is concordant with the
        measured target, and of those whose lead is not (NaN without any).
    """

    n: int
    nyha_improved: int
    esv_responders: int
    esv_change_mean: float
    esv_change_sd: float
    edv_change_mean: float
    edv_change_sd: float
    ef_change_mean: float
    ef_change_sd: float
    concordant_measured: float
    adjacent_measured: float
    remote_measured: float
    concordant_true: float
    adjacent_true: float
    remote_true: float
    septal_latest: float
    lead_on_scar: float
    esv_change_concordant_mean: float
    esv_change_discordant_mean: float

    @property
    def concordant_or_adjacent_measured(self) -> float:
        """Leads concordant with or adjacent to the measured STE target."""
        return self.concordant_measured + self.adjacent_measured


@dataclass(frozen=True)
class TrialResult:
    """A simulated trial: arm summaries and per-outcome effect sizes.

    Attributes
    ----------
    spec : TrialSpec
    guided, control : ArmSummary
    effects : dict of str to EffectSizes
        ``nyha`` (log OR, image-guided vs control), ``lvesv``, ``lvedv`` (mean
        difference of % change), ``lvef`` (mean difference of EF change);
        computed from the arm summaries when first asked for.
    null_guided, null_control : ArmSummary or None
        With ``null_world``: the arms' summaries in the same world with the
        image-guided benefit switched off (same patients, leads and outcome draws;
        the lead's position has no effect; each trial keeps its shift, whose mean is
        zero).
    """

    spec: TrialSpec
    guided: ArmSummary
    control: ArmSummary
    null_guided: ArmSummary | None = None
    null_control: ArmSummary | None = None

    @cached_property
    def effects(self) -> dict:
        return trial_effects(self.guided, self.control, self.spec.name)


def _blocks(n: int, seed: np.random.SeedSequence):
    for k in range(-(-n // SEED_BLOCK)):
        yield min(SEED_BLOCK, n - k * SEED_BLOCK), child(seed, k)


def _measure_block(patients, rng, spec: TrialSpec, model) -> EngineResult:
    """What the engine measures on one seed block's strain curves."""
    act = patients.activation
    engine = dict(kind=spec.curves.kind, smooth_ms=spec.smooth_ms,
                  scar_threshold_pct=spec.scar_threshold_pct, model=model)
    if spec.fidelity == "speckle":
        # the true deformation, imaged and speckle-tracked: tracking makes the noise
        truth = replace(spec.curves, noise_sd_pct=0.0, drift_sd_pct=0.0)
        curves = simulate_curves(act.activation_ms, act.scar, rng, truth)
        strain = track_curves(curves.strain, spec.curves.kind, spec.speckle, rng,
                              frame_ms=1000.0 / spec.curves.fps)
        return measure(strain, curves.time_ms, **engine)
    # the curves with their tracking noise, measured as they are made (same numbers as
    # measure(simulate_curves(...).strain), without holding the curves)
    return measure_simulated(act.activation_ms, act.scar, rng, spec.curves,
                             smooth_ms=spec.smooth_ms,
                             scar_threshold_pct=spec.scar_threshold_pct, model=model)


BACKENDS = ("auto", "stages")


def _simulate_chunk(blocks, guided, spec: TrialSpec, model, shift_pct=0.0, backend="auto",
                    null_world=False):
    """Simulate a chunk made of whole seed blocks.

    Each seed block draws from its own three streams, so a chunk gives the
    same numbers as its blocks simulated one by one. ``backend="auto"`` runs a
    block in one kernel (:func:`strainsim.model.block.simulate_block`) when the spec
    allows it; ``"stages"`` calls the stage functions one by one, which call
    the same kernels.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    parts = []
    fast = backend == "auto" and block_supported(spec)
    for n, seed in blocks:
        streams = block_streams(seed)
        if fast:
            parts.append(simulate_block(n, streams, guided, spec, model, shift_pct,
                                        null_world))
            continue
        patients_rng, measurement_rng, care_rng = streams
        patients = simulate_patients(n, patients_rng, spec.population, spec.activation, model)
        act = patients.activation
        measured = _measure_block(patients, measurement_rng, spec, model)
        _, reachable = draw_veins(n, care_rng, model)
        placement = place_leads(guided, measured, act, reachable, care_rng, spec.placement,
                                model)
        on_scar = scar_at_lead(placement.lead_segment, act.scar)
        outcomes = simulate_outcomes(patients.edv_ml, patients.esv_ml, placement.vs_true,
                                     act.delay_ms, act.scar, on_scar, act.ischemic,
                                     patients.male, care_rng, spec.outcomes, shift_pct,
                                     null_world=null_world)
        outcomes, null = outcomes if null_world else (outcomes, None)
        parts.append((patients, measured, placement, outcomes, on_scar, null))
    return parts


def _concat(items):
    """Concatenate a list of same-typed frozen dataclasses of arrays field by field."""
    first = items[0]
    cls = type(first)
    out = {}
    for name in first.__dataclass_fields__:
        values = [getattr(item, name) for item in items]
        if isinstance(values[0], np.ndarray):
            out[name] = np.concatenate(values) if values[0].ndim else values[0]
        elif hasattr(values[0], "__dataclass_fields__"):
            out[name] = _concat(values)
        else:
            out[name] = values[0]
    return cls(**out)


def simulate_arm(n: int, guided: bool, spec: TrialSpec, seed: np.random.SeedSequence,
                 model=None, block_size: int | None = None,
                 shift_pct: float = 0.0, progress=None, backend: str = "auto",
                 null_world: bool = False) -> ArmResult:
    """Simulate one arm of ``n`` patients.

    Parameters
    ----------
    n : int
    guided : bool
        Image-guided (True) or control arm.
    spec : TrialSpec
    seed : numpy.random.SeedSequence
    block_size : int, optional
        Patients processed together (rounded up to whole seed blocks of
        :data:`SEED_BLOCK`); bounds memory, never changes the numbers.
        Default: everything at once.
    shift_pct : float
        The arm's trial-level shift of every patient's ESV change (%).
    progress : callable, optional
        Called with the number of patients simulated so far, after each chunk.
    backend : {"auto", "stages"}
        ``"auto"``: one numba kernel per seed block where the spec allows it
        (pattern activation, curve fidelity); ``"stages"``: the stage functions
        one by one (they call the same kernels, so the numbers are the same).
    null_world : bool
        Also give the outcomes with the lead's position of no effect
        (:attr:`ArmResult.null_outcomes`).
    """
    model = model or load_segments()
    blocks = list(_blocks(n, seed))
    per_chunk = len(blocks) if block_size is None else max(1, -(-block_size // SEED_BLOCK))
    parts = []
    for k in range(0, len(blocks), per_chunk):
        parts.extend(_simulate_chunk(blocks[k:k + per_chunk], guided, spec, model, shift_pct,
                                     backend, null_world))
        if progress is not None:
            progress(sum(len(p[0]) for p in parts))
    if len(parts) == 1:
        patients, measured, placement, outcomes, scar_at_lead, null = parts[0]
    else:
        patients, measured, placement, outcomes = (_concat([p[i] for p in parts])
                                                   for i in range(4))
        scar_at_lead = np.concatenate([p[4] for p in parts])
        null = _concat([p[5] for p in parts]) if null_world else None
    return ArmResult(arm="image-guided" if guided else "control", patients=patients,
                     measured=measured, placement=placement, outcomes=outcomes,
                     scar_at_lead=scar_at_lead, null_outcomes=null)


@numba.njit(cache=True)
def mean_sd(x):
    """Mean and sample SD (``ddof=1``) of a float64 array, by two passes in index order.

    One compiled call instead of a dozen small numpy calls per arm; NaN SD
    below two values.
    """
    n = x.shape[0]
    if n == 0:
        return np.nan, np.nan
    total = 0.0
    for i in range(n):
        total += x[i]
    mean = total / n
    if n < 2:
        return mean, np.nan
    squares = 0.0
    for i in range(n):
        d = x[i] - mean
        squares += d * d
    return mean, np.sqrt(squares / (n - 1))


def summarize_arm(arm: ArmResult, *, null_world: bool = False) -> ArmSummary:
    """Arm-level summaries (means and sample SDs); of the null world's outcomes with
    ``null_world``."""
    o, p = (arm.null_outcomes if null_world else arm.outcomes), arm.placement
    if o is None:
        raise ValueError("this arm was simulated without its null world")
    return _summary(o.nyha_improved, o.esv_change_pct, o.edv_change_pct, o.ef_change,
                    p.vs_measured, p.vs_true, arm.patients.activation.true_latest_segment,
                    arm.scar_at_lead)


@functools.cache
def _septal_mask() -> np.ndarray:
    """Bool array indexed by segment number (0-17): the septal segments."""
    mask = np.zeros(N_SEGMENTS + 1, dtype=np.bool_)
    mask[load_segments().numbers(wall=("anteroseptal", "inferoseptal", "septal"))] = True
    return mask


@numba.njit(cache=True)
def arm_counts_kernel(nyha, esv_change, vs_measured, vs_true, true_latest, on_scar, septal,
                      counts, sums):
    """The counts behind an :class:`ArmSummary`, in one pass: ``counts`` (13,) gets n,
    NYHA improved, LVESV responders (>= 15 % reduction), lead classes vs the measured
    target (-1, 0, 1, 2) and vs the true latest segment, septal true latest segments
    and leads on scar; ``sums`` (2,) the LVESV change summed over concordant and over
    discordant (evaluable, not concordant) patients, in patient order."""
    counts[:] = 0
    sums[:] = 0.0
    n = nyha.shape[0]
    counts[0] = n
    for i in range(n):
        counts[1] += nyha[i]
        counts[2] += esv_change[i] <= -15.0
        counts[4 + vs_measured[i]] += 1
        counts[8 + vs_true[i]] += 1
        counts[11] += true_latest[i] > 0 and septal[true_latest[i]]
        counts[12] += on_scar[i]
        if vs_measured[i] == 0:
            sums[0] += esv_change[i]
        elif vs_measured[i] > 0:
            sums[1] += esv_change[i]


def _counts(nyha, esv_change, vs_measured, vs_true, true_latest, on_scar) -> tuple:
    """:func:`arm_counts_kernel` on one arm's (or block's) arrays: (counts, sums)."""
    counts = np.empty(13, dtype=np.int64)
    sums = np.empty(2)
    arm_counts_kernel(np.ascontiguousarray(nyha, dtype=np.bool_),
                      np.ascontiguousarray(esv_change, dtype=np.float64),
                      np.ascontiguousarray(vs_measured, dtype=np.int8),
                      np.ascontiguousarray(vs_true, dtype=np.int8),
                      np.ascontiguousarray(true_latest, dtype=np.int64),
                      np.ascontiguousarray(on_scar, dtype=np.bool_), _septal_mask(),
                      counts, sums)
    return counts, sums


def _from_counts(counted, esv, edv, ef) -> ArmSummary:
    """An :class:`ArmSummary` from :func:`_counts` and (mean, SD) of the three changes."""
    counts, sums = counted
    n, nyha, responders = (int(x) for x in counts[:3])
    measured, true = counts[3:7], counts[7:11]

    def fracs(classes):
        evaluable = int(classes[1:].sum())
        return [int(c) / evaluable if evaluable else float("nan") for c in classes[1:]]

    (cm, am, rm), (ct, at, rt) = fracs(measured), fracs(true)
    return ArmSummary(
        n=n, nyha_improved=nyha, esv_responders=responders,
        esv_change_mean=float(esv[0]), esv_change_sd=float(esv[1]),
        edv_change_mean=float(edv[0]), edv_change_sd=float(edv[1]),
        ef_change_mean=float(ef[0]), ef_change_sd=float(ef[1]),
        concordant_measured=cm, adjacent_measured=am, remote_measured=rm,
        concordant_true=ct, adjacent_true=at, remote_true=rt,
        septal_latest=int(counts[11]) / n, lead_on_scar=int(counts[12]) / n,
        esv_change_concordant_mean=_ratio(sums[0], measured[1]),
        esv_change_discordant_mean=_ratio(sums[1], measured[2] + measured[3]))


def _ratio(total, count) -> float:
    return float(total) / int(count) if count else float("nan")


def _summary(nyha, esv_change, edv_change, ef_change, vs_measured, vs_true, true_latest,
             on_scar) -> ArmSummary:
    def moments(x):
        return mean_sd(np.ascontiguousarray(x, dtype=np.float64))

    return _from_counts(_counts(nyha, esv_change, vs_measured, vs_true, true_latest, on_scar),
                        moments(esv_change), moments(edv_change), moments(ef_change))


def _summary_columns(a, null_world=False) -> tuple:
    o = a.null_outcomes if null_world else a.outcomes
    return (o.nyha_improved, o.esv_change_pct, o.edv_change_pct, o.ef_change, a.vs_measured,
            a.vs_true, a.true_latest, a.scar_at_lead)


def _arm_summary(n, guided, spec, seed, model, shift_pct=0.0, progress=None,
                 null_world=False):
    """``summarize_arm(simulate_arm(...))`` from the block kernel's arrays, without
    building the per-patient result objects (the same numbers: the same arrays,
    concatenated in block order, and the same summary). Returns the summary and,
    with ``null_world``, the null world's (else None)."""
    model = model or load_segments()
    parts, null_parts = [], []
    for size, block_seed in _blocks(n, seed):
        arrays = block_arrays(size, block_streams(block_seed), guided, spec, model, shift_pct,
                              null_world)
        parts.append(_summary_columns(arrays))
        if null_world:
            null_parts.append(_summary_columns(arrays, null_world=True))

    def summary(columns):
        joined = [p[0] if len(columns) == 1 else np.concatenate(p)
                  for p in zip(*columns, strict=True)]
        return _summary(*joined)

    if progress is not None:
        progress(n)
    return summary(parts), (summary(null_parts) if null_world else None)


_MOMENTS = ("esv_change_pct", "edv_change_pct", "ef_change")


def _block_stats(part) -> tuple:
    """Counts and (n, mean, M2) moments of one seed block's outcomes."""
    patients, _, placement, outcomes, on_scar, _ = part
    counts = _counts(outcomes.nyha_improved, outcomes.esv_change_pct, placement.vs_measured,
                     placement.vs_true, patients.activation.true_latest_segment, on_scar)
    moments = []
    for name in _MOMENTS:
        x = getattr(outcomes, name)
        mean = float(x.mean())
        moments.append((mean, float(np.sum((x - mean) ** 2))))
    return counts, moments


def _combine(stats) -> ArmSummary:
    """Merge per-block statistics in block order (Chan et al.'s pairwise update)."""
    counts = np.sum([c[0] for c, _ in stats], axis=0)
    sums = np.zeros(2)
    for c, _ in stats:  # in block order: the same sums whatever the chunking
        sums = sums + c[1]
    merged = []
    for k in range(len(_MOMENTS)):
        n_a, mean_a, m2_a = 0, 0.0, 0.0
        for c, moments in stats:
            n_b = int(c[0][0])
            mean_b, m2_b = moments[k]
            n = n_a + n_b
            delta = mean_b - mean_a
            mean_a = mean_a + delta * n_b / n
            m2_a = m2_a + m2_b + delta * delta * n_a * n_b / n
            n_a = n
        merged.append((mean_a, float(np.sqrt(m2_a / (n_a - 1)))))
    return _from_counts((counts, sums), *merged)


def _chunk_stats(blocks, guided, spec, shift_pct, numba_threads=None):
    """Per-seed-block statistics of one chunk (runs in a worker when mapped)."""
    if numba_threads is not None:
        import numba

        numba.set_num_threads(numba_threads)
    return [_block_stats(part) for part in
            _simulate_chunk(blocks, guided, spec, load_segments(), shift_pct)]


def stream_arm(n: int, guided: bool, spec: TrialSpec, seed: np.random.SeedSequence,
               model=None, block_size: int = 16384, shift_pct: float = 0.0,
               progress=None, mapper=None) -> ArmSummary:
    """Simulate an arm chunk by chunk, keeping only per-block statistics.

    Memory stays bounded by ``block_size`` patients (per worker) whatever
    ``n``; the patients are those of :func:`simulate_arm` with the same seed,
    and the summary is identical for any ``block_size`` and any ``mapper``
    (it merges per-seed-block statistics in block order). Means and SDs agree
    with :func:`summarize_arm` to rounding. ``mapper`` (see
    :mod:`strainsim.studies.parallel`) runs the chunks in worker processes or on Dask.
    """
    blocks = list(_blocks(n, seed))
    per_chunk = max(1, -(-block_size // SEED_BLOCK))
    chunks = [blocks[k:k + per_chunk] for k in range(0, len(blocks), per_chunk)]
    if mapper is None:
        model = model or load_segments()
        results = ([_block_stats(part) for part in
                    _simulate_chunk(chunk, guided, spec, model, shift_pct)] for chunk in chunks)
    else:
        results = mapper(_chunk_stats, [(chunk, guided, spec, shift_pct) for chunk in chunks])
    stats = []
    done = 0
    for chunk, chunk_stats in zip(chunks, results, strict=True):
        stats.extend(chunk_stats)
        done += sum(size for size, _ in chunk)
        if progress is not None:
            progress(done)
    return _combine(stats)


def _trial_setup(spec: TrialSpec, seed, progress):
    """A trial's arm seeds, its arms' shifts (:func:`~strainsim.model.outcomes.arm_shifts`), and
    the control arm's progress callback."""
    seed_guided, seed_control, seed_trial = children(as_seed_sequence(seed), 3)
    shifts = arm_shifts(spec.outcomes, np.random.default_rng(seed_trial))

    def control_progress(done):
        if progress is not None:
            progress(spec.n_image_guided + done)

    return seed_guided, seed_control, shifts, control_progress


def stream_trial(spec: TrialSpec, seed: int | np.random.SeedSequence = 0, *, model=None,
                 block_size: int = 16384, progress=None, mapper=None) -> TrialResult:
    """:func:`simulate_trial` for cohorts too large to hold: summaries only, bounded memory.

    ``mapper`` runs chunks in worker processes or on Dask; the numbers do not change.
    """
    seed_guided, seed_control, shifts, control_progress = _trial_setup(spec, seed, progress)
    g = stream_arm(spec.n_image_guided, True, spec, seed_guided, model, block_size, shifts[0],
                   progress, mapper)
    c = stream_arm(spec.n_control, False, spec, seed_control, model, block_size, shifts[1],
                   progress=control_progress, mapper=mapper)
    return TrialResult(spec=spec, guided=g, control=c)


def trial_effects(guided: ArmSummary, control: ArmSummary, label: str) -> dict:
    """Effect sizes (image-guided vs control) of the four meta-analysis outcomes."""
    return trial_effect_sizes([guided], [control], (label,))


def trial_effect_sizes(guided: list[ArmSummary], control: list[ArmSummary],
                       study: tuple) -> dict:
    """Effect sizes of the four outcomes, one study per pair of arm summaries.

    Elementwise numpy arithmetic, so each study's numbers are those it gets alone.
    """
    def column(arms, name):
        return np.array([getattr(arm, name) for arm in arms], dtype=float)

    effects = {"nyha": log_odds_ratio(column(guided, "nyha_improved"), column(guided, "n"),
                                      column(control, "nyha_improved"), column(control, "n"),
                                      study=study)}
    for key, mean, sd in (("lvesv", "esv_change_mean", "esv_change_sd"),
                          ("lvedv", "edv_change_mean", "edv_change_sd"),
                          ("lvef", "ef_change_mean", "ef_change_sd")):
        effects[key] = mean_difference(column(guided, mean), column(guided, sd),
                                       column(guided, "n"), column(control, mean),
                                       column(control, sd), column(control, "n"), study=study)
    return effects


def simulate_trial(spec: TrialSpec, seed: int | np.random.SeedSequence = 0, *,
                   keep_arms: bool = False, model=None, block_size: int | None = None,
                   progress=None, null_world: bool = False):
    """Simulate a two-arm trial.

    Parameters
    ----------
    spec : TrialSpec
    seed : int or numpy.random.SeedSequence
    keep_arms : bool
        Also return the per-patient :class:`ArmResult` of both arms.
    block_size : int, optional
        Patients processed together (see :func:`simulate_arm`).
    progress : callable, optional
        Called with the number of patients simulated so far (both arms).
    null_world : bool
        Also summarize the same trial with the image-guided benefit switched off
        (:attr:`TrialResult.null_guided`, :attr:`TrialResult.null_control`).

    Returns
    -------
    TrialResult, or (TrialResult, ArmResult, ArmResult) with ``keep_arms``.
    """
    seed_guided, seed_control, shifts, control_progress = _trial_setup(spec, seed, progress)
    if not keep_arms and block_supported(spec):  # summaries straight from the kernel
        g, null_g = _arm_summary(spec.n_image_guided, True, spec, seed_guided, model,
                                 shifts[0], progress, null_world)
        c, null_c = _arm_summary(spec.n_control, False, spec, seed_control, model, shifts[1],
                                 progress=control_progress, null_world=null_world)
        return TrialResult(spec=spec, guided=g, control=c, null_guided=null_g,
                           null_control=null_c)
    guided = simulate_arm(spec.n_image_guided, True, spec, seed_guided, model, block_size,
                          shifts[0], progress, null_world=null_world)
    control = simulate_arm(spec.n_control, False, spec, seed_control, model, block_size,
                           shifts[1], progress=control_progress, null_world=null_world)
    g, c = summarize_arm(guided), summarize_arm(control)
    nulls = ((summarize_arm(guided, null_world=True), summarize_arm(control, null_world=True))
             if null_world else (None, None))
    result = TrialResult(spec=spec, guided=g, control=c, null_guided=nulls[0],
                         null_control=nulls[1])
    return (result, guided, control) if keep_arms else result


def pool_trials(trials: list[TrialResult], method: str = "REML",
                test: str = "knha") -> dict[str, MetaResult]:
    """Pool the four outcomes across trials, as the meta-analysis did."""
    effects = trial_effect_sizes([t.guided for t in trials], [t.control for t in trials],
                                 tuple(t.spec.name for t in trials))
    return {key: pool(effects[key], method=method, test=test) for key in OUTCOMES}


def _trial_job(spec, seed, numba_threads=None):
    if numba_threads is not None:
        import numba

        numba.set_num_threads(numba_threads)
    return simulate_trial(spec, seed)


def virtual_meta_analysis(specs: list[TrialSpec], seed: int | np.random.SeedSequence = 0,
                          method: str = "REML", test: str = "knha", model=None, mapper=None):
    """Simulate one trial per spec and pool them.

    ``mapper`` (see :mod:`strainsim.studies.parallel`) runs the trials elsewhere; the
    numbers are the same.

    Returns
    -------
    trials : list of TrialResult
    pooled : dict of str to MetaResult
        Keys ``nyha``, ``lvesv``, ``lvedv``, ``lvef``.
    """
    seeds = children(as_seed_sequence(seed), len(specs))
    if mapper is None:
        trials = [simulate_trial(spec, s, model=model)
                  for spec, s in zip(specs, seeds, strict=True)]
    else:
        trials = list(mapper(_trial_job, list(zip(specs, seeds, strict=True))))
    return trials, pool_trials(trials, method=method, test=test)
