"""Calibration as a feature: published targets, simulated moments, fitted defaults.

``cohorts/published/targets.toml`` lists the sourced numbers the virtual world
should reproduce (pooled effects, concordance rates, arm-level response rates,
...) with their uncertainty, and the free parameters with the box they are
searched in. :func:`evaluate` runs ``replicates`` virtual five-trial
meta-analyses with a given set of parameter values and returns, per target, the
simulated mean, its 95 % range over replicates and the target's z-score;
:func:`calibrate` fits the free parameters by the simulated method of moments:
it minimizes

    sum over fitted targets of ((simulated mean - published value) / SE)^2

with Nelder-Mead (:func:`scipy.optimize.minimize`) inside the box, on common
random numbers (every evaluation uses the same seeds, so the objective changes
only through the parameters).

Examples
--------
>>> from strainsim.studies.calibration import load_targets
>>> targets = load_targets()
>>> [t.name for t in targets.targets][:2]
['pooled NYHA improvement OR', 'pooled LVESV change MD (%)']
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from strainsim.errors import InputError
from strainsim.model.activation import ActivationParams
from strainsim.model.curves import CurveParams
from strainsim.model.outcomes import OutcomeParams
from strainsim.model.pacing import PacingParams
from strainsim.model.placement import PlacementParams
from strainsim.model.population import PopulationParams
from strainsim.params import declarations
from strainsim.resources import data_path, read_toml
from strainsim.schema import STRICT, validate
from strainsim.seeding import as_seed_sequence, children
from strainsim.studies.specs import TrialSpec
from strainsim.studies.trials import OUTCOMES, pool_trials, simulate_trial

__all__ = ["Target", "FreeParameter", "Targets", "load_targets", "with_parameters",
           "current_values", "Evaluation", "evaluate", "CalibrationResult", "calibrate",
           "QUANTITIES", "spec_fragment"]

ARMS = ("image_guided", "control")
STATISTICS = ("pooled", "pooled_ci_width", "arm")
# arm summary quantities a target can name (fractions of the arm's patients or means)
QUANTITIES = {
    "nyha_improved_fraction": lambda a: a.nyha_improved / a.n,
    "nyha_not_improved_fraction": lambda a: 1.0 - a.nyha_improved / a.n,
    "esv_responder_fraction": lambda a: a.esv_responders / a.n,
    "esv_change_mean": lambda a: a.esv_change_mean,
    "edv_change_mean": lambda a: a.edv_change_mean,
    "ef_change_mean": lambda a: a.ef_change_mean,
    "ef_change_sd": lambda a: a.ef_change_sd,
    "concordant_measured": lambda a: a.concordant_measured,
    "concordant_or_adjacent_measured": lambda a: a.concordant_or_adjacent_measured,
    "concordant_true": lambda a: a.concordant_true,
    "concordant_or_adjacent_true": lambda a: a.concordant_true + a.adjacent_true,
    "esv_change_concordant_mean": lambda a: a.esv_change_concordant_mean,
    "esv_change_discordant_mean": lambda a: a.esv_change_discordant_mean,
    "septal_latest": lambda a: a.septal_latest,
    "lead_on_scar": lambda a: a.lead_on_scar,
}
_SECTIONS = ("population", "activation", "curves", "placement", "outcomes", "pacing")
_SECTION_CLASSES = (PopulationParams, ActivationParams, CurveParams, PlacementParams,
                    OutcomeParams, PacingParams)


@dataclass(frozen=True)
class Target:
    """One published number and how to simulate it.

    Attributes
    ----------
    name, source : str
    statistic : {"pooled", "pooled_ci_width", "arm"}
    value : float
        The published value (an odds ratio for pooled NYHA).
    se : float
        Its standard error on the fitting scale (log for odds ratios).
    outcome : str or None
        For pooled statistics: nyha, lvesv, lvedv or lvef.
    quantity, trial, arm : str or None
        For arm statistics (:data:`QUANTITIES`; trial name or ``"all"``).
    fit : bool
        Whether :func:`calibrate` fits it (else only reported).
    reason : str
        Why the uncertainty or mapping is what it is, where a source does not say.
    """

    name: str
    statistic: str
    value: float
    se: float
    source: str
    outcome: str | None = None
    quantity: str | None = None
    trial: str | None = None
    arm: str | None = None
    fit: bool = True
    reason: str = ""

    @property
    def log_scale(self) -> bool:
        """Whether the target is fitted on the log scale (a pooled odds ratio)."""
        return self.statistic == "pooled" and self.outcome == "nyha"


@dataclass(frozen=True)
class FreeParameter:
    """A spec parameter ``section.field`` searched in ``[low, high]``."""

    name: str
    low: float
    high: float


@dataclass(frozen=True)
class Targets:
    """A targets file: the targets and the free parameters."""

    targets: tuple[Target, ...]
    parameters: tuple[FreeParameter, ...]
    source: str


class TargetEntry(BaseModel):
    """One ``[[target]]`` of a targets file (its uncertainty: ``ci``, ``n`` for a
    proportion, ``sd`` and ``n``, ``events`` and ``n``, or a ``tolerance`` with its
    ``reason``)."""

    model_config = STRICT
    name: str = Field(min_length=1)
    statistic: Literal[STATISTICS]
    source: str = Field(min_length=1, description="Where the number was published.")
    value: float | None = Field(None, description="The published value (an odds ratio for "
                                "pooled NYHA).")
    ci: list[float] | None = Field(None, min_length=2, max_length=2,
                                   description="95 % confidence interval [low, high].")
    n: float | None = Field(None, ge=1, description="Patients behind the value.")
    sd: float | None = Field(None, gt=0, description="SD of the patients' values.")
    events: float | None = Field(None, ge=0, description="Events among n.")
    tolerance: float | None = Field(None, gt=0, description="A stated uncertainty (SE).")
    outcome: Literal[OUTCOMES] | None = None
    quantity: Literal[tuple(QUANTITIES)] | None = None
    trial: str | None = None
    arm: Literal[ARMS] | None = None
    fit: bool = True
    reason: str = ""


class ParameterEntry(BaseModel):
    """One ``[[parameter]]``: a spec parameter ``section.field`` searched in
    ``[low, high]``, inside the parameter's declared range."""

    model_config = STRICT
    name: str
    low: float
    high: float


