"""The concordance explorer's logic: settings, one virtual meta-analysis, the power
curve, one patient under the four strategies.

Everything here runs the same simulation, meta-analysis and plotting code as the
command line; :mod:`strainsim.app.explorer_page` only lays it out as a Panel page.
Nothing in this module imports Panel, so it is tested like any other module.

Settings come from the page's widgets or from the page's URL
(``/?concordance=0.9&trials=8``): :func:`settings_from_query` turns a query
into :class:`ExplorerSettings` and a list of one-line messages for whatever it
had to refuse, so a bad URL gives a visible message and the defaults, never a
broken page.

Examples
--------
>>> from strainsim.app.explorer import settings_from_query
>>> settings, problems = settings_from_query({"concordance": ["0.9"], "trials": ["seven"]})
>>> settings.concordance, settings.trials
(0.9, 5)
>>> problems
["trials: expected a whole number in [2, 12], found 'seven'"]
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, fields, replace

import numpy as np

from strainsim.model.curves import CurveParams
from strainsim.model.outcomes import OutcomeParams
from strainsim.params import choice, declarations, quantity

__all__ = ["ExplorerSettings", "SETTINGS", "settings_from_query", "meta_specs",
           "one_meta_analysis", "power_curve", "patient_case", "PatientCase", "POWER_LEVELS",
           "render_trials", "render_patient", "TrialsView", "PatientView",
           "lead_outcome", "LeadOutcome", "render_lead", "LEAD_DRAWS",
           "QUICK_REPLICATES", "PRECISE_REPLICATES", "OUTCOME_LABELS"]

_OUTCOMES = OutcomeParams()
_CURVES = CurveParams()
METHODS = ("REML", "DL", "PM", "ML", "HE", "FE")
TESTS = ("knha", "z")
POWER_LEVELS = (0.2, 0.45, 0.6, 0.75, 0.9, 1.0)   # 0.45: the published concordance
# the pooling choices in words, for the page
METHOD_WORDS = {"FE": "fixed effect", "DL": "DerSimonian-Laird", "REML": "restricted "
                "maximum likelihood (REML)", "ML": "maximum likelihood", "PM": "Paule-Mandel",
                "HE": "Hedges", "MH": "Mantel-Haenszel"}
TEST_WORDS = {"knha": "Hartung-Knapp t test", "z": "normal (z) test"}
QUICK_REPLICATES = 24     # per level, for a world first seen: about 0.6 s on 2 workers
PRECISE_REPLICATES = 200  # per level: precomputed for the default world, or on request
# matplotlib's pyplot is not thread-safe: the page renders views in threads, so every
# figure is drawn and encoded under this lock (simulation runs outside it)
FIGURE_LOCK = threading.Lock()
OUTCOME_LABELS = {"lvesv": "LVESV change (%)", "nyha": "NYHA improvement (odds ratio)",
                  "lvedv": "LVEDV change (%)", "lvef": "LVEF change (points)"}


@dataclass(frozen=True)
class ExplorerSettings:
    """What the trials view shows (each field declared: unit, the slider's range, doc).

    The settings that are model parameters keep the model's unit and take a teaching
    range inside the model's declared one (``tests/test_explore.py`` checks it).

    Attributes
    ----------
    concordance : float
        Image-guided concordance forced in every trial (0-1).
    trials : int
        Trials in the virtual meta-analysis: the five published designs, repeated.
    size : float
        Each trial's size as a multiple of the published one.
    resync_max_pct : float
        LVESV change (%) added by a full response to the resynchronization a lead
        achieves.
    nyha_unblinded_logodds : float
        NYHA log-odds added in the image-guided arm not through volumes.
    arm_sd_pct : float
        Between-trial SD of each arm's LVESV change (%).
    edv_arm_sd_pct : float
        Between-trial SD of each arm's LVEDV change beyond what its LVESV change
        carries (%).
    noise_sd_pct, fps : float
        Speckle-tracking noise (% strain) and frame rate of the echo.
    method, test : str
        Pooling: tau^2 estimator and z or Hartung-Knapp.
    seed : int
        The virtual meta-analysis shown (the re-roll button draws a new one).
    """

    concordance: float = quantity(0.45, unit="fraction", low=0, high=1,
                                  doc="The share of image-guided leads that land on the "
                                  "segment imaging chose (the trials reached 45 %); the "
                                  "other leads land where a missed aim lands.",
                                  source="meta-analysis: 45 % concordant")
    trials: int = quantity(5, unit="trials", low=2, high=12, integer=True,
                           doc="How many trials are pooled: the five published designs, "
                           "repeated in turn.")
    size: float = quantity(1.0, unit="x published", low=0.25, high=5.0,
                           doc="Each trial's size as a multiple of the published one: 2 "
                           "doubles every arm.")
    resync_max_pct: float = quantity(_OUTCOMES.resync_max_pct, unit="%", low=-90, high=0,
                                     doc="How much the LV shrinks (LVESV change, %) when "
                                     "pacing resynchronizes it fully; where the lead sits "
                                     "acts only through how much it resynchronizes.")
    nyha_unblinded_logodds: float = quantity(_OUTCOMES.nyha_unblinded_logodds,
                                             unit="log-odds", low=-1, high=3,
                                             doc="A symptom benefit of the image-guided arm "
                                             "that does not go through the heart's volumes "
                                             "(an unblinded assessment, the procedure), in "
                                             "log-odds of a better NYHA class.")
    arm_sd_pct: float = quantity(_OUTCOMES.arm_sd_pct, unit="%", low=0, high=20,
                                 doc="How much trials differ: the SD of each arm's "
                                 "own shift of the LVESV change between trials (%).")
    edv_arm_sd_pct: float = quantity(_OUTCOMES.edv_arm_sd_pct, unit="%", low=0, high=20,
                                     doc="How much the arms' echo readings of "
                                     "end-diastole differ between trials: the SD of each "
                                     "arm's own shift of the LVEDV change beyond what its "
                                     "LVESV change carries (%); it widens the LVEDV and "
                                     "LVEF intervals, not the LVESV one.")
    noise_sd_pct: float = quantity(_CURVES.noise_sd_pct, unit="%", low=0, high=5,
                                   doc="Noise of the speckle-tracking strain curves "
                                   "(% strain): more noise, more often the wrong latest "
                                   "segment.")
    fps: float = quantity(_CURVES.fps, unit="fps", low=20, high=120,
                          doc="Frame rate of the echo (frames per second): fewer "
                          "frames, coarser times to peak.")
    method: str = choice("REML", METHODS, doc="How the between-trial variance (tau^2) "
                         "is estimated before the trials are pooled.")
    test: str = choice("knha", TESTS, doc="The test of the pooled effect: Hartung-Knapp's "
                       "t keeps false positives near 5 % with few trials; the normal (z) "
                       "test gives narrower intervals and more false positives.")
    seed: int = quantity(1, unit="", low=0, high=2**31 - 1, integer=True,
                         doc="Which virtual meta-analysis is shown: re-roll for another.")

    def world(self) -> ExplorerSettings:
        """The settings that change the simulated world (not the shown replicate or the
        concordance level): the power curve's cache key."""
        return replace(self, concordance=0.45, seed=0)


# (kind, low, high) per setting, read from the declarations; kinds: float, int, or the
# tuple of choices
SETTINGS = {name: ((d.choices, None, None) if d.choices is not None
                   else (int, int(d.low), int(d.high)) if d.integer
                   else (float, d.low, d.high))
            for name, d in declarations(ExplorerSettings).items()}
# the settings that are model parameters, with the class that declares them
MODEL_PARAMETERS = {"resync_max_pct": OutcomeParams, "nyha_unblinded_logodds": OutcomeParams,
                    "arm_sd_pct": OutcomeParams, "edv_arm_sd_pct": OutcomeParams,
                    "noise_sd_pct": CurveParams,
                    "fps": CurveParams}


def _check(name: str, raw):
    kind, low, high = SETTINGS[name]
    if isinstance(kind, tuple):
        if raw not in kind:
            raise ValueError(f"{name}: expected one of {', '.join(kind)}, found {raw!r}")
        return raw
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw) if kind is float else int(str(raw))
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {what} in [{low:g}, {high:g}], "
                         f"found {raw!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name}: expected {what} in [{low:g}, {high:g}], found {raw!r}")
    return value


