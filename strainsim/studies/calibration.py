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

import numpy as np

from strainsim.errors import InputError
from strainsim.resources import data_path, read_toml
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
_SECTIONS = ("population", "activation", "curves", "placement", "outcomes")


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


def _number(source, where, value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(source, where, "a finite number", repr(value))
    return float(value)


def _target(raw, k, source, trial_names) -> Target:
    where = f"target[{k}]"
    if not isinstance(raw, dict):
        raise InputError(source, where, "a table", repr(raw))
    allowed = {"name", "statistic", "value", "ci", "n", "sd", "events", "tolerance", "source",
               "outcome", "quantity", "trial", "arm", "fit", "reason"}
    for key in raw:
        if key not in allowed:
            raise InputError(source, f"{where}.{key}", "one of the keys " + ", ".join(sorted(allowed)))
    for key in ("name", "statistic", "source"):
        if not isinstance(raw.get(key), str):
            raise InputError(source, f"{where}.{key}", "a string (required)", repr(raw.get(key)))
    name = raw["name"]
    where = f"target {name!r}"
    statistic = raw["statistic"]
    if statistic not in STATISTICS:
        raise InputError(source, f"{where}.statistic", "one of " + ", ".join(STATISTICS),
                         repr(statistic))
    fields = {}
    if statistic in ("pooled", "pooled_ci_width"):
        if raw.get("outcome") not in OUTCOMES:
            raise InputError(source, f"{where}.outcome", "one of " + ", ".join(OUTCOMES),
                             repr(raw.get("outcome")))
        fields["outcome"] = raw["outcome"]
    else:
        if raw.get("quantity") not in QUANTITIES:
            raise InputError(source, f"{where}.quantity", "one of " + ", ".join(QUANTITIES),
                             repr(raw.get("quantity")))
        if raw.get("arm") not in ARMS:
            raise InputError(source, f"{where}.arm", "image_guided or control",
                             repr(raw.get("arm")))
        if raw.get("trial") != "all" and raw.get("trial") not in trial_names:
            raise InputError(source, f"{where}.trial", "'all' or one of the trials "
                             + ", ".join(trial_names), repr(raw.get("trial")))
        fields.update(quantity=raw["quantity"], arm=raw["arm"], trial=raw["trial"])
    fit = raw.get("fit", True)
    if not isinstance(fit, bool):
        raise InputError(source, f"{where}.fit", "true or false", repr(fit))
    n = _number(source, f"{where}.n", raw["n"]) if "n" in raw else None
    if n is not None and n < 1:
        raise InputError(source, f"{where}.n", "a count >= 1", repr(raw["n"]))
    if "events" in raw:
        if n is None:
            raise InputError(source, f"{where}.n", "a count with events")
        value = _number(source, f"{where}.events", raw["events"]) / n
    elif "value" in raw:
        value = _number(source, f"{where}.value", raw["value"])
    else:
        raise InputError(source, f"{where}.value", "a value (or events and n)")
    if "ci" in raw:
        ci = raw["ci"]
        if not (isinstance(ci, list) and len(ci) == 2):
            raise InputError(source, f"{where}.ci", "[low, high]", repr(ci))
        low, high = (_number(source, f"{where}.ci", c) for c in ci)
        if not low < high or (statistic == "pooled" and fields["outcome"] == "nyha"
                              and low <= 0):
            raise InputError(source, f"{where}.ci", "low < high (and > 0 for an odds ratio)",
                             repr(ci))
        if statistic == "pooled" and fields["outcome"] == "nyha":
            if value <= 0:
                raise InputError(source, f"{where}.value", "an odds ratio > 0", repr(value))
            se = (math.log(high) - math.log(low)) / 3.92
        else:
            se = (high - low) / 3.92
    elif "sd" in raw:
        if n is None:
            raise InputError(source, f"{where}.n", "a count with sd")
        se = _number(source, f"{where}.sd", raw["sd"]) / math.sqrt(n)
    elif "tolerance" in raw:
        se = _number(source, f"{where}.tolerance", raw["tolerance"])
        if not raw.get("reason"):
            raise InputError(source, f"{where}.reason", "a reason for a stated tolerance")
    elif n is not None:
        if not 0.0 <= value <= 1.0:
            raise InputError(source, f"{where}.value", "a fraction in [0, 1] with n", repr(value))
        se = math.sqrt(max(value * (1 - value), 0.25 / n) / n)
    else:
        raise InputError(source, where, "an uncertainty: ci, n, sd and n, events and n, "
                         "or tolerance")
    if not se > 0:
        raise InputError(source, where, "an uncertainty > 0", repr(se))
    return Target(name=name, statistic=statistic, value=value, se=se, source=raw["source"],
                  fit=fit, reason=str(raw.get("reason", "")), **fields)


def _parameter(raw, k, source) -> FreeParameter:
    where = f"parameter[{k}]"
    if not isinstance(raw, dict) or set(raw) != {"name", "low", "high"}:
        raise InputError(source, where, "a table with name, low and high", repr(raw))
    name = raw["name"]
    section, _, field = str(name).partition(".")
    if section not in _SECTIONS or not field:
        raise InputError(source, f"{where}.name", "section.field with section one of "
                         + ", ".join(_SECTIONS), repr(name))
    probe = getattr(TrialSpec(name="probe", n_image_guided=2, n_control=2), section)
    if not isinstance(getattr(probe, field, None), int | float) or isinstance(
            getattr(probe, field, None), bool):
        raise InputError(source, f"{where}.name", f"a numeric field of [{section}]", repr(name))
    low, high = _number(source, f"{where}.low", raw["low"]), _number(source, f"{where}.high",
                                                                      raw["high"])
    if not low < high:
        raise InputError(source, where, "low < high", f"{low}, {high}")
    return FreeParameter(name, low, high)


def load_targets(path: str | Path | None = None,
                 trial_names: tuple[str, ...] | None = None) -> Targets:
    """Read and validate a targets file (default: the shipped ``targets.toml``)."""
    path = Path(path) if path is not None else data_path("cohorts", "published/targets.toml")
    raw = read_toml(path)
    source = str(path)
    if trial_names is None:
        from strainsim.studies.sweep import five_trial_specs

        trial_names = tuple(s.name for s in five_trial_specs())
    for key in raw:
        if key not in ("target", "parameter"):
            raise InputError(source, key, "only [[target]] and [[parameter]] tables")
    if not isinstance(raw.get("target"), list) or not raw["target"]:
        raise InputError(source, "target", "at least one [[target]]")
    targets = tuple(_target(t, k, source, trial_names) for k, t in enumerate(raw["target"]))
    params = raw.get("parameter", [])
    if not isinstance(params, list):
        raise InputError(source, "parameter", "[[parameter]] tables", repr(params))
    parameters = tuple(_parameter(p, k, source) for k, p in enumerate(params))
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
