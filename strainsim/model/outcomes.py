"""Six-month outcomes after CRT: LV volumes, ejection fraction and NYHA class.

Reverse remodelling is modelled on the end-systolic volume (ESV), the quantity
CRT trials call response on. A patient's ESV change (%) is

    base + position[class] * dyssynchrony * (1 - scar_fraction)
         + scar_burden * scar_fraction + scar_at_lead + ischemic + male
         + noise_sd * z + arm shift

where ``class`` is the lead's position against the patient's *true* latest
non-scar segment (concordant, adjacent, remote), ``dyssynchrony`` the patient's
septal-to-late-site delay over ``dyssynchrony_ref_ms`` (capped at 2: the lead
corrects the delay there is to correct), ``scar_fraction`` the share of the 17
segments that are scar (scar neither contracts nor remodels), and the arm shift
the trial's centre and protocol effect (:func:`arm_shifts`). The end-diastolic volume
(EDV) follows a fraction of that change plus its own noise, and the ejection
fraction is computed from the two volumes (EF = 1 - ESV/EDV), so volumes and
EF always agree. NYHA improvement (at least one class) is a Bernoulli draw
whose log-odds rise with the ESV reduction.

The defaults are those ``strainsim calibrate`` fitted to the published numbers
of ``cohorts/published/targets.toml`` (see ``docs/calibration.md``).

Examples
--------
>>> import numpy as np
>>> from strainsim.model.outcomes import OutcomeParams, simulate_outcomes
>>> out = simulate_outcomes(
...     edv_ml=np.full(3, 200.0), esv_ml=np.full(3, 150.0), position_class=np.array([0, 1, 2]),
...     delay_ms=np.full(3, 130.0), scar=np.zeros((3, 17), bool), scar_at_lead=np.zeros(3, bool),
...     ischemic=np.zeros(3, bool), male=np.ones(3, bool), rng=np.random.default_rng(0),
...     params=OutcomeParams(base_esv_change_pct=-10.0, concordant_extra_pct=-25.0,
...                          adjacent_extra_pct=-15.0, male_pct=3.0, noise_sd_pct=0.0,
...                          edv_noise_sd_pct=0.0))
>>> out.esv_change_pct.round(1).tolist()   # a man: +3; concordant, adjacent, remote lead
[-32.0, -22.0, -7.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numba
import numpy as np

from strainsim.params import check_declared, quantity

__all__ = [
    "OutcomeParams",
    "Outcomes",
    "simulate_outcomes",
    "OutcomeRecord",
    "outcome_record",
    "null_record",
    "OutcomeInputs",
    "outcome_noise_kernel",
    "apply_outcomes_kernel",
    "OutcomeArrays",
    "empty_outcomes",
    "arm_shifts",
]


@dataclass(frozen=True)
class OutcomeParams:
    """Effect sizes of the outcome model (percent changes of volumes at 6 months).

    Attributes
    ----------
    base_esv_change_pct : float
        ESV change with a remote lead in a non-ischemic woman without scar at the lead.
    concordant_extra_pct, adjacent_extra_pct : float
        Additional ESV change for a concordant or adjacent lead (vs remote) in a
        patient with the reference dyssynchrony and no scar.
    dyssynchrony_ref_ms : float
        Septal-to-late delay (ms) at which the position effects take their stated
        size; they scale with ``delay / dyssynchrony_ref_ms`` (at most 2).
    scar_burden_pct : float
        ESV change added per whole LV of scar (scaled by the scar fraction): less
        remodelling with more scar.
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
    centre_sd_pct : float
        Between-trial SD of the ESV change shared by both arms of a trial (centre,
        population, follow-up, core lab).
    arm_sd_pct : float
        Between-trial SD of each arm's own ESV change (operators, implant protocol,
        the comparator's practice): drawn separately for the two arms, so it makes
        the trials' effects differ.
    """

    base_esv_change_pct: float = quantity(
        -10.75,
        unit="%",
        low=-100,
        high=100,
        doc="ESV change with a remote lead in a non-ischemic woman without scar at the lead.",
        source="calibrated",
    )
    concordant_extra_pct: float = quantity(
        -49.05,
        unit="%",
        low=-100,
        high=100,
        doc="Extra ESV change of a concordant lead at the reference dyssynchrony.",
        source="calibrated",
    )
    adjacent_extra_pct: float = quantity(
        -17.96,
        unit="%",
        low=-100,
        high=100,
        doc="Extra ESV change of an adjacent lead at the reference dyssynchrony.",
        source="calibrated",
    )
    dyssynchrony_ref_ms: float = quantity(
        130.0,
        unit="ms",
        low=1,
        high=1000,
        doc="Septal-to-late delay at which the position effects take their stated size.",
        source="stated",
    )
    scar_burden_pct: float = quantity(
        20.0,
        unit="%",
        low=-100,
        high=100,
        doc="ESV change added per whole LV of scar.",
        source="stated",
    )
    scar_at_lead_pct: float = quantity(
        15.0,
        unit="%",
        low=-100,
        high=100,
        doc="Penalty when the lead sits on scar.",
        source="stated",
    )
    ischemic_pct: float = quantity(
        5.0,
        unit="%",
        low=-100,
        high=100,
        doc="Penalty for ischemic cardiomyopathy.",
        source="stated",
    )
    male_pct: float = quantity(
        3.0, unit="%", low=-100, high=100, doc="Penalty for men.", source="stated"
    )
    noise_sd_pct: float = quantity(
        20.0, unit="%", low=0, high=100, doc="Patient-level SD of the ESV change.", source="stated"
    )
    edv_fraction: float = quantity(
        0.8,
        unit="fraction",
        low=0,
        high=1.5,
        doc="EDV change as a fraction of the ESV change.",
        source="stated",
    )
    edv_noise_sd_pct: float = quantity(
        7.0, unit="%", low=0, high=100, doc="Extra SD of the EDV change.", source="stated"
    )
    nyha_intercept: float = quantity(
        -0.3875,
        unit="log-odds",
        low=-20,
        high=20,
        doc="Log-odds of NYHA improvement with no ESV change.",
        source="calibrated",
    )
    nyha_slope: float = quantity(
        2.314,
        unit="log-odds per 10 %",
        low=-20,
        high=20,
        doc="Log-odds of NYHA improvement per 10 % ESV reduction.",
        source="calibrated",
    )
    centre_sd_pct: float = quantity(
        5.0,
        unit="%",
        low=0,
        high=100,
        doc="Between-trial SD of the ESV change shared by both arms.",
        source="stated",
    )
    arm_sd_pct: float = quantity(
        4.187,
        unit="%",
        low=0,
        high=100,
        doc="Between-trial SD of each arm's own ESV change.",
        source="calibrated",
    )

    def __post_init__(self):
        check_declared(self)


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


class OutcomeRecord(NamedTuple):
    """:class:`OutcomeParams` as the outcome kernel reads them (the trial shifts apart)."""

    base_esv_change_pct: float
    concordant_extra_pct: float
    adjacent_extra_pct: float
    dyssynchrony_ref_ms: float
    scar_burden_pct: float
    scar_at_lead_pct: float
    ischemic_pct: float
    male_pct: float
    noise_sd_pct: float
    edv_fraction: float
    edv_noise_sd_pct: float
    nyha_intercept: float
    nyha_slope: float


def outcome_record(params: OutcomeParams) -> OutcomeRecord:
    """The kernel's record of ``params``."""
    return OutcomeRecord(*(float(getattr(params, name)) for name in OutcomeRecord._fields))