def settings_from_query(query: dict) -> tuple[ExplorerSettings, list[str]]:
    """Settings from a URL query (values as lists of str or bytes, as web servers
    give them); every refused key or value is one message and keeps its default."""
    values, problems = {}, []
    names = {f.name for f in fields(ExplorerSettings)}
    for key, raw in query.items():
        if key not in names:
            problems.append(f"{key}: not a setting (expected one of {', '.join(SETTINGS)})")
            continue
        raw = raw[-1] if isinstance(raw, list | tuple) and raw else raw
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        try:
            values[key] = _check(key, raw)
        except ValueError as exc:
            problems.append(str(exc))
    settings = ExplorerSettings(**values)
    return settings, problems


def checked(settings: ExplorerSettings) -> ExplorerSettings:
    """``settings`` if every value is in range, else ValueError naming the first bad one."""
    for f in fields(settings):
        _check(f.name, getattr(settings, f.name))
    return settings


def meta_specs(settings: ExplorerSettings) -> list:
    """The trial specs of the settings' world (concordance not yet forced)."""
    from strainsim.studies.sweep import five_trial_specs

    base = five_trial_specs()
    specs = []
    for k in range(settings.trials):
        spec = base[k % len(base)]
        name = spec.name if k < len(base) else f"{spec.name}-{k // len(base) + 1}"
        specs.append(replace(
            spec, name=name,
            n_image_guided=max(2, round(spec.n_image_guided * settings.size)),
            n_control=max(2, round(spec.n_control * settings.size)),
            curves=replace(spec.curves, noise_sd_pct=settings.noise_sd_pct, fps=settings.fps),
            outcomes=replace(spec.outcomes, resync_max_pct=settings.resync_max_pct,
                             nyha_unblinded_logodds=settings.nyha_unblinded_logodds,
                             arm_sd_pct=settings.arm_sd_pct,
                             edv_arm_sd_pct=settings.edv_arm_sd_pct)))
    return specs