class TargetsFile(BaseModel):
    """A targets file: ``[[target]]`` tables and ``[[parameter]]`` tables."""

    model_config = STRICT
    target: list[TargetEntry] = Field(min_length=1)
    parameter: list[ParameterEntry] = []


def _target(entry: TargetEntry, source: str, trial_names) -> Target:
    """A target from its entry: the mapping checked, the SE derived."""
    where = f"target {entry.name!r}"
    fields = {}
    if entry.statistic in ("pooled", "pooled_ci_width"):
        if entry.outcome is None:
            raise InputError(source, f"{where}.outcome", "one of " + ", ".join(OUTCOMES))
        fields["outcome"] = entry.outcome
    else:
        for key, allowed in (("quantity", tuple(QUANTITIES)), ("arm", ARMS)):
            if getattr(entry, key) is None:
                raise InputError(source, f"{where}.{key}", "one of " + ", ".join(allowed))
        if entry.trial != "all" and entry.trial not in trial_names:
            raise InputError(source, f"{where}.trial", "'all' or one of the trials "
                             + ", ".join(trial_names), repr(entry.trial))
        fields.update(quantity=entry.quantity, arm=entry.arm, trial=entry.trial)
    odds_ratio = entry.statistic == "pooled" and entry.outcome == "nyha"
    if entry.events is not None:
        if entry.n is None:
            raise InputError(source, f"{where}.n", "a count with events")
        value = entry.events / entry.n
    elif entry.value is not None:
        value = entry.value
    else:
        raise InputError(source, f"{where}.value", "a value (or events and n)")
    if entry.ci is not None:
        low, high = entry.ci
        if not low < high or (odds_ratio and low <= 0):
            raise InputError(source, f"{where}.ci", "low < high (and > 0 for an odds ratio)",
                             repr(list(entry.ci)))
        if odds_ratio and value <= 0:
            raise InputError(source, f"{where}.value", "an odds ratio > 0", repr(value))
        se = ((math.log(high) - math.log(low)) if odds_ratio else (high - low)) / 3.92
    elif entry.sd is not None:
        if entry.n is None:
            raise InputError(source, f"{where}.n", "a count with sd")
        se = entry.sd / math.sqrt(entry.n)
    elif entry.tolerance is not None:
        if not entry.reason:
            raise InputError(source, f"{where}.reason", "a reason for a stated tolerance")
        se = entry.tolerance
    elif entry.n is not None:
        if not 0.0 <= value <= 1.0:
            raise InputError(source, f"{where}.value", "a fraction in [0, 1] with n", repr(value))
        se = math.sqrt(max(value * (1 - value), 0.25 / entry.n) / entry.n)
    else:
        raise InputError(source, where, "an uncertainty: ci, n, sd and n, events and n, "
                         "or tolerance")
    return Target(name=entry.name, statistic=entry.statistic, value=value, se=se,
                  source=entry.source, fit=entry.fit, reason=entry.reason, **fields)


