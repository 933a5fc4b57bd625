"""Calibration as a feature: published contrasts, simulated moments, a chi-square fit.

``cohorts/published/targets.toml`` lists the sourced numbers the virtual world
should reproduce, with their uncertainty: the trials' between-arm contrasts (risk
and mean differences, SEs from the published arm sizes and SDs), the pooled
results of the meta-analysis, the concordant-vs-discordant difference of the
lead-position meta-analysis, and arm levels only where no contrast is reported;
and the free parameters with the box they are searched in.

:func:`evaluate` runs ``replicates`` virtual five-trial meta-analyses and
returns, per target, the simulated mean, its 95 % range and z, and the
goodness of fit

    chi2 = r' V^-1 r,   V = D C D + S / R

over the fitted targets: ``r`` the simulated means minus the published values,
``D`` the published SEs, ``C`` the correlation of the targets' sampling errors
within a trial or the pooled set (taken from the simulation), and ``S / R`` the
simulation's own variance of its means (:func:`covariance`); on ``fitted targets
- free parameters`` degrees of freedom. :func:`calibrate` minimizes it with
:func:`scipy.optimize.least_squares` on common random numbers and reports each
parameter's SE and whether the targets identify it. Calibration and validation
draw independent seeds (:func:`purpose_seed`); :func:`leave_one_trial_out`
predicts each trial's contrasts from a fit without them and
:func:`posterior_predictive` checks the published pattern.

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
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from strainsim.errors import InputError
from strainsim.model.activation import ActivationParams
from strainsim.model.curves import CurveParams
from strainsim.model.outcomes import SHIFT_SDS, OutcomeParams
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
           "QUANTITIES", "spec_fragment", "covariance", "purpose_seed", "ParameterFit",
           "parameter_uncertainty", "uncertainty_at", "leave_one_trial_out", "LeftOut",
           "SharedStart", "start_evaluation", "chi2_mcse", "MCSE_GROUPS", "FIT_REPLICATES",
           "COVARIANCE_REPLICATES", "REFIT_REPLICATES",
           "posterior_predictive", "trials_with_targets", "simulate_samples", "free_parameter",
           "ParameterEntry", "goodness_of_fit", "check_leave_one_trial_out", "only_group"]

ARMS = ("image_guided", "control", "both")
STATISTICS = ("pooled", "pooled_ci_width", "arm", "contrast")
# arm summary quantities a target can name (fractions of the arm's patients or means)
QUANTITIES = {
    "nyha_improved_fraction": lambda a: a.nyha_improved / a.n,
    "nyha_not_improved_fraction": lambda a: 1.0 - a.nyha_improved / a.n,
    "nyha_class_change_mean": lambda a: a.nyha_class_change_mean,
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
    "esv_responders_concordant_fraction": lambda a: a.esv_responders_concordant_fraction,
    "esv_responders_discordant_fraction": lambda a: a.esv_responders_discordant_fraction,
    "esv_change_discordant_mean": lambda a: a.esv_change_discordant_mean,
    "esv_change_concordant_minus_discordant":
        lambda a: a.esv_change_concordant_mean - a.esv_change_discordant_mean,
    "ef_change_concordant_minus_discordant":
        lambda a: a.ef_change_concordant_mean - a.ef_change_discordant_mean,
    "resync_fraction_mean": lambda a: a.resync_fraction_mean,
    "activation_time_reduction_mean_ms": lambda a: a.activation_time_reduction_mean_ms,
    "septal_latest": lambda a: a.septal_latest,
    "lead_lateral_share": lambda a: a.lead_lateral_share,
    "lead_anterior_share": lambda a: a.lead_anterior_share,
    "lead_posterior_share": lambda a: a.lead_posterior_share,
    "qlv_mean_ms": lambda a: a.qlv_mean_ms,
    "esv_responders_lowest_qlv_quartile": lambda a: a.esv_responders_lowest_qlv_quartile,
    "esv_responders_highest_qlv_quartile": lambda a: a.esv_responders_highest_qlv_quartile,
    "nyha_improved_qlv_tertile_gradient":
        lambda a: a.nyha_improved_highest_qlv_tertile - a.nyha_improved_lowest_qlv_tertile,
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
    statistic : {"pooled", "pooled_ci_width", "arm", "contrast"}
        A pooled estimate or its CI width, an arm's summary, or a trial's between-arm
        contrast (image-guided minus control: a risk or mean difference).
    value : float
        The published value (an odds ratio for pooled NYHA).
    se : float
        Its standard error on the fitting scale (log for odds ratios).
    outcome : str or None
        For pooled statistics: nyha, lvesv, lvedv or lvef.
    quantity, trial, arm : str or None
        For arm and contrast statistics (:data:`QUANTITIES`; trial name or ``"all"``;
        ``"both"`` arms patient-weighted).
    fit : bool
        Whether :func:`calibrate` fits it (else only reported).
    reason : str
        Why the uncertainty or mapping is what it is, where a source does not say.
    between_trials : bool
        Whether the world's between-trial variation adds to the published SE: yes for a
        number counted in one trial's or study's patients (or in the trials' patients
        together); no for a pooled estimate or a published interval of a pooled
        analysis, which already spans its studies' heterogeneity.
    study : bool
        Whether ``trial`` is a study outside the meta-analysis (its patients are in no
        pooled statistic).
    group : str
        The sub-model the target belongs to (``""``: none), for a fit of that sub-model
        alone (:func:`only_group`).
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
    between_trials: bool = True
    study: bool = False
    group: str = ""

    @property
    def patients(self) -> str:
        """Whose patients the statistic is counted in: a trial's or study's name, or
        ``"all"`` for the pooled estimates and the world's trials together."""
        return "all" if self.statistic.startswith("pooled") else str(self.trial)

    def shares_patients(self, other: Target) -> bool:
        """Whether the two statistics are counted in some of the same patients, so that
        their sampling errors may correlate: the same trial or study, or one of them
        the whole meta-analysis's and the other not a study outside it."""
        a, b = self.patients, other.patients
        return a == b or (a == "all" and not other.study) or (b == "all" and not self.study)

    @property
    def log_scale(self) -> bool:
        """Whether the target is fitted on the log scale (a pooled odds ratio)."""
        return self.statistic == "pooled" and self.outcome == "nyha"