def one_meta_analysis(settings: ExplorerSettings):
    """One virtual meta-analysis at the settings' concordance and seed.

    Returns
    -------
    trials : list of TrialResult
    pooled : dict of str to MetaResult
    """
    from strainsim.studies.sweep import with_concordance
    from strainsim.studies.trials import virtual_meta_analysis

    checked(settings)
    specs = with_concordance(meta_specs(settings), settings.concordance)
    return virtual_meta_analysis(specs, settings.seed, method=settings.method,
                                 test=settings.test)


_SWEEPS: dict = {}


def power_curve(settings: ExplorerSettings, *, precise: bool = False, mapper=None,
                replicates: int | None = None):
    """The concordance sweep of the settings' world at :data:`POWER_LEVELS`, seed 2026.

    Cached per world (every setting but the concordance and the seed): moving the
    concordance or re-rolling the shown meta-analysis does not recompute it. A world
    first seen gets :data:`QUICK_REPLICATES` per level, or
    :data:`PRECISE_REPLICATES` with ``precise``; a precise curve, once computed, is
    always preferred. ``mapper`` runs the replicates in worker processes
    (:func:`strainsim.studies.parallel.make_mapper`); the numbers do not depend on it.
    ``replicates`` asks for that many per level instead (the lesson pack's choice).
    """
    from strainsim.studies.sweep import concordance_sweep

    world = checked(settings).world()
    best = _SWEEPS.get((world, PRECISE_REPLICATES))
    if best is not None and replicates is None:
        return best
    if replicates is None:
        replicates = PRECISE_REPLICATES if precise else QUICK_REPLICATES
    key = (world, replicates)
    if key not in _SWEEPS:
        if len(_SWEEPS) > 64:
            _SWEEPS.clear()
        _SWEEPS[key] = concordance_sweep(meta_specs(world), levels=POWER_LEVELS,
                                         replicates=replicates, seed=2026,
                                         method=world.method, test=world.test, mapper=mapper)
    return _SWEEPS[key]


