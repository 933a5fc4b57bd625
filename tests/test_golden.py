"""One small seeded trial against a recorded file: any change of the model's numbers shows.

The file holds both arms' summaries and the first patients' numbers of a seeded
60 + 60 patient trial. A change that is meant to change the numbers re-records
it (and says so in the README's changelog)::

    python tests/test_golden.py     # rewrites tests/golden/trial.json

The numbers depend on numpy's PCG64 and SeedSequence (stable by numpy's
policy), numba's samplers (pinned to a tested range in pyproject.toml) and the
C library's cos/exp, so the comparison allows last-bit differences (1e-9
relative) in floats and none in counts.
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "golden" / "trial.json"
N_PATIENTS = 6


def golden_numbers() -> dict:
    from strainsim.studies.specs import TrialSpec
    from strainsim.studies.trials import simulate_trial

    spec = TrialSpec(name="golden", n_image_guided=60, n_control=60)
    result, guided, control = simulate_trial(spec, seed=20261125, keep_arms=True)
    out = {"guided": asdict(result.guided), "control": asdict(result.control)}
    for name, arm in (("guided_patients", guided), ("control_patients", control)):
        act = arm.patients.activation
        out[name] = {
            "age": arm.patients.age[:N_PATIENTS].tolist(),
            "scar_segments": [np.flatnonzero(r).tolist() for r in act.scar[:N_PATIENTS]],
            "activation_ms": act.activation_ms[:N_PATIENTS].round(9).tolist(),
            "ttp_ms": arm.measured.ttp_ms[:N_PATIENTS].tolist(),
            "latest_segment": arm.measured.latest_segment[:N_PATIENTS].tolist(),
            "lead_segment": arm.placement.lead_segment[:N_PATIENTS].tolist(),
            "esv_change_pct": arm.outcomes.esv_change_pct[:N_PATIENTS].tolist(),
            "nyha_improved": arm.outcomes.nyha_improved[:N_PATIENTS].tolist(),
        }
    return out


def _compare(found, expected, where):
    if isinstance(expected, dict):
        assert set(found) == set(expected), where
        for key in expected:
            _compare(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(found) == len(expected), where
        for k, (a, b) in enumerate(zip(found, expected, strict=True)):
            _compare(a, b, f"{where}[{k}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        if np.isnan(expected):
            assert np.isnan(found), where
        else:
            assert abs(found - expected) <= 1e-9 * max(abs(expected), 1.0), \
                (where, found, expected)
    else:
        assert found == expected, (where, found, expected)


def test_a_seeded_trial_gives_the_recorded_numbers():
    expected = json.loads(GOLDEN.read_text())
    _compare(golden_numbers(), expected, "trial")


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(golden_numbers(), indent=1) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
