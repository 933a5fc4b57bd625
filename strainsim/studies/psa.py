"""Probabilistic sensitivity analysis: how much the lesson rests on what is unsourced.

``cohorts/published/sensitivity.toml`` lists the stated (unsourced) inputs and a
plausible range for each, inside its declared range. :func:`sensitivity` computes
the lesson's central outputs

``lvesv_45``, ``lvesv_100``
    the mean pooled LVESV difference (%) of the five-trial meta-analysis with the
    image-guided arms at 45 % and at 100 % concordance;
``power_45``, ``power_100``
    the share of those meta-analyses that show a significant LVESV benefit,

at the shipped values, at each input's low and high end with the others at their
shipped values (the tornado), and at ``samples`` Latin-hypercube draws of all the
inputs together (the probabilistic analysis), with each output's Spearman rank
correlation with each input. Every point uses the same seeds (common random
numbers), so differences between points are the inputs', not the dice's.

Examples
--------
>>> from strainsim.studies.psa import load_ranges
>>> [p.name for p in load_ranges().parameters][:2]
['pacing.velocity_mm_per_ms', 'pacing.rv_delay_ms']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from strainsim.errors import InputError
from strainsim.resources import data_path, read_toml
from strainsim.schema import STRICT, validate
from strainsim.seeding import as_seed_sequence, child, children
from strainsim.studies.calibration import (
    FreeParameter,
    ParameterEntry,
    current_values,
    free_parameter,
    with_parameters,
)
from strainsim.studies.sweep import pool_runs, run_level_replicates, share_mcse

__all__ = ["Ranges", "load_ranges", "OUTPUTS", "central_outputs", "SensitivityResult",
           "sensitivity"]

LEVELS = (0.45, 1.0)   # the calibrated world's concordance and full concordance


def _name(measure: str, level: float) -> str:
    return f"{measure}_{round(100 * level)}"


OUTPUTS = tuple(_name(m, level) for level in LEVELS for m in ("lvesv", "power"))


@dataclass(frozen=True)
class Ranges:
    """A sensitivity file: the inputs varied, each with its range and reason."""

    parameters: tuple[FreeParameter, ...]
    reasons: tuple[str, ...]
    source: str


class RangesFile(BaseModel):
    """A sensitivity file: ``[[parameter]]`` tables (name, low, high, reason)."""

    model_config = STRICT
    parameter: list[ParameterEntry] = Field(min_length=1)


def load_ranges(path: str | Path | None = None) -> Ranges:
    """Read and check a sensitivity file (default: the shipped ``sensitivity.toml``):
    each range inside its parameter's declared range, each parameter once."""
    path = Path(path) if path is not None else data_path("cohorts",
                                                         "published/sensitivity.toml")
    source = str(path)
    checked = validate(RangesFile, read_toml(path), source)
    parameters = tuple(free_parameter(p, k, source) for k, p in enumerate(checked.parameter))
    if len({p.name for p in parameters}) != len(parameters):
        raise InputError(source, "parameter", "each parameter once")
    for k, entry in enumerate(checked.parameter):
        if not entry.reason:
            raise InputError(source, f"parameter[{k + 1}].reason", "why this range")
    return Ranges(parameters, tuple(p.reason for p in checked.parameter), source)


def central_outputs(specs, values: dict, replicates: int, seed=0) -> tuple[dict, dict]:
    """The central outputs (:data:`OUTPUTS`) of the world with ``values``, and their
    Monte Carlo standard errors, from ``replicates`` virtual meta-analyses per level."""
    world = with_parameters(specs, values)
    seeds = children(as_seed_sequence(seed), replicates)
    out, mcse = {}, {}
    # both levels on the same patients (common random numbers)
    pooled_levels = pool_runs(run_level_replicates(world, seeds, LEVELS))
    for j, level in enumerate(LEVELS):
        pooled = pooled_levels[j, :, 0, 1, :]
        estimate, ci_high = pooled[:, 0], pooled[:, 3]
        power = float(np.mean(ci_high < 0.0))
        out[_name("lvesv", level)] = float(estimate.mean())
        mcse[_name("lvesv", level)] = float(estimate.std(ddof=1) / math.sqrt(replicates))
        out[_name("power", level)] = power
        mcse[_name("power", level)] = share_mcse(power, replicates)
    return out, mcse


@dataclass(frozen=True)
class SensitivityResult:
    """What :func:`sensitivity` found.

    Attributes
    ----------
    ranges : Ranges
    base, base_mcse : dict
        The outputs at the shipped values, and their Monte Carlo standard errors.
    low, high : list of dict
        The outputs with each input at its low / high end (others shipped), in the
        ranges' order.
    samples : ndarray, shape (samples, inputs)
        The probabilistic analysis's input draws.
    sample_outputs : ndarray, shape (samples, outputs)
    spearman : ndarray, shape (inputs, outputs)
        Rank correlation of each output with each input over the draws (NaN with fewer
        than three draws).
    replicates : int
    seed : int
    """

    ranges: Ranges
    base: dict
    base_mcse: dict
    low: list
    high: list
    samples: np.ndarray
    sample_outputs: np.ndarray
    spearman: np.ndarray
    replicates: int
    seed: int


def sensitivity(specs, ranges: Ranges, replicates: int = 40, samples: int = 20,
                seed: int = 0, progress=None) -> SensitivityResult:
    """The tornado and the probabilistic analysis (see the module docstring).

    ``progress`` is called with the number of worlds done (``1 + 2 * inputs + samples``).
    """
    from scipy.stats import qmc, spearmanr

    root = as_seed_sequence(seed)
    sim_seed = child(root, 0)
    shipped = current_values(specs, ranges.parameters)
    done = [0]

    def run(values):
        result = central_outputs(specs, values, replicates, sim_seed)
        done[0] += 1
        if progress is not None:
            progress(done[0])
        return result

    base, base_mcse = run(shipped)
    low, high = [], []
    for p in ranges.parameters:
        low.append(run({**shipped, p.name: p.low})[0])
        high.append(run({**shipped, p.name: p.high})[0])
    lows = np.array([p.low for p in ranges.parameters])
    widths = np.array([p.high - p.low for p in ranges.parameters])
    if samples > 0:
        unit = qmc.LatinHypercube(d=len(ranges.parameters),
                                  rng=np.random.default_rng(child(root, 1))).random(samples)
    else:
        unit = np.empty((0, len(ranges.parameters)))
    draws = lows + widths * unit
    outputs = np.empty((samples, len(OUTPUTS)))
    for s in range(samples):
        values = {**shipped, **{p.name: float(draws[s, k])
                                for k, p in enumerate(ranges.parameters)}}
        result = run(values)[0]
        outputs[s] = [result[name] for name in OUTPUTS]
    spearman = np.full((len(ranges.parameters), len(OUTPUTS)), np.nan)
    if samples >= 3:
        for k in range(len(ranges.parameters)):
            for j in range(len(OUTPUTS)):
                if np.ptp(outputs[:, j]) > 0:
                    spearman[k, j] = spearmanr(draws[:, k], outputs[:, j]).statistic
    return SensitivityResult(ranges, base, base_mcse, low, high, draws, outputs, spearman,
                             replicates, seed)