def png_bytes(fig, tight: bool = False) -> bytes:
    """A figure as PNG bytes (and closed); ``tight`` crops to what is drawn."""
    # tight: crop to what is drawn (labels outside the axes), at the cost of a second draw
    import io

    from strainsim.app.plots import pyplot

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight" if tight else None)
    pyplot().close(fig)
    return buffer.getvalue()


@dataclass(frozen=True)
class TrialsView:
    """What the trials view shows: two PNG images and a Markdown summary."""

    forest_png: bytes
    power_png: bytes
    summary: str
    replicates: int


def _trials_figures(result, published, outcome, settings, sweep):
    """The forest plot and the power curve as PNG bytes (call under FIGURE_LOCK)."""
    from strainsim.app.plots import plot_forest, plot_power

    forest = png_bytes(plot_forest(
        result, published=published.get(outcome),
        title=f"{OUTCOME_LABELS[outcome]}: simulated trials, concordance "
              f"{settings.concordance:.0%}, seed {settings.seed}",
        favours=("favours image-guided", "favours control")
        if outcome in ("lvesv", "lvedv") else ("favours control", "favours image-guided")),
        tight=True)
    return forest, png_bytes(plot_power(sweep, current=settings.concordance))


def render_trials(settings: ExplorerSettings, outcome: str = "lvesv", *, mapper=None,
                  precise: bool = False, replicates: int | None = None) -> TrialsView:
    """The trials view for ``settings``: the forest plot of one virtual meta-analysis
    (``outcome``, the published result marked), the power curve with the concordance
    marked, and a summary."""
    from strainsim.studies.sweep import published_targets

    if outcome not in OUTCOME_LABELS:
        raise ValueError(f"outcome: expected one of {', '.join(OUTCOME_LABELS)}, "
                         f"found {outcome!r}")
    trials, pooled = one_meta_analysis(settings)
    sweep = power_curve(settings, precise=precise, mapper=mapper, replicates=replicates)
    published = published_targets()
    result = pooled[outcome]
    with FIGURE_LOCK:
        forest, power = _trials_figures(result, published, outcome, settings, sweep)
    nearest = min(sweep.summary, key=lambda lvl: abs(lvl.concordance - settings.concordance))
    at = _read_off(sweep, settings.concordance)
    estimate = math.exp(result.estimate) if outcome == "nyha" else result.estimate
    from strainsim.app.display import patients_text

    need = patients_text(nearest.patients_for_80["lvesv"])
    replicates = sweep.replicates.shape[1]
    p_est, p_low, p_high = published[outcome]
    summary = (
        f"**Seed {settings.seed}**: {len(trials)} trials, "
        f"{sum(t.spec.n_total for t in trials):,} patients; pooled {OUTCOME_LABELS[outcome]} "
        f"**{estimate:.2f}** [{_shown(result.ci_low, outcome)}, "
        f"{_shown(result.ci_high, outcome)}], p = {result.p:.3f}. Published: {p_est:g} "
        f"[{p_low:g}, {p_high:g}] with 818 patients at 45 % concordance.  \n"
        f"At {settings.concordance:.0%} concordance{at['how']}, meta-analyses of this world "
        f"show an LVESV benefit {at['benefit']:.0%} of the time "
        f"(± {100 * at['benefit_mcse']:.0f} points of Monte Carlo error; "
        f"harm {at['harm']:.0%}, false positives "
        f"{at['false_positive']:.0%} when there is no benefit); 80 % power needs "
        + f"{need} patients at {nearest.concordance:.0%} (simulated, with its Monte Carlo "
        "interval)."
        + f"  \n*Power curve: {replicates} virtual meta-analyses per level"
        + (" (quick; `refine` or `strainsim sweep` for more).*" if replicates
           < PRECISE_REPLICATES else ".*"))
    return TrialsView(forest, power, summary, replicates)


