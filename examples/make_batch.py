"""Write examples/batch.npz: eight simulated patients in the NPZ export format.

Run: python examples/make_batch.py   (the file is shipped; this is how it was made)
"""

from pathlib import Path

import numpy as np

from strainsim.model.activation import simulate_activation
from strainsim.model.curves import CurveParams, simulate_curves

act = simulate_activation(8, np.random.default_rng(2026))
curves = simulate_curves(act.activation_ms, act.scar, np.random.default_rng(2027),
                         CurveParams(fps=60.0))
np.savez_compressed(Path(__file__).resolve().parent / "batch.npz",
                    strain=curves.strain.astype(np.float32), time_ms=curves.time_ms,
                    patient_id=np.array([f"example-{i + 1}" for i in range(8)]))
