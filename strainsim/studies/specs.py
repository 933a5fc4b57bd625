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

Every section but ``[trial]`` is optional; a missing key takes the default of
the dataclass behind the section. An unknown section or key, a value of the
wrong type or out of range gives one :class:`~strainsim.errors.InputError`
naming the file, the key and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from strainsim.errors import InputError
from strainsim.measure.speckle import SpeckleParams
from strainsim.model.activation import ActivationParams
from strainsim.model.curves import FPS_RANGE, CurveParams
from strainsim.model.outcomes import OutcomeParams
from strainsim.model.placement import STRATEGIES, PlacementParams
from strainsim.model.population import PopulationParams
from strainsim.resources import data_path, read_toml

__all__ = ["TrialSpec", "load_spec", "spec_from_dict", "shipped_specs"]

INF = float("inf")


@dataclass(frozen=True)
class TrialSpec:
    """Everything needed to simulate one two-arm trial.

    Attributes
    ----------
    name, description, source : str
    n_image_guided, n_control : int
        Patients randomized to each arm.
    follow_up_months : float
    population, activation, curves, placement, outcomes : parameter dataclasses
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
    n_image_guided: int
    n_control: int
    follow_up_months: float = 6.0
    description: str = ""
    source: str = ""
    population: PopulationParams = field(default_factory=PopulationParams)
    activation: ActivationParams = field(default_factory=ActivationParams)
    curves: CurveParams = field(default_factory=CurveParams)
    placement: PlacementParams = field(default_factory=PlacementParams)
    outcomes: OutcomeParams = field(default_factory=OutcomeParams)
    smooth_ms: float = 50.0
    scar_threshold_pct: float = 10.0
    fidelity: str = "curves"
    speckle: SpeckleParams = field(default_factory=SpeckleParams)

    @property
    def n_total(self) -> int:
        """Patients in both arms."""
        return self.n_image_guided + self.n_control


# (type, low, high) per key; str types list their choices
_NUM = (float, -INF, INF)
_SCHEMA = {
    "trial": {
        "name": (str, None, None), "description": (str, None, None), "source": (str, None, None),
        "n_image_guided": (int, 2, 10_000_000), "n_control": (int, 2, 10_000_000),
        "follow_up_months": (float, 1, 120),
    },
    "population": {
        "age_mean": (float, 18, 100), "age_sd": (float, 0, 30),
        "male_fraction": (float, 0, 1), "ischemic_fraction": (float, 0, 1),
        "ischemic_scar_segments_mean": (float, 0, 17),
        "edv_mean_ml": (float, 80, 600), "edv_sd_ml": (float, 0, 300),
        "ef_mean_pct": (float, 10, 35), "ef_sd_pct": (float, 0, 20),
    },
    "activation": {
        "model": (("pattern", "eikonal"), None, None), "onset_ms": (float, 0, 200),
        "delay_mean_ms": (float, 0, 400), "delay_sd_ms": (float, 0, 200),
        "late_angle_deg": (float, 0, 360), "late_angle_kappa": (float, 0, 100),
        "base_apex_ms": (float, 0, 200), "jitter_sd_ms": (float, 0, 200),
        "scar_delay_ms": (float, 0, 200), "velocity_mm_per_ms": (float, 0.05, 5),
        "velocity_sd": (float, 0, 2), "bullseye_radius_mm": (float, 5, 100),
        "scar_conduction": (float, 0, 1), "grid_size": (int, 16, 512),
    },
    "measurement": {
        "strain": (("radial", "longitudinal"), None, None), "fps": (float, *FPS_RANGE),
        "cycle_ms": (float, 300, 3000), "noise_sd_pct": (float, 0, 50),
        "noise_corr_ms": (float, 1, 1000), "drift_sd_pct": (float, 0, 50),
        "viable_amplitude_pct": (float, 0.1, 100), "scar_amplitude_pct": (float, 0, 100),
        "smooth_ms": (float, 0, 1000), "scar_threshold_pct": (float, 0, 100),
        "fidelity": (("curves", "speckle"), None, None), "snr_db": (float, -10, 80),
    },
    "placement": {
        "image_guided": (STRATEGIES, None, None), "control": (STRATEGIES, None, None),
        "aim_success": (float, 0, 1), "miss_nearest_share": (float, 0, 1),
        "qlv_error_sd_ms": (float, 0, 200),
        "concordance": (float, 0, 1),
    },
    "outcomes": {name: _NUM for name in (
        "base_esv_change_pct", "concordant_extra_pct", "adjacent_extra_pct",
        "scar_at_lead_pct", "ischemic_pct", "male_pct", "nyha_intercept", "nyha_slope")}
    | {"noise_sd_pct": (float, 0, 100), "edv_fraction": (float, 0, 1.5),
       "edv_noise_sd_pct": (float, 0, 100), "dyssynchrony_ref_ms": (float, 1, 1000),
       "scar_burden_pct": (float, -100, 100), "centre_sd_pct": (float, 0, 100),
       "arm_sd_pct": (float, 0, 100)},
}
_CURVE_KEYS = {"strain": "kind", "fps": "fps", "cycle_ms": "cycle_ms",
               "noise_sd_pct": "noise_sd_pct", "noise_corr_ms": "noise_corr_ms",
               "drift_sd_pct": "drift_sd_pct", "viable_amplitude_pct": "viable_amplitude_pct",
               "scar_amplitude_pct": "scar_amplitude_pct"}


def _check_value(source, where, value, kind, low, high):
    if isinstance(kind, tuple):
        if value not in kind:
            raise InputError(source, where, "one of " + ", ".join(repr(k) for k in kind),
                             repr(value))
        return value
    if kind is str:
        if not isinstance(value, str):
            raise InputError(source, where, "a string", repr(value))
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(source, where, "a whole number", repr(value))
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, where, "a number", repr(value))
    if value != value or value in (INF, -INF):
        raise InputError(source, where, "a finite number", repr(value))
    if not low <= value <= high:
        raise InputError(source, where, f"a value in [{low:g}, {high:g}]", repr(value))
    return kind(value)


def spec_from_dict(raw: dict, source: str = "<spec>") -> TrialSpec:
    """Validate a parsed spec and build a :class:`TrialSpec`."""
    values = {}
    for section, body in raw.items():
        if section not in _SCHEMA:
            raise InputError(source, f"[{section}]", "one of the sections "
                             + ", ".join(f"[{s}]" for s in _SCHEMA))
        if not isinstance(body, dict):
            raise InputError(source, f"[{section}]", "a table of keys", repr(body))
        for key, value in body.items():
            where = f"{section}.{key}"
            if key not in _SCHEMA[section]:
                raise InputError(source, where, f"one of the [{section}] keys "
                                 + ", ".join(_SCHEMA[section]))
            values[(section, key)] = _check_value(source, where, value, *_SCHEMA[section][key])
    for key in ("name", "n_image_guided", "n_control"):
        if ("trial", key) not in values:
            raise InputError(source, f"trial.{key}", "a value (required)")

    def section(name):
        return {k: v for (s, k), v in values.items() if s == name}

    trial = section("trial")
    measurement = section("measurement")
    try:
        curves = CurveParams(**{_CURVE_KEYS[k]: v for k, v in measurement.items()
                                if k in _CURVE_KEYS})
        return TrialSpec(
            population=replace(PopulationParams(), **section("population")),
            activation=replace(ActivationParams(), **section("activation")),
            curves=curves,
            placement=replace(PlacementParams(), **section("placement")),
            outcomes=replace(OutcomeParams(), **section("outcomes")),
            smooth_ms=measurement.get("smooth_ms", 50.0),
            scar_threshold_pct=measurement.get("scar_threshold_pct", 10.0),
            fidelity=measurement.get("fidelity", "curves"),
            speckle=replace(SpeckleParams(), **({"snr_db": measurement["snr_db"]}
                                                if "snr_db" in measurement else {})),
            **trial)
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


# every field of the parameter classes is reachable from the schema (checked by the tests)
_SECTION_CLASSES = {"population": PopulationParams, "activation": ActivationParams,
                    "placement": PlacementParams, "outcomes": OutcomeParams}
_UNSET = {"activation": {"scar"}, "placement": {"empirical_order"}}


def _schema_gaps() -> dict[str, set[str]]:
    gaps = {}
    for name, cls in _SECTION_CLASSES.items():
        missing = {f.name for f in fields(cls)} - set(_SCHEMA[name]) - _UNSET.get(name, set())
        if missing:
            gaps[name] = missing
    return gaps