def null_record(params: OutcomeParams) -> OutcomeRecord:
    """The record of a world where the lead's position does not matter: no concordant,
    adjacent or scar-at-lead effect (the image-guided benefit switched off)."""
    return outcome_record(params)._replace(
        concordant_extra_pct=0.0, adjacent_extra_pct=0.0, scar_at_lead_pct=0.0
    )


def arm_shifts(params: OutcomeParams, rng: np.random.Generator) -> tuple[float, float]:
    """A trial's ESV shifts (%) of its image-guided and control arms.

    Three standard normals from ``rng`` (the trial's own stream): the centre
    effect both arms share, then each arm's own effect.
    """
    centre, guided, control = rng.standard_normal(3)
    return (
        float(params.centre_sd_pct * centre + params.arm_sd_pct * guided),
        float(params.centre_sd_pct * centre + params.arm_sd_pct * control),
    )


@numba.njit(cache=True)
def outcome_noise_kernel(rng, noise_out):
    """Each patient's outcome draws, patient by patient: the ESV noise (normal), the EDV
    noise (normal) and the NYHA uniform, into ``noise_out`` (n, 3)."""
    for i in range(noise_out.shape[0]):
        noise_out[i, 0] = rng.standard_normal()
        noise_out[i, 1] = rng.standard_normal()
        noise_out[i, 2] = rng.random()


