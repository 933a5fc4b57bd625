"""Virtual patients: demographics, baseline LV volumes, activation and scar.

A seed block's patients are drawn from its ``patients`` stream (see
:mod:`strainsim.seeding`): demographics and volumes by :func:`population_kernel`,
then scar and activation by :func:`strainsim.model.activation.simulate_activation`.
The per-block pipeline (:mod:`strainsim.model.block`) calls the same kernels.

Examples
--------
>>> import numpy as np
>>> from strainsim.model.population import PopulationParams, simulate_patients
>>> patients = simulate_patients(5, np.random.default_rng(0), PopulationParams())
>>> patients.esv_ml.shape, bool(np.all(patients.esv_ml < patients.edv_ml))
((5,), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numba
import numpy as np

from strainsim.model.activation import (
    Activation,
    ActivationParams,
    ScarParams,
    simulate_activation,
)
from strainsim.params import check_declared, quantity
from strainsim.segments import SegmentModel

__all__ = [
    "PopulationParams",
    "Patients",
    "simulate_patients",
    "activation_for",
    "PopulationRecord",
    "population_record",
    "population_kernel",
]


@dataclass(frozen=True)
class PopulationParams:
    """Who the patients are.

    Attributes
    ----------
    age_mean, age_sd : float
        Age in years.
    male_fraction : float
        Fraction of men (0-1).
    ischemic_fraction : float
        Fraction with ischemic cardiomyopathy (0-1); the scar model takes it from
        here (an activation setting that contradicts it is refused).
    ischemic_scar_segments_mean : float
        Mean number of scar segments in an ischemic patient.
    edv_mean_ml, edv_sd_ml : float
        Baseline LV end-diastolic volume (mL).
    ef_mean_pct, ef_sd_pct : float
        Baseline LV ejection fraction (%), kept within 10-35 %.
    nyha_ii_fraction, nyha_iii_fraction, nyha_iv_fraction : float
        Baseline NYHA class mix (class I is the rest; at most 1 in all).
    """

    age_mean: float = quantity(
        68.0,
        unit="years",
        low=18,
        high=100,
        doc="Mean age.",
        source="meta-analysis: mean age 66-71 across the five trials",
    )
    age_sd: float = quantity(9.0, unit="years", low=0, high=30, doc="SD of age.", source="stated")
    male_fraction: float = quantity(
        0.76,
        unit="fraction",
        low=0,
        high=1,
        doc="Fraction of men.",
        source="meta-analysis: 76 % male",
    )
    ischemic_fraction: float = quantity(
        0.53,
        unit="fraction",
        low=0,
        high=1,
        doc="Fraction with ischemic cardiomyopathy; the scar model takes it from here.",
        source="meta-analysis: 53 % ischemic",
    )
    ischemic_scar_segments_mean: float = quantity(
        3.0,
        unit="segments",
        low=0,
        high=17,
        doc="Mean number of scar segments in an ischemic patient (Poisson, at least 1).",
        source="stated",
    )
    edv_mean_ml: float = quantity(
        230.0,
        unit="mL",
        low=80,
        high=600,
        doc="Mean baseline LV end-diastolic volume.",
        source="stated",
    )
    edv_sd_ml: float = quantity(
        60.0, unit="mL", low=0, high=300, doc="SD of baseline EDV.", source="stated"
    )
    ef_mean_pct: float = quantity(
        25.0,
        unit="%",
        low=10,
        high=35,
        doc="Mean baseline LV ejection fraction (CRT candidates have EF <= 35 %).",
        source="CRT indication: EF <= 35 %",
    )
    ef_sd_pct: float = quantity(
        6.0,
        unit="%",
        low=0,
        high=20,
        doc="SD of baseline EF (values kept within 10-35 %).",
        source="stated",
    )

    nyha_ii_fraction: float = quantity(
        0.15, unit="fraction", low=0, high=1,
        doc="Share of patients in NYHA class II at baseline.",
        source="stated: the trials enrolled mainly class III (meta-analysis: NYHA II-IV)")
    nyha_iii_fraction: float = quantity(
        0.75, unit="fraction", low=0, high=1,
        doc="Share of patients in NYHA class III at baseline.",
        source="stated: the trials enrolled mainly class III (Lund: 63 %, trials.toml)")
    nyha_iv_fraction: float = quantity(
        0.10, unit="fraction", low=0, high=1,
        doc="Share of patients in NYHA class IV at baseline (ambulatory).",
        source="stated: ambulatory class IV is a minority in CRT trials")

    def __post_init__(self):
        check_declared(self)
        total = self.nyha_ii_fraction + self.nyha_iii_fraction + self.nyha_iv_fraction
        if total > 1.0 + 1e-9:
            raise ValueError(f"nyha_ii_fraction + nyha_iii_fraction + nyha_iv_fraction = "
                             f"{total:g}; the NYHA class mix must add up to at most 1")


@dataclass(frozen=True)
class Patients:
    """A block of virtual patients.

    Attributes
    ----------
    age : ndarray, shape (n,)
        Years.
    male : ndarray of bool, shape (n,)
    edv_ml, esv_ml : ndarray, shape (n,)
        Baseline LV end-diastolic and end-systolic volumes (mL).
    activation : Activation
        Activation times, scar and ischemic status.
    nyha_class : ndarray of int8, shape (n,)
        Baseline NYHA class (1-4).
    """

    age: np.ndarray
    male: np.ndarray
    edv_ml: np.ndarray
    esv_ml: np.ndarray
    activation: Activation = field(repr=False)
    nyha_class: np.ndarray | None = None

    def __len__(self) -> int:
        return self.age.shape[0]

    @property
    def ef_pct(self) -> np.ndarray:
        """Baseline ejection fraction (%), from the volumes."""
        return 100.0 * (1.0 - self.esv_ml / self.edv_ml)


def activation_for(population: PopulationParams,
                   activation: ActivationParams | None = None) -> ActivationParams:
    """The activation settings with the population's ischemic fraction and scar burden.

    The population is where these are set; an activation whose scar settings were
    changed to other values contradicts it and is refused (ValueError), not overridden.
    """
    activation = activation or ActivationParams()
    default = ScarParams()
    for name in ("ischemic_fraction", "ischemic_scar_segments_mean"):
        own, wanted = getattr(activation.scar, name), getattr(population, name)
        if own != getattr(default, name) and own != wanted:
            raise ValueError(f"activation.scar.{name} = {own:g} contradicts the population's "
                             f"{name} = {wanted:g}; set it in the population")
    scar = replace(activation.scar, ischemic_fraction=population.ischemic_fraction,
                   ischemic_scar_segments_mean=population.ischemic_scar_segments_mean)
    return replace(activation, scar=scar)


class PopulationRecord(NamedTuple):
    """:class:`PopulationParams` as the population kernel reads it."""

    age_mean: float
    age_sd: float
    male_fraction: float
    edv_mean_ml: float
    edv_sd_ml: float
    ef_mean_pct: float
    ef_sd_pct: float
    nyha_ii_fraction: float
    nyha_iii_fraction: float
    nyha_iv_fraction: float


def population_record(population: PopulationParams) -> PopulationRecord:
    """The kernel's record of ``population``."""
    return PopulationRecord(
        *(float(getattr(population, name)) for name in PopulationRecord._fields)
    )