def _read_off(sweep, concordance: float) -> dict:
    """The LVESV shares at ``concordance``: a computed level's own, or read off the curve
    between the two computed levels around it (linear; the larger MCSE)."""
    levels = sweep.summary
    xs = [lvl.concordance for lvl in levels]
    exact = [lvl for lvl in levels if abs(lvl.concordance - concordance) < 1e-9]

    def shares(lvl):
        return {"benefit": lvl.power_benefit["lvesv"], "harm": lvl.power_harm["lvesv"],
                "false_positive": lvl.false_positive["lvesv"],
                "benefit_mcse": lvl.mcse["lvesv"]["power_benefit"]}

    if exact:
        return {**shares(exact[0]), "how": ""}
    below = max((k for k, x in enumerate(xs) if x < concordance), default=None)
    above = min((k for k, x in enumerate(xs) if x > concordance), default=None)
    if below is None or above is None:
        k = above if below is None else below
        return {**shares(levels[k]), "how": f" (the curve's {xs[k]:.0%}, the nearest)"}
    w = (concordance - xs[below]) / (xs[above] - xs[below])
    lo, hi = shares(levels[below]), shares(levels[above])
    out = {key: (1 - w) * lo[key] + w * hi[key] for key in lo}
    out["benefit_mcse"] = max(lo["benefit_mcse"], hi["benefit_mcse"])
    out["how"] = f" (read off the curve between {xs[below]:.0%} and {xs[above]:.0%})"
    return out


def _shown(value, outcome):
    return f"{math.exp(value):.2f}" if outcome == "nyha" else f"{value:.2f}"


# ---------------------------------------------------------------------------------------
# one patient
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientCase:
    """One simulated patient, measured, with a lead placed by each strategy.

    Attributes
    ----------
    seed : int
    time_ms, strain : ndarray
        The strain curves (T,) and (17, T) at the settings' frame rate and noise.
    measured : EngineResult
        The engine on those curves.
    scar : ndarray of bool, shape (17,)
    true_latest : int
        The truly latest-activated non-scar segment.
    reachable : ndarray of bool, shape (17,)
        Segments a coronary vein reaches.
    strategies : dict of str to dict
        Per strategy: ``target`` (its measured target), ``lead``, ``vs_target`` and
        ``vs_true`` ("concordant", "adjacent", "remote" or "-").
    activation_ms : ndarray, shape (17,)
        The patient's intrinsic activation (ms from QRS onset).
    baseline : dict
        What the outcome model reads of the patient: ``edv_ml``, ``esv_ml``,
        ``ischemic``, ``male``, ``nyha_class``.
    """

    seed: int
    time_ms: np.ndarray
    strain: np.ndarray
    measured: object
    scar: np.ndarray
    true_latest: int
    reachable: np.ndarray
    strategies: dict
    activation_ms: np.ndarray
    baseline: dict


_CLASS = {0: "concordant", 1: "adjacent", 2: "remote", -1: "-"}


@functools.lru_cache(maxsize=64)   # the same patient for the view and the playground
def patient_case(seed: int, fps: float = _CURVES.fps,
                 noise_sd_pct: float = _CURVES.noise_sd_pct) -> PatientCase:
    """Simulate one patient and place a lead by each of the four strategies.

    The block simulator on a one-patient block (:func:`strainsim.studies.trials.simulate_patient`),
    once per strategy: the same seed gives the same patient, curves and veins, so the
    strategies differ only in where they put the lead.
    """
    from strainsim.model.placement import STRATEGIES, PlacementParams
    from strainsim.segments import load_segments
    from strainsim.studies.specs import TrialSpec
    from strainsim.studies.trials import simulate_patient

    _check("seed", seed)
    _check("fps", fps)
    _check("noise_sd_pct", noise_sd_pct)
    model = load_segments()
    curves = replace(_CURVES, fps=float(fps), noise_sd_pct=float(noise_sd_pct))
    strategies, patient = {}, None
    for strategy in STRATEGIES:
        guided = strategy != "empirical"
        placement = replace(PlacementParams(), image_guided=strategy if guided else "ste",
                            control="empirical")
        spec = TrialSpec(name="patient", n_image_guided=2, n_control=2, curves=curves,
                         placement=placement)
        patient = simulate_patient(seed, spec, guided=guided, model=model)
        a = patient.arrays
        strategies[strategy] = {"target": int(a.aim[0]), "lead": int(a.lead[0]),
                                "vs_target": _CLASS[int(a.vs_measured[0])],
                                "vs_true": _CLASS[int(a.vs_true[0])]}
    a = patient.arrays
    return PatientCase(seed=int(seed), time_ms=patient.time_ms, strain=a.strain[0],
                       measured=patient.results.measured, scar=a.scar[0],
                       true_latest=int(a.true_latest[0]), reachable=a.reachable[0],
                       strategies=strategies, activation_ms=a.activation_ms[0].copy(),
                       baseline={"edv_ml": float(a.edv[0]), "esv_ml": float(a.esv[0]),
                                 "ischemic": bool(a.ischemic[0]), "male": bool(a.male[0]),
                                 "nyha_class": int(a.nyha[0])})