class OutcomeInputs(NamedTuple):
    """What the outcome kernel reads of the patients, their leads and their draws."""

    edv_ml: np.ndarray          # (n,) baseline EDV (mL)
    esv_ml: np.ndarray          # (n,) baseline ESV (mL)
    position_class: np.ndarray  # (n,) int8: lead vs true latest (0, 1, 2; -1 as remote)
    delay_ms: np.ndarray        # (n,) septal-to-late delay (ms)
    scar: np.ndarray            # (n, 17) bool
    scar_at_lead: np.ndarray    # (n,) bool
    ischemic: np.ndarray        # (n,) bool
    male: np.ndarray            # (n,) bool
    noise: np.ndarray           # (n, 3) the outcome draws (outcome_noise_kernel)


@numba.njit(cache=True)
def apply_outcomes_kernel(rec, shift_pct, inputs, out):
    """Six-month outcomes from the patients' draws (see the module docstring); ``scar``
    is (n, 17) bool, ``out`` an :class:`OutcomeArrays` of preallocated arrays."""
    # arrays taken out of the record once (numba counts references at every access)
    edv_ml, esv_ml, position_class = inputs.edv_ml, inputs.esv_ml, inputs.position_class
    delay_ms, scar, scar_at_lead = inputs.delay_ms, inputs.scar, inputs.scar_at_lead
    ischemic, male, noise = inputs.ischemic, inputs.male, inputs.noise
    n_seg = scar.shape[1]
    for i in range(edv_ml.shape[0]):
        if position_class[i] == 0:
            extra = rec.concordant_extra_pct
        elif position_class[i] == 1:
            extra = rec.adjacent_extra_pct
        else:
            extra = 0.0
        scarred = 0
        for s in range(n_seg):
            scarred += scar[i, s]
        scar_fraction = scarred / n_seg
        dyssynchrony = min(max(delay_ms[i], 0.0) / rec.dyssynchrony_ref_ms, 2.0)
        esv_change = (
            rec.base_esv_change_pct
            + extra * dyssynchrony * (1.0 - scar_fraction)
            + rec.scar_burden_pct * scar_fraction
            + (rec.scar_at_lead_pct if scar_at_lead[i] else 0.0)
            + (rec.ischemic_pct if ischemic[i] else 0.0)
            + (rec.male_pct if male[i] else 0.0)
            + rec.noise_sd_pct * noise[i, 0]
            + shift_pct
        )
        esv_change = max(esv_change, -80.0)
        edv_change = max(rec.edv_fraction * esv_change + rec.edv_noise_sd_pct * noise[i, 1], -70.0)
        edv_new = edv_ml[i] * (1.0 + edv_change / 100.0)
        esv_new = min(esv_ml[i] * (1.0 + esv_change / 100.0), 0.95 * edv_new)
        esv_change = 100.0 * (esv_new / esv_ml[i] - 1.0)
        out.esv_change_pct[i] = esv_change
        out.edv_change_pct[i] = edv_change
        out.esv_ml[i] = esv_new
        out.edv_ml[i] = edv_new
        out.ef_change[i] = 100.0 * ((1.0 - esv_new / edv_new) - (1.0 - esv_ml[i] / edv_ml[i]))
        logit = rec.nyha_intercept + rec.nyha_slope * (-esv_change / 10.0)
        out.nyha_improved[i] = noise[i, 2] < 1.0 / (1.0 + math.exp(-logit))