def _parameter(entry: ParameterEntry, k: int, source: str) -> FreeParameter:
    """A free parameter: a declared numeric field of a spec section, searched inside its
    declared range."""
    where = f"parameter[{k + 1}]"
    section, _, key = entry.name.partition(".")
    cls = dict(zip(_SECTIONS, _SECTION_CLASSES, strict=True)).get(section)
    declared = declarations(cls) if cls is not None else {}
    d = declared.get(key)
    if cls is None:
        raise InputError(source, f"{where}.name", "section.field with section one of "
                         + ", ".join(_SECTIONS), repr(entry.name))
    if d is None or d.choices is not None or not d.settable:
        raise InputError(source, f"{where}.name", f"a numeric field of [{section}]",
                         repr(entry.name))
    if not entry.low < entry.high:
        raise InputError(source, where, "low < high", f"{entry.low}, {entry.high}")
    if entry.low < d.low or entry.high > d.high:
        raise InputError(source, where, f"a box inside {entry.name}'s declared range "
                         f"[{d.low:g}, {d.high:g}]", f"[{entry.low:g}, {entry.high:g}]")
    return FreeParameter(entry.name, entry.low, entry.high)


def load_targets(path: str | Path | None = None,
                 trial_names: tuple[str, ...] | None = None) -> Targets:
    """Read and validate a targets file (default: the shipped ``targets.toml``)."""
    path = Path(path) if path is not None else data_path("cohorts", "published/targets.toml")
    source = str(path)
    checked = validate(TargetsFile, read_toml(path), source)
    if trial_names is None:
        from strainsim.studies.sweep import five_trial_specs

        trial_names = tuple(s.name for s in five_trial_specs())
    targets = tuple(_target(t, source, trial_names) for t in checked.target)
    parameters = tuple(_parameter(p, k, source) for k, p in enumerate(checked.parameter))
    if len({p.name for p in parameters}) != len(parameters):
        raise InputError(source, "parameter", "each parameter once")
    return Targets(targets, parameters, source)


def with_parameters(specs: list[TrialSpec], values: dict[str, float]) -> list[TrialSpec]:
    """The specs with ``values`` (``section.field`` -> value) set in every trial."""
    out = []
    for spec in specs:
        sections = {}
        for name, value in values.items():
            section, field = name.split(".", 1)
            sections.setdefault(section, {})[field] = value
        try:
            out.append(replace(spec, **{s: replace(getattr(spec, s), **f)
                                        for s, f in sections.items()}))
        except (TypeError, ValueError) as exc:
            raise InputError("parameters", None, "values the model accepts", str(exc)) from None
    return out


def current_values(specs: list[TrialSpec], parameters) -> dict[str, float]:
    """The free parameters' values in the first spec (the shipped defaults)."""
    out = {}
    for p in parameters:
        section, field = p.name.split(".", 1)
        out[p.name] = float(getattr(getattr(specs[0], section), field))
    return out


@dataclass(frozen=True)
class Evaluation:
    """Targets vs the simulated world.

    Attributes
    ----------
    values : dict of str to float
        The free parameters' values simulated.
    samples : ndarray, shape (replicates, targets)
        Each replicate's value of each target's statistic (reported scale).
    mean, low, high : ndarray, shape (targets,)
        Mean over replicates and its 2.5 and 97.5 percentiles.
    z : ndarray, shape (targets,)
        (simulated mean - published) / SE on the fitting scale.
    objective : float
        Sum of z^2 over the fitted targets.
    """

    values: dict
    samples: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    z: np.ndarray
    objective: float


def _arm_value(trials, target: Target) -> float:
    chosen = [t for t in trials if target.trial in ("all", t.spec.name)]
    arms = [t.guided if target.arm == "image_guided" else t.control for t in chosen]
    get = QUANTITIES[target.quantity]
    weights = np.array([a.n for a in arms], float)
    return float(np.dot(weights, [get(a) for a in arms]) / weights.sum())


def simulate_samples(specs: list[TrialSpec], targets: tuple[Target, ...], replicates: int,
                     seed: int = 0, method: str = "REML", test: str = "knha",
                     progress=None) -> np.ndarray:
    """Each replicate's value of every target's statistic, shape (replicates, targets).

    Replicate ``r`` simulates the five trials from ``SeedSequence(seed)`` -> child ``r``
    -> one child per trial (as :func:`strainsim.studies.trials.virtual_meta_analysis`).
    """
    out = np.empty((replicates, len(targets)))
    for r, rep_seed in enumerate(children(as_seed_sequence(seed), replicates)):
        trials = [simulate_trial(spec, s) for spec, s in
                  zip(specs, children(rep_seed, len(specs)), strict=True)]
        pooled = pool_trials(trials, method=method, test=test) if any(
            t.statistic != "arm" for t in targets) else {}
        for k, t in enumerate(targets):
            if t.statistic == "arm":
                out[r, k] = _arm_value(trials, t)
                continue
            res = pooled[t.outcome]
            transform = np.exp if t.outcome == "nyha" else float
            if t.statistic == "pooled":
                out[r, k] = transform(res.estimate)
            else:
                out[r, k] = transform(res.ci_high) - transform(res.ci_low)
        if progress is not None:
            progress(r + 1)
    return out