@dataclass(frozen=True)
class LeadOutcome:
    """What a lead in one segment does for a patient.

    Attributes
    ----------
    lead : int
        The segment (1-17).
    paced_ms : ndarray, shape (17,)
        Activation under biventricular pacing (ms from QRS onset).
    reduction_ms, resync_fraction : float
        The total activation time pacing removes (ms), and the share of the
        late-activated myocardium's activation time it removes (what remodelling follows).
    on_scar, reachable : bool
        Whether the lead sits on scar, and whether a vein of this patient reaches it.
    esv_change_mean_pct, esv_change_low_pct, esv_change_high_pct : float
        The expected LVESV change (%) and its 10th-90th percentile range over the
        outcome model's patient-level variation.
    """

    lead: int
    paced_ms: np.ndarray
    reduction_ms: float
    resync_fraction: float
    on_scar: bool
    reachable: bool
    esv_change_mean_pct: float
    esv_change_low_pct: float
    esv_change_high_pct: float


LEAD_DRAWS = 4000  # outcome draws behind a lead's expected LVESV change and its range


def lead_outcome(case: PatientCase, lead: int) -> LeadOutcome:
    """Pace ``case``'s patient from the RV site and a lead in segment ``lead`` (the
    model's pacing, :func:`strainsim.model.pacing.paced_activation`) and read the LVESV
    change the outcome model expects from it
    (:func:`strainsim.model.outcomes.simulate_outcomes`, :data:`LEAD_DRAWS` draws of the
    patient's variation, seeded by the patient, so every segment of one patient is
    compared on the same draws)."""
    from strainsim.model.outcomes import OutcomeParams, resync_fraction, simulate_outcomes
    from strainsim.model.pacing import PacingParams, paced_activation
    from strainsim.segments import N_SEGMENTS, load_segments

    if not (isinstance(lead, (int, np.integer)) and 1 <= int(lead) <= N_SEGMENTS):
        raise ValueError(f"lead: expected a segment number in [1, {N_SEGMENTS}], "
                         f"found {lead!r}")
    lead = int(lead)
    scar = np.asarray(case.scar, dtype=bool)[None, :]
    paced = paced_activation(np.asarray(case.activation_ms)[None, :], scar,
                             np.array([lead]), PacingParams(), load_segments())
    share = float(resync_fraction(paced)[0])
    n, b = LEAD_DRAWS, case.baseline
    on_scar = bool(scar[0, lead - 1])
    outcomes = simulate_outcomes(
        edv_ml=np.full(n, b["edv_ml"]), esv_ml=np.full(n, b["esv_ml"]),
        resync_fraction=np.full(n, share), scar=np.repeat(scar, n, axis=0),
        scar_at_lead=np.full(n, on_scar), ischemic=np.full(n, b["ischemic"]),
        male=np.full(n, b["male"]), nyha_class=np.full(n, b["nyha_class"]),
        imaging_arm=False, rng=np.random.default_rng(case.seed), params=OutcomeParams())
    esv = outcomes.esv_change_pct
    return LeadOutcome(lead=lead, paced_ms=paced.paced_ms[0], reduction_ms=float(
        paced.reduction_ms[0]), resync_fraction=share, on_scar=on_scar,
        reachable=bool(case.reachable[lead - 1]), esv_change_mean_pct=float(esv.mean()),
        esv_change_low_pct=float(np.percentile(esv, 10)),
        esv_change_high_pct=float(np.percentile(esv, 90)))


