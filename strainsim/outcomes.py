"""Six-month outcomes after CRT: LV volumes, ejection fraction and NYHA class.

Reverse remodelling is modelled on the end-systolic volume (ESV), the quantity
CRT trials call response on. A patient's ESV change (%) is

    base + position[class] + scar_at_lead + ischemic + male + noise_sd * z

where ``class`` is the lead's position against the patient's *true* latest
non-scar segment (concordant, adjacent, remote). The end-diastolic volume
(EDV) follows a fraction of that change plus its own noise, and the ejection
fraction is computed from the two volumes (EF = 1 - ESV/EDV), so volumes and
EF always agree. NYHA improvement (at least one class) is a Bernoulli draw
whose log-odds rise with the ESV reduction.

The defaults are calibrated so that five virtual trials of the published
meta-analysis's size, pooled by :mod:`strainsim.meta`, land on average inside
its confidence intervals (see ``docs/calibration.md``).

Examples
--------
>>> import numpy as np
>>> from strainsim.outcomes import OutcomeParams, simulate_outcomes
>>> out = simulate_outcomes(np.full(3, 200.0), np.full(3, 150.0), np.array([0, 1, 2]),
...                         np.zeros(3, bool), np.zeros(3, bool), np.ones(3, bool),
...                         np.random.default_rng(0), OutcomeParams(noise_sd_pct=0.0,
...                                                                  edv_noise_sd_pct=0.0))
>>> out.esv_change_pct.round(1).tolist()
[-34.0, -24.0, -9.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["OutcomeParams", "Outcomes", "simulate_outcomes"]


@dataclass(frozen=True)
class OutcomeParams:
    """Effect sizes of the outcome model (percent changes of volumes at 6 months).

    Attributes
    ----------
    base_esv_change_pct : float
        ESV change with a remote lead in a non-ischemic woman without scar at the lead.
    concordant_extra_pct, adjacent_extra_pct : float
        Additional ESV change for a concordant or adjacent lead (vs remote).
    scar_at_lead_pct : float
        Penalty (less reduction) when the lead sits on scar.
    ischemic_pct, male_pct : float
        Penalties for ischemic cardiomyopathy and for men.
    noise_sd_pct : float
        Patient-level SD of the ESV change.
    edv_fraction : float
        EDV change as a fraction of the ESV change.
    edv_noise_sd_pct : float
        Extra SD of the EDV change.
    nyha_intercept, nyha_slope : float
        Log-odds of NYHA improvement: ``intercept + slope * (-ESV change / 10)``.
    trial_sd_pct : float
        Between-trial SD of the image-guided arm's ESV change (operators, centres,
        protocols): each trial draws one shift for its image-guided patients.
        The default reproduces the width of the published pooled intervals.
    """

    base_esv_change_pct: float = -12.0
    concordant_extra_pct: float = -25.0
    adjacent_extra_pct: float = -15.0
    scar_at_lead_pct: float = 15.0
    ischemic_pct: float = 5.0
    male_pct: float = 3.0
    noise_sd_pct: float = 20.0
    edv_fraction: float = 0.8
    edv_noise_sd_pct: float = 7.0
    nyha_intercept: float = -1.6
    nyha_slope: float = 1.25
    trial_sd_pct: float = 8.0

    def __post_init__(self):
        if self.noise_sd_pct < 0 or self.edv_noise_sd_pct < 0 or self.trial_sd_pct < 0:
            raise ValueError("noise SDs must be >= 0")
        if not 0.0 <= self.edv_fraction <= 1.5:
            raise ValueError("edv_fraction must be in [0, 1.5]")


@dataclass(frozen=True)
class Outcomes:
    """Six-month outcomes of a block of patients.

    Attributes
    ----------
    esv_change_pct, edv_change_pct : ndarray, shape (n,)
        Percent change of LV end-systolic and end-diastolic volume.
    esv_ml, edv_ml : ndarray, shape (n,)
        Volumes at 6 months (mL).
    ef_change : ndarray, shape (n,)
        Change of ejection fraction (percentage points).
    nyha_improved : ndarray of bool, shape (n,)
        At least one NYHA class better.
    """

    esv_change_pct: np.ndarray
    edv_change_pct: np.ndarray
    esv_ml: np.ndarray
    edv_ml: np.ndarray
    ef_change: np.ndarray
    nyha_improved: np.ndarray


def simulate_outcomes(edv_ml, esv_ml, position_class, scar_at_lead, ischemic, male,
                      rng: np.random.Generator, params: OutcomeParams,
                      shift_pct: float = 0.0) -> Outcomes:
    """Draw 6-month outcomes.

    Parameters
    ----------
    edv_ml, esv_ml : ndarray, shape (n,)
        Baseline volumes (mL).
    position_class : ndarray of int, shape (n,)
        Lead vs true latest segment: 0 concordant, 1 adjacent, 2 remote (-1 counts as remote).
    scar_at_lead, ischemic, male : ndarray of bool, shape (n,)
    rng : numpy.random.Generator
        Draws, in order: ESV noise, EDV noise, NYHA uniforms.
    params : OutcomeParams
    shift_pct : float
        Added to every patient's ESV change (a trial-level effect).
    """
    n = edv_ml.shape[0]
    z_esv, z_edv, u_nyha = rng.standard_normal(n), rng.standard_normal(n), rng.random(n)
    extra = np.select([position_class == 0, position_class == 1],
                      [params.concordant_extra_pct, params.adjacent_extra_pct], 0.0)
    esv_change = (params.base_esv_change_pct + extra + params.scar_at_lead_pct * scar_at_lead
                  + params.ischemic_pct * ischemic + params.male_pct * male
                  + params.noise_sd_pct * z_esv + shift_pct)
    esv_change = np.maximum(esv_change, -80.0)
    edv_change = np.maximum(params.edv_fraction * esv_change + params.edv_noise_sd_pct * z_edv,
                            -70.0)
    edv_new = edv_ml * (1.0 + edv_change / 100.0)
    esv_new = np.minimum(esv_ml * (1.0 + esv_change / 100.0), 0.95 * edv_new)
    esv_change = 100.0 * (esv_new / esv_ml - 1.0)
    ef_change = 100.0 * ((1.0 - esv_new / edv_new) - (1.0 - esv_ml / edv_ml))
    logit = params.nyha_intercept + params.nyha_slope * (-esv_change / 10.0)
    nyha = u_nyha < 1.0 / (1.0 + np.exp(-logit))
    return Outcomes(esv_change_pct=esv_change, edv_change_pct=edv_change, esv_ml=esv_new,
                    edv_ml=edv_new, ef_change=ef_change, nyha_improved=nyha)


def outcome_constants(params: OutcomeParams) -> np.ndarray:
    """The parameters in the order :func:`outcomes_kernel` reads them."""
    return np.array([params.base_esv_change_pct, params.concordant_extra_pct,
                     params.adjacent_extra_pct, params.scar_at_lead_pct, params.ischemic_pct,
                     params.male_pct, params.noise_sd_pct, params.edv_fraction,
                     params.edv_noise_sd_pct, params.nyha_intercept, params.nyha_slope])


@numba.njit(cache=True)
def outcomes_kernel(rng, constants, edv_ml, esv_ml, position_class, scar_at_lead, ischemic,
                    male, shift_pct, esv_change_out, edv_change_out, esv_out, edv_out,
                    ef_change_out, nyha_out):
    """Kernel twin of :func:`simulate_outcomes` (same draws, same arithmetic).

    ``constants`` comes from :func:`outcome_constants`. The NYHA probability uses
    the C library's ``exp``; numpy's vectorized ``exp`` may differ from it in the
    last bit, which changes a NYHA draw only if a uniform falls in that bit.
    """
    (base, concordant, adjacent, scar_pct, ischemic_pct, male_pct, noise_sd, edv_fraction,
     edv_noise_sd, nyha_intercept, nyha_slope) = (
        constants[0], constants[1], constants[2], constants[3], constants[4], constants[5],
        constants[6], constants[7], constants[8], constants[9], constants[10])
    n = edv_ml.shape[0]
    for i in range(n):
        esv_change_out[i] = rng.standard_normal()
    for i in range(n):
        edv_change_out[i] = rng.standard_normal()
    for i in range(n):
        u_nyha = rng.random()
        z_esv = esv_change_out[i]
        z_edv = edv_change_out[i]
        if position_class[i] == 0:
            extra = concordant
        elif position_class[i] == 1:
            extra = adjacent
        else:
            extra = 0.0
        esv_change = (base + extra + scar_pct * (1.0 if scar_at_lead[i] else 0.0)
                      + ischemic_pct * (1.0 if ischemic[i] else 0.0)
                      + male_pct * (1.0 if male[i] else 0.0) + noise_sd * z_esv + shift_pct)
        esv_change = max(esv_change, -80.0)
        edv_change = max(edv_fraction * esv_change + edv_noise_sd * z_edv, -70.0)
        edv_new = edv_ml[i] * (1.0 + edv_change / 100.0)
        esv_new = min(esv_ml[i] * (1.0 + esv_change / 100.0), 0.95 * edv_new)
        esv_change = 100.0 * (esv_new / esv_ml[i] - 1.0)
        esv_change_out[i] = esv_change
        edv_change_out[i] = edv_change
        esv_out[i] = esv_new
        edv_out[i] = edv_new
        ef_change_out[i] = 100.0 * ((1.0 - esv_new / edv_new) - (1.0 - esv_ml[i] / edv_ml[i]))
        logit = nyha_intercept + nyha_slope * (-esv_change / 10.0)
        nyha_out[i] = u_nyha < 1.0 / (1.0 + math.exp(-logit))
