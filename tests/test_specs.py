"""One declared schema per input: the spec format, read from the parameter classes'
declarations, validated by pydantic, exported as JSON Schema, and its errors one line."""

import dataclasses
import json
import math

import pytest

from strainsim.errors import InputError
from strainsim.measure.speckle import SpeckleParams
from strainsim.model.activation import ActivationParams, ScarParams
from strainsim.model.curves import CurveParams
from strainsim.model.outcomes import OutcomeParams
from strainsim.model.pacing import PacingParams
from strainsim.model.placement import PlacementParams
from strainsim.model.population import PopulationParams, activation_for
from strainsim.params import declarations
from strainsim.resources import data_path
from strainsim.studies.specs import SECTIONS, TrialSpec, schema_text, spec_from_dict

TRIAL = {"name": "x", "n_image_guided": 10, "n_control": 10}
CLASSES = (PopulationParams, ActivationParams, ScarParams, CurveParams, PlacementParams,
           OutcomeParams, PacingParams, TrialSpec)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_parameter_is_declared_and_settable_or_documented_fixed(cls):
    reachable = {(c, attr) for keys in SECTIONS.values() for c, attr in keys.values()}
    nested = {"population", "activation", "curves", "placement", "outcomes", "pacing", "speckle",
              "name", "description", "source"}
    for f in dataclasses.fields(cls):
        if cls is TrialSpec and f.name in nested:
            continue
        d = declarations(cls).get(f.name)
        assert d is not None, f"{cls.__name__}.{f.name} has no declaration"
        assert d.doc, f.name
        if d.settable and cls is not ScarParams or f.name == "nonischemic_scar_probability":
            assert (cls, f.name) in reachable, f"{cls.__name__}.{f.name} not in a spec section"
    # ScarParams' ischemic settings are the population's (documented, checked below)
    assert (SpeckleParams, "snr_db") in reachable


@pytest.mark.parametrize("raw, fragment", [
    ({"outcomes": {"base_esv_change_pct": 1e300}},
     "outcomes.base_esv_change_pct: expected a finite number in [-100, 100] %, found 1e+300"),
    ({"trial": TRIAL | {"n_control": -5}},
     "trial.n_control: expected a whole number in [2, 1e+07] patients, found -5"),
    ({"population": {"male_fraction": 1.5}},
     "population.male_fraction: expected a finite number in [0, 1], found 1.5"),
    ({"outcomes": {"nyha_slope": math.nan}}, "outcomes.nyha_slope: expected a finite number"),
    ({"outcomes": {"noise_sd_pct": math.inf}}, "outcomes.noise_sd_pct: expected a finite"),
    ({"population": {"male_fractoin": 0.5}}, "did you mean population.male_fraction?"),
    ({"populaton": {}}, "[populaton]: expected one of the sections"),
    ({"trial": {"name": "x", "n_image_guided": 10}}, "trial.n_control: expected a value"),
    ({"trial": TRIAL | {"n_image_guided": "ten"}}, "trial.n_image_guided: expected a whole"),
    ({"trial": TRIAL | {"n_image_guided": 10.5}}, "trial.n_image_guided: expected a whole"),
    ({"placement": {"concordance": True}}, "placement.concordance: expected a finite number"),
    ({"measurement": {"strain": "circumferential"}}, "measurement.strain: expected one of"),
    ({"measurement": {"fps": 600}}, "measurement.fps: expected a finite number in [10, 500] fps"),
    ({"measurement": {"scar_amplitude_pct": 12.0}}, "must be below the scar threshold"),
    ({"measurement": {"viable_amplitude_pct": 8.0, "scar_amplitude_pct": 4.0}},
     "must be above the scar threshold"),
    ({"measurement": {"cycle_ms": 300, "fps": 10}}, "cover at least 4 frames"),
])
def test_bad_specs_get_one_line_naming_file_field_value_and_expectation(raw, fragment):
    raw = {"trial": TRIAL} | raw
    with pytest.raises(InputError) as err:
        spec_from_dict(raw, "my.toml")
    message = str(err.value)
    assert message.startswith("my.toml: ") and fragment in message and "\n" not in message


def test_parameter_classes_refuse_what_specs_refuse():
    with pytest.raises(ValueError, match="male_fraction"):
        PopulationParams(male_fraction=1.5)
    with pytest.raises(ValueError, match="fps"):
        CurveParams(fps=600.0)
    with pytest.raises(ValueError, match="base_esv_change_pct"):
        OutcomeParams(base_esv_change_pct=1e300)


def test_a_scar_setting_that_contradicts_the_population_is_refused():
    activation = ActivationParams(scar=ScarParams(ischemic_fraction=0.2))
    with pytest.raises(ValueError, match="contradicts the population"):
        activation_for(PopulationParams(ischemic_fraction=0.7), activation)
    agreed = activation_for(PopulationParams(ischemic_fraction=0.2), activation)
    assert agreed.scar.ischemic_fraction == 0.2
    assert activation_for(PopulationParams(ischemic_fraction=0.7)).scar.ischemic_fraction == 0.7


def test_spec_values_reach_the_parameter_classes():
    spec = spec_from_dict({"trial": {"name": "a, \"quoted\" name", "n_image_guided": 5,
                                     "n_control": 6},
                           "population": {"ischemic_fraction": 0.9},
                           "activation": {"nonischemic_scar_probability": 0.4},
                           "measurement": {"strain": "longitudinal", "fps": 50, "emd_ms": 80,
                                           "snr_db": 25, "smooth_ms": 30},
                           "placement": {"concordance": 0.7}})
    assert spec.name == 'a, "quoted" name'
    assert spec.population.ischemic_fraction == 0.9
    assert spec.activation.scar.nonischemic_scar_probability == 0.4
    assert spec.curves.kind == "longitudinal" and spec.curves.fps == 50.0
    assert spec.curves.emd_ms == 80.0 and spec.speckle.snr_db == 25.0 and spec.smooth_ms == 30
    assert spec.placement.concordance == 0.7 and spec.n_total == 11


def test_the_shipped_json_schema_is_the_declarations_export():
    shipped = data_path("cohorts", "spec.schema.json").read_text()
    assert shipped == schema_text(), "re-export: strainsim spec-schema > cohorts/spec.schema.json"
    schema = json.loads(shipped)
    fps = schema["$defs"]["MeasurementSection"]["properties"]["fps"]
    assert (fps["minimum"], fps["maximum"], fps["unit"]) == (10.0, 500.0, "fps")
    assert schema["$defs"]["TrialSection"]["additionalProperties"] is False
    assert "trial" in schema["required"]