@dataclass(frozen=True)
class FreeParameter:
    """A spec parameter ``section.field`` searched in ``[low, high]``, in the sub-model
    ``group`` (``""``: none)."""

    name: str
    low: float
    high: float
    group: str = ""


@dataclass(frozen=True)
class Targets:
    """A targets file: the targets, the free parameters, and the studies outside the
    meta-analysis that some targets are about (simulated with the world, not pooled)."""

    targets: tuple[Target, ...]
    parameters: tuple[FreeParameter, ...]
    source: str
    studies: tuple = ()


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
    arm_values: list[float] | None = Field(None, min_length=2, max_length=2,
                                           description="A contrast's two published arm "
                                           "values [image-guided, control].")
    arm_n: list[float] | None = Field(None, min_length=2, max_length=2,
                                      description="Patients analysed in each arm.")
    arm_sd: list[float] | None = Field(None, min_length=2, max_length=2,
                                       description="SD of each arm's values (a mean "
                                       "difference; omitted for a risk difference).")
    outcome: Literal[OUTCOMES] | None = None
    quantity: Literal[tuple(QUANTITIES)] | None = None
    trial: str | None = None
    arm: Literal[ARMS] | None = None
    fit: bool = True
    reason: str = ""
    group: str = Field("", description="The sub-model the target belongs to, for a fit of "
                       "that sub-model alone (calibrate --only).")


class ParameterEntry(BaseModel):
    """One ``[[parameter]]``: a spec parameter ``section.field`` searched in
    ``[low, high]``, inside the parameter's declared range."""

    model_config = STRICT
    name: str
    low: float
    high: float
    reason: str = ""
    group: str = Field("", description="The sub-model the parameter belongs to.")


class TargetsFile(BaseModel):
    """A targets file: ``[[target]]`` tables and ``[[parameter]]`` tables."""

    model_config = STRICT
    target: list[TargetEntry] = Field(min_length=1)
    parameter: list[ParameterEntry] = []
    studies: list[str] = Field([], description="Trial specs (shipped names or files) of "
                               "studies outside the meta-analysis that targets name as "
                               "their trial: simulated with the world, not pooled.")


def _target(entry: TargetEntry, source: str, trial_names, study_names=()) -> Target:
    """A target from its entry: the mapping checked, the SE derived (``trial_names``:
    every trial and study a target may name; ``study_names``: those outside the
    meta-analysis)."""
    where = f"target {entry.name!r}"
    fields = {}
    if entry.statistic in ("pooled", "pooled_ci_width"):
        if entry.outcome is None:
            raise InputError(source, f"{where}.outcome", "one of " + ", ".join(OUTCOMES))
        fields["outcome"] = entry.outcome
    else:
        required = (("quantity", tuple(QUANTITIES)),) + (
            (("arm", ARMS),) if entry.statistic == "arm" else ())
        for key, allowed in required:
            if getattr(entry, key) is None:
                raise InputError(source, f"{where}.{key}", "one of " + ", ".join(allowed))
        if entry.trial != "all" and entry.trial not in trial_names:
            raise InputError(source, f"{where}.trial", "'all' or one of the trials "
                             + ", ".join(trial_names), repr(entry.trial))
        fields.update(quantity=entry.quantity, arm=entry.arm or "both", trial=entry.trial,
                      study=entry.trial in study_names)
    odds_ratio = entry.statistic == "pooled" and entry.outcome == "nyha"
    if entry.statistic == "contrast" and entry.arm != "both" and entry.arm is not None:
        raise InputError(source, f"{where}.arm", "'both' or omitted for a contrast",
                         repr(entry.arm))
    if entry.arm_values is not None:
        if entry.value is not None or entry.events is not None:
            raise InputError(source, f"{where}.value", "either a value (or events) or "
                             "arm_values, not both")
        if entry.arm_n is None or min(entry.arm_n) < 1:
            raise InputError(source, f"{where}.arm_n", "two arm sizes >= 1 with arm_values")
        (vg, vc), (ng, nc) = entry.arm_values, entry.arm_n
        if entry.arm_sd is not None:
            sg, sc = entry.arm_sd
            se = math.sqrt(sg * sg / ng + sc * sc / nc)
        elif 0.0 <= vg <= 1.0 and 0.0 <= vc <= 1.0:
            se = math.sqrt(vg * (1 - vg) / ng + vc * (1 - vc) / nc)
        else:
            raise InputError(source, f"{where}.arm_sd", "arm SDs for a mean difference "
                             "(or two fractions in [0, 1] for a risk difference)")
        return Target(name=entry.name, statistic=entry.statistic, value=vg - vc, se=se,
                      source=entry.source, fit=entry.fit, reason=entry.reason,
                      group=entry.group, **fields)
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
                  source=entry.source, fit=entry.fit, reason=entry.reason, group=entry.group,
                  between_trials=not (entry.statistic.startswith("pooled")
                                      or entry.ci is not None), **fields)


def declared_number(name: str, source: str, where: str):
    """The declaration of ``name`` (``section.field``), a settable numeric field of a spec
    section; one clear line naming ``source`` and ``where`` when it is not one."""
    section, _, key = name.partition(".")
    cls = dict(zip(_SECTIONS, _SECTION_CLASSES, strict=True)).get(section)
    if cls is None:
        raise InputError(source, where, "section.field with section one of "
                         + ", ".join(_SECTIONS), repr(name))
    d = declarations(cls).get(key)
    if d is None or d.choices is not None or not d.settable:
        raise InputError(source, where, f"a numeric field of [{section}]", repr(name))
    return d


def free_parameter(entry: ParameterEntry, k: int, source: str) -> FreeParameter:
    """A free parameter: a declared numeric field of a spec section, searched inside its
    declared range."""
    where = f"parameter[{k + 1}]"
    d = declared_number(entry.name, source, f"{where}.name")
    if not entry.low < entry.high:
        raise InputError(source, where, "low < high", f"{entry.low}, {entry.high}")
    if entry.low < d.low or entry.high > d.high:
        raise InputError(source, where, f"a box inside {entry.name}'s declared range "
                         f"[{d.low:g}, {d.high:g}]", f"[{entry.low:g}, {entry.high:g}]")
    return FreeParameter(entry.name, entry.low, entry.high, entry.group)