def evaluate(specs: list[TrialSpec], targets: Targets, values: dict[str, float] | None = None,
             replicates: int = 40, seed: int = 0, progress=None) -> Evaluation:
    """Simulate ``replicates`` virtual meta-analyses with ``values`` and compare."""
    values = dict(values) if values is not None else current_values(specs,
                                                                     targets.parameters)
    world = with_parameters(specs, values)
    samples = simulate_samples(world, targets.targets, replicates, seed, progress=progress)
    # a replicate without, say, a single concordant lead has no mean for it: left out
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(samples, axis=0)
        low, high = np.nanpercentile(samples, [2.5, 97.5], axis=0)
    z = np.empty(len(targets.targets))
    for k, t in enumerate(targets.targets):
        if t.log_scale:
            z[k] = (math.log(max(mean[k], 1e-12)) - math.log(t.value)) / t.se
        else:
            z[k] = (mean[k] - t.value) / t.se
    fitted = np.array([t.fit for t in targets.targets])
    objective = float(np.sum(z[fitted] ** 2))
    if not math.isfinite(objective):  # a fitted statistic the world cannot produce
        objective = math.inf
    return Evaluation(values, samples, mean, low, high, z, objective)


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` found.

    Attributes
    ----------
    targets : Targets
    start, best : Evaluation
        The world before (the given starting values) and after the fit.
    evaluations : int
        Objective evaluations used.
    converged : bool
        Whether Nelder-Mead met its tolerances before ``max_evals``.
    replicates, seed : int
    """

    targets: Targets
    start: Evaluation
    best: Evaluation
    evaluations: int
    converged: bool
    replicates: int
    seed: int


def calibrate(specs: list[TrialSpec], targets: Targets, replicates: int = 40, seed: int = 0,
              max_evals: int = 300, start: dict[str, float] | None = None,
              progress=None) -> CalibrationResult:
    """Fit the free parameters to the fitted targets (simulated method of moments).

    Nelder-Mead on the parameters scaled to [0, 1] within their box, from
    ``start`` (default: the specs' current values), every evaluation on the same
    ``replicates`` seeds (common random numbers). ``progress`` is called with the
    number of evaluations done.
    """
    from scipy.optimize import minimize

    if not targets.parameters:
        raise InputError(targets.source, "parameter", "at least one [[parameter]] to fit")
    params = targets.parameters
    lows = np.array([p.low for p in params])
    widths = np.array([p.high - p.low for p in params])
    initial = dict(start) if start is not None else current_values(specs, params)
    x0 = np.clip((np.array([initial[p.name] for p in params]) - lows) / widths, 0.0, 1.0)
    seen: dict[tuple, Evaluation] = {}
    count = [0]

    def values_of(x):
        return {p.name: float(lows[k] + widths[k] * min(max(x[k], 0.0), 1.0))
                for k, p in enumerate(params)}

    def objective(x):
        key = tuple(np.round(x, 12))
        if key not in seen:
            seen[key] = evaluate(specs, targets, values_of(x), replicates, seed)
            count[0] += 1
            if progress is not None:
                progress(count[0])
        return seen[key].objective

    first = evaluate(specs, targets, values_of(x0), replicates, seed)
    seen[tuple(np.round(x0, 12))] = first
    simplex = np.vstack([x0] + [np.clip(x0 + np.eye(len(params))[k] * (0.15 if x0[k] < 0.85
                                                                        else -0.15), 0, 1)
                                for k in range(len(params))])
    result = minimize(objective, x0, method="Nelder-Mead",
                      bounds=[(0.0, 1.0)] * len(params),
                      options={"maxfev": max_evals, "initial_simplex": simplex,
                               "xatol": 1e-3, "fatol": 1e-3})
    key = tuple(np.round(result.x, 12))
    best = seen[key] if key in seen else evaluate(specs, targets, values_of(result.x),
                                                   replicates, seed)
    return CalibrationResult(targets, first, best, count[0] + 1, bool(result.success),
                             replicates, seed)


def spec_fragment(values: dict[str, float]) -> str:
    """``values`` (``section.field`` -> value) as spec sections, to paste into a spec file."""
    lines = ["# fitted by strainsim calibrate: paste into a spec or set as defaults"]
    sections: dict = {}
    for name, value in values.items():
        section, field = name.split(".", 1)
        sections.setdefault("measurement" if section == "curves" else section,
                            []).append(f"{field} = {value:.4g}")
    for section, entries in sections.items():
        lines += ["", f"[{section}]", *entries]
    return "\n".join(lines) + "\n"
