"""Virtual patients: demographics, baseline LV volumes, activation and scar.

A cohort block is drawn from one random generator in a fixed order
(demographics, volumes, then :func:`strainsim.activation.simulate_activation`),
so a block's patients depend only on its seed.

Examples
--------
>>> import numpy as np
>>> from strainsim.cohort import PopulationParams, simulate_patients
>>> patients = simulate_patients(5, np.random.default_rng(0), PopulationParams())
>>> patients.esv_ml.shape, bool(np.all(patients.esv_ml < patients.edv_ml))
((5,), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numba
import numpy as np

from .activation import Activation, ActivationParams, simulate_activation
from .segments import SegmentModel

__all__ = ["PopulationParams", "Patients", "simulate_patients", "activation_for"]


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
        Fraction with ischemic cardiomyopathy (0-1); overrides the activation
        model's scar setting.
    ischemic_scar_segments_mean : float
        Mean number of scar segments in an ischemic patient.
    edv_mean_ml, edv_sd_ml : float
        Baseline LV end-diastolic volume (mL).
    ef_mean_pct, ef_sd_pct : float
        Baseline LV ejection fraction (%), kept within 10-35 %.
    """

    age_mean: float = 68.0
    age_sd: float = 9.0
    male_fraction: float = 0.76
    ischemic_fraction: float = 0.53
    ischemic_scar_segments_mean: float = 3.0
    edv_mean_ml: float = 230.0
    edv_sd_ml: float = 60.0
    ef_mean_pct: float = 25.0
    ef_sd_pct: float = 6.0


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
    """

    age: np.ndarray
    male: np.ndarray
    edv_ml: np.ndarray
    esv_ml: np.ndarray
    activation: Activation = field(repr=False)

    def __len__(self) -> int:
        return self.age.shape[0]

    @property
    def ef_pct(self) -> np.ndarray:
        """Baseline ejection fraction (%), from the volumes."""
        return 100.0 * (1.0 - self.esv_ml / self.edv_ml)


def activation_for(population: PopulationParams,
                   activation: ActivationParams | None = None) -> ActivationParams:
    """The activation settings with the population's ischemic fraction and scar burden."""
    activation = activation or ActivationParams()
    scar = replace(activation.scar, ischemic_fraction=population.ischemic_fraction,
                   ischemic_scar_segments_mean=population.ischemic_scar_segments_mean)
    return replace(activation, scar=scar)


def simulate_patients(n: int, rng: np.random.Generator, population: PopulationParams,
                      activation: ActivationParams | None = None,
                      model: SegmentModel | None = None) -> Patients:
    """Draw ``n`` patients.

    Parameters
    ----------
    n : int
    rng : numpy.random.Generator
    population : PopulationParams
    activation : ActivationParams, optional
        Its scar settings take the population's ischemic fraction and scar burden.
    model : SegmentModel, optional

    Returns
    -------
    Patients
    """
    activation = activation_for(population, activation)
    age = population.age_mean + population.age_sd * rng.standard_normal(n)
    male = rng.random(n) < population.male_fraction
    edv = np.maximum(80.0, population.edv_mean_ml + population.edv_sd_ml * rng.standard_normal(n))
    ef = np.clip(population.ef_mean_pct + population.ef_sd_pct * rng.standard_normal(n),
                 10.0, 35.0)
    esv = edv * (1.0 - ef / 100.0)
    act = simulate_activation(n, rng, activation, model)
    return Patients(age=age, male=male, edv_ml=edv, esv_ml=esv, activation=act)



def population_constants(population: PopulationParams) -> np.ndarray:
    """The parameters in the order :func:`population_kernel` reads them."""
    p = population
    return np.array([p.age_mean, p.age_sd, p.male_fraction, p.edv_mean_ml, p.edv_sd_ml,
                     p.ef_mean_pct, p.ef_sd_pct])


@numba.njit(cache=True)
def population_kernel(rng, constants, age_out, male_out, edv_out, esv_out):
    """Kernel twin of the demographic and volume draws of :func:`simulate_patients`."""
    age_mean, age_sd, male_fraction, edv_mean, edv_sd, ef_mean, ef_sd = (
        constants[0], constants[1], constants[2], constants[3], constants[4], constants[5],
        constants[6])
    n = age_out.shape[0]
    for i in range(n):
        age_out[i] = age_mean + age_sd * rng.standard_normal()
    for i in range(n):
        male_out[i] = rng.random() < male_fraction
    for i in range(n):
        edv_out[i] = max(80.0, edv_mean + edv_sd * rng.standard_normal())
    for i in range(n):
        ef = min(max(ef_mean + ef_sd * rng.standard_normal(), 10.0), 35.0)
        esv_out[i] = edv_out[i] * (1.0 - ef / 100.0)