def hold(specs: list[TrialSpec], targets: Targets, values: dict[str, float],
         source: str = "values") -> tuple[list[TrialSpec], Targets]:
    """The world and the targets with ``values`` (``section.field`` -> value) set in
    every trial and in every study the targets name; a free parameter among them is
    held at its value (no longer fitted, one more degree of freedom).

    Each name is checked to be a settable numeric field and each value to lie inside
    its declared range, before anything is simulated; an error names ``source`` (what
    gave the values, e.g. a command-line option).
    """
    values = dict(values)
    for name, value in values.items():
        d = declared_number(name, source, name)
        if not (math.isfinite(value) and d.low <= value <= d.high):
            raise InputError(source, name, f"a number in {name}'s declared range "
                             f"[{d.low:g}, {d.high:g}]", f"{value:g}")
        if d.integer:
            if value != round(value):
                raise InputError(source, name, "a whole number", f"{value:g}")
            values[name] = int(round(value))
    if not values:
        return list(specs), targets
    studies = tuple(with_parameters(list(targets.studies), values)) if targets.studies else ()
    kept = tuple(p for p in targets.parameters if p.name not in values)
    return with_parameters(specs, values), replace(targets, parameters=kept, studies=studies)


def only_group(targets: Targets, group: str, source: str = "group") -> Targets:
    """The targets of one sub-model alone: its fitted targets and its free parameters
    (``group`` in the targets file); the other targets are reported only and the other
    free parameters keep the world's values (not fitted, not counted).

    A sub-model whose targets no other parameter moves (where leads go and where the
    late site is, say) is then judged on its own: no setting of the rest of the world
    can mend a misfit it shows. An unknown group, or one without both a fitted target
    and a free parameter, is one clear line naming ``source``.
    """
    groups = sorted({t.group for t in targets.targets if t.group}
                    | {p.group for p in targets.parameters if p.group})
    if group not in groups:
        raise InputError(source, None, "a group of the targets file ("
                         + (", ".join(groups) or "it names none") + ")", repr(group))
    fitted = tuple(replace(t, fit=t.fit and t.group == group) for t in targets.targets)
    free = tuple(p for p in targets.parameters if p.group == group)
    if not any(t.fit for t in fitted) or not free:
        raise InputError(source, None, "a group with a fitted target and a free parameter",
                         repr(group))
    return replace(targets, targets=fitted, parameters=free)


def load_targets(path: str | Path | None = None,
                 trial_names: tuple[str, ...] | None = None) -> Targets:
    """Read and validate a targets file (default: the shipped ``targets.toml``)."""
    path = Path(path) if path is not None else data_path("cohorts", "published/targets.toml")
    source = str(path)
    checked = validate(TargetsFile, read_toml(path), source)
    if trial_names is None:
        from strainsim.studies.sweep import five_trial_specs

        trial_names = tuple(s.name for s in five_trial_specs())
    from strainsim.studies.specs import load_spec

    studies = tuple(load_spec(name) for name in checked.studies)
    clash = [s.name for s in studies if s.name in trial_names]
    if clash or len({s.name for s in studies}) != len(studies):
        raise InputError(source, "studies", "studies named apart from each other and from "
                         "the world's trials", ", ".join(clash) or "a repeated name")
    names = tuple(trial_names) + tuple(s.name for s in studies)
    targets = tuple(_target(t, source, names, tuple(s.name for s in studies))
                    for t in checked.target)
    parameters = tuple(free_parameter(p, k, source) for k, p in enumerate(checked.parameter))
    if len({p.name for p in parameters}) != len(parameters):
        raise InputError(source, "parameter", "each parameter once")
    return Targets(targets, parameters, source, studies)


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


# where each use of the random numbers starts: calibration and validation never share
PURPOSES = ("calibration", "validation")


def purpose_seed(seed, purpose: str) -> np.random.SeedSequence:
    """The seed of one use of ``seed``: ``calibration`` and ``validation`` are two
    independent children of it, so a validation never reuses the fit's patients."""
    return children(as_seed_sequence(seed), len(PURPOSES))[PURPOSES.index(purpose)]


@dataclass(frozen=True)
class Evaluation:
    """Targets vs the simulated world.

    Attributes
    ----------
    values : dict of str to float
        The free parameters' values simulated.
    samples : ndarray, shape (replicates, targets)
        Each replicate's value of each target's statistic (reported scale).
    pooled : ndarray, shape (replicates, 4, 3)
        Each replicate's pooled estimate, CI low and CI high of nyha (an odds ratio),
        lvesv, lvedv and lvef.
    mean, low, high : ndarray, shape (targets,)
        Mean over replicates and its 2.5 and 97.5 percentiles.
    z : ndarray, shape (targets,)
        (simulated mean - published) / sqrt(SE^2 + simulation variance of the mean), on
        the fitting scale.
    covariance : ndarray, shape (fitted, fitted)
        The chi-square's covariance of the fitted targets (see :func:`covariance`).
    chi2 : float
        The goodness of fit of the fitted targets (``objective`` is the same number).
    df : int
        Fitted targets minus free parameters.
    heterogeneity : ndarray, shape (targets,)
        Each target's between-trial variance on the fitting scale
        (:func:`heterogeneity_variance`; zeros when the world has none).
    homogeneous : ndarray, shape (replicates, targets), optional
        The same replicates simulated without the trials' differences, which
        ``heterogeneity`` was taken from (None when it was not simulated): what
        :func:`chi2_mcse` leaves out with ``samples``.
    """

    values: dict
    samples: np.ndarray
    pooled: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    z: np.ndarray
    covariance: np.ndarray
    chi2: float
    df: int
    heterogeneity: np.ndarray | None = None
    homogeneous: np.ndarray | None = None

    @property
    def objective(self) -> float:
        return self.chi2

    @property
    def p(self) -> float:
        """Chi-square p value on ``df`` degrees of freedom (NaN when df < 1)."""
        from scipy.stats import chi2

        return float(chi2.sf(self.chi2, self.df)) if self.df >= 1 else float("nan")