@numba.njit(cache=True)
def population_kernel(rng, pop, age_out, male_out, edv_out, esv_out, nyha_out):
    """Demographics, baseline volumes and NYHA class, patient by patient.

    Each patient draws, in order: age (normal), sex (uniform < male fraction),
    EDV (normal, at least 80 mL), EF (normal, clipped to 10-35 %) and NYHA class
    (one uniform against the class mix, IV then III then II, else I); ESV follows
    from EDV and EF.
    """
    for i in range(age_out.shape[0]):
        age_out[i] = pop.age_mean + pop.age_sd * rng.standard_normal()
        male_out[i] = rng.random() < pop.male_fraction
        edv_out[i] = max(80.0, pop.edv_mean_ml + pop.edv_sd_ml * rng.standard_normal())
        ef = min(max(pop.ef_mean_pct + pop.ef_sd_pct * rng.standard_normal(), 10.0), 35.0)
        esv_out[i] = edv_out[i] * (1.0 - ef / 100.0)
        u = rng.random()
        if u < pop.nyha_iv_fraction:
            nyha_out[i] = 4
        elif u < pop.nyha_iv_fraction + pop.nyha_iii_fraction:
            nyha_out[i] = 3
        elif u < pop.nyha_iv_fraction + pop.nyha_iii_fraction + pop.nyha_ii_fraction:
            nyha_out[i] = 2
        else:
            nyha_out[i] = 1


def simulate_patients(
    n: int,
    rng: np.random.Generator,
    population: PopulationParams,
    activation: ActivationParams | None = None,
    model: SegmentModel | None = None,
) -> Patients:
    """Draw ``n`` patients.

    Parameters
    ----------
    n : int
    rng : numpy.random.Generator
        The block's ``patients`` stream: demographics and volumes
        (:func:`population_kernel`), then scar and activation
        (:func:`strainsim.model.activation.simulate_activation`).
    population : PopulationParams
    activation : ActivationParams, optional
        Its scar settings take the population's ischemic fraction and scar burden.
    model : SegmentModel, optional

    Returns
    -------
    Patients
    """
    activation = activation_for(population, activation)
    age, edv, esv = np.empty(n), np.empty(n), np.empty(n)
    male = np.empty(n, dtype=np.bool_)
    nyha = np.empty(n, dtype=np.int8)
    population_kernel(rng, population_record(population), age, male, edv, esv, nyha)
    act = simulate_activation(n, rng, activation, model)
    return Patients(age=age, male=male, edv_ml=edv, esv_ml=esv, activation=act,
                    nyha_class=nyha)
