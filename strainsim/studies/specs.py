"""Cohort and trial specification files (TOML), validated on load.

A spec names a trial design and the parameters of every pipeline stage::

    [trial]
    name = "TARGET-like"
    n_image_guided = 110
    n_control = 110

    [population]          # strainsim.model.population.PopulationParams
    age_mean = 72.0
    ischemic_fraction = 0.56

    [activation]          # strainsim.model.activation.ActivationParams
    [measurement]         # strain kind, frame rate, noise; engine smoothing and scar threshold
    [placement]           # strainsim.model.placement.PlacementParams: each arm's strategy
                          # (image_guided = "ste", control = "empirical", ...)
    [outcomes]            # strainsim.model.outcomes.OutcomeParams
    [pacing]              # strainsim.model.pacing.PacingParams: RV site, conduction

Every section but ``[trial]`` is optional; a missing key takes the default of
the parameter class behind it. The schema is built from the parameter classes'
declarations (:mod:`strainsim.params`: unit, range, source), validated by
pydantic, and exported as a JSON Schema (``strainsim spec-schema``, shipped as
``cohorts/spec.schema.json``) so editors can check spec files. An unknown
section or key (with the nearest valid name), a value of the wrong type, out of
its range or not finite, and contradictory settings give one
:class:`~strainsim.errors.InputError` naming the file, the field path, the value
and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, create_model

from strainsim.errors import InputError
from strainsim.measure.speckle import SpeckleParams
from strainsim.model.activation import ActivationParams, ScarParams
from strainsim.model.curves import CurveParams
from strainsim.model.outcomes import OutcomeParams
from strainsim.model.pacing import PacingParams
from strainsim.model.placement import PlacementParams
from strainsim.model.population import PopulationParams
from strainsim.params import Declaration, check_declared, choice, declarations, quantity
from strainsim.resources import data_path, read_toml
from strainsim.schema import STRICT, known_keys, nearest_key, validate

__all__ = ["TrialSpec", "load_spec", "spec_from_dict", "shipped_specs", "spec_json_schema",
           "SECTIONS"]


@dataclass(frozen=True)
class TrialSpec:
    """Everything needed to simulate one two-arm trial.

    Attributes
    ----------
    name, description, source : str
    n_image_guided, n_control : int
        Patients randomized to each arm.
    follow_up_months : float
    population, activation, curves, placement, outcomes, pacing : parameter dataclasses
    smooth_ms, scar_threshold_pct : float
        Engine settings used to measure the target.
    fidelity : {"curves", "speckle"}
        How strain is "measured": the fast curve model with its calibrated
        tracking noise, or B-mode frames rendered and speckle-tracked
        (:mod:`strainsim.measure.speckle`; about 100x slower).
    speckle : SpeckleParams
        Imaging settings for ``fidelity = "speckle"``.
    """

    name: str
    n_image_guided: int = quantity(None, unit="patients", low=2, high=10_000_000,
                                   doc="Patients randomized to the image-guided arm.",
                                   integer=True)
    n_control: int = quantity(None, unit="patients", low=2, high=10_000_000,
                              doc="Patients randomized to the control arm.", integer=True)
    follow_up_months: float = quantity(6.0, unit="months", low=1, high=120,
                                       doc="Follow-up of the outcomes.",
                                       source="meta-analysis: 6-month outcomes")
    description: str = ""
    source: str = ""
    population: PopulationParams = field(default_factory=PopulationParams)
    activation: ActivationParams = field(default_factory=ActivationParams)
    curves: CurveParams = field(default_factory=CurveParams)
    placement: PlacementParams = field(default_factory=PlacementParams)
    outcomes: OutcomeParams = field(default_factory=OutcomeParams)
    pacing: PacingParams = field(default_factory=PacingParams)
    smooth_ms: float = quantity(50.0, unit="ms", low=0, high=1000,
                                doc="Width of the engine's moving average.")
    scar_threshold_pct: float = quantity(10.0, unit="%", low=0, high=100,
                                         doc="Peak strain below which a segment is scar.",
                                         source="trials: peak radial strain < 10 %")
    fidelity: str = choice("curves", ("curves", "speckle"),
                           doc="Strain measured by the curve model or by speckle tracking.")
    speckle: SpeckleParams = field(default_factory=SpeckleParams)

    def __post_init__(self):
        check_declared(self)
        if self.curves.scar_amplitude_pct >= self.scar_threshold_pct:
            raise ValueError(f"measurement.scar_amplitude_pct ({self.curves.scar_amplitude_pct:g} %) "
                             f"must be below the scar threshold ({self.scar_threshold_pct:g} %): "
                             "scar would be measured viable")
        if self.curves.viable_amplitude_pct <= self.scar_threshold_pct:
            raise ValueError(f"measurement.viable_amplitude_pct ({self.curves.viable_amplitude_pct:g} %) "
                             f"must be above the scar threshold ({self.scar_threshold_pct:g} %): "
                             "viable segments would be measured scar")

    @property
    def n_total(self) -> int:
        """Patients in both arms."""
        return self.n_image_guided + self.n_control


# ---------------------------------------------------------------------------------------
# the schema: each section's keys and where they go, read from the declarations
# ---------------------------------------------------------------------------------------
# section -> key -> (parameter class, attribute); the measurement section gathers the
# curves, the engine settings and the speckle SNR
SECTIONS: dict[str, dict[str, tuple[type, str]]] = {
    "trial": {k: (TrialSpec, k) for k in ("n_image_guided", "n_control", "follow_up_months")},
    "population": {k: (PopulationParams, k) for k in declarations(PopulationParams)},
    "activation": {k: (ActivationParams, k) for k, d in declarations(ActivationParams).items()
                   if d.settable}
    | {"nonischemic_scar_probability": (ScarParams, "nonischemic_scar_probability")},
    "measurement": {("strain" if k == "kind" else k): (CurveParams, k)
                    for k in declarations(CurveParams)}
    | {k: (TrialSpec, k) for k in ("smooth_ms", "scar_threshold_pct", "fidelity")}
    | {"snr_db": (SpeckleParams, "snr_db")},
    "placement": {k: (PlacementParams, k) for k, d in declarations(PlacementParams).items()
                  if d.settable},
    "outcomes": {k: (OutcomeParams, k) for k in declarations(OutcomeParams)},
    "pacing": {k: (PacingParams, k) for k in declarations(PacingParams)},
}
_TEXT = ("name", "description", "source")


def _declaration(section: str, key: str) -> Declaration:
    cls, attr = SECTIONS[section][key]
    return declarations(cls)[attr]


def _default(cls, attr):
    if cls is TrialSpec:
        return TrialSpec.__dataclass_fields__[attr].default
    return getattr(cls(), attr)


def _pydantic_field(section: str, key: str):
    cls, attr = SECTIONS[section][key]
    d = declarations(cls)[attr]
    extra = {"unit": d.unit, "source": d.source}
    default = _default(cls, attr)
    required = section == "trial" and key in ("n_image_guided", "n_control")
    if d.choices is not None:
        kind = Literal[d.choices]
        return kind, Field(... if required else default, description=d.doc,
                           json_schema_extra={"source": d.source})
    kind = int if d.integer else float
    if d.optional:
        kind = kind | None
    return kind, Field(... if required else default, ge=d.low, le=d.high, description=d.doc,
                       json_schema_extra=extra)


def _section_model(section: str) -> type[BaseModel]:
    fields = {key: _pydantic_field(section, key) for key in SECTIONS[section]}
    if section == "trial":
        fields = {"name": (str, Field(..., min_length=1, description="The trial's name.")),
                  "description": (str, ""), "source": (str, "")} | fields
    return create_model(f"{section.title()}Section", __config__=STRICT, **fields)


_MODELS = {section: _section_model(section) for section in SECTIONS}
SpecModel = create_model(
    "StrainsimSpec", __config__=STRICT,
    **{section: (model, ...) if section == "trial" else (model | None, None)
       for section, model in _MODELS.items()})
SpecModel.__doc__ = "A strainsim trial spec (TOML): one table per pipeline stage."


def spec_json_schema() -> dict:
    """The JSON Schema of the spec format, from the declarations."""
    schema = SpecModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "strainsim trial spec"
    return schema


def _where(loc) -> str:
    section, *rest = [str(x) for x in loc]
    return f"[{section}]" if not rest else f"{section}.{'.'.join(rest)}"


def _expected(error) -> str | None:
    """Spec-specific descriptions: the sections, and each declared key's range and unit
    (None: the shared description)."""
    loc = [str(x) for x in error["loc"]]
    if error["type"] == "extra_forbidden" and len(loc) == 1:
        close = nearest_key(loc[0], SECTIONS)
        hint = f" (did you mean [{close}]?)" if close else ""
        return "one of the sections " + ", ".join(f"[{s}]" for s in SECTIONS) + hint
    if error["type"] == "extra_forbidden":
        known = known_keys(SpecModel, error["loc"])
        close = nearest_key(loc[-1], known)
        hint = f"did you mean {loc[0]}.{close}? " if close else ""
        return f"a known key ({hint}keys of [{loc[0]}]: {', '.join(known)})"
    if (error["type"] != "missing" and len(loc) == 2 and loc[0] in SECTIONS
            and loc[1] in SECTIONS[loc[0]]):
        d = _declaration(loc[0], loc[1])
        if d.choices is not None:
            return "one of " + ", ".join(repr(c) for c in d.choices)
        unit = f" {d.unit}" if d.unit and d.unit != "fraction" else ""
        number = "a whole number" if d.integer else "a finite number"
        return f"{number} in [{d.low:g}, {d.high:g}]{unit}"
    return None


def spec_from_dict(raw: dict, source: str = "<spec>") -> TrialSpec:
    """Validate a parsed spec and build a :class:`TrialSpec`."""
    if not isinstance(raw, dict):
        raise InputError(source, None, "a table of sections", repr(raw))
    checked = validate(SpecModel, raw, source, expected=_expected, where=_where)
    given = checked.model_dump(exclude_unset=True, exclude_none=False)

    def values(section, cls):
        out = {}
        for key, value in given.get(section, {}).items():
            target, attr = SECTIONS[section].get(key, (None, key))
            if target is cls:
                out[attr] = value
        return out

    try:
        activation = replace(ActivationParams(), **values("activation", ActivationParams))
        scar = values("activation", ScarParams)
        if scar:
            activation = replace(activation, scar=replace(activation.scar, **scar))
        trial = given["trial"]
        return TrialSpec(
            name=trial["name"], description=trial.get("description", ""),
            source=trial.get("source", ""),
            population=replace(PopulationParams(), **values("population", PopulationParams)),
            activation=activation,
            curves=replace(CurveParams(), **values("measurement", CurveParams)),
            placement=replace(PlacementParams(), **values("placement", PlacementParams)),
            outcomes=replace(OutcomeParams(), **values("outcomes", OutcomeParams)),
            pacing=replace(PacingParams(), **values("pacing", PacingParams)),
            speckle=replace(SpeckleParams(), **values("measurement", SpeckleParams)),
            **values("trial", TrialSpec), **values("measurement", TrialSpec))
    except ValueError as exc:  # a combination the parameter classes refuse
        raise InputError(source, None, "consistent parameters", str(exc)) from None


def load_spec(path: str | Path) -> TrialSpec:
    """Load and validate a spec file; a bare name (``"target"``) means a shipped spec."""
    path = Path(path)
    if not path.exists() and path.suffix == "" and not path.parent.parts:
        shipped = data_path("cohorts", f"{path.name}.toml")
        if shipped.exists():
            path = shipped
    return spec_from_dict(read_toml(path), str(path))


def shipped_specs() -> list[str]:
    """Names of the trial specs shipped in ``cohorts/``."""
    return sorted(p.stem for p in data_path("cohorts").glob("*.toml"))


def schema_text() -> str:
    """The JSON Schema as shipped in ``cohorts/spec.schema.json``."""
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
