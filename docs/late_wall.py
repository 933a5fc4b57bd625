"""The numbers docs/calibration.md gives for the late-wall measure remodelling follows.

Usage: python docs/late_wall.py

At the shipped values, on TARGET-like arms and Khan-like unguided arms of 20,000
patients each (seed 11):

* the spread of the late wall's share of activation time removed
  (``PacedActivation.late_removed_fraction``) over both TARGET-like arms: the
  stated half point of the remodelling response is its median;
* how far each measure of what pacing achieves separates concordant from
  discordant unguided leads (Khan-like arm), in SDs of the measure;
* the share of LVESV responders among leads on scar, per TARGET-like arm.
"""

import numpy as np

from strainsim.model.summary import RESPONDER_ESV_CHANGE_PCT
from strainsim.seeding import child
from strainsim.studies.specs import load_spec
from strainsim.studies.trials import simulate_arm

N = 20_000
SEED = 11


def arm(spec_name: str, guided: bool):
    seed = child(np.random.SeedSequence(SEED), 0)
    return simulate_arm(N, guided, load_spec(spec_name), seed, keep_patients=True)


def separation(measure: np.ndarray, concordant: np.ndarray) -> float:
    """Concordant minus discordant mean, in SDs of the measure."""
    return (measure[concordant].mean() - measure[~concordant].mean()) / measure.std()


def main():
    target = {guided: arm("target", guided) for guided in (True, False)}
    share = np.concatenate([a.pacing.late_removed_fraction for a in target.values()])
    q25, q50, q75 = np.quantile(share, [0.25, 0.5, 0.75])
    print(f"late wall's share removed, TARGET-like arms: median {q50:.2f}, "
          f"quartiles {q25:.2f} and {q75:.2f}")

    khan = arm("khan2011", False)
    concordant = np.asarray(khan.placement.vs_measured) == 0
    pacing = khan.pacing
    index = np.arange(N)
    lead = khan.placement.lead_segment - 1
    qlv_share = khan.patients.activation.activation_ms[index, lead] / pacing.total_intrinsic_ms
    measures = {"share of the total activation time removed":
                pacing.reduction_ms / pacing.total_intrinsic_ms,
                "late wall's share removed": pacing.late_removed_fraction,
                "Q-LV at the lead / total activation time": qlv_share}
    for name, values in measures.items():
        print(f"Khan-like unguided leads, concordant minus discordant, {name}: "
              f"{separation(values, concordant):.2f} SD")

    for guided, a in target.items():
        on_scar = a.scar_at_lead
        responders = a.outcomes.esv_change_pct[on_scar] <= RESPONDER_ESV_CHANGE_PCT
        print(f"TARGET-like {'image-guided' if guided else 'control'} arm: "
              f"{on_scar.mean():.1%} of leads on scar, {responders.mean():.1%} of them "
              f"LVESV responders")


if __name__ == "__main__":
    main()