def _arm_value(trials, studies, target: Target, arm: str) -> float:
    # "all": the world's trials together; otherwise the one trial or study named
    chosen = trials if target.trial == "all" else [
        t for t in (*trials, *studies) if t.spec.name == target.trial]
    sides = ("guided", "control") if arm == "both" else (
        ("guided",) if arm == "image_guided" else ("control",))
    arms = [getattr(t, side) for t in chosen for side in sides]
    get = QUANTITIES[target.quantity]
    weights = np.array([a.n for a in arms], float)
    with np.errstate(all="ignore"):
        values = np.array([get(a) for a in arms], float)
    keep = np.isfinite(values)
    if not keep.any():
        return float("nan")
    return float(np.dot(weights[keep], values[keep]) / weights[keep].sum())


def _statistic(trials, studies, pooled, target: Target) -> float:
    if target.statistic == "arm":
        return _arm_value(trials, studies, target, target.arm)
    if target.statistic == "contrast":
        return (_arm_value(trials, studies, target, "image_guided")
                - _arm_value(trials, studies, target, "control"))
    estimate, low, high = pooled[target.outcome].reported()
    return estimate if target.statistic == "pooled" else high - low


def simulate_samples(specs: list[TrialSpec], targets: tuple[Target, ...], replicates: int,
                     seed=0, method: str = "REML", test: str = "knha",
                     progress=None, studies=()) -> tuple[np.ndarray, np.ndarray]:
    """Each replicate's value of every target's statistic, and its pooled results.

    Replicate ``r`` simulates the five trials from ``seed`` -> child ``r`` -> one child
    per trial (as :func:`strainsim.studies.trials.virtual_meta_analysis`), and each of
    ``studies`` (outside the meta-analysis, not pooled) from the children after them.

    Returns
    -------
    samples : ndarray, shape (replicates, targets)
    pooled : ndarray, shape (replicates, 4, 3)
        Estimate, CI low and CI high of each outcome (nyha as an odds ratio).
    """
    out = np.empty((replicates, len(targets)))
    pooled_out = np.empty((replicates, len(OUTCOMES), 3))
    for r, rep_seed in enumerate(children(as_seed_sequence(seed), replicates)):
        everyone = list(specs) + list(studies)
        trials = [simulate_trial(spec, s) for spec, s in
                  zip(everyone, children(rep_seed, len(everyone)), strict=True)]
        trials, study_trials = trials[:len(specs)], trials[len(specs):]
        pooled = pool_trials(trials, method=method, test=test)
        for k, key in enumerate(OUTCOMES):
            pooled_out[r, k] = pooled[key].reported()
        for k, t in enumerate(targets):
            out[r, k] = _statistic(trials, study_trials, pooled, t)
        if progress is not None:
            progress(r + 1)
    return out, pooled_out


def _fit_scale(targets, samples: np.ndarray) -> np.ndarray:
    """Samples on the fitting scale (log for a pooled odds ratio)."""
    out = np.array(samples, dtype=float, copy=True)
    for k, t in enumerate(targets):
        if t.log_scale:
            out[..., k] = np.log(np.maximum(out[..., k], 1e-12))
    return out


def _published(targets) -> np.ndarray:
    return np.array([math.log(t.value) if t.log_scale else t.value for t in targets])


CORRELATION_SHRINKAGE = 5.0   # replicates' worth of shrinkage of the correlations


def covariance(targets, samples: np.ndarray,
               heterogeneity: np.ndarray | None = None,
               mean_replicates: int | None = None) -> np.ndarray:
    """The chi-square's covariance of ``targets`` from their simulated ``samples``.

    ``D C D + S / R``: the published SEs (``D`` diagonal), each widened by the world's
    between-trial variance of a single trial's statistic (``heterogeneity``, see
    :func:`heterogeneity_variance`: a published trial is one draw of the trials the world
    makes), the correlation of their errors ``C`` taken from the simulation between
    targets counted in some of the same patients (:meth:`Target.shares_patients`: a
    trial's contrasts with each other and with the pooled estimates it is part of; zero
    between trials, and between a study outside the meta-analysis and anything else),
    and the simulation's own variance of the mean (``S``, the
    replicates' covariance, over the ``R`` replicates the means come from:
    ``mean_replicates``, default all of ``samples``). The correlations are shrunk towards
    zero by ``CORRELATION_SHRINKAGE`` over the replicates they are estimated from. All on
    the fitting scale.
    """
    x = _fit_scale(targets, samples)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        col_mean = np.nanmean(x, axis=0)
    x = np.where(np.isfinite(x), x, col_mean)
    replicates = x.shape[0]
    s = np.atleast_2d(np.cov(x, rowvar=False)) if replicates > 1 else np.zeros(
        (x.shape[1], x.shape[1]))
    sd = np.sqrt(np.maximum(np.diag(s), 0.0))
    with np.errstate(all="ignore"):
        corr = s / np.outer(sd, sd)
    same = np.array([[a.shares_patients(b) for b in targets] for a in targets])
    corr = np.where(same & np.isfinite(corr), corr, 0.0)
    # shrunk towards independence by CORRELATION_SHRINKAGE / R (all the way with few
    # replicates): a correlation estimated from R replicates is noisy; and further, in
    # steps, should the correlations zeroed between unrelated targets leave the matrix
    # short of positive definite
    shrink = min(1.0, CORRELATION_SHRINKAGE / max(replicates, 1))
    np.fill_diagonal(corr, 0.0)
    while True:
        shrunk = (1.0 - shrink) * corr
        np.fill_diagonal(shrunk, 1.0)
        if shrink >= 1.0 or np.linalg.eigvalsh(shrunk).min() > 1e-6:
            break
        shrink = min(1.0, shrink + 0.05)
    corr = shrunk
    se = np.array([t.se for t in targets])
    if heterogeneity is not None:
        se = np.sqrt(se ** 2 + np.nan_to_num(np.maximum(heterogeneity, 0.0)))
    mean_replicates = replicates if mean_replicates is None else mean_replicates
    return np.outer(se, se) * corr + s / max(mean_replicates, 1)