def render_lead(case: PatientCase, lead: int) -> tuple[bytes, str]:
    """The playground: the paced activation of a lead in ``lead`` as a bullseye (PNG)
    and a table comparing it with the four strategies' leads (Markdown)."""
    from strainsim.app.plots import plot_bullseye, pyplot

    chosen = lead_outcome(case, lead)
    with FIGURE_LOCK:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(4.8, 4.4))
        plot_bullseye(chosen.paced_ms, ax=ax, lead=chosen.lead, scar=case.scar,
                      label="paced activation (ms)",
                      title=f"your lead in {chosen.lead}: paced activation")
        png = png_bytes(fig, tight=True)
    rows = [("your lead", chosen)] + [(name, lead_outcome(case, info["lead"]))
                                      for name, info in case.strategies.items()]

    def row(name, o):
        notes = ", ".join(x for x in ("on scar" if o.on_scar else "",
                                      "" if o.reachable else "no vein reaches it") if x)
        return (f"| {name} | {o.lead} | {o.reduction_ms:.0f} | {o.resync_fraction:.2f} | "
                f"{o.esv_change_mean_pct:.1f} [{o.esv_change_low_pct:.1f}, "
                f"{o.esv_change_high_pct:.1f}] | {notes or '-'} |")

    summary = (f"**A lead in segment {chosen.lead}** removes {chosen.reduction_ms:.0f} ms "
               f"of the total activation time and {chosen.resync_fraction:.0%} of the late "
               f"wall's activation time; the model expects an LVESV change of {chosen.esv_change_mean_pct:.1f} % "
               f"(10th-90th percentile {chosen.esv_change_low_pct:.1f} to "
               f"{chosen.esv_change_high_pct:.1f} %, this patient's variation).\n\n"
               "| lead | segment | activation time removed (ms) | late share removed | LVESV change % "
               "[10th, 90th] | note |\n|---|---:|---:|---:|---:|---|\n"
               + "\n".join(row(name, o) for name, o in rows))
    return png, summary


@dataclass(frozen=True)
class PatientView:
    """What the patient view shows: two PNG images and a Markdown summary."""

    curves_png: bytes
    strategies_png: bytes
    summary: str


def render_patient(seed: int, fps: float = _CURVES.fps,
                   noise_sd_pct: float = _CURVES.noise_sd_pct) -> PatientView:
    """The patient view: the curves with each time to peak, a bullseye per strategy
    and a table of targets, leads and classes."""
    from strainsim.app.plots import plot_curves, plot_strategies

    case = patient_case(seed, fps, noise_sd_pct)
    m = case.measured
    latest = int(m.latest_segment[0])
    with FIGURE_LOCK:
        ax = plot_curves(case.time_ms, case.strain, ttp_ms=m.ttp_ms[0], viable=m.viable[0],
                         latest=latest if latest > 0 else None)
        ax.set_title(f"patient {case.seed}: {fps:g} fps, noise {noise_sd_pct:g} % strain")
        curves_png, strategies_png = (png_bytes(ax.figure, tight=True),
                                      png_bytes(plot_strategies(case)))
    rows = "\n".join(f"| {name} | {info['target']} | {info['lead']} | {info['vs_target']} | "
                     f"{info['vs_true']} |" for name, info in case.strategies.items())
    summary = (f"**Patient {case.seed}**: strain names segment **{latest}** as the latest "
               f"viable one; the truly latest non-scar segment is **{case.true_latest}**."
               f"\n\n| strategy | target | lead | vs its target | vs true latest |\n"
               f"|---|---:|---:|---|---|\n{rows}")
    return PatientView(curves_png, strategies_png, summary)
