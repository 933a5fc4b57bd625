"""Six-month outcomes after CRT: LV volumes, ejection fraction and NYHA class.

Reverse remodelling follows the resynchronization the lead achieves. A patient's
resynchronization ``r`` is the share of the late-activated myocardium's activation
time that biventricular pacing removes (:mod:`strainsim.model.pacing`,
``late_removed_fraction``: over the latest third of the viable basal and mid
segments, ``(mean intrinsic - mean paced) / mean intrinsic``): how much earlier
pacing makes the wall that LBBB activates last contract. The end-systolic volume
(ESV) change (%) is

    base + resync_max * Phi((r - resync_half) / resync_width) * (1 - scar_fraction)
         + scar_burden * scar_fraction + scar_at_lead + ischemic + male
         + noise_sd * z + the arm's ESV shift

a graded (probit) response to the resynchronization achieved, less in scarred
ventricles (scar neither contracts nor remodels) and with a lead on scar. There is
no term for the lead's class: a concordant lead helps only through the activation
it achieves, so the concordant-minus-discordant difference is an output. The
end-diastolic volume (EDV) follows a fraction of that change plus its own noise and
the arm's EDV shift (how its echo reading measures end-diastole), and the ejection
fraction is computed from the two volumes (EF = 1 - ESV/EDV).

NYHA class is ordinal. Each patient has a baseline class (1-4, from the trial's
class mix, :class:`strainsim.model.population.PopulationParams`); at six months a
latent score

    y = nyha_intercept + nyha_slope * (-ESV change / 10) + unblinded (imaging arm)
        + logistic noise

moves the class one better when ``y > 0``, two better when ``y > nyha_two_class``,
one worse when ``y < -nyha_worse``, within I-IV. ``unblinded`` is the explicit
channel that does not go through volumes: what an unblinded assessment or the
procedure adds in an arm whose leads imaging aimed (``ste`` or ``multimodality``;
not an ``electrical`` or ``empirical`` arm, whatever its label; its size is fitted
and reported).
"Improved by at least one class" and the mean class change are derived from it.

The defaults of the fitted parameters are those ``strainsim calibrate`` found
(``docs/calibration.md``).

Examples
--------
>>> import numpy as np
>>> from strainsim.model.outcomes import OutcomeParams, simulate_outcomes
>>> out = simulate_outcomes(
...     edv_ml=np.full(3, 200.0), esv_ml=np.full(3, 150.0),
...     resync_fraction=np.array([1.0, 0.74, 0.45]), scar=np.zeros((3, 17), bool),
...     scar_at_lead=np.zeros(3, bool), ischemic=np.zeros(3, bool), male=np.zeros(3, bool),
...     nyha_class=np.full(3, 3, np.int8), imaging_arm=False, rng=np.random.default_rng(0),
...     params=OutcomeParams(base_esv_change_pct=0.0, resync_max_pct=-40.0,
...                          noise_sd_pct=0.0, edv_noise_sd_pct=0.0))
>>> out.esv_change_pct.round(1).tolist()   # fully, half and hardly resynchronized
[-39.8, -20.0, -0.1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numba
import numpy as np

from strainsim.model.pacing import TOTALS as PACING_TOTALS
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
    "resync_fraction",
    "apply_outcomes_kernel",
    "resync_fraction_kernel",
    "OutcomeArrays",
    "empty_outcomes",
    "ArmShift",
    "NO_SHIFT",
    "SHIFT_SDS",
    "as_arm_shift",
    "arm_shifts",
]


@dataclass(frozen=True)
class OutcomeParams:
    """The outcome model's parameters (see the module docstring for the equations).

    Attributes
    ----------
    base_esv_change_pct : float
        ESV change (%) without resynchronization, in a non-ischemic woman without scar.
    resync_max_pct : float
        ESV change (%) added by full resynchronization response (the probit's top).
    resync_half_fraction, resync_width_fraction : float
        Share of the late-activated myocardium's activation time removed at half the
        response, and the probit's spread (fractions).
    scar_burden_pct : float
        ESV change added per whole LV of scar (scaled by the scar fraction).
    scar_at_lead_pct : float
        Penalty (less reduction) when the lead sits on scar.
    ischemic_pct, male_pct : float
        Penalties for ischemic cardiomyopathy and for men.
    noise_sd_pct : float
        Patient-level SD of the ESV change.
    edv_fraction, edv_noise_sd_pct : float
        EDV change as a fraction of the ESV change, and its own SD (%).
    nyha_intercept, nyha_slope : float
        The NYHA latent score with no ESV change, and its rise per 10 % ESV reduction.
    nyha_unblinded_logodds : float
        Added to the NYHA score in an arm whose leads imaging aimed, not through volumes.
    nyha_two_class_logodds, nyha_worse_logodds : float
        Thresholds of the latent score for two classes better, one class worse.
    centre_sd_pct, arm_sd_pct : float
        Between-trial SD of the ESV change shared by both arms of a trial (centre,
        population, core lab), and of each arm's own (operators, protocol).
    edv_arm_sd_pct : float
        Between-trial SD of each arm's own EDV change beyond what its ESV change
        carries (how the arm's echo reading measures end-diastole); through the
        volumes it moves the ejection fraction too.
    """

    base_esv_change_pct: float = quantity(
        7.406, unit="%", low=-100, high=100,
        doc="ESV change without resynchronization (non-ischemic woman, no scar).",
        source="calibrated")
    resync_max_pct: float = quantity(
        -89.89, unit="%", low=-100, high=0,
        doc="ESV change added by a full response to resynchronization.",
        source="calibrated")
    resync_half_fraction: float = quantity(
        0.74, unit="fraction", low=0.0, high=1.0,
        doc="Share of the late-activated activation time removed at half the remodelling "
        "response.",
        source="stated: the median share the default world's leads remove (about 0.74)")
    resync_width_fraction: float = quantity(
        0.10, unit="fraction", low=0.005, high=1.0,
        doc="Spread (probit SD) of the remodelling response in the share removed.",
        source="stated: response graded over about +/- 0.2 of the share removed")
    scar_burden_pct: float = quantity(
        20.0, unit="%", low=-100, high=100, doc="ESV change added per whole LV of scar.",
        source="stated")
    scar_at_lead_pct: float = quantity(
        15.0, unit="%", low=-100, high=100, doc="Penalty when the lead sits on scar.",
        source="stated: leads over scar respond less (TARGET's scar rule)")
    ischemic_pct: float = quantity(
        5.0, unit="%", low=-100, high=100, doc="Penalty for ischemic cardiomyopathy.",
        source="stated")
    male_pct: float = quantity(
        3.0, unit="%", low=-100, high=100, doc="Penalty for men.", source="stated")
    noise_sd_pct: float = quantity(
        20.0, unit="%", low=0, high=100, doc="Patient-level SD of the ESV change.",
        source="stated: SDs of LVESV change in CRT trials are about 20-30 %")
    edv_fraction: float = quantity(
        0.8, unit="fraction", low=0, high=1.5, doc="EDV change as a fraction of the ESV "
        "change.", source="stated")
    edv_noise_sd_pct: float = quantity(
        7.0, unit="%", low=0, high=100, doc="Extra SD of the EDV change.", source="stated")
    nyha_intercept: float = quantity(
        -1.149, unit="log-odds", low=-20, high=20,
        doc="NYHA latent score with no ESV change (control arm).", source="calibrated")
    nyha_slope: float = quantity(
        2.835, unit="log-odds per 10 %", low=-20, high=20,
        doc="Rise of the NYHA latent score per 10 % ESV reduction.", source="calibrated")
    nyha_unblinded_logodds: float = quantity(
        0.9133, unit="log-odds", low=-10, high=10,
        doc="NYHA score added in an arm aimed by imaging, not through volumes.",
        source="calibrated")
    nyha_two_class_logodds: float = quantity(
        2.5, unit="log-odds", low=0, high=20,
        doc="Latent score above which a patient is two classes better.",
        source="stated: about a fifth of CRT patients improve by two classes")
    nyha_worse_logodds: float = quantity(
        3.0, unit="log-odds", low=0, high=20,
        doc="Latent score below minus this: one class worse.",
        source="stated: about one in twenty CRT patients worsens by a class")
    centre_sd_pct: float = quantity(
        5.0, unit="%", low=0, high=100,
        doc="Between-trial SD of the ESV change shared by both arms.", source="stated")
    arm_sd_pct: float = quantity(
        4.117, unit="%", low=0, high=100,
        doc="Between-trial SD of each arm's own ESV change.", source="calibrated")
    edv_arm_sd_pct: float = quantity(
        3.21, unit="%", low=0, high=100,
        doc="Between-trial SD of each arm's own EDV change beyond what its ESV change "
        "carries.",
        source="calibrated: the pooled LVEDV and LVEF intervals (meta_analysis.toml) are "
        "wider than an ESV shift alone makes them")

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
    nyha_class_change : ndarray of int8, shape (n,)
        NYHA class at 6 months minus at baseline (negative is better).
    """

    esv_change_pct: np.ndarray
    edv_change_pct: np.ndarray
    esv_ml: np.ndarray
    edv_ml: np.ndarray
    ef_change: np.ndarray
    nyha_improved: np.ndarray
    nyha_class_change: np.ndarray


class OutcomeRecord(NamedTuple):
    """:class:`OutcomeParams` as the outcome kernel reads them (the trial shifts apart),
    and whether the lead's resynchronization counts (``position_effect``, 0 in the null
    world)."""

    base_esv_change_pct: float
    resync_max_pct: float
    resync_half_fraction: float
    resync_width_fraction: float
    scar_burden_pct: float
    scar_at_lead_pct: float
    ischemic_pct: float
    male_pct: float
    noise_sd_pct: float
    edv_fraction: float
    edv_noise_sd_pct: float
    nyha_intercept: float
    nyha_slope: float
    nyha_unblinded_logodds: float
    nyha_two_class_logodds: float
    nyha_worse_logodds: float
    position_effect: float


def outcome_record(params: OutcomeParams) -> OutcomeRecord:
    """The kernel's record of ``params``."""
    return OutcomeRecord(*(float(getattr(params, name))
                           for name in OutcomeRecord._fields[:-1]), 1.0)


def null_record(params: OutcomeParams) -> OutcomeRecord:
    """The record of a world where the lead's position does not matter: every patient
    responds as at ``resync_half_fraction`` whatever the lead achieves, no scar-at-lead
    penalty and no unblinded NYHA channel (the image-guided benefit switched off)."""
    return outcome_record(params)._replace(position_effect=0.0, scar_at_lead_pct=0.0,
                                           nyha_unblinded_logodds=0.0)


class ArmShift(NamedTuple):
    """An arm's trial-level shifts: of every patient's ESV change (%), and of the EDV
    change beyond what the ESV change carries (%)."""

    esv_pct: float
    edv_pct: float


NO_SHIFT = ArmShift(0.0, 0.0)

# the OutcomeParams fields that scale a trial's shifts (arm_shifts): how trials differ in
# their outcomes
SHIFT_SDS = ("centre_sd_pct", "arm_sd_pct", "edv_arm_sd_pct")


def as_arm_shift(shift) -> ArmShift:
    """``shift`` (an :class:`ArmShift` or a pair: ESV, EDV, in %) as the kernels read it."""
    esv_pct, edv_pct = shift
    return ArmShift(float(esv_pct), float(edv_pct))


def arm_shifts(params: OutcomeParams, rng: np.random.Generator) -> tuple[ArmShift, ArmShift]:
    """A trial's shifts of its image-guided and control arms.

    Five standard normals from ``rng`` (the trial's own stream): the ESV centre
    effect both arms share, each arm's own ESV effect, then each arm's own EDV effect.
    """
    centre, guided, control, edv_guided, edv_control = rng.standard_normal(5)
    return (
        ArmShift(float(params.centre_sd_pct * centre + params.arm_sd_pct * guided),
                 float(params.edv_arm_sd_pct * edv_guided)),
        ArmShift(float(params.centre_sd_pct * centre + params.arm_sd_pct * control),
                 float(params.edv_arm_sd_pct * edv_control)),
    )


@numba.njit(cache=True)
def outcome_noise_kernel(rng, noise_out):
    """Each patient's outcome draws, patient by patient: the ESV noise (normal), the EDV
    noise (normal) and the NYHA uniform, into ``noise_out`` (n, 3)."""
    for i in range(noise_out.shape[0]):
        noise_out[i, 0] = rng.standard_normal()
        noise_out[i, 1] = rng.standard_normal()
        noise_out[i, 2] = rng.random()


# what remodelling follows, of the pacing stage's totals (strainsim.model.pacing.TOTALS):
# the share of the late-activated myocardium's activation time removed
RESYNC_MEASURE = "late_removed_fraction"
RESYNC_COLUMN = PACING_TOTALS.index(RESYNC_MEASURE)


@numba.njit(cache=True)
def resync_fraction_kernel(totals, out):
    """The resynchronization remodelling follows, from the pacing stage's totals (n, 4:
    intrinsic and paced total activation time, residual SD, late-activated share
    removed; :func:`~strainsim.model.pacing.paced_kernel`), into ``out`` (n,)."""
    for i in range(out.shape[0]):
        out[i] = totals[i, RESYNC_COLUMN]


def resync_fraction(paced) -> np.ndarray:
    """The resynchronization remodelling follows (:func:`resync_fraction_kernel`) of a
    :class:`~strainsim.model.pacing.PacedActivation` (:data:`RESYNC_MEASURE`)."""
    return np.asarray(getattr(paced, RESYNC_MEASURE), dtype=np.float64).copy()


class OutcomeInputs(NamedTuple):
    """What the outcome kernel reads of the patients, their leads and their draws."""

    edv_ml: np.ndarray           # (n,) baseline EDV (mL)
    esv_ml: np.ndarray           # (n,) baseline ESV (mL)
    resync_fraction: np.ndarray  # (n,) share of the late-activated activation time removed
    scar: np.ndarray             # (n, 17) bool
    scar_at_lead: np.ndarray     # (n,) bool
    ischemic: np.ndarray         # (n,) bool
    male: np.ndarray             # (n,) bool
    nyha_class: np.ndarray       # (n,) int8 baseline NYHA class (1-4)
    noise: np.ndarray            # (n, 3) the outcome draws (outcome_noise_kernel)


@numba.njit(cache=True)
def _probit(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@numba.njit(cache=True)
def apply_outcomes_kernel(rec, shift, imaging_arm, inputs, out):
    """Six-month outcomes from the patients' draws (see the module docstring); ``shift``
    the arm's :class:`ArmShift`, ``out`` an :class:`OutcomeArrays` of preallocated
    arrays, ``imaging_arm`` whether imaging aimed this arm's leads (the unblinded NYHA
    channel; :func:`~strainsim.model.placement.aims_by_imaging`)."""
    # arrays taken out of the record once (numba counts references at every access)
    edv_ml, esv_ml, resync = inputs.edv_ml, inputs.esv_ml, inputs.resync_fraction
    scar, scar_at_lead = inputs.scar, inputs.scar_at_lead
    ischemic, male, noise, nyha = inputs.ischemic, inputs.male, inputs.noise, inputs.nyha_class
    n_seg = scar.shape[1]
    unblinded = rec.nyha_unblinded_logodds if imaging_arm else 0.0
    for i in range(edv_ml.shape[0]):
        scarred = 0
        for s in range(n_seg):
            scarred += scar[i, s]
        scar_fraction = scarred / n_seg
        r = resync[i] if rec.position_effect > 0.0 else rec.resync_half_fraction
        response = _probit((r - rec.resync_half_fraction) / rec.resync_width_fraction)
        esv_change = (
            rec.base_esv_change_pct
            + rec.resync_max_pct * response * (1.0 - scar_fraction)
            + rec.scar_burden_pct * scar_fraction
            + (rec.scar_at_lead_pct if scar_at_lead[i] else 0.0)
            + (rec.ischemic_pct if ischemic[i] else 0.0)
            + (rec.male_pct if male[i] else 0.0)
            + rec.noise_sd_pct * noise[i, 0]
            + shift.esv_pct
        )
        esv_change = max(esv_change, -80.0)
        edv_change = max(rec.edv_fraction * esv_change + rec.edv_noise_sd_pct * noise[i, 1]
                         + shift.edv_pct, -70.0)
        edv_new = edv_ml[i] * (1.0 + edv_change / 100.0)
        esv_new = min(esv_ml[i] * (1.0 + esv_change / 100.0), 0.95 * edv_new)
        esv_change = 100.0 * (esv_new / esv_ml[i] - 1.0)
        out.esv_change_pct[i] = esv_change
        out.edv_change_pct[i] = edv_change
        out.esv_ml[i] = esv_new
        out.edv_ml[i] = edv_new
        out.ef_change[i] = 100.0 * ((1.0 - esv_new / edv_new) - (1.0 - esv_ml[i] / edv_ml[i]))
        # the ordinal NYHA class: a latent score with logistic noise (from the uniform)
        u = min(max(noise[i, 2], 1e-12), 1.0 - 1e-12)
        score = (rec.nyha_intercept + rec.nyha_slope * (-esv_change / 10.0) + unblinded
                 + math.log(u / (1.0 - u)))
        if score > rec.nyha_two_class_logodds:
            steps = 2
        elif score > 0.0:
            steps = 1
        elif score < -rec.nyha_worse_logodds:
            steps = -1
        else:
            steps = 0
        after = min(max(nyha[i] - steps, 1), 4)
        out.nyha_class_change[i] = after - nyha[i]
        out.nyha_improved[i] = after < nyha[i]


# the arrays apply_outcomes_kernel fills: the fields of Outcomes, as a typed record
OutcomeArrays = NamedTuple("OutcomeArrays", [(f.name, np.ndarray) for f in fields(Outcomes)])

_DTYPES = {"nyha_improved": np.bool_, "nyha_class_change": np.int8}


def empty_outcomes(n: int) -> OutcomeArrays:
    """Preallocated arrays for :func:`apply_outcomes_kernel`."""
    return OutcomeArrays(*(np.empty(n, dtype=_DTYPES.get(f.name, float))
                           for f in fields(Outcomes)))


def simulate_outcomes(*, edv_ml, esv_ml, resync_fraction, scar, scar_at_lead, ischemic, male,
                      nyha_class, imaging_arm: bool, rng: np.random.Generator,
                      params: OutcomeParams, shift: ArmShift = NO_SHIFT,
                      null_world: bool = False):
    """Draw 6-month outcomes (:func:`outcome_noise_kernel`, :func:`apply_outcomes_kernel`).

    Keyword-only: the arrays are those of :class:`OutcomeInputs`.

    Parameters
    ----------
    edv_ml, esv_ml : ndarray, shape (n,)
        Baseline volumes (mL).
    resync_fraction : ndarray, shape (n,)
        Share of the intrinsic total activation time removed by pacing (0-1).
    scar : ndarray of bool, shape (n, 17)
    scar_at_lead, ischemic, male : ndarray of bool, shape (n,)
    nyha_class : ndarray of int, shape (n,)
        Baseline NYHA class (1-4).
    imaging_arm : bool
        Imaging aimed this arm's leads (the unblinded NYHA channel applies).
    rng : numpy.random.Generator
        The block's ``care`` stream, after the veins and the leads.
    params : OutcomeParams
    shift : ArmShift
        The arm's trial-level shifts of the ESV change and of the EDV change (%).
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
        edv_ml=edv_ml, esv_ml=floats(esv_ml), resync_fraction=floats(resync_fraction),
        scar=flags(scar), scar_at_lead=flags(scar_at_lead), ischemic=flags(ischemic),
        male=flags(male), nyha_class=np.ascontiguousarray(nyha_class, dtype=np.int8),
        noise=noise)
    out = empty_outcomes(n)
    shift = as_arm_shift(shift)
    apply_outcomes_kernel(outcome_record(params), shift, bool(imaging_arm), inputs, out)
    if not null_world:
        return Outcomes(**out._asdict())
    null = empty_outcomes(n)
    apply_outcomes_kernel(null_record(params), shift, bool(imaging_arm), inputs, null)
    return Outcomes(**out._asdict()), Outcomes(**null._asdict())