def heterogeneity_variance(targets, samples: np.ndarray,
                           homogeneous: np.ndarray) -> np.ndarray:
    """Each target's between-trial variance on the fitting scale: the variance over
    replicates of ``samples - homogeneous``, the same replicates simulated with and
    without the trials' differences (:data:`HETEROGENEITY`; common random numbers: the
    difference is what they did to that trial). Zero where the published SE already spans the
    trials (:attr:`Target.between_trials`)."""
    d = _fit_scale(targets, samples) - _fit_scale(targets, homogeneous)
    out = np.zeros(len(targets))
    if d.shape[0] < 2:
        return out
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        var = np.nanvar(d, axis=0, ddof=1)
    for k, t in enumerate(targets):
        if t.between_trials and np.isfinite(var[k]):
            out[k] = var[k]
    return out


def goodness_of_fit(targets, samples, n_parameters: int,
                    heterogeneity: np.ndarray | None = None):
    """Mean, 95 % range, z, the fitted targets' covariance, chi-square and df
    (``heterogeneity``: each target's between-trial variance, :func:`covariance`)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(samples, axis=0)
        low, high = np.nanpercentile(samples, [2.5, 97.5], axis=0)
    fitted = np.array([t.fit for t in targets])
    cov_all = covariance(targets, samples, heterogeneity)
    centre = np.nanmean(_fit_scale(targets, samples), axis=0) if samples.shape[0] else mean
    residual = centre - _published(targets)
    z = residual / np.sqrt(np.diag(cov_all))
    cov = cov_all[np.ix_(fitted, fitted)]
    r = residual[fitted]
    if np.all(np.isfinite(r)) and r.size:
        chi2 = float(r @ np.linalg.solve(cov, r))
    else:   # a fitted statistic the world cannot produce
        chi2 = math.inf
    return mean, low, high, z, cov, chi2, int(fitted.sum()) - n_parameters


def evaluate(specs: list[TrialSpec], targets: Targets, values: dict[str, float] | None = None,
             replicates: int = 40, seed=0, progress=None,
             purpose: str = "validation", n_parameters: int | None = None, *,
             heterogeneity: bool = True) -> Evaluation:
    """Simulate ``replicates`` virtual meta-analyses with ``values`` and compare.

    ``purpose`` picks the seeds (:func:`purpose_seed`): a validation's patients are not
    the calibration's. ``n_parameters`` (default: the targets' free parameters) sets the
    degrees of freedom. With ``heterogeneity`` (and :func:`needs_homogeneous_run`) the
    same replicates are simulated once more without the trials' differences
    (:data:`HETEROGENEITY`), for each target's between-trial variance
    (:func:`heterogeneity_variance`); without, that variance is taken as zero.
    ``progress`` is called with the replicates simulated so far, the second run's
    counted on after the first's.
    """
    values = dict(values) if values is not None else current_values(specs,
                                                                     targets.parameters)
    world = with_parameters(specs, values)
    studies = with_parameters(list(targets.studies), values) if targets.studies else []
    seeds = purpose_seed(seed, purpose)
    samples, pooled = simulate_samples(world, targets.targets, replicates, seeds,
                                       progress=progress, studies=studies)
    variance, homogeneous = np.zeros(len(targets.targets)), None
    if heterogeneity and needs_homogeneous_run(world, targets, studies):
        # the same replicates without the trials' differences (common random numbers)
        calm = dict.fromkeys(HETEROGENEITY, 0.0)
        homogeneous, _ = simulate_samples(
            with_parameters(world, calm), targets.targets, replicates, seeds,
            progress=None if progress is None else lambda done: progress(replicates + done),
            studies=with_parameters(studies, calm) if studies else [])
        variance = heterogeneity_variance(targets.targets, samples, homogeneous)
    n_par = len(targets.parameters) if n_parameters is None else n_parameters
    mean, low, high, z, cov, chi2, df = goodness_of_fit(targets.targets, samples, n_par,
                                                        variance)
    return Evaluation(values, samples, pooled, mean, low, high, z, cov, chi2, df,
                      variance, homogeneous)


MCSE_GROUPS = 20   # groups of replicates the chi-square's Monte Carlo error is taken over


def chi2_mcse(targets, evaluation: Evaluation, groups: int = MCSE_GROUPS) -> float:
    """The Monte Carlo SE of ``evaluation``'s chi-square: a delete-a-group jackknife over
    its replicates.

    The chi-square is a simulated figure: its means, its correlations and each target's
    between-trial variance all come from the replicates, so another set of as many
    replicates gives another value. The replicates are dealt into ``groups`` groups
    (replicate ``r`` into group ``r mod groups``; as many groups as replicates when there
    are fewer); the statistic is recomputed as :func:`goodness_of_fit` does without each
    group in turn (with the runs without the trials' differences, ``homogeneous``, when
    the evaluation has them), and the jackknife variance is ``(G - 1) / G`` times the sum
    of the squared deviations of those values from their mean. A jackknife, not a
    bootstrap: a resample with repeated replicates misreads the correlations the
    statistic is built on (on the 0.10.0 world a bootstrap gave 1.5 times the spread of
    the chi-square over independent seeds, the jackknife 1.1 times; docs/calibration.md).
    Deterministic: no random numbers. NaN with fewer than two replicates or when the
    statistic is infinite.

    Examples
    --------
    >>> import numpy as np
    >>> from strainsim.studies.calibration import load_targets
    >>> targets = load_targets().targets
    >>> chosen = tuple(t for t in targets if t.fit)[:3]
    >>> rng = np.random.default_rng(0)
    >>> samples = np.array([t.value for t in chosen]) + 0.1 * rng.standard_normal((50, 3))
    >>> mean, low, high, z, cov, chi2, df = goodness_of_fit(chosen, samples, 0)
    >>> e = Evaluation({}, samples, np.zeros((50, 4, 3)), mean, low, high, z, cov, chi2, df)
    >>> bool(chi2_mcse(chosen, e) > 0)
    True
    """
    samples, homogeneous = evaluation.samples, evaluation.homogeneous
    replicates = samples.shape[0]
    if replicates < 2 or not math.isfinite(evaluation.chi2):
        return float("nan")
    count = min(int(groups), replicates)
    group = np.arange(replicates) % count
    stats = np.empty(count)
    for g in range(count):
        keep = group != g
        variance = (None if homogeneous is None else
                    heterogeneity_variance(targets, samples[keep], homogeneous[keep]))
        stats[g] = goodness_of_fit(targets, samples[keep], 0, variance)[5]
    if not np.all(np.isfinite(stats)):
        return float("nan")
    return float(math.sqrt((count - 1) / count * np.sum((stats - stats.mean()) ** 2)))


# how the world's trials differ: the centre and arm shifts of the ESV change, the arms'
# shifts of the EDV change (strainsim.model.outcomes.arm_shifts) and the centre's implant
# practice (strainsim.model.placement.centre_practice)
HETEROGENEITY = (*(f"outcomes.{name}" for name in SHIFT_SDS), "placement.centre_lateral_sd")


def needs_homogeneous_run(specs: list[TrialSpec], targets: Targets,
                          studies: list[TrialSpec] | None = None) -> bool:
    """Whether :func:`evaluate` runs the replicates again without the trials'
    differences: some target carries between-trial variance and some trial or study
    (default: the targets' studies) differs (:data:`HETEROGENEITY` above zero)."""
    def differs(spec):
        return any(getattr(getattr(spec, section), field) > 0
                   for section, field in (name.split(".", 1) for name in HETEROGENEITY))

    return (any(t.between_trials for t in targets.targets)
            and any(differs(spec) for spec in
                    (*specs, *(targets.studies if studies is None else studies))))


@dataclass(frozen=True)
class ParameterFit:
    """A fitted parameter, its standard error and whether the targets identify it.

    ``se`` is from the chi-square's curvature (``(J^T J)^-1`` of the whitened residuals,
    J by finite differences on common random numbers); a parameter is not identified
    when its SE is wider than half its box."""

    name: str
    value: float
    se: float
    low: float
    high: float
    identified: bool


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` found.

    Attributes
    ----------
    targets : Targets
    start, best : Evaluation
        The world before (the given starting values) and after the fit.
    parameters : tuple of ParameterFit
        The fitted values with their uncertainty.
    evaluations : int
        Objective evaluations used (finite-difference steps included).
    converged : bool
        Whether the optimizer met its tolerances within ``max_evals``.
    replicates, seed : int
    """

    targets: Targets
    start: Evaluation
    best: Evaluation
    parameters: tuple
    evaluations: int
    converged: bool
    replicates: int
    seed: int


def _covariance_replicates(replicates: int, covariance_replicates: int | None) -> int:
    # a fit's covariance comes from at least its means' replicates
    return max(replicates, covariance_replicates or replicates)


def _point(x) -> tuple:
    # an evaluation's cache key: the scaled parameters, rounded
    return tuple(np.round(np.asarray(x, float), 12))


class _Objective:
    """Whitened residuals of the fitted targets as a function of the parameters scaled
    to [0, 1] within their boxes, every evaluation on the same seeds."""

    def __init__(self, specs, targets, replicates, seed, progress, covariance_replicates=None):
        self.specs, self.targets, self.replicates, self.seed = specs, targets, replicates, seed
        self.covariance_replicates = _covariance_replicates(replicates, covariance_replicates)
        self.progress, self.count, self.seen, self.at_covariance = progress, 0, {}, {}
        params = targets.parameters
        self.lows = np.array([p.low for p in params])
        self.widths = np.array([p.high - p.low for p in params])
        self.fitted = np.array([t.fit for t in targets.targets])
        self.whiten = None
        self.given = {}   # covariance evaluations simulated once for several fits

    def start(self, initial: dict | None) -> np.ndarray:
        """The scaled point of ``initial`` (default: the specs' current values)."""
        params = self.targets.parameters
        initial = dict(initial) if initial is not None else current_values(self.specs,
                                                                           params)
        return np.clip((np.array([initial[p.name] for p in params]) - self.lows)
                       / self.widths, 0.0, 1.0)

    def reuse(self, x, evaluation: Evaluation, names: tuple[str, ...]) -> None:
        """Take the covariance at ``x`` from ``evaluation`` (:func:`start_evaluation`: the
        same point, replicates and seeds, over targets ``names``, a superset of these)
        instead of simulating it again."""
        values = self.values(x)
        if (evaluation.values != values
                or evaluation.samples.shape[0] != self.covariance_replicates):
            raise ValueError("the start evaluation is not this fit's start point")
        index = [names.index(t.name) for t in self.targets.targets]
        targets = self.targets.targets
        samples, variance = evaluation.samples[:, index], evaluation.heterogeneity[index]
        homogeneous = (None if evaluation.homogeneous is None
                       else evaluation.homogeneous[:, index])
        mean, low, high, z, cov, chi2, df = goodness_of_fit(
            targets, samples, len(self.targets.parameters), variance)
        self.given[_point(x)] = Evaluation(values, samples, evaluation.pooled, mean, low,
                                           high, z, cov, chi2, df, variance, homogeneous)

    def values(self, x) -> dict:
        return {p.name: float(self.lows[k] + self.widths[k] * min(max(x[k], 0.0), 1.0))
                for k, p in enumerate(self.targets.parameters)}

    def evaluation(self, x, full: bool = False) -> Evaluation:
        """The world at ``x``; ``full`` also with the between-trial variance (the
        covariance's; the residuals need only the means)."""
        point = _point(x)
        if not full and (point, True) in self.seen:   # the same replicates' means
            return self.seen[point, True]
        key = (point, full)
        if key not in self.seen:
            self.seen[key] = self._simulate(x, self.replicates, full)
        return self.seen[key]

    def _simulate(self, x, replicates: int, full: bool) -> Evaluation:
        # one evaluation on the calibration seeds, counted; the progress callback sees
        # its replicates as a fraction of an evaluation (a covariance point's hundreds of
        # replicates move the bar too)
        tick = None
        if self.progress is not None:
            runs = 2 if full and needs_homogeneous_run(self.specs, self.targets) else 1
            done, total = self.count, runs * replicates

            def tick(simulated):
                self.progress(done + simulated / total)
        evaluation = evaluate(self.specs, self.targets, self.values(x), replicates,
                              self.seed, progress=tick, purpose="calibration",
                              heterogeneity=full)
        self._counted()
        return evaluation

    def _counted(self) -> None:
        self.count += 1
        if self.progress is not None:
            self.progress(self.count)

    def use_covariance(self, x) -> Evaluation:
        """Whiten by the covariance at ``x`` (held fixed while the optimizer runs, so the
        objective changes only through the simulated means); the evaluation it is taken
        from: ``covariance_replicates`` replicates on the same calibration seeds (the
        first ``replicates`` of them are the means'), with the between-trial variance, the
        simulation's variance of the mean counted for the ``replicates`` the residuals'
        means come from."""
        point = _point(x)
        if point not in self.at_covariance:
            evaluation = self.given.pop(point, None)
            if evaluation is not None:   # an evaluation the fit uses, simulated elsewhere
                self._counted()
                if self.covariance_replicates == self.replicates:
                    self.seen[point, True] = evaluation   # the means' too
            elif self.covariance_replicates == self.replicates:
                evaluation = self.evaluation(x, full=True)
            else:
                evaluation = self._simulate(x, self.covariance_replicates, True)
            targets = self.targets.targets
            cov = covariance(targets, evaluation.samples, evaluation.heterogeneity,
                             mean_replicates=self.replicates)
            self.at_covariance[point] = evaluation, cov[np.ix_(self.fitted, self.fitted)]
        evaluation, cov = self.at_covariance[point]
        self.whiten = np.linalg.cholesky(cov)
        return evaluation

    def residuals(self, x) -> np.ndarray:
        e = self.evaluation(x)
        centre = np.nanmean(_fit_scale(self.targets.targets, e.samples), axis=0)
        r = (centre - _published(self.targets.targets))[self.fitted]
        r = np.where(np.isfinite(r), r, 1e3)
        from scipy.linalg import solve_triangular

        return solve_triangular(self.whiten, r, lower=True)


class SharedStart(NamedTuple):
    """The covariance evaluation at the shipped values, simulated once for fits that all
    start there (:func:`start_evaluation`): the evaluation and its targets' names."""

    evaluation: Evaluation
    names: tuple


def start_evaluation(specs: list[TrialSpec], targets: Targets, covariance_replicates: int,
                     seed: int = 0, values: dict | None = None,
                     progress=None) -> SharedStart:
    """The evaluation a fit from ``values`` (default: the shipped ones) takes its start's
    covariance from (``covariance_replicates`` replicates on the calibration seeds, with
    the between-trial variance), over all of ``targets``: :func:`calibrate`,
    :func:`uncertainty_at` and :func:`leave_one_trial_out` with as many covariance
    replicates, on these targets or a subset of them, reuse it instead of each simulating
    it again. ``progress`` as in :func:`evaluate`."""
    objective = _Objective(specs, targets, covariance_replicates, seed, None)
    x = objective.start(values)
    evaluation = evaluate(specs, targets, objective.values(x), covariance_replicates, seed,
                          progress=progress, purpose="calibration")
    return SharedStart(evaluation, tuple(t.name for t in targets.targets))


DIFF_STEP = 0.05   # finite-difference step, as a share of each parameter's box

# replicates a fit's means come from, and those a validation and a fit's covariance come
# from: at 1000 the chi-square's Monte Carlo error (chi2_mcse) is about 1.6 on the
# shipped world, at 200 about 3.7, and a fit to means of 40 replicates followed their
# noise (docs/calibration.md)
FIT_REPLICATES = 200
COVARIANCE_REPLICATES = 1000
# a leave-one-trial-out refit's means: one fit per trial, so fewer (its covariance is still
# from COVARIANCE_REPLICATES)
REFIT_REPLICATES = 40


def parameter_uncertainty(objective: _Objective, x: np.ndarray,
                          jacobian: np.ndarray | None = None) -> tuple:
    """Each parameter's SE from the whitened residuals' Jacobian at ``x`` (forward
    differences of :data:`DIFF_STEP` of the box, towards the box's inside)."""
    x = np.asarray(x, float)
    if jacobian is None:
        base = objective.residuals(x)
        jacobian = np.empty((base.size, x.size))
        for k in range(x.size):
            step = DIFF_STEP if x[k] + DIFF_STEP <= 1.0 else -DIFF_STEP
            shifted = x.copy()
            shifted[k] += step
            jacobian[:, k] = (objective.residuals(shifted) - base) / step
    information = jacobian.T @ jacobian
    cov = np.linalg.pinv(information)
    se_scaled = np.sqrt(np.maximum(np.diag(cov), 0.0))
    # an unidentified direction: (almost) no change of the residuals
    flat = np.abs(jacobian).sum(axis=0) < 1e-9
    out = []
    values = objective.values(x)
    for k, p in enumerate(objective.targets.parameters):
        se = float(objective.widths[k] * se_scaled[k]) if not flat[k] else math.inf
        out.append(ParameterFit(p.name, values[p.name], se, p.low, p.high,
                                bool(not flat[k] and se_scaled[k] <= 0.5)))
    return tuple(out)


def calibrate(specs: list[TrialSpec], targets: Targets, replicates: int = FIT_REPLICATES,
              seed: int = 0,
              max_evals: int = 300, start: dict[str, float] | None = None,
              progress=None, covariance_replicates: int | None = None,
              *, shared_start: SharedStart | None = None) -> CalibrationResult:
    """Fit the free parameters to the fitted targets: minimum chi-square.

    :func:`scipy.optimize.least_squares` (trust region reflective, inside the boxes) on
    the fitted targets' residuals whitened by :func:`covariance`, from ``start``
    (default: the specs' current values), every evaluation on the same ``replicates``
    calibration seeds (common random numbers), the Jacobian by finite differences of
    :data:`DIFF_STEP` of each box. The covariance is taken at the start and again at the
    first optimum, from which the fit is repeated once, each time from
    ``covariance_replicates`` replicates (default ``replicates``; more make its
    correlations those a validation of as many replicates sees) on the same seeds;
    ``start`` and ``best`` are those evaluations. ``progress`` is called with the number
    of evaluations done (fractional while one is simulated). ``shared_start``
    (:func:`start_evaluation`, at ``start``) gives the start's covariance without
    simulating it again.
    """
    from scipy.optimize import least_squares

    if not targets.parameters:
        raise InputError(targets.source, "parameter", "at least one [[parameter]] to fit")
    fitted = sum(t.fit for t in targets.targets)
    if fitted < len(targets.parameters):
        raise InputError(targets.source, "target", f"at least as many fitted targets as the "
                         f"{len(targets.parameters)} free parameters", str(fitted))
    objective = _Objective(specs, targets, replicates, seed, progress, covariance_replicates)
    params = targets.parameters
    x = objective.start(start)
    if shared_start is not None:
        objective.reuse(x, shared_start.evaluation, shared_start.names)
    first = objective.use_covariance(x)
    converged = False
    for _ in range(2):
        left = max_evals - objective.count
        if left <= len(params) + 1:   # not even one Jacobian left
            break
        objective.use_covariance(x)
        budget = left // (len(params) + 1)
        result = least_squares(objective.residuals, x, bounds=(0.0, 1.0), method="trf",
                               diff_step=DIFF_STEP, x_scale=1.0, max_nfev=budget,
                               xtol=1e-3, ftol=1e-4)
        converged = bool(result.status > 0)
        x = np.clip(result.x, 0.0, 1.0)
    best = objective.use_covariance(x)
    parameters = parameter_uncertainty(objective, x)
    return CalibrationResult(targets, first, best, parameters, objective.count, converged,
                             replicates, seed)


def uncertainty_at(specs: list[TrialSpec], targets: Targets, values: dict | None = None,
                   replicates: int = FIT_REPLICATES, seed: int = 0, progress=None,
                   covariance_replicates: int | None = None,
                   *, shared_start: SharedStart | None = None) -> tuple:
    """The free parameters' SEs and identification at ``values`` (default: the shipped
    ones), on the calibration seeds (:func:`parameter_uncertainty`; the covariance from
    ``covariance_replicates``, as in :func:`calibrate`, or from ``shared_start``)."""
    objective = _Objective(specs, targets, replicates, seed, progress, covariance_replicates)
    x = objective.start(values)
    if shared_start is not None:
        objective.reuse(x, shared_start.evaluation, shared_start.names)
    objective.use_covariance(x)
    return parameter_uncertainty(objective, x)


def trials_with_targets(targets: Targets) -> list[str]:
    """The trials that have fitted targets of their own (in the order they appear)."""
    out = []
    for t in targets.targets:
        if t.fit and t.trial not in (None, "all") and t.trial not in out:
            out.append(t.trial)
    return out


@dataclass(frozen=True)
class LeftOut:
    """One leave-one-trial-out refit: the trial left out, the refitted values and the
    prediction of its own targets (names, published, predicted, z)."""

    trial: str
    values: dict
    chi2: float
    df: int
    targets: tuple
    published: np.ndarray
    predicted: np.ndarray
    z: np.ndarray


def check_leave_one_trial_out(specs: list[TrialSpec], targets: Targets) -> list[str]:
    """The trials a leave-one-trial-out run leaves out in turn; InputError unless the
    world has at least two trials and some with targets of their own."""
    names = trials_with_targets(targets)
    if len({s.name for s in specs}) < 2 or not names:
        raise InputError("option --leave-one-trial-out", None,
                         "a world of at least two trials with targets of their own",
                         f"{len(specs)} trial(s)")
    return names


def leave_one_trial_out(specs: list[TrialSpec], targets: Targets,
                        replicates: int = REFIT_REPLICATES,
                        seed: int = 0, max_evals: int = 300, progress=None,
                        covariance_replicates: int | None = None,
                        *, shared_start: SharedStart | None = None) -> list[LeftOut]:
    """Refit without each trial's own targets and predict them out of sample.

    For every trial with fitted targets of its own, the targets of that trial are
    dropped, the free parameters refitted (:func:`calibrate`, calibration seeds, from
    the shipped values; ``covariance_replicates`` as there), and the dropped targets
    predicted on the validation seeds: z
    is the prediction's miss over sqrt(SE^2 + simulation variance). The pooled targets
    stay in every refit (they include all five trials; see docs/calibration.md). Every
    refit starts from the same point, so its covariance there is simulated once
    (:func:`start_evaluation`, or ``shared_start`` when given) for all of them.
    """
    names = check_leave_one_trial_out(specs, targets)
    if shared_start is None:
        shared_start = start_evaluation(
            specs, targets, _covariance_replicates(replicates, covariance_replicates), seed)
    out = []
    for k, name in enumerate(names):
        kept = replace(targets, targets=tuple(t for t in targets.targets
                                              if t.trial != name))
        fit = calibrate(specs, kept, replicates=replicates, seed=seed, max_evals=max_evals,
                        covariance_replicates=covariance_replicates,
                        shared_start=shared_start)
        own = tuple(t for t in targets.targets if t.trial == name and t.fit)
        check = evaluate(specs, replace(targets, targets=own), fit.best.values, replicates,
                         seed, n_parameters=0)
        out.append(LeftOut(name, fit.best.values, fit.best.chi2, fit.best.df,
                           tuple(t.name for t in own), np.array([t.value for t in own]),
                           check.mean, check.z))
        if progress is not None:
            progress(k + 1)
    return out


PATTERN = "NYHA benefit significant; LVESV, LVEDV and LVEF not"


def posterior_predictive(evaluation: Evaluation, published: dict | None = None) -> dict:
    """How often the simulated meta-analyses show the published pattern, and where each
    published pooled estimate falls among the simulated ones.

    The pattern: the pooled NYHA odds ratio's CI above 1, and the LVESV, LVEDV and LVEF
    CIs each containing 0 (as published). ``published`` maps outcome -> estimate
    (default: the meta-analysis's, ``cohorts/published/meta_analysis.toml``).
    """
    if published is None:
        from strainsim.studies.sweep import published_targets

        published = {k: v[0] for k, v in published_targets().items()}
    pooled = evaluation.pooled
    nyha_benefit = pooled[:, 0, 1] > 1.0
    echo_null = np.all((pooled[:, 1:, 1] <= 0.0) & (pooled[:, 1:, 2] >= 0.0), axis=1)
    pattern = nyha_benefit & echo_null
    replicates = pooled.shape[0]
    share = float(pattern.mean()) if replicates else float("nan")
    quantiles = {key: float(np.mean(pooled[:, k, 0] <= published[key]))
                 for k, key in enumerate(OUTCOMES) if key in published}
    return {"pattern": PATTERN, "pattern_share": share,
            "pattern_share_mcse": math.sqrt(share * (1 - share) / replicates)
            if replicates else float("nan"),
            "replicates": replicates, "published_quantile": quantiles,
            "simulated_mean": {key: float(np.mean(pooled[:, k, 0]))
                               for k, key in enumerate(OUTCOMES)}}


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