# the arrays apply_outcomes_kernel fills: the fields of Outcomes, as a typed record
OutcomeArrays = NamedTuple("OutcomeArrays", [(f.name, np.ndarray) for f in fields(Outcomes)])


def empty_outcomes(n: int) -> OutcomeArrays:
    """Preallocated arrays for :func:`apply_outcomes_kernel`."""
    return OutcomeArrays(
        *(
            np.empty(n, dtype=np.bool_ if f.name == "nyha_improved" else float)
            for f in fields(Outcomes)
        )
    )


def simulate_outcomes(*, edv_ml, esv_ml, position_class, delay_ms, scar, scar_at_lead,
                      ischemic, male, rng: np.random.Generator, params: OutcomeParams,
                      shift_pct: float = 0.0, null_world: bool = False):
    """Draw 6-month outcomes (:func:`outcome_noise_kernel`, :func:`apply_outcomes_kernel`).

    Keyword-only: the arrays are those of :class:`OutcomeInputs`.

    Parameters
    ----------
    edv_ml, esv_ml : ndarray, shape (n,)
        Baseline volumes (mL).
    position_class : ndarray of int, shape (n,)
        Lead vs true latest segment: 0 concordant, 1 adjacent, 2 remote (-1 counts as remote).
    delay_ms : ndarray, shape (n,)
        Septal-to-late-site delay (ms), the dyssynchrony a lead can correct.
    scar : ndarray of bool, shape (n, 17)
    scar_at_lead, ischemic, male : ndarray of bool, shape (n,)
    rng : numpy.random.Generator
        The block's ``care`` stream, after the veins and the leads.
    params : OutcomeParams
    shift_pct : float
        Added to every patient's ESV change (the arm's trial-level shift).
    null_world : bool
        Also return the outcomes of the same patients, from the same draws, in a
        world where the lead's position does not matter (:func:`null_record`; the
        trial shift stays: trials still differ, around a mean effect of zero).

    Returns
    -------
    Outcomes, or (Outcomes, Outcomes) with ``null_world``.
    """
    def floats(x):
        return np.ascontiguousarray(x, dtype=np.float64)

    def flags(x):
        return np.ascontiguousarray(x, dtype=np.bool_)

    edv_ml = floats(edv_ml)
    n = edv_ml.shape[0]
    noise = np.empty((n, 3))
    outcome_noise_kernel(rng, noise)
    inputs = OutcomeInputs(
        edv_ml=edv_ml, esv_ml=floats(esv_ml),
        position_class=np.ascontiguousarray(position_class, dtype=np.int8),
        delay_ms=floats(delay_ms), scar=flags(scar), scar_at_lead=flags(scar_at_lead),
        ischemic=flags(ischemic), male=flags(male), noise=noise)
    out = empty_outcomes(n)
    apply_outcomes_kernel(outcome_record(params), float(shift_pct), inputs, out)
    if not null_world:
        return Outcomes(**out._asdict())
    null = empty_outcomes(n)
    apply_outcomes_kernel(null_record(params), float(shift_pct), inputs, null)
    return Outcomes(**out._asdict()), Outcomes(**null._asdict())
